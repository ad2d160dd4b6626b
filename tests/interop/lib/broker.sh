# broker.sh - what the interop suites share (sourced by tests/interop/*.sh,
# after `set -u`; it sources ../checks.sh; not run by test-interop, which
# runs tests/interop/*.sh only):
#
#   suite_init NAME KLAB [DIR] $suite, $klab (KLAB or build/san/ch3/klab, made
#                              absolute), $dir (tests/interop/DIR) and a fresh
#                              $tmp, removed at exit with the broker $pid
#   need_node                  node and npm (and Node.js $NEED_NODE or newer, when
#                              set), or a failure with the install hint
#   npm_ci DIR PKG VERSION     `npm ci` in DIR, then PKG must be VERSION
#   node_client PKG VERSION    need_node, npm_ci $dir PKG VERSION, start_broker
#                              and an empty $tmp/out for the client's files
#   start_broker               a `klab broker` (broker.id=7) on a free loopback
#                              port: sets $port, $b and $pid; a check
#   launch_broker              start it again from $tmp/server.properties; 0
#                              once broker_ready (a suite may define its own;
#                              here: the port takes a TCP connection, by node)
#   run_node NAME SECS CMD...  a node script printing ok/FAIL lines, counted;
#                              NAME's first word begins its summary line
#   partition_of_agrees FILE N klab repl's partition-of (N partitions) gives
#                              FILE's "key p" lines
#   idempotent_batches TOPIC N the batches of TOPIC's N partitions on disk carry
#                              one producer id, base sequence = base offset
#   stop_broker [WHO PIDVAR LOGS LOG]
#                              SIGTERM: exit 0 and the clean-shutdown marker;
#                              no sanitizer report in the broker's log (default:
#                              "the broker", $pid, $tmp/logs, $tmp/broker.log)
#   node_client_end TOPIC N    idempotent_batches TOPIC N, partition_of_agrees
#                              $tmp/out/partition-of N, stop_broker, finish
. "$(dirname "$0")/../checks.sh"
pid=

