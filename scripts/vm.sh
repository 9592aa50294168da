#!/usr/bin/env bash
# Runs a command as root inside a throwaway QEMU guest booted on the
# distribution's 6.12 kernel, with the host's root filesystem as its
# (read-only) root, and exits with the command's exit status.
#
#   scripts/vm.sh [--mem 2G] [--smp 2] [--timeout SECONDS] [--keep]
#                 [--disk FILE]... -- CMD [ARGS...]
#   scripts/vm.sh [--mem 2G] [--smp 2] [--disk FILE]... --interactive [-- SETUP [ARGS...]]
#
# The command runs in the directory vm.sh was called from. Guest console
# output streams to stdout and is saved in build/vm/console.log, the
# guest's dmesg in build/vm/dmesg.log. Besides the command's own status,
# vm.sh exits 124 when the timeout expired and 125 when the guest died,
# never ran the command, or the kernel logged an oops, BUG, WARN or
# lockdep splat. See docs/harness.md.
#
# VEXFS_VM_KERNEL boots another kernel image (a bzImage, such as the debug
# kernel of scripts/debug-kernel.sh) instead of /boot/vmlinuz-KVER, with
# its modules from VEXFS_VM_MODULES (a directory laid out as /lib/modules,
# which the guest sees as its /lib/modules). VEXFS_KO, a vexfs.ko built for
# the guest's kernel, stands in the guest for the tree's build/kmod/kmod/vexfs.ko.
#
# --disk FILE gives the guest a virtio disk backed by FILE on the host,
# raw, without the host's page cache: /dev/vda for the first, /dev/vdb for
# the next (modprobe virtio_blk in the guest first). For data larger than
# the guest's memory, which its own tmpfs could not hold.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
me=vm.sh

mem=${VEXFS_VM_MEM:-2G}
smp=${VEXFS_VM_SMP:-2}
timeout=${VEXFS_VM_TIMEOUT:-3600}
keep=0
interactive=0
disks=()

# Where the guest finds things; stage2 of scripts/mkinitramfs.sh mounts them.
guest_dir=/run/vexfs
guest_scratch=$guest_dir/scratch
guest_results=$guest_dir/results
guest_hostroot=$guest_dir/host

# Kernel messages that mean the run is broken even if the command passed.
# Lockdep's reports start with WARNING: or BUG:; "lockdep is turned off"
# follows one, whereas a debug kernel's boot says "RCU lockdep checking is
# enabled". A handle that frees metadata without a revoke reserved is a
# sizing bug of the module that only fails under load: caught every time.
splat_re='Oops|BUG:|WARNING:|Call Trace|Kernel panic|general protection fault|UBSAN|KASAN|KFENCE|lockdep is turned off|possible recursive locking|circular locking|inconsistent lock state|kernel BUG|reserved no revoke|JBD2 unexpected failure'

usage() {
	sed -n '6,8s/^#   //p' "$0" >&2
	exit 2
}

msg() { echo "$me: $*" >&2; }

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--mem) mem=${2:?--mem needs a size}; shift 2 ;;
		--smp) smp=${2:?--smp needs a count}; shift 2 ;;
		--timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
		--keep) keep=1; shift ;;
		--disk) disks+=("${2:?--disk needs a file}"); shift 2 ;;
		--interactive) interactive=1; shift ;;
		--) shift; break ;;
		-h | --help) usage ;;
		-*) msg "unknown option $1"; usage ;;
		*) break ;;
		esac
	done
	cmd=("$@")
	# With --interactive, a command is optional: it runs before the shell.
	[ $interactive = 1 ] || [ ${#cmd[@]} -gt 0 ] || usage
	[[ $timeout =~ ^[0-9]+$ ]] || { msg "--timeout wants seconds"; usage; }
}

# Variables the guest command inherits from the caller: the project's own
# knobs (fsbench's FSBENCH_* among them), make's verbosity, and
# whether this is CI.
passthrough_env() {
	local name
	for name in $(compgen -e); do
		case $name in
		VEXFS_SCRATCH | VEXFS_RESULTS) ;;
		VEXFS_* | FSBENCH_* | V | CI) printf 'export %s=%q\n' "$name" "${!name}" ;;
		esac
	done
}

