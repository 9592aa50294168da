#!/usr/bin/env bash
# make install / make uninstall into a scratch DESTDIR, for PREFIX=/usr/local
# (the default) and PREFIX=/usr: the exact list of files installed, their
# modes, that they work where they landed (the unit starts the installed
# vexfsd, man finds the pages, bash loads the completion, python3 imports
# the package, vexfsctl finds the BPF filters), then that uninstall leaves
# no file behind. Native; needs a built tree (make).
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s: %s\n' "$1" "${2:-}"; }
check() {
	local name=$1
	shift
	if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$(tail -n 5 <<<"$out")"; fi
}

TMP=$(mktemp -d /tmp/vexfs-install.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
PYVER=$(/usr/bin/python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])')

# expected PREFIX PYTHONDIR: the files make install must create.
expected() {
	local p=$1 py=$2 f
	printf '%s\n' \
		"$p/sbin/mkfs.vexfs" "$p/sbin/fsck.vexfs" "$p/sbin/vexfsd" \
		"$p/bin/vexfsctl" "$p/bin/vexfs-telemetryd" \
		"$p/lib/systemd/system/vexfsd.service" \
		/etc/vexfs/vexfsd.conf \
		"$p/share/man/man8/mkfs.vexfs.8" "$p/share/man/man8/fsck.vexfs.8" \
		"$p/share/man/man8/vexfsd.8" "$p/share/man/man8/vexfsctl.8" \
		"$p/share/man/man8/vexfs-telemetryd.8" \
		"$p/share/man/man5/vexfs.5" \
		"$p/share/bash-completion/completions/vexfsctl"
	for f in bpf/filters/*.bpf.c; do
		f=$(basename "$f" .bpf.c)
		echo "$p/lib/vexfs/bpf/filters/$f.bpf.o"
	done
	for f in python/vexfs/*.py; do
		echo "$py/vexfs/$(basename "$f")"
	done
}

run_prefix() {
	local prefix=$1 pydir=$2 dest=$TMP/root${1//\//_} files mode
	echo "== PREFIX=$prefix"
	mkdir -p "$dest"
	if ! make -s install DESTDIR="$dest" PREFIX="$prefix" >"$TMP/log" 2>&1; then
		bad "make install PREFIX=$prefix" "$(tail -n 5 "$TMP/log")"
		return
	fi
	ok "make install DESTDIR=... PREFIX=$prefix"
	files=$(cd "$dest" && find . ! -type d | sed 's|^\.||' | sort)
	if [ "$files" = "$(expected "$prefix" "$pydir" | sort)" ]; then
		ok "the files installed are exactly the expected $(wc -l <<<"$files")"
	else
		bad "file list" "$(diff <(expected "$prefix" "$pydir" | sort) <(echo "$files"))"
	fi
	mode=$(stat -c %a "$dest$prefix/bin/vexfsctl" "$dest$prefix/sbin/vexfsd" "$dest$prefix/sbin/mkfs.vexfs" | sort -u)
	[ "$mode" = 755 ] && ok "programs are 0755" || bad "program modes" "$mode"
	mode=$(cd "$dest" && find . -type f ! -path '*bin/*' -printf '%m\n' | sort -u)
	[ "$mode" = 644 ] && ok "everything else is 0644" || bad "data modes" "$mode"

	grep -qx "ExecStart=$prefix/sbin/vexfsd" "$dest$prefix/lib/systemd/system/vexfsd.service" &&
		ok "the unit starts $prefix/sbin/vexfsd" || bad "unit ExecStart" \
		"$(grep ExecStart "$dest$prefix/lib/systemd/system/vexfsd.service")"
	if command -v systemd-analyze >/dev/null; then
		# verify wants the binary at its real path: point it into DESTDIR.
		sed "s|^ExecStart=|ExecStart=$dest|" "$dest$prefix/lib/systemd/system/vexfsd.service" \
			>"$TMP/vexfsd.service"
		check "systemd-analyze verify accepts the unit" systemd-analyze verify "$TMP/vexfsd.service"
	fi
	check "installed vexfsctl runs" "$dest$prefix/bin/vexfsctl" --help
	check "installed mkfs.vexfs formats an image" "$dest$prefix/sbin/mkfs.vexfs" -q -f "$TMP/img" 8M
	check "installed fsck.vexfs checks it clean" "$dest$prefix/sbin/fsck.vexfs" -n "$TMP/img"
	check "man finds vexfsctl(8) under the installed MANPATH" \
		env MANWIDTH=80 man -M "$dest$prefix/share/man" -w 8 vexfsctl
	check "man finds vexfs(5)" env MANWIDTH=80 man -M "$dest$prefix/share/man" -w 5 vexfs
	check "bash loads the completion: complete -F _vexfsctl vexfsctl" bash -c \
		". /usr/share/bash-completion/bash_completion 2>/dev/null; . '$dest$prefix/share/bash-completion/completions/vexfsctl'; complete -p vexfsctl | grep -q _vexfsctl"
	check "completion offers the import options" bash -c \
		". /usr/share/bash-completion/bash_completion; . '$dest$prefix/share/bash-completion/completions/vexfsctl';
		 COMP_LINE='vexfsctl import /x data.csv --re'; COMP_POINT=\${#COMP_LINE};
		 COMP_WORDS=(vexfsctl import /x data.csv --re); COMP_CWORD=4; _vexfsctl; [ \"\${COMPREPLY[*]}\" = --resume ]"
	check "python3 imports the installed package from $pydir" env -i PYTHONDONTWRITEBYTECODE=1 \
		PYTHONPATH="$dest$pydir" /usr/bin/python3 -c \
		"import vexfs, sys; assert vexfs.__file__.startswith('$dest'), vexfs.__file__; print(vexfs.__version__)"
	# vexfsctl looks for a bare filter name beside its own PREFIX; the
	# load fails on a host without the module, but names the right file.
	out=$("$dest$prefix/bin/vexfsctl" filter load tags 2>&1)
	grep -q "$dest$prefix/bin/../lib/vexfs/bpf/filters/tags.bpf.o" <<<"$out" &&
		ok "vexfsctl filter load NAME looks in PREFIX/lib/vexfs/bpf/filters" ||
		bad "filter lookup" "$out"

	# A changed configuration survives uninstall; an unchanged one does not.
	if ! make -s uninstall DESTDIR="$dest" PREFIX="$prefix" >"$TMP/log" 2>&1; then
		bad "make uninstall PREFIX=$prefix" "$(tail -n 5 "$TMP/log")"
		return
	fi
	files=$(cd "$dest" && find . ! -type d)
	[ -z "$files" ] && ok "make uninstall leaves no file behind" || bad "left behind" "$files"
	left=$(cd "$dest" && find . -mindepth 1 -type d \( -name vexfs -o -path '*/lib/vexfs*' \))
	[ -z "$left" ] && ok "nor a directory of ours" || bad "directories left" "$left"
	make -s install DESTDIR="$dest" PREFIX="$prefix" >"$TMP/log" 2>&1
	echo "threads = 1" >>"$dest/etc/vexfs/vexfsd.conf"
	make -s uninstall DESTDIR="$dest" PREFIX="$prefix" >"$TMP/log" 2>&1
	files=$(cd "$dest" && find . ! -type d | sed 's|^\.||')
	[ "$files" = /etc/vexfs/vexfsd.conf ] && ok "a changed vexfsd.conf is kept, nothing else" ||
		bad "changed configuration" "left: $files"
}

run_prefix /usr/local "/usr/local/lib/$PYVER/dist-packages"
run_prefix /usr /usr/lib/python3/dist-packages

printf '\ntest_install: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