suite_init() {
	suite=$1
	klab=${2:-build/san/ch3/klab}
	case $klab in /*) ;; *) klab=$(pwd)/$klab ;; esac
	[ -z "${3:-}" ] || dir=$(cd "$(dirname "$0")/$3" && pwd)
	tmp=$(mktemp -d)
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}

cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$tmp"
}

need_node() {
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		echo "$suite: node and npm are needed: apt-get install -y nodejs npm"
		exit 1
	fi
	# NEED_NODE=X.Y.Z: the client's own engines field
	if [ -n "${NEED_NODE:-}" ] && ! node -e 'const [a, b] = [process.versions.node, process.argv[1]].map(v => v.split(".").map(Number));
		process.exit((a[0] - b[0] || a[1] - b[1] || a[2] - b[2]) >= 0 ? 0 : 1)' "$NEED_NODE"; then
		echo "$suite: Node.js $NEED_NODE or newer is needed, this is $(node --version)"
		exit 1
	fi
}

npm_ci() {
	if ! out=$(cd "$1" && timeout 120 npm ci --no-audit --no-fund --loglevel=error 2>&1); then
		bad "npm ci ($2 $3)" "$out"
		finish "$suite"
	fi
	v=$(cd "$1" && node -e 'const fs = require("fs");
		console.log(JSON.parse(fs.readFileSync("node_modules/" + process.argv[1] + "/package.json")).version)' "$2" 2>&1)
	check "npm ci installs $2 $3" "$3" "$v"
}

node_client() {
	need_node
	npm_ci "$dir" "$1" "$2"
	start_broker
	mkdir "$tmp/out"
}

# broker_ready: the port accepts a TCP connection.
broker_ready() {
	node -e 'const s=require("net").connect(+process.argv[1],"127.0.0.1",()=>process.exit(0));
		s.on("error",()=>process.exit(1))' "$port" 2>/dev/null
}

start_broker() {
	port=$(free_port)
	b="127.0.0.1:$port"
	server_properties 7 "$port" "$tmp/logs" num.partitions=1 auto.create.topics.enable=true \
		>"$tmp/server.properties"
	if launch_broker; then
		ok "broker starts on $b"
	else
		bad "broker starts" "$(cat "$tmp/broker.log")"
		finish "$suite"
	fi
}

launch_broker() {
	"$klab" broker -c "$tmp/server.properties" >>"$tmp/broker.log" 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 100 ]; do
		broker_ready && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

run_node() {
	name=$1 secs=$2
	shift 2
	timeout "$secs" "$@" >"$tmp/node.out" 2>&1
	rc=$?
	cat "$tmp/node.out"
	pass=$((pass + $(grep -c '^ok   ' "$tmp/node.out")))
	fail=$((fail + $(grep -c '^FAIL ' "$tmp/node.out")))
	if [ $rc = 124 ]; then
		bad "$name finishes within $secs s"
	elif ! grep -q "^${name%% *}: " "$tmp/node.out"; then
		bad "$name exits $rc without its summary line"
	fi
}

partition_of_agrees() {
	if [ ! -s "$1" ]; then
		bad "the client wrote no partition-of keys"
		return
	fi
	# partition-of is chapter 2's shell command (a local topic, no cluster)
	klab2=$(dirname "$(dirname "$klab")")/ch2/klab
	mkdir -p "$tmp/repl"
	printf 'log.dirs=%s/repl\n' "$tmp" >"$tmp/repl.properties"
	{
		echo "topic create pof $2"
		while read -r k _; do echo "partition-of pof $k"; done <"$1"
	} | timeout 60 "$klab2" repl -c "$tmp/repl.properties" >"$tmp/repl.out" 2>&1
	awk '/^key .* in pof with/ { k = $2 } /^  default / { print k, $3 }' "$tmp/repl.out" >"$tmp/pof"
	if cmp -s "$1" "$tmp/pof"; then
		ok "klab repl partition-of agrees ($(tr '\n' ' ' <"$tmp/pof"))"
	else
		bad "klab repl partition-of" "$(diff "$1" "$tmp/pof"; tail -n 5 "$tmp/repl.out")"
	fi
}

stop_broker() {
	who=${1:-the broker} var=${2:-pid} logs=${3:-$tmp/logs} log=${4:-$tmp/broker.log}
	bpid=
	eval "bpid=\$$var"
	kill -TERM "$bpid"
	i=0
	while kill -0 "$bpid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$bpid" 2>/dev/null; then
		bad "SIGTERM stops $who within 10 s"
	else
		wait "$bpid"
		rc=$?
		eval "$var="
		if [ $rc = 0 ] && [ -f "$logs/.kafka_cleanshutdown" ]; then
			ok "SIGTERM: $who exits 0 and leaves the clean-shutdown marker"
		else
			bad "SIGTERM: $who exits $rc" "$(tail -n 5 "$log")"
		fi
	fi
	if grep -q 'Sanitizer' "$log"; then
		bad "$who: no sanitizer report" "$(grep -A 10 Sanitizer "$log")"
	fi
}

idempotent_batches() {
	why= n=0 p=0
	while [ $p -lt "$2" ]; do
		seg=$tmp/logs/$1-$p/00000000000000000000.log
		[ -f "$seg" ] || { why="no $seg"; break; }
		"$klab" dump-log "$seg" >"$tmp/dump" 2>&1
		n=$((n + $(grep -c '^baseOffset: ' "$tmp/dump")))
		why=$(awk '/^baseOffset: / {
				for (i = 1; i < NF; i++) v[$i] = $(i + 1)
				if (v["producerId:"] < 0 || v["producerEpoch:"] < 0 || v["baseSequence:"] != v["baseOffset:"])
					{ print; exit }
				if (pid != "" && v["producerId:"] != pid) { print "two producer ids: " pid; print; exit }
				pid = v["producerId:"]
			}' "$tmp/dump")
		[ -n "$why" ] && { why="partition $p: $why"; break; }
		p=$((p + 1))
	done
	if [ -z "$why" ] && [ $n -gt 0 ]; then
		ok "$1: the $n stored batches carry a producer id, base sequence = base offset"
	else
		bad "$1: idempotent batches on disk" "${why:-no batches}"
	fi
}

node_client_end() {
	idempotent_batches "$1" "$2"
	partition_of_agrees "$tmp/out/partition-of" "$2"
	stop_broker
	finish "$suite"
}
