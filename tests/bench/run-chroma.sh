#!/usr/bin/env bash
# Chroma end to end on the 10k x 1,536 cosine data (make chroma-bench):
# installs the npm package chromadb (its CLI runs the Chroma server from a
# prebuilt native binding) under build/chroma and runs chroma-bench.py,
# which runs the server on a loopback port over a fresh data directory. JSON in build/bench/chroma.json. Debian's python3 (with
# python3-numpy) runs the client, whatever python3 is first on PATH.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$repo/build/chroma
port=${CHROMA_PORT:-8765}
CHROMA_VERSION=3.0.6
BINDINGS_VERSION=1.0.5

/usr/bin/python3 -c 'import numpy' 2>/dev/null || {
	[ "$(id -u)" = 0 ] || exec sudo -E "$0" "$@"
	apt-get install -y -q --no-install-recommends python3-numpy
}
if [ "$(node -p "require('$dir/node_modules/chromadb/package.json').version" 2>/dev/null)" != "$CHROMA_VERSION" ]; then
	mkdir -p "$dir"
	npm install --prefix "$dir" --no-audit --no-fund "chromadb@$CHROMA_VERSION" \
		"chromadb-js-bindings-linux-x64-gnu@$BINDINGS_VERSION"
fi
python3 "$repo/scripts/datasets.py" "$repo/build/data"

data=$(mktemp -d "$dir/data.XXXXXX")
trap 'rm -rf "$data"' EXIT   # the server's log stays, as $data.log
mkdir -p "$repo/build/bench"
/usr/bin/python3 "$repo/tests/bench/chroma-bench.py" "$dir/node_modules/.bin/chroma" \
	"$data" "$repo/build/data/gen1536_base.fvecs" "$repo/build/data/gen1536_query.fvecs" \
	--port "$port" --json "$repo/build/bench/chroma.json"
