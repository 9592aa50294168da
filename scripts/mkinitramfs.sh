#!/usr/bin/env bash
# Builds the tiny initramfs the test guest boots from and prints its path.
#
#   scripts/mkinitramfs.sh [KVER]
#
# The initramfs holds only busybox, the 9p modules and two scripts. /init
# mounts the host's root filesystem read-only over 9p, puts tmpfs and the
# writable results share on top, and switches into it; stage2 then runs
# the job that scripts/vm.sh left in the results share and powers off.
# Everything else (bash, modprobe, losetup, mkfs.*, the repo) comes from
# the host root, so the guest sees the same tools as the host.
#
# The image is cached as build/initramfs-KVER.cpio.gz and rebuilt only
# when it is missing or older than this script, busybox or modules.dep.
# The modules come from /lib/modules/KVER, or from VEXFS_VM_MODULES/KVER
# for a kernel built here; those built in are left out.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
kver=${1:-${KVER:-$(ls /boot/vmlinuz-* | sed 's|.*/vmlinuz-||' | sort -V | tail -1)}}
moddir=${VEXFS_VM_MODULES:-/lib/modules}/$kver
busybox=${BUSYBOX:-/bin/busybox}
out=$repo/build/initramfs-$kver.cpio.gz

# Modules needed to reach the host root, in no particular order:
# dependencies are resolved from modules.dep below. loop is here too:
# without udev nothing creates /dev/loop-control on demand, and losetup
# -f needs it.
want_modules=(9pnet_virtio 9p loop)

die() { echo "mkinitramfs: $*" >&2; exit 1; }

up_to_date() {
	[ -s "$out" ] || return 1
	local dep
	for dep in "$0" "$busybox" "$moddir/modules.dep"; do
		[ "$out" -nt "$dep" ] || return 1
	done
}

# Path of module $1 relative to $moddir, as modules.dep spells it, or
# nothing when the module is built into the kernel.
module_path() {
	local name=$1 path
	path=$(grep -E "(^|/)${name}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -1 | cut -d: -f1)
	if [ -n "$path" ]; then
		echo "$path"
	elif ! grep -qE "(^|/)${name}\.ko$" "$moddir/modules.builtin"; then
		die "module $name not found in $moddir"
	fi
}

# Appends to the global $load_order the modules.dep path of $1 and of
# everything it needs, dependencies first, each once. modules.dep lists
# the deepest dependency last, so walk the list backwards.
load_order=()
resolve() {
	local path=$1 deps i seen
	for seen in "${load_order[@]}"; do
		[ "$seen" != "$path" ] || return 0
	done
	read -r -a deps <<<"$(grep -F "$path:" "$moddir/modules.dep" | head -1 | cut -d: -f2)"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		resolve "${deps[$i]}"
	done
	load_order+=("$path")
}

# Copies a module into the image uncompressed: busybox insmod cannot
# read every compression the distribution kernels use.
add_module() {
	local src=$moddir/$1 dst=$2
	case $src in
	*.ko.xz) xz -dc "$src" >"$dst" ;;
	*.ko.zst) zstd -qdc "$src" >"$dst" ;;
	*.ko.gz) gzip -dc "$src" >"$dst" ;;
	*.ko) cp "$src" "$dst" ;;
	*) die "unknown module format: $src" ;;
	esac
}

