#!/usr/bin/env bash
# Installs everything VexFS needs on a fresh Debian 12 (bookworm) machine.
# Idempotent: safe to run again; it only adds what is missing.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	exec sudo -E "$0" "$@"
fi

export DEBIAN_FRONTEND=noninteractive

backports=/etc/apt/sources.list.d/bookworm-backports.list
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	echo "deb http://deb.debian.org/debian bookworm-backports main" >"$backports"
fi

# Only what must be newer than bookworm comes from backports: the 6.12
# guest kernel with its headers (BTF vmlinux), libbpf and bpftool.
from_backports=(linux-image-amd64 linux-headers-amd64 libbpf-dev bpftool)
from_bookworm=(
	build-essential make gcc kmod cpio xz-utils zstd
	qemu-system-x86 busybox-static
	clang-19 llvm-19 lld-19 libclang-rt-19-dev
	libelf-dev zlib1g-dev libzstd-dev dwarves pkg-config
	libcmocka-dev libsodium-dev e2fsprogs util-linux attr acl
	fio stress-ng
	libhnswlib-dev
	libmicrohttpd-dev xxd curl prometheus chromium
	dkms man-db groff-base bash-completion python3 libjson-c-dev
	dataset-fashion-mnist python3-matplotlib
)

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
	done
}

need_bp=$(missing "${from_backports[@]}")
need_main=$(missing "${from_bookworm[@]}")
if [ -n "$need_bp$need_main" ]; then
	apt-get update -q
	# shellcheck disable=SC2086
	[ -z "$need_bp" ] || apt-get install -y -q --no-install-recommends \
		$(printf '%s/bookworm-backports ' $need_bp)
	# shellcheck disable=SC2086
	[ -z "$need_main" ] || apt-get install -y -q --no-install-recommends $need_main
fi

kver=$(ls /boot/vmlinuz-* | sed 's|.*/vmlinuz-||' | sort -V | tail -1)
echo "setup: guest kernel $kver, headers $(ls -d /usr/src/linux-headers-"$kver" 2>/dev/null || echo MISSING)"
