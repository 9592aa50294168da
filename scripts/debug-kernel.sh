#!/usr/bin/env bash
# Builds a debug kernel for the test guest and prints the directory that
# holds it: Debian's 6.12 source (linux-source-6.12 from bookworm-backports,
# the release the stock guest kernel comes from), from x86_64 defconfig
# plus the KVM guest fragment, with KASAN, lockdep, DEBUG_ATOMIC_SLEEP and
# KFENCE, and built in everything the guest and the module need.
#
#   scripts/debug-kernel.sh
#
# In build/debug-kernel/:
#   bzImage   the kernel (scripts/vm.sh: VEXFS_VM_KERNEL)
#   modules/  laid out as /lib/modules, with modules.builtin and
#             modules.dep (scripts/vm.sh: VEXFS_VM_MODULES)
#   obj/      the build tree, for external modules: make -C obj M=DIR
#   release   the kernel's release string
#   build.log the last build's output
#
# A second run does nothing while the stamp there matches this script and
# the source package's version. Installs what it needs with apt-get (as
# root, or through sudo); builds at nice 19 on every CPU, or on
# VEXFS_KERNEL_JOBS of them. About 5 GB of disk, most of it debug info.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=$repo/build/debug-kernel
src=$out/src
obj=$out/obj
log=$out/build.log
tarball=/usr/src/linux-source-6.12.tar.xz
jobs=${VEXFS_KERNEL_JOBS:-$(nproc)}
me=debug-kernel

# The point of this kernel: memory errors (KASAN, with vmalloc shadow for
# the module's vmalloc'ed tables; KFENCE, cheap enough to leave on), lock
# order and context errors (lockdep, sleeping in atomic context). BTF for
# vmlinux and modules: vexfs registers struct_ops and kfuncs, and the
# telemetry attaches fentry programs to its functions. Full DWARF is what
# pahole turns into BTF. Last, the checks the stock Debian kernel has too,
# so that nothing it would catch goes unseen here. Function error
# injection lets a test make one of the module's own functions fail (those
# it marks ALLOW_ERROR_INJECTION), for the error paths no disk would reach.
debug_options=(
	DEBUG_KERNEL
	KASAN KASAN_GENERIC KASAN_INLINE KASAN_VMALLOC
	KFENCE
	PROVE_LOCKING DEBUG_ATOMIC_SLEEP
	DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT DEBUG_INFO_BTF DEBUG_INFO_BTF_MODULES
	IKCONFIG IKCONFIG_PROC
	FORTIFY_SOURCE HARDENED_USERCOPY DEBUG_LIST BUG_ON_DATA_CORRUPTION
	FAULT_INJECTION FAULT_INJECTION_DEBUG_FS FUNCTION_ERROR_INJECTION
	FAIL_FUNCTION
)

# What the guest uses, built in: the guest's modprobe sees only this
# kernel's modules.builtin, so anything a test modprobes must be here.
# 9p over virtio carries the host root and the results share; tmpfs the
# scratch space; loop, jbd2 and crc32c the module under test; dm-log-writes
# the power-cut replay; BPF, kprobes and ftrace the filters and telemetry;
# memcg the module's charged allocations.
guest_options=(
	PCI VIRTIO VIRTIO_PCI VIRTIO_MENU
	NET NET_9P NET_9P_VIRTIO NETWORK_FILESYSTEMS 9P_FS 9P_FS_POSIX_ACL
	SERIAL_8250 SERIAL_8250_CONSOLE
	DEVTMPFS TMPFS TMPFS_POSIX_ACL TMPFS_XATTR
	BLK_DEV BLK_DEV_LOOP MD BLK_DEV_DM DM_LOG_WRITES
	EXT4_FS JBD2 CRYPTO_CRC32C LIBCRC32C FS_POSIX_ACL
	CGROUPS MEMCG
	MODULES MODULE_UNLOAD
	BPF_SYSCALL BPF_JIT BPF_EVENTS
	FTRACE FUNCTION_TRACER DYNAMIC_FTRACE FPROBE KPROBES KPROBE_EVENTS
	DEBUG_FS
	UNIX INET
)

# Off, to keep the build short: hardware a QEMU guest without a display
# has not, and subsystems no test touches.
off_options=(
	DRM FB SOUND USB_SUPPORT HID_SUPPORT
	WLAN WIRELESS CFG80211 MAC80211 RFKILL
	ETHERNET NETFILTER NET_SCHED
	ATA NFS_FS NFSD
	SECURITY_SELINUX
	HIBERNATION
	DEBUG_INFO_NONE DEBUG_INFO_REDUCED DEBUG_INFO_SPLIT
	LOCALVERSION_AUTO
)

