#!/bin/sh
# kafkajs.sh [KLAB] - a real Node.js client (kafkajs 2.2.4, pinned in
# kafkajs/package-lock.json) against a real `klab broker` on loopback:
#
#   kafkajs/interop.js: admin createTopics (4 partitions), describeCluster,
#   listTopics, fetchTopicMetadata; 2,000 keyed records with headers produced
#   with acks -1, 1 and 0 and with gzip (kafkajs's default partitioner, the
#   Java-compatible murmur2), each in the partition an independent murmur2
#   gives; fetchTopicOffsets = those counts; fetchTopicOffsetsByTimestamp;
#   the records read back by kafkajs's own Fetch; deleteTopics;
#   then kcat reads every partition back (keys, values, headers, offsets)
#   and `klab repl` partition-of agrees with interop.js's murmur2.
#
# The broker has no consumer groups yet, so the kafkajs Consumer is not used.
# Every client call is bounded by `timeout`; the run takes seconds.
# Prints "kafkajs: N passed, M failed"; exits 1 if anything failed or if
# node/npm are missing.
set -u
klab=${1:-build/san/ch3/klab}
case $klab in /*) ;; *) klab=$(pwd)/$klab ;; esac
# partition-of is chapter 2's shell command (a local topic, no cluster)
klab2=$(dirname "$(dirname "$klab")")/ch2/klab
dir=$(cd "$(dirname "$0")/kafkajs" && pwd)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "kafkajs: node and npm are needed: apt-get install -y nodejs npm"
	exit 1
fi
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/../checks.sh"
T=60 # seconds, for any one client call


# ---- kafkajs itself, exactly as locked ------------------------------------------
if ! out=$(cd "$dir" && timeout 60 npm ci --no-audit --no-fund 2>&1); then
	bad "npm ci (kafkajs 2.2.4)" "$out"
	finish kafkajs
fi
if [ "$(cd "$dir" && node -p 'require("kafkajs/package.json").version' 2>&1)" = 2.2.4 ]; then
	ok "npm ci installs kafkajs 2.2.4"
else
	bad "kafkajs version" "$(cd "$dir" && node -p 'require("kafkajs/package.json").version' 2>&1)"
fi


port=$(free_port)
b="127.0.0.1:$port"
cat >"$tmp/server.properties" <<EOF
broker.id=7
listeners=PLAINTEXT://127.0.0.1:$port
log.dirs=$tmp/logs
num.partitions=1
auto.create.topics.enable=true
EOF

# Ready when the port accepts a TCP connection (interop.js then connects).
port_open() {
	node -e 'const s=require("net").connect(+process.argv[1],"127.0.0.1",()=>process.exit(0));
		s.on("error",()=>process.exit(1))' "$port" 2>/dev/null
}
start_broker() {
	"$klab" broker -c "$tmp/server.properties" >>"$tmp/broker.log" 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 100 ]; do
		port_open && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

if ! start_broker; then
	bad "broker starts" "$(cat "$tmp/broker.log")"
	finish kafkajs
fi
ok "broker starts on $b"

# ---- kafkajs ----------------------------------------------------------------------
mkdir "$tmp/out"
timeout 45 node "$dir/interop.js" "$b" "$tmp/out" >"$tmp/js" 2>&1
rc=$?
cat "$tmp/js"
pass=$((pass + $(grep -c '^ok   ' "$tmp/js")))
fail=$((fail + $(grep -c '^FAIL ' "$tmp/js")))
if [ $rc = 124 ]; then
	bad "interop.js finishes within 45 s"
elif ! grep -q '^interop.js: ' "$tmp/js"; then
	bad "interop.js exits $rc without its summary line"
fi

# ---- kcat reads back what kafkajs produced (when kcat is installed) ------------------
if command -v kcat >/dev/null 2>&1; then
	for topic in kjs-acks-all kjs-acks-0 kjs-gzip; do
		n=0 why=
		for p in 0 1 2 3; do
			[ -f "$tmp/out/want-$topic-$p" ] || { why="no want-$topic-$p from interop.js"; break; }
			if ! timeout $T kcat -b "$b" -C -t "$topic" -p $p -o beginning -e -q \
				-f '%k %s %h %o\n' >"$tmp/got" 2>"$tmp/err"; then
				why="kcat -C -p $p: $(cat "$tmp/err")"
				break
			fi
			if ! cmp -s "$tmp/out/want-$topic-$p" "$tmp/got"; then
				why="partition $p differs ($(wc -l <"$tmp/got") lines back):
$(diff "$tmp/out/want-$topic-$p" "$tmp/got" | head -n 10)"
				break
			fi
			n=$((n + $(wc -l <"$tmp/got")))
		done
		if [ -z "$why" ] && [ $n = 2000 ]; then
			ok "kcat reads $topic back: $n records, keys/values/headers/offsets, murmur2 partitions"
		else
			bad "kcat reads $topic back" "${why:-$n records}"
		fi
	done
fi

# ---- klab's own partitioner agrees with interop.js's murmur2 ---------------------------
if [ -s "$tmp/out/partition-of" ]; then
	mkdir "$tmp/repl"
	printf 'log.dirs=%s/repl\n' "$tmp" >"$tmp/repl.properties"
	{
		echo "topic create pof 4"
		while read -r k _; do echo "partition-of pof $k"; done <"$tmp/out/partition-of"
	} | timeout $T "$klab2" repl -c "$tmp/repl.properties" >"$tmp/repl.out" 2>&1
	awk '/^key .* in pof with/ { k = $2 } /^  default / { print k, $3 }' "$tmp/repl.out" >"$tmp/pof"
	if cmp -s "$tmp/out/partition-of" "$tmp/pof"; then
		ok "klab repl partition-of agrees ($(tr '\n' ' ' <"$tmp/pof"))"
	else
		bad "klab repl partition-of" "$(diff "$tmp/out/partition-of" "$tmp/pof"; tail -n 5 "$tmp/repl.out")"
	fi
else
	bad "interop.js wrote no partition-of keys"
fi

# ---- SIGTERM: a clean shutdown ---------------------------------------------------------
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
finish kafkajs