# A guest path under the guest's own tmpfs (/tmp, /run) hides the host's
# directory of the same name; bind the host's copy back in so that a
# repository cloned under /tmp still works.
cwd_fixup() {
	case $PWD in
	/tmp/* | /run/*)
		printf 'mkdir -p %q && mount --bind %q %q || exit 125\n' \
			"$PWD" "$guest_hostroot$PWD" "$PWD"
		;;
	esac
}

# Another kernel's modules where modprobe looks, and VEXFS_KO where the
# tests look, so that every script that names build/kmod/kmod/vexfs.ko loads the
# module built for the guest's kernel.
module_binds() {
	if [ -n "$modules" ]; then
		printf 'mount --bind %q /lib/modules || exit 125\n' "$guest_hostroot$modules"
	fi
	if [ -n "$ko" ] && [ -e "$repo/build/kmod/kmod/vexfs.ko" ]; then
		printf 'mount --bind %q %q || exit 125\n' "$guest_hostroot$ko" "$repo/build/kmod/kmod/vexfs.ko"
	fi
}

# The command given with --interactive, run before the shell starts.
setup_command() {
	[ ${#cmd[@]} -gt 0 ] || return 0
	printf '%q ' "${cmd[@]}"
	echo '|| echo "setup failed: exit $?"'
}

interactive_command() {
	local rows=24 cols=80 size
	if size=$(stty size 2>/dev/null); then
		rows=${size% *}
		cols=${size#* }
	fi
	cat <<EOF
# A serial console knows nothing of the host terminal's size, and the
# shell needs the console as its controlling tty for job control and ^C.
exec </dev/ttyS0 >/dev/ttyS0 2>&1
stty rows $rows cols $cols 2>/dev/null
export PS1='vexfs-guest:\w# '
$(setup_command)
echo "Guest shell: exit (or ^D) powers off; Ctrl-A x kills the VM."
exec $guest_dir/busybox setsid -c /bin/bash --norc -i
EOF
}

write_job() {
	local job=$1
	{
		echo '#!/bin/bash'
		echo "# Written by scripts/vm.sh; run by the guest's stage2."
		# The programs built in this tree come last: an installed one of
		# the same name wins, and a guest shell has vexfsctl without an
		# install.
		printf 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:%q\n' \
			"$repo/build/bin"
		echo 'export HOME=/root LANG=C.UTF-8'
		# Loopback up, so what serves on 127.0.0.1 (the dashboard) answers.
		echo 'ip link set lo up 2>/dev/null || busybox ip link set lo up 2>/dev/null'
		printf 'export TERM=%q KVER=%q\n' "${TERM:-linux}" "$kver"
		passthrough_env
		printf 'export VEXFS_GUEST=1 VEXFS_SCRATCH=%q VEXFS_RESULTS=%q VEXFS_HOSTROOT=%q\n' \
			"$guest_scratch" "$guest_results" "$guest_hostroot"
		cwd_fixup
		module_binds
		printf 'cd %q || exit 125\n' "$PWD"
		if [ $interactive = 1 ]; then
			interactive_command
		else
			printf 'exec'
			printf ' %q' "${cmd[@]}"
			echo
		fi
	} >"$job"
	chmod 755 "$job"
}

qemu_args() {
	# no_timer_check: under a loaded emulator the IO-APIC timer check can
	# miss its ticks and panic the boot.
	local append="console=ttyS0 quiet panic=-1 oops=panic panic_on_warn=1"
	append+=" no_timer_check"
	append+=" printk.devkmsg=on ${VEXFS_VM_APPEND:-}"
	# One TCG thread for all vCPUs: with a thread per vCPU, the kernel's
	# live code patching (int3 + text_poke) races with the other vCPU's
	# translated code and oopses now and then at boot. Long CPU-bound
	# measurements may take that risk (VEXFS_VM_TCG_THREAD=multi).
	qemu=(qemu-system-x86_64 -accel "tcg,thread=${VEXFS_VM_TCG_THREAD:-single}" -cpu max -m "$mem" -smp "$smp"
		-nodefaults -display none -no-reboot
		-kernel "$kernel" -initrd "$initrd" -append "$append"
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$share,mount_tag=results,security_model=none,multidevs=remap")
	local disk
	for disk in "${disks[@]}"; do
		[ -f "$disk" ] || { msg "--disk $disk: no such file"; exit 2; }
		# shellcheck disable=SC2054 # commas separate qemu's own options
		qemu+=(-drive "file=$disk,if=virtio,format=raw,cache=none,aio=threads")
	done
	if [ $interactive = 1 ]; then
		# ^C belongs to the guest; Ctrl-A x still quits, Ctrl-A c is the monitor.
		# shellcheck disable=SC2054 # commas separate qemu's own options
		qemu+=(-chardev "stdio,id=con,mux=on,signal=off,logfile=$log"
			-serial chardev:con -mon chardev=con,mode=readline)
	else
		qemu+=(-chardev "stdio,id=con,logfile=$log" -serial chardev:con -monitor none)
	fi
}

qpid=
# Asks qemu to quit, and insists after a few seconds.
stop_qemu() {
	local tries=25
	[ -n "$qpid" ] || return 0
	kill -TERM "$qpid" 2>/dev/null || return 0
	while [ $((tries -= 1)) -gt 0 ]; do
		kill -0 "$qpid" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -KILL "$qpid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # run from the EXIT trap
cleanup() {
	if [ -n "$qpid" ]; then
		stop_qemu
		wait "$qpid" 2>/dev/null || true
	fi
	[ -z "${run:-}" ] || [ ! -d "$run" ] || [ "$keep" = 1 ] || rm -rf "$run"
}

# Runs qemu in the background and polls it, so that the timeout can kill
# it and the boot time can be measured (the guest's first status write).
# Sets qemu_rc, timed_out and boot_secs.
run_batch() {
	local start=$SECONDS
	timed_out=0
	boot_secs=
	"${qemu[@]}" </dev/null &
	qpid=$!
	while kill -0 "$qpid" 2>/dev/null; do
		if [ -z "$boot_secs" ] && [ -e "$share/status" ]; then
			boot_secs=$((SECONDS - start))
		fi
		if [ $((SECONDS - start)) -ge "$timeout" ]; then
			timed_out=1
			stop_qemu
			break
		fi
		sleep 0.2
	done
	qemu_rc=0
	wait "$qpid" || qemu_rc=$?
	qpid=
}

run_interactive() {
	qemu_rc=0
	timed_out=0
	boot_secs=
	"${qemu[@]}" || qemu_rc=$?
}

# Kernel lines matching $splat_re: on the console only those carrying a
# printk timestamp, so that test output that happens to say "WARNING:"
# does not count; in the guest's dmesg, every line.
find_splats() {
	{
		grep -aE "\[ *[0-9]+\.[0-9]{6}\].*($splat_re)" "$log" 2>/dev/null || true
		grep -aE "$splat_re" "$share/dmesg" 2>/dev/null || true
	} | tr -d '\r' | awk '!seen[$0]++' | head -20
}

# Decides vm.sh's exit status from what the guest left behind.
verdict() {
	local status splats
	status=$(cat "$share/status" 2>/dev/null || echo missing)
	splats=$(find_splats)
	if [ $timed_out = 1 ]; then
		msg "FAIL: timed out after ${timeout}s; guest killed"
		rc=124
	elif [ "$status" = missing ]; then
		msg "FAIL: the guest never started the command (qemu exit $qemu_rc); see $last_log"
		rc=125
	elif ! [[ $status =~ ^[0-9]+$ ]]; then
		msg "FAIL: the guest died while the command was running (panic, crash or power loss); see $last_log"
		rc=125
	else
		rc=$status
	fi
	if [ -n "$splats" ]; then
		msg "FAIL: kernel splat in the guest log:"
		sed 's/^/    /' <<<"$splats" >&2
		[ "$rc" = 124 ] || rc=125
	fi
}

save_logs() {
	mkdir -p "$repo/build/vm"
	# Copied and renamed so that a concurrent run never sees half a log.
	if [ -f "$log" ]; then
		cp "$log" "$last_log.$$" && mv "$last_log.$$" "$last_log"
	fi
	if [ -f "$share/dmesg" ]; then
		cp "$share/dmesg" "$last_dmesg.$$" && mv "$last_dmesg.$$" "$last_dmesg"
	else
		rm -f "$last_dmesg"
	fi
}

# The release string of bzImage $1, from the version string its setup
# header points to (the x86 boot protocol: "HdrS" at 0x202, the string's
# offset less 0x200 at 0x20e).
image_release() {
	local off text
	[ "$(dd if="$1" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] || return 1
	off=$(od -An -tu2 -j 526 -N 2 "$1" | tr -d ' ')
	text=$(dd if="$1" bs=1 skip=$((off + 512)) count=256 2>/dev/null | tr '\0' '\n')
	text=${text%%[$' \n']*}
	[ -n "$text" ] && echo "$text"
}

# Sets kernel, kver, modules and ko: the stock kernel, or the one
# VEXFS_VM_KERNEL names.
pick_kernel() {
	modules=''
	ko=''
	if [ -n "${VEXFS_KO:-}" ]; then
		ko=$(realpath "$VEXFS_KO")
		[ -r "$ko" ] || { msg "no module $ko"; exit 125; }
	fi
	if [ -z "${VEXFS_VM_KERNEL:-}" ]; then
		kver=${KVER:-$(ls /boot/vmlinuz-* | sed 's|.*/vmlinuz-||' | sort -V | tail -1)}
		kernel=/boot/vmlinuz-$kver
		[ -r "$kernel" ] || { msg "no guest kernel $kernel"; exit 125; }
		return
	fi
	kernel=$(realpath "$VEXFS_VM_KERNEL")
	[ -r "$kernel" ] || { msg "no guest kernel $kernel"; exit 125; }
	kver=$(image_release "$kernel") || { msg "$kernel is not a bzImage"; exit 125; }
	if [ -n "${VEXFS_VM_MODULES:-}" ]; then
		modules=$(realpath "$VEXFS_VM_MODULES")
		[ -d "$modules/$kver" ] || { msg "no $modules/$kver for $kernel"; exit 125; }
	fi
}

main() {
	parse_args "$@"
	pick_kernel
	command -v qemu-system-x86_64 >/dev/null || { msg "qemu-system-x86_64 missing: run scripts/setup.sh"; exit 125; }
	initrd=$(VEXFS_VM_MODULES=$modules "$repo/scripts/mkinitramfs.sh" "$kver")

	mkdir -p "$repo/build/vm"
	run=$(mktemp -d "$repo/build/vm/run.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	share=$run/results
	log=$run/console.log
	last_log=$repo/build/vm/console.log
	last_dmesg=$repo/build/vm/dmesg.log
	mkdir "$share"
	write_job "$share/job"
	qemu_args

	msg "booting $kver ($mem, $smp cpus, tcg)"
	local start=$SECONDS
	if [ $interactive = 1 ]; then
		run_interactive
	else
		run_batch
	fi
	save_logs
	verdict
	msg "guest exit $rc (${boot_secs:+boot ${boot_secs}s, }total $((SECONDS - start))s)"
	[ $keep = 0 ] || msg "results kept in $run"
	exit "$rc"
}

main "$@"
