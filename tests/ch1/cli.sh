#!/bin/sh
# cli.sh KLAB - the klab program's command line at stage 1: bad input gets a
# clear message and an exit code, never a crash (the binary is built with
# ASan/UBSan, which would abort with a report).
set -u
klab=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

expect() { # NAME WANT_RC PATTERN COMMAND...
	name=$1 want=$2 pat=$3; shift 3
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" = "$want" ] && printf '%s\n' "$out" | grep -q -- "$pat" &&
	   ! printf '%s\n' "$out" | grep -q 'Sanitizer'; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $name: exit $rc (want $want), output:"; printf '%s\n' "$out" | head -n 10
	fi
}

printf 'log.dirs=%s/d\n# a comment\nlog.segment.bytes=abc\n' "$tmp" >"$tmp/bad.properties"
expect bad-config-value 1 "bad.properties:3: log.segment.bytes=abc: not an integer" \
	"$klab" repl -c "$tmp/bad.properties" -f /dev/null
printf 'log.retention.bytes=-7\n' >"$tmp/range.properties"
expect bad-config-range 1 "log.retention.bytes=-7: must be between -1 and" \
	"$klab" repl -c "$tmp/range.properties" -f /dev/null
printf 'log.message.timestamp.type=Wallclock\n' >"$tmp/choice.properties"
expect bad-config-choice 1 "log.message.timestamp.type=Wallclock: not one of the allowed values" \
	"$klab" repl -c "$tmp/choice.properties" -f /dev/null
expect missing-config 1 "cannot open" "$klab" repl -c "$tmp/nope.properties" -f /dev/null
expect missing-script 1 "nope.klab" "$klab" repl -f "$tmp/nope.klab"
expect bad-option 2 "usage: klab repl" "$klab" repl --frobnicate
expect stray-argument 2 "usage: klab repl" "$klab" repl extra
expect unknown-subcommand 2 "unknown command" "$klab" frobnicate
expect no-subcommand 2 "usage: klab" "$klab"
printf 'append k v\n' >"$tmp/fails.klab"
expect script-e-stops 1 "no log is open" "$klab" repl -e -f "$tmp/fails.klab"
expect script-no-e-goes-on 0 "no log is open" "$klab" repl -f "$tmp/fails.klab"

# A real log to dump, then damaged copies of it.
printf 'open %s/d\nfill 20 4\nclose\n' "$tmp" | "$klab" repl -e >/dev/null || { echo "FAIL: setup"; exit 1; }
seg=$tmp/d/events-0/00000000000000000000.log
expect dump-ok 0 "baseOffset: 16 lastOffset: 19 count: 4" "$klab" dump-log "$seg"
expect dump-data 0 "| offset: 19 CreateTime: 1700000000000 keySize: 6" "$klab" dump-log --print-data-log "$seg"
expect dump-index 0 "" "$klab" dump-log "$tmp/d/events-0/00000000000000000000.index"
head -c 300 "$seg" >"$tmp/torn.log"
expect dump-torn 1 "invalid bytes at the end of the file" "$klab" dump-log "$tmp/torn.log"
cp "$seg" "$tmp/flip.log"
printf '\377' | dd of="$tmp/flip.log" bs=1 seek=150 conv=notrunc 2>/dev/null
expect dump-crc 1 "isvalid: false" "$klab" dump-log "$tmp/flip.log"
head -c 5000 /dev/urandom >"$tmp/garbage.log" 2>/dev/null
expect dump-garbage 1 "invalid bytes" "$klab" dump-log "$tmp/garbage.log"
expect dump-missing 1 "No such file" "$klab" dump-log "$tmp/none.log"
expect dump-wrong-kind 1 "not a .log" "$klab" dump-log "$tmp/bad.properties"
expect dump-no-file 2 "usage" "$klab" dump-log

# Opening garbage as a log: recovery cuts it away, nothing crashes.
mkdir -p "$tmp/g/events-0"
cp "$tmp/garbage.log" "$tmp/g/events-0/00000000000000000000.log"
printf 'open %s/g\nsegments\n' "$tmp" >"$tmp/g.klab"
expect open-garbage 0 "truncated 5000 bytes" "$klab" repl -e -f "$tmp/g.klab"
printf '1\nbogus\n' >"$tmp/g/recovery-point-offset-checkpoint"
expect bad-checkpoint 0 "log end offset 0" "$klab" repl -e -f "$tmp/g.klab"

echo "cli: $pass passed, $fail failed"
[ -n "${KLAB_COUNTS:-}" ] && echo "$pass $fail" >>"$KLAB_COUNTS"
[ "$fail" = 0 ]
