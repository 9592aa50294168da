#!/usr/bin/env bash
# Vector collections in the guest: the checks live in test_vectors.py
# (SIFT recall, bad input, permissions, concurrency); this runs them.
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	echo "vector collections are VexFS-only; skipped on $FSTYPE"
	summary
	exit
fi
load_module || { echo "0 passed, 1 failed"; exit 1; }
VEXFS_SCRATCH=$SCRATCH exec python3 "$TESTS_DIR/test_vectors.py"