msg() { echo "$me: $*" >&2; }
die() { msg "$*"; exit 1; }

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
	done
}

# The source from backports (the stock guest kernel's release) unless some
# linux-source-6.12 is installed already; the toolchain from bookworm.
install_packages() {
	local tools=(build-essential bc bison flex libssl-dev libelf-dev dwarves
		python3 cpio xz-utils kmod)
	local need_src need_tools
	need_src=$(missing linux-source-6.12)
	need_tools=$(missing "${tools[@]}")
	[ -n "$need_src$need_tools" ] || return 0
	if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
		echo "deb http://deb.debian.org/debian bookworm-backports main" |
			as_root tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
	fi
	as_root apt-get update -q
	# shellcheck disable=SC2086 # one package a word
	[ -z "$need_tools" ] || as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends $need_tools
	[ -z "$need_src" ] || as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends linux-source-6.12/bookworm-backports
}

# What the cached build depends on: this script (its option lists) and the
# source package's version.
stamp_text() {
	printf '%s %s\n' "$(sha256sum <"$0" | cut -d' ' -f1)" \
		"$(dpkg-query -W -f='${Version}' linux-source-6.12)"
}

cached() {
	[ -s "$out/stamp" ] && [ -s "$out/bzImage" ] && [ -s "$out/release" ] &&
		[ -d "$out/modules/$(cat "$out/release")" ] &&
		[ "$(cat "$out/stamp")" = "$(stamp_text)" ]
}

kmake() {
	nice -n 19 make -C "$src" O="$obj" -j"$jobs" "$@"
}

# Unpacks the source unless it is there already, from the same package
# version: a changed option list then rebuilds only what it affects.
unpack() {
	local version
	version=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	[ "$(cat "$src/.package-version" 2>/dev/null)" != "$version" ] || return 0
	rm -rf "$src" "$src.tmp" "$obj"
	mkdir -p "$src.tmp"
	tar -xJf "$tarball" -C "$src.tmp" --strip-components=1
	echo "$version" >"$src.tmp/.package-version"
	mv "$src.tmp" "$src"
}

configure() {
	local o cfg=$obj/.config bad=()
	mkdir -p "$obj"
	kmake defconfig
	kmake kvm_guest.config
	local args=()
	for o in "${debug_options[@]}" "${guest_options[@]}"; do
		args+=(--enable "$o")
	done
	for o in "${off_options[@]}"; do
		args+=(--disable "$o")
	done
	"$src/scripts/config" --file "$cfg" "${args[@]}" --set-str LOCALVERSION -vexfs-debug
	kmake olddefconfig
	# olddefconfig drops silently what a dependency does not allow.
	for o in "${debug_options[@]}" "${guest_options[@]}"; do
		grep -qx "CONFIG_$o=y" "$cfg" || bad+=("$o")
	done
	[ ${#bad[@]} = 0 ] || die "not enabled after olddefconfig: ${bad[*]}"
}

build() {
	local release mods=$out/modules.tmp
	kmake
	release=$(cat "$obj/include/config/kernel.release")
	rm -rf "$mods"
	kmake modules_install INSTALL_MOD_PATH="$mods" INSTALL_MOD_STRIP=1
	rm -rf "$out/modules"
	mv "$mods/lib/modules" "$out/modules"
	rm -rf "$mods"
	# The build tree's links back to it would point into the cache itself.
	rm -f "$out/modules/$release/build" "$out/modules/$release/source"
	cp "$obj/arch/x86/boot/bzImage" "$out/bzImage"
	echo "$release" >"$out/release"
}

# Shows the end of the log when a step of the build fails.
report_failure() {
	local rc=$?
	[ "$rc" = 0 ] || { tail -n 40 "$log" >&2; msg "build failed; see $log"; }
}

main() {
	install_packages
	[ -r "$tarball" ] || die "$tarball missing after installing linux-source-6.12"
	if cached; then
		echo "$out"
		return
	fi
	mkdir -p "$out"
	rm -f "$out/stamp"
	local start=$SECONDS
	msg "building $(dpkg-query -W -f='${Version}' linux-source-6.12) with $jobs jobs; log in $log"
	trap report_failure EXIT
	{
		unpack
		configure
		build
	} >"$log" 2>&1
	trap - EXIT
	stamp_text >"$out/stamp"
	msg "built $(cat "$out/release") in $(((SECONDS - start) / 60)) min"
	echo "$out"
}

main "$@"
