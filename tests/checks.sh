# checks.sh - what the shell test scripts share (sourced, not run):
#
#   ok NAME                      a check passed
#   bad NAME [DETAILS]           a check failed (DETAILS: its first 20 lines)
#   check NAME EXPECTED ACTUAL   ok when they are equal, else bad with both
#   finish SUITE                 "SUITE: N passed, M failed", the counts to
#                                $KLAB_COUNTS (make test sums them), and exit
#                                0 only when nothing failed
#   free_port                    a TCP port on 127.0.0.1 nobody listens on now
#   server_properties ID PORT DIR [LINE...]
#                                a broker's server.properties on stdout:
#                                broker.id ID, a listener on 127.0.0.1:PORT,
#                                log.dirs DIR, then each LINE
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() {
	fail=$((fail + 1))
	echo "FAIL $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | head -n 20
}
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected:
$2
got:
$3"; fi
}
finish() {
	echo "$1: $pass passed, $fail failed"
	if [ -n "${KLAB_COUNTS:-}" ]; then echo "$pass $fail" >>"$KLAB_COUNTS"; fi
	[ $fail = 0 ]
	exit
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' \
		2>/dev/null || echo $((20000 + $$ % 20000))
}
server_properties() {
	printf 'broker.id=%s\nlisteners=PLAINTEXT://127.0.0.1:%s\nlog.dirs=%s\n' "$1" "$2" "$3"
	shift 3
	[ $# = 0 ] || printf '%s\n' "$@"
}
