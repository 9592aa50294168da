#!/usr/bin/env bash
# Installs the HNSW peers hnswbench compares against (make hnsw-peers):
# hnswlib and FAISS from Debian, USearch from npm under build/peers/usearch
# (its C and C++ sources; tests/bench/Makefile compiles them there, nothing
# is committed). Idempotent.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
USEARCH_VERSION=2.25.3

missing=()
for p in libhnswlib-dev libfaiss-dev nodejs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || exec sudo -E "$0" "$@"
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v npm >/dev/null || { echo "install-peers: npm is missing (Debian: apt-get install npm)" >&2; exit 1; }

dir=$repo/build/peers/usearch
pkg=$dir/node_modules/usearch
if [ "$(node -p "require('$pkg/package.json').version" 2>/dev/null)" != "$USEARCH_VERSION" ]; then
	mkdir -p "$dir"
	# --ignore-scripts: only the sources are wanted, not the Node addon.
	npm install --prefix "$dir" --no-audit --no-fund --ignore-scripts \
		"usearch@$USEARCH_VERSION"
fi
# NumKong (USearch's SIMD kernels) writes the ISAs this compiler supports.
[ -e "$pkg/numkong/nk_probes.h" ] || (cd "$pkg/numkong" && node probes/probe.js)
echo "install-peers: hnswlib $(dpkg-query -W -f='${Version}' libhnswlib-dev)," \
	"FAISS $(dpkg-query -W -f='${Version}' libfaiss-dev), USearch $USEARCH_VERSION"
