#!/usr/bin/env bash
# The README's "Vectors in five commands", run verbatim in the guest that
# `make vm-shell` sets up (scripts/vm-shell.sh: the module loaded, a
# scratch VexFS at /mnt/v, the tools on PATH, $VEXFS_SIFT): what a new
# user types first must work as written.
. "$(dirname "$0")/lib.sh"

[ "$FSTYPE" = vexfs ] || { skip "README" "VexFS-only"; summary; exit; }
SIFT=${VEXFS_SIFT:-$(python3 "$REPO/scripts/testdata.py")}
# The first 1,000 of sift5k's vectors: the index build the README runs
# takes minutes for all 4,900 on the emulated CPU.
export VEXFS_SIFT=$SCRATCH/sift
mkdir -p "$VEXFS_SIFT"
head -c $((1000 * (4 + 4 * 128))) "$SIFT/sift5k_base.fvecs" >"$VEXFS_SIFT/sift5k_base.fvecs"
cp "$SIFT/sift5k_query.fvecs" "$VEXFS_SIFT/"
MNT_V=/mnt/v

release_v() {
	local dev
	dev=$(findmnt -n -o SOURCE "$MNT_V" 2>/dev/null) || return 0
	umount "$MNT_V" && losetup -d "$dev"
}
trap 'release_v; lib_cleanup' EXIT

# The commands: the lines of the first sh block after the heading.
awk '/^## Vectors in five commands/ { on = 1 } on && /^```sh/ { code = 1; next }
	code && /^```/ { exit } code' "$REPO/README.md" >"$SCRATCH/commands"

section "the vm-shell setup"
check "scripts/vm-shell.sh sets up /mnt/v" "$REPO/scripts/vm-shell.sh"
check "a VexFS is mounted at /mnt/v" test "$(findmnt -n -o FSTYPE "$MNT_V")" = vexfs

section "the README's commands, verbatim"
check_eq "the README has five commands" 5 "$(grep -c . "$SCRATCH/commands")"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	check "command $n: ${line%%#*}" bash -ec "$line"
	cp "$CHECK_OUT" "$SCRATCH/out$n"
done <"$SCRATCH/commands"
check "the search printed five results" grep -q '^5 results' "$SCRATCH/out4"
check "getfattr printed the vector in hex" grep -q '^user.vexfs.vector=0x' "$SCRATCH/out5"
check_no_oops "no kernel warnings"
summary
