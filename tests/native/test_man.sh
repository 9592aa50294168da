#!/usr/bin/env bash
# Every man page in man/ renders with man(1) and groff without a single
# warning (groff -ww: all warnings; man --warnings), and names itself
# correctly in its .TH line. Native, a second or two.
set -uo pipefail
cd "$(dirname "$0")/../.."

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s: %s\n' "$1" "$2"; }

pages=(man/mkfs.vexfs.8 man/fsck.vexfs.8 man/vexfsd.8 man/vexfsctl.8 man/vexfs-telemetryd.8 man/vexfs.5)
for page in "${pages[@]}"; do
	name=$(basename "$page")
	if [ ! -f "$page" ]; then
		bad "$name" "missing"
		continue
	fi
	warn=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings=all -l "$page" 2>&1 >/dev/null)
	[ -z "$warn" ] && ok "$name: man --warnings -l renders it cleanly" ||
		bad "$name" "man warnings: $warn"
	warn=$(groff -ww -z -man -Tutf8 "$page" 2>&1)
	[ -z "$warn" ] && ok "$name: groff -ww -z is silent" || bad "$name" "groff: $warn"
	text=$(MANWIDTH=80 LC_ALL=C.UTF-8 man -l "$page" 2>/dev/null)
	title=${name%.*}
	section=${name##*.}
	if grep -q "^\.TH ${title^^} $section " "$page" && grep -q '^NAME' <<<"$text" &&
		[ "$(wc -l <<<"$text")" -gt 20 ]; then
		ok "$name: .TH ${title^^} $section, a NAME section and a body"
	else
		bad "$name" "bad .TH line or nearly empty page"
	fi
done
# Every page the others refer to, of ours, exists.
for ref in $(grep -ohE '^\.BR (mkfs\.vexfs|fsck\.vexfs|vexfsd|vexfsctl|vexfs\\-telemetryd|vexfs) \([58]\)' man/* |
	sed 's/^\.BR //; s/\\//g; s/ (/./; s/)//' | sort -u); do
	[ -f "man/$ref" ] && ok "reference $ref exists" || bad "reference $ref" "no man/$ref"
done
printf '\ntest_man: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
