#!/usr/bin/env bash
# The module against an adversary: a second user, hard links across
# collections, crafted images, hostile graphs, a crash then a read-only
# mount. The checks live in test_trust.py; this runs them.
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	echo "the trust checks are VexFS-only; skipped on $FSTYPE"
	summary
	exit
fi
load_module || { echo "0 passed, 1 failed"; exit 1; }
VEXFS_SCRATCH=$SCRATCH exec python3 "$TESTS_DIR/test_trust.py"