write_init() {
	cat >"$1" <<'EOF'
#!/bin/sh
# Guest stage 1: reach the host root over 9p and switch into it.
export PATH=/bin
root=/mnt/root

fail() {
	echo "vexfs-init: $*" >/dev/console
	echo o >/proc/sysrq-trigger
	poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Without a console node in the image the kernel started us with no
# stdio at all; take the console now that devtmpfs provides it.
exec </dev/console >/dev/console 2>&1

for m in /modules/*.ko; do
	# None at all when the kernel has them built in.
	[ -e "$m" ] || continue
	insmod "$m" || fail "insmod $m failed"
done

mkdir -p $root
# A large msize makes each 9p round trip carry more; fall back to the
# default if the transport refuses it.
opts=trans=virtio,version=9p2000.L,cache=loose,ro
mount -t 9p -o $opts,msize=512000 hostroot $root 2>/dev/null ||
	mount -t 9p -o $opts hostroot $root || fail "cannot mount the host root"

# The host root is read-only: everything the guest writes lives in tmpfs.
mount -t proc proc $root/proc
mount -t sysfs sysfs $root/sys
mount -t devtmpfs devtmpfs $root/dev
mkdir -p $root/dev/pts $root/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $root/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $root/dev/shm
mount -t tmpfs -o mode=1777 tmpfs $root/tmp
mount -t tmpfs -o mode=755 tmpfs $root/run
mount -t bpf bpf $root/sys/fs/bpf 2>/dev/null
mount -t debugfs debugfs $root/sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs $root/sys/kernel/tracing 2>/dev/null
mount -t securityfs securityfs $root/sys/kernel/security 2>/dev/null

mkdir -p $root/run/vexfs/scratch $root/run/vexfs/results $root/run/vexfs/host
# The host root without the guest's mounts on top, for host paths that
# the guest's /tmp or /run hide.
mount --bind $root $root/run/vexfs/host
mount -t tmpfs -o mode=1777,size=50% scratch $root/run/vexfs/scratch
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results $root/run/vexfs/results ||
	fail "cannot mount the results share"

cp /bin/busybox /stage2 $root/run/vexfs/

# switch_root makes PID 1 chroot, and PID 1 shares its root with the
# kernel threads, so request_module() finds the host's /sbin/modprobe.
exec switch_root $root /run/vexfs/busybox sh /run/vexfs/stage2
EOF
	chmod 755 "$1"
}

write_stage2() {
	cat >"$1" <<'EOF'
# Guest stage 2, PID 1 inside the host root: run the job, record its exit
# status in the results share, power off.
bb=/run/vexfs/busybox
res=/run/vexfs/results
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Kernel warnings on the console: the host scans it for splats, and a
# WARN is only useful with its text. quiet hid them during boot.
echo 5 >/proc/sys/kernel/printk
hostname vexfs-guest 2>/dev/null

# Written before the job starts so that a guest which dies mid-job leaves
# a failing status behind. vm.sh treats anything but a number as failure.
echo incomplete >$res/status
$bb sync

if [ -x $res/job ]; then
	$res/job </dev/null
	rc=$?
else
	echo "vexfs-stage2: no job in the results share" >/dev/console
	rc=127
fi

dmesg >$res/dmesg 2>/dev/null
echo $rc >$res/status
$bb sync
$bb umount $res 2>/dev/null
$bb poweroff -f
echo o >/proc/sysrq-trigger
EOF
}

build() {
	local tmp m path n=0
	tmp=$(mktemp -d "$repo/build/initramfs.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	mkdir -p "$tmp"/{bin,dev,proc,sys,mnt,modules}
	# The kernel opens /dev/console for /init before anything is mounted.
	mknod -m 600 "$tmp/dev/console" c 5 1 2>/dev/null || true

	cp "$busybox" "$tmp/bin/busybox"
	for m in $("$busybox" --list); do
		[ "$m" = busybox ] || ln -s busybox "$tmp/bin/$m"
	done

	for m in "${want_modules[@]}"; do
		path=$(module_path "$m")
		[ -z "$path" ] || resolve "$path"
	done
	for path in "${load_order[@]}"; do
		n=$((n + 1))
		add_module "$path" "$tmp/modules/$(printf '%02d' $n)-$(basename "${path%%.ko*}").ko"
	done

	write_init "$tmp/init"
	write_stage2 "$tmp/stage2"

	# Written to a temporary name and renamed, so that a concurrent run
	# never boots a half-written image.
	(cd "$tmp" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -9 >"$out.$$"
	mv "$out.$$" "$out"
}

[ -d "$moddir" ] || die "no modules for kernel $kver in $moddir"
[ -x "$busybox" ] || die "$busybox missing (install busybox-static)"
# grep reads the whole list: with -q it may exit first, and pipefail then
# reports busybox's SIGPIPE as a failure.
"$busybox" --list | grep -x switch_root >/dev/null ||
	die "$busybox lacks switch_root; is it busybox-static?"
mkdir -p "$repo/build"
up_to_date || build
echo "$out"
