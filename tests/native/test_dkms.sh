#!/usr/bin/env bash
# DKMS builds vexfs.ko from the files `make dkms-install` would copy, for
# the kernel KVER (default: the newest /boot/vmlinuz-*, Debian's 6.12),
# in a scratch DKMS tree: /usr/src, /var/lib/dkms and /lib/modules are not
# touched and nothing is loaded. Checks the module comes out, is built for
# KVER, and carries BTF with the module's own types (what bpf/ and the
# struct_ops filters need); then removes it all. Needs root (dkms does)
# and takes about as long as one module build: run by `make dkms-test`.
set -uo pipefail
cd "$(dirname "$0")/../.."

KVER=${1:-$(ls /boot/vmlinuz-* | sed 's|.*/vmlinuz-||' | sort -V | tail -1)}
KDIR=/usr/src/linux-headers-$KVER
passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s: %s\n' "$1" "${2:-}"; }
finish() {
	printf '\ntest_dkms: %d passed, %d failed\n' "$passed" "$failed"
	[ "$failed" -eq 0 ]
	exit
}

command -v dkms >/dev/null || { bad "dkms" "not installed (scripts/setup.sh)"; finish; }
[ -d "$KDIR" ] || { bad "headers" "no $KDIR"; finish; }

TMP=$(mktemp -d /tmp/vexfs-dkms.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
TREE=(--dkmstree "$TMP/dkms" --sourcetree "$TMP/src" --installtree "$TMP/modules")
# dkms signs what it builds, with /var/lib/dkms/mok.key made on first use
# unless told otherwise: a throwaway key in the scratch tree instead.
export mok_signing_key=$TMP/mok.key mok_certificate=$TMP/mok.pub
mkdir -p "$TMP/dkms" "$TMP/modules"

# The same copy dkms-install makes, into the scratch source tree.
if make -s dkms-src DESTDIR="$TMP/src-root" DKMS_SRC=/vexfs-"$VERSION" >"$TMP/log" 2>&1; then
	mkdir -p "$TMP/src" && mv "$TMP/src-root/vexfs-$VERSION" "$TMP/src/"
	ok "make dkms-src copies the module's sources"
else
	bad "make dkms-src" "$(tail -n 5 "$TMP/log")"
	finish
fi
[ ! -e "$TMP/src/vexfs-$VERSION/kmod/vexfs.ko" ] && ! ls "$TMP/src/vexfs-$VERSION"/lib/*.o >/dev/null 2>&1 &&
	ok "no build output among the sources" || bad "sources" "objects were copied"

if dkms add -m vexfs -v "$VERSION" "${TREE[@]}" >"$TMP/log" 2>&1; then
	ok "dkms add"
else
	bad "dkms add" "$(tail -n 5 "$TMP/log")"
	finish
fi
start=$(date +%s)
if dkms build -m vexfs -v "$VERSION" -k "$KVER" "${TREE[@]}" >"$TMP/log" 2>&1; then
	ok "dkms build -k $KVER ($(( $(date +%s) - start )) s)"
else
	bad "dkms build -k $KVER" "$(tail -n 20 "$TMP/log"; tail -n 20 "$TMP"/dkms/vexfs/"$VERSION"/build/make.log 2>/dev/null)"
	finish
fi

ko=$(find "$TMP/dkms/vexfs/$VERSION/$KVER" -name 'vexfs.ko*' | head -n 1)
[ -n "$ko" ] && ok "vexfs.ko came out: ${ko#"$TMP"/}" || { bad "module" "no vexfs.ko under the DKMS tree"; finish; }
case $ko in
*.xz) xz -dc "$ko" >"$TMP/vexfs.ko" ;;
*.zst) zstd -qdc "$ko" >"$TMP/vexfs.ko" ;;
*.gz) gzip -dc "$ko" >"$TMP/vexfs.ko" ;;
*) cp "$ko" "$TMP/vexfs.ko" ;;
esac
magic=$(modinfo -F vermagic "$TMP/vexfs.ko" 2>/dev/null | awk '{print $1}')
[ "$magic" = "$KVER" ] && ok "built for $KVER (vermagic)" || bad "vermagic" "'$magic'"
modinfo -F name "$TMP/vexfs.ko" | grep -qx vexfs && ok "modinfo names it vexfs" || bad "modinfo" "no name"
readelf -S "$TMP/vexfs.ko" | grep -q '\.BTF ' && ok "it has a .BTF section" || bad "BTF" "no .BTF section"
if command -v bpftool >/dev/null; then
	bpftool btf dump file "$TMP/vexfs.ko" --base-btf "$KDIR/vmlinux" format c >"$TMP/btf.h" 2>"$TMP/log"
	grep -q 'struct vexfs_filter_ops {' "$TMP/btf.h" && grep -q 'struct vexfs_sb_info {' "$TMP/btf.h" &&
		ok "its BTF holds the module's types (vexfs_filter_ops, vexfs_sb_info)" ||
		bad "BTF types" "$(head -c 300 "$TMP/log")"
fi

if dkms remove -m vexfs -v "$VERSION" --all "${TREE[@]}" >"$TMP/log" 2>&1 &&
	[ ! -e "$TMP/dkms/vexfs/$VERSION" ]; then
	ok "dkms remove --all clears the tree"
else
	bad "dkms remove" "$(tail -n 5 "$TMP/log")"
fi
[ -z "$(find "$TMP/modules" -name 'vexfs.ko*')" ] && ok "nothing was installed" || bad "install tree" "a module landed"
finish
