#!/usr/bin/env bash
# Who may see what through a collection, as a property: random trees of
# collections and files owned by root and two users, random modes, links,
# renames and indexes; every search, GET_VECTOR, getxattr and READ_VECTORS
# of each user checked against what that user can open for reading. The
# checks live in test_property.py; this runs them.
#
#   VEXFS_PROPERTY_SEARCHES  searches in all (5000; make reliability: 20000)
#   VEXFS_PROPERTY_SEED      seed (default: the time; printed either way)
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	echo "the permission properties are VexFS-only; skipped on $FSTYPE"
	summary
	exit
fi
load_module || { echo "0 passed, 1 failed"; exit 1; }
VEXFS_SCRATCH=$SCRATCH exec python3 "$TESTS_DIR/test_property.py"
