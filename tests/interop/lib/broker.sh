# broker.sh - what the Node.js interop suites share (sourced after
# ../checks.sh, with $klab, $tmp and $suite set; not run by test-interop,
# which runs tests/interop/*.sh only):
#
#   need_node                  node and npm (and Node.js $NEED_NODE or newer, when
#                              set), or a failure with the install hint
#   npm_ci DIR PKG VERSION     `npm ci` in DIR, then PKG must be VERSION
#   start_broker               a `klab broker` (broker.id=7) on a free loopback
#                              port: sets $port, $b and $pid
#   run_node NAME SECS CMD...  a node script printing ok/FAIL lines, counted
#   partition_of_agrees FILE N klab repl's partition-of (N partitions) gives
#                              FILE's "key p" lines
#   idempotent_batches TOPIC N the batches of TOPIC's N partitions on disk carry
#                              one producer id, base sequence = base offset
#   stop_broker                SIGTERM: exit 0 and the clean-shutdown marker;
#                              no sanitizer report in the broker's log
pid=

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

port_open() {
	node -e 'const s=require("net").connect(+process.argv[1],"127.0.0.1",()=>process.exit(0));
		s.on("error",()=>process.exit(1))' "$port" 2>/dev/null
}

start_broker() {
	port=$(free_port)
	b="127.0.0.1:$port"
	cat >"$tmp/server.properties" <<-EOF
		broker.id=7
		listeners=PLAINTEXT://127.0.0.1:$port
		log.dirs=$tmp/logs
		num.partitions=1
		auto.create.topics.enable=true
	EOF
	"$klab" broker -c "$tmp/server.properties" >>"$tmp/broker.log" 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 100 ]; do
		if port_open; then
			ok "broker starts on $b"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	bad "broker starts" "$(cat "$tmp/broker.log")"
	finish "$suite"
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
	elif ! grep -q "^$name: " "$tmp/node.out"; then
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
	kill -TERM "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		bad "SIGTERM stops the broker within 10 s"
	else
		wait "$pid"
		rc=$?
		pid=
		if [ $rc = 0 ] && [ -f "$tmp/logs/.kafka_cleanshutdown" ]; then
			ok "SIGTERM: exit 0 and the clean-shutdown marker"
		else
			bad "SIGTERM: exit $rc" "$(tail -n 5 "$tmp/broker.log")"
		fi
	fi
	if grep -q 'Sanitizer' "$tmp/broker.log"; then
		bad "no sanitizer report" "$(grep -A 10 Sanitizer "$tmp/broker.log")"
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
