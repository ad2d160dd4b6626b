#!/bin/sh
# tools.sh [KLAB] - klab's command-line clients against a real `klab broker`
# on loopback (chapter 3 §4):
#
#   klab topics --create / --list / --describe / --delete, with the errors
#   for a topic that exists or does not;
#   lines piped into klab produce (keys, headers, acks, compression) come
#   back from klab consume --from-beginning --max-messages N, exactly;
#   a line goes out while stdin is still open; 20,000 lines in one go;
#   consume from an offset of one partition and from a timestamp;
#   kcat reads what klab produce wrote (when kcat is installed);
#   the first bootstrap server down: the tools move on to the next;
#   a static cluster of two brokers: records produced through one reach
#   each partition's leader and come back through the other;
#   an unreachable cluster is a clear error after --timeout-ms, bad
#   arguments exit 2; after a clean stop, dump-log reads a partition's
#   producer snapshot.
#
# Every call is bounded by `timeout`.  Prints "tools: N passed, M failed";
# exits 1 if anything failed.
set -u
klab=${1:-build/san/ch3/klab}
case $klab in /*) ;; *) klab=$(pwd)/$klab ;; esac
tmp=$(mktemp -d)
pid=
pids=
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	for q in $pids; do kill -KILL "$q" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/../checks.sh"
T=60 # seconds, for any one tool call



port=$(free_port)
dead=$(free_port)
b="127.0.0.1:$port"
server_properties 5 "$port" "$tmp/logs" num.partitions=1 auto.create.topics.enable=false \
	>"$tmp/server.properties"

"$klab" broker -c "$tmp/server.properties" >"$tmp/broker.log" 2>&1 &
pid=$!
i=0
until timeout 5 "$klab" topics --bootstrap-server "$b" --list --timeout-ms 1000 >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -ge 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		bad "broker starts" "$(cat "$tmp/broker.log")"
		finish tools
	fi
	sleep 0.1
done
ok "broker starts on $b"

k() { timeout $T "$klab" "$@"; }

# ---- topics ------------------------------------------------------------------------------
out=$(k topics --bootstrap-server "$b" --create --topic orders --partitions 3 --replication-factor 1 2>&1)
check "topics --create" "Created topic orders." "$out"
out=$(k topics --bootstrap-server "$b" --create --topic orders --partitions 3 2>&1)
rc=$?
check "topics --create an existing topic: exit 1 and Kafka's message" \
	"1 Error while executing topic command : Topic 'orders' already exists." "$rc $out"
out=$(k topics --bootstrap-server "$b" --create --topic logs --config retention.ms=86400000 2>&1)
check "topics --create with --config" "Created topic logs." "$out"
out=$(k topics --bootstrap-server "$b" --list 2>&1)
check "topics --list (sorted)" "logs
orders" "$out"
out=$(k topics --bootstrap-server "$b" --describe --topic orders 2>&1)
tab=$(printf '\t')
# The topic id (Metadata v10+) is the one the broker wrote into each
# partition's partition.metadata (KIP-516), printed as kafka-topics.sh does.
id=$(sed -n 's/^topic_id: //p' "$tmp/logs/orders-0/partition.metadata" 2>/dev/null)
check "topics --describe" "Topic: orders${tab}TopicId: ${id:-missing}${tab}PartitionCount: 3${tab}ReplicationFactor: 1
${tab}Topic: orders${tab}Partition: 0${tab}Leader: 5${tab}Replicas: 5${tab}Isr: 5
${tab}Topic: orders${tab}Partition: 1${tab}Leader: 5${tab}Replicas: 5${tab}Isr: 5
${tab}Topic: orders${tab}Partition: 2${tab}Leader: 5${tab}Replicas: 5${tab}Isr: 5" "$out"
out=$(k topics --bootstrap-server "$b" --describe --topic ghost 2>&1)
rc=$?
check "topics --describe a missing topic: exit 1" \
	"1 Error while executing topic command : Topic 'ghost' does not exist as expected" "$rc $out"

# ---- produce and consume -----------------------------------------------------------------
printf 'alice:1\nbob:2\ncarol:3\ndave:4\neve:5\nfrank:6\n' >"$tmp/in"
out=$(k produce --bootstrap-server "$b" --topic orders --property parse.key=true \
	--property key.separator=: --header app=klab --header v=1 --acks all <"$tmp/in" 2>&1)
check "produce 6 keyed lines with headers" "0 " "$? $out"
k consume --bootstrap-server "$b" --topic orders --from-beginning --max-messages 6 \
	--property print.key=true --property print.headers=true >"$tmp/out" 2>"$tmp/err"
rc=$?
# Kafka's DefaultMessageFormatter order: headers, then key, then value
check "consume --from-beginning --max-messages 6" "0 app:klab,v:1	alice	1
app:klab,v:1	bob	2
app:klab,v:1	carol	3
app:klab,v:1	dave	4
app:klab,v:1	eve	5
app:klab,v:1	frank	6
Processed a total of 6 messages" "$rc $(sort "$tmp/out")
$(cat "$tmp/err")"

# one partition, read in order, from an offset
k consume --bootstrap-server "$b" --topic orders --from-beginning --max-messages 6 \
	--property print.partition=true --property print.offset=true --property print.key=true \
	>"$tmp/all" 2>/dev/null
p=$(sed -n 's/^Partition:\([0-9]*\).*/\1/p' "$tmp/all" | sort | uniq -c | sort -rn | head -n 1 |
	awk '{ print $2 }')
n=$(grep -c "^Partition:$p	" "$tmp/all")
want=$(grep "^Partition:$p	" "$tmp/all" | sed -n '2,$p')
if [ "$n" -ge 2 ]; then
	out=$(k consume --bootstrap-server "$b" --topic orders --partition "$p" --offset 1 \
		--max-messages $((n - 1)) --property print.partition=true \
		--property print.offset=true --property print.key=true 2>/dev/null)
	check "consume --partition $p --offset 1 (offsets in order)" "$want" "$out"
else
	bad "keys spread over partitions" "$(cat "$tmp/all")"
fi
if grep -q "Offset:0" "$tmp/all" && [ "$(wc -l <"$tmp/all")" -eq 6 ]; then
	ok "print.partition and print.offset"
else
	bad "print.partition and print.offset" "$(cat "$tmp/all")"
fi

# stdin is streamed: a line goes out while stdin is still open
k topics --bootstrap-server "$b" --create --topic live --partitions 1 >/dev/null 2>&1
mkfifo "$tmp/fifo"
k produce --bootstrap-server "$b" --topic live <"$tmp/fifo" >"$tmp/live.out" 2>&1 &
prod=$!
exec 3>"$tmp/fifo"
echo "typed line" >&3
out=$(k consume --bootstrap-server "$b" --topic live --from-beginning --max-messages 1 \
	--timeout-ms 20000 2>/dev/null)
check "produce sends a line before stdin ends" "typed line" "$out"
echo "second line" >&3
exec 3>&-
wait $prod
check "produce exits 0 at the end of stdin" "0 " "$? $(cat "$tmp/live.out")"
# a big input goes in steps (buffer.memory, batches of batch.size)
seq 1 20000 >"$tmp/big"
k produce --bootstrap-server "$b" --topic live --linger-ms 20 <"$tmp/big" >/dev/null 2>&1
check "produce 20000 lines" "0" "$?"
out=$(k consume --bootstrap-server "$b" --topic live --from-beginning --max-messages 20002 \
	2>/dev/null | sed -n '3p;20002p' | tr '\n' ' ')
check "consume 20002 records: the last two lines and 20000 more, in order" "1 20000 " "$out"

# compression and acks: a single partition, so the order is fixed
printf 'one\ntwo\n\nfour\n' >"$tmp/in2"
for codec in gzip snappy lz4 zstd; do
	k produce --bootstrap-server "$b" --topic logs --compression-type $codec --acks 1 \
		<"$tmp/in2" >/dev/null 2>&1 || bad "produce --compression-type $codec"
done
printf 'last\n' | k produce --bootstrap-server "$b" --topic logs --acks 0 >/dev/null 2>&1
out=$(k consume --bootstrap-server "$b" --topic logs --from-beginning --max-messages 17 \
	--property print.offset=true 2>/dev/null | tr '\t\n' ' |')
check "compressed batches (gzip, snappy, lz4, zstd) and acks 0 read back" \
	"Offset:0 one|Offset:1 two|Offset:2 |Offset:3 four|Offset:4 one|Offset:5 two|Offset:6 |Offset:7 four|Offset:8 one|Offset:9 two|Offset:10 |Offset:11 four|Offset:12 one|Offset:13 two|Offset:14 |Offset:15 four|Offset:16 last|" \
	"$out"
if "$klab" dump-log "$tmp"/logs/logs-0/00000000000000000000.log 2>/dev/null | grep -q zstd; then
	ok "the broker stored what klab produce compressed"
else
	bad "stored compression" "$("$klab" dump-log "$tmp"/logs/logs-0/00000000000000000000.log 2>&1 | head -n 5)"
fi

# timestamps: everything is later than 0, nothing later than the year 2286
out=$(k consume --bootstrap-server "$b" --topic logs --timestamp 0 --max-messages 1 2>/dev/null)
check "consume --timestamp 0: from the first record" "one" "$out"
out=$(k consume --bootstrap-server "$b" --topic logs --timestamp 9999999999999 --timeout-ms 500 2>&1)
check "consume --timestamp in the future: the end, nothing read" \
	"Processed a total of 0 messages" "$out"

# ---- kcat reads what klab produce wrote ----------------------------------------------------
if command -v kcat >/dev/null 2>&1; then
	out=$(timeout $T kcat -C -b "$b" -t orders -e -q -f '%k=%s %h\n' 2>&1 | sort)
	check "kcat reads klab produce's records" "alice=1 app=klab,v=1
bob=2 app=klab,v=1
carol=3 app=klab,v=1
dave=4 app=klab,v=1
eve=5 app=klab,v=1
frank=6 app=klab,v=1" "$out"
else
	echo "skip kcat is not installed"
fi

# ---- bootstrap, errors, delete -----------------------------------------------------------
out=$(k topics --bootstrap-server "127.0.0.1:$dead,$b" --list --timeout-ms 5000 2>&1)
check "the first bootstrap server down: the next one answers" "live
logs
orders" "$out"
start=$(date +%s)
out=$(echo x | k produce --bootstrap-server "127.0.0.1:$dead" --topic orders --timeout-ms 1000 2>&1)
rc=$?
took=$(($(date +%s) - start))
if [ $rc = 1 ] && [ $took -le 10 ] && printf '%s\n' "$out" | grep -q "could not reach any broker of 127.0.0.1:$dead"; then
	ok "produce to an unreachable cluster: a clear error after --timeout-ms"
else
	bad "unreachable produce: exit $rc after ${took}s" "$out"
fi
out=$(k consume --bootstrap-server "127.0.0.1:$dead" --topic orders --timeout-ms 1000 2>&1)
rc=$?
if [ $rc = 1 ] && printf '%s\n' "$out" | grep -q "could not reach any broker"; then
	ok "consume from an unreachable cluster: a clear error"
else
	bad "unreachable consume: exit $rc" "$out"
fi
out=$(k topics --bootstrap-server "127.0.0.1:$dead" --list --timeout-ms 1000 2>&1)
check "topics against an unreachable cluster: exit 1" "1" "$?"
for args in "topics --list" "topics --bootstrap-server $b" "topics --bootstrap-server $b --list --bogus" \
	"produce --bootstrap-server $b" "produce --bootstrap-server $b --topic t --acks 2" \
	"consume --bootstrap-server $b --topic t --offset 3" "consume --bootstrap-server nohost --topic t" \
	"consume --bootstrap-server $b --topic t --max-messages x"; do
	# shellcheck disable=SC2086
	k $args </dev/null >/dev/null 2>"$tmp/err"
	rc=$?
	if [ $rc = 2 ] && grep -q "usage:\|expected" "$tmp/err"; then
		ok "bad arguments exit 2: klab $args"
	else
		bad "bad arguments: klab $args: exit $rc" "$(cat "$tmp/err")"
	fi
done
out=$(printf 'novalue\n' | k produce --bootstrap-server "$b" --topic orders --property parse.key=true 2>&1)
rc=$?
check "a line without the key separator is an error" \
	"1 klab produce: No key separator found on line number 1: 'novalue'" "$rc $out"

# a topic name of 40,000 characters: a clear error, not the codec's assert on its length
long=$(head -c 40000 /dev/zero | tr '\0' x)
for act in --create --describe --delete; do
	k topics --bootstrap-server "$b" $act --topic "$long" </dev/null >/dev/null 2>"$tmp/err"
	rc=$?
	if [ $rc = 2 ] && grep -q "topic name is 40000 characters; the limit is 249" "$tmp/err"; then
		ok "topics $act of a 40,000-character name: exit 2 and why"
	else
		bad "topics $act of a 40,000-character name: exit $rc" "$(head -c 300 "$tmp/err")"
	fi
done
printf 'cluster\n! topic create %s 1\n! topic describe %s\n! topic delete %s\n' \
	"$long" "$long" "$long" >"$tmp/long.klab"
(cd "$tmp" && timeout $T "$klab" repl -e -f long.klab) >"$tmp/long.out" 2>&1
rc=$?
if [ $rc = 0 ] && [ "$(grep -c "^error: topic name is 40000 characters; the limit is 249" "$tmp/long.out")" = 3 ]; then
	ok "the shell's topic create/describe/delete of a 40,000-character name: an error each"
else
	bad "the shell with a 40,000-character name: exit $rc" "$(tail -c 300 "$tmp/long.out")"
fi
out=$(k topics --bootstrap-server "$b" --delete --topic logs 2>&1)
check "topics --delete" "0 " "$? $out"
out=$(k topics --bootstrap-server "$b" --list 2>&1)
check "topics --list after the delete" "live
orders" "$out"
out=$(k topics --bootstrap-server "$b" --delete --topic logs 2>&1)
check "topics --delete a missing topic: exit 1" \
	"1 Error while executing topic command : Topic 'logs' does not exist as expected" "$? $out"

# ---- a static cluster of two brokers ---------------------------------------------------------
p1=$(free_port)
p2=$(free_port)
for id in 1 2; do
	if [ $id = 1 ]; then lp=$p1; else lp=$p2; fi
	server_properties $id "$lp" "$tmp/clogs$id" "cluster.brokers=1@127.0.0.1:$p1,2@127.0.0.1:$p2" \
		auto.create.topics.enable=false >"$tmp/c$id.properties"
	"$klab" broker -c "$tmp/c$id.properties" >"$tmp/c$id.log" 2>&1 &
	pids="$pids $!"
done
b1="127.0.0.1:$p1" b2="127.0.0.1:$p2"
i=0
until k topics --bootstrap-server "$b1" --list --timeout-ms 1000 >/dev/null 2>&1 &&
	k topics --bootstrap-server "$b2" --list --timeout-ms 1000 >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -ge 100 ] && break
	sleep 0.1
done
out=$(k topics --bootstrap-server "$b1" --create --topic multi --partitions 4 2>&1)
check "cluster: topics --create through broker 1" "Created topic multi." "$out"
i=0
until k topics --bootstrap-server "$b2" --describe --topic multi >"$tmp/desc" 2>/dev/null; do
	i=$((i + 1))
	[ $i -ge 50 ] && break
	sleep 0.1
done
leaders=$(sed -n 's/.*Leader: \([0-9]*\).*/\1/p' "$tmp/desc" | sort -u | tr '\n' ' ')
check "cluster: broker 2 describes the topic, partitions led by both brokers" "1 2 " "$leaders"
printf 'a:1\nb:2\nc:3\nd:4\ne:5\nf:6\ng:7\nh:8\n' |
	k produce --bootstrap-server "$b2" --topic multi --property parse.key=true \
		--property key.separator=: >/dev/null 2>"$tmp/err"
check "cluster: produce through broker 2 only" "0 " "$? $(cat "$tmp/err")"
out=$(k consume --bootstrap-server "$b1" --topic multi --from-beginning --max-messages 8 \
	--property print.partition=true --property print.key=true 2>/dev/null | sort)
keys=$(printf '%s\n' "$out" | cut -f 2 | sort | tr -d '\n')
check "cluster: consume through broker 1 reads all eight" "abcdefgh" "$keys"
# the partitions the records sit in have both brokers as leaders
led=$(printf '%s\n' "$out" | sed 's/^Partition:\([0-9]*\).*/\1/' | sort -u | while read -r p; do
	sed -n "s/.*Partition: $p${tab}Leader: \([0-9]*\).*/\1/p" "$tmp/desc"
done | sort -u | tr '\n' ' ')
check "cluster: records went to partitions led by broker 1 and by broker 2" "1 2 " "$led"
if command -v kcat >/dev/null 2>&1; then
	kc=$(timeout $T kcat -C -b "$b1" -t multi -e -q -f 'Partition:%p\t%k\t%s\n' 2>&1 | sort)
	check "cluster: kcat reads the same records from the same partitions" "$out" "$kc"
fi
for q in $pids; do kill -TERM "$q"; wait "$q"; done
pids=

kill -TERM "$pid"
wait "$pid"
pid=
# a clean stop writes each partition's idempotent producers (enable.idempotence is
# the default); broker 5's first producer id is 5 * 2^32, at epoch 0
snap=$(ls "$tmp"/logs/orders-*/*.snapshot 2>/dev/null | head -n 1)
out=$(k dump-log "$snap" 2>&1 | sed -n 's/^\(producerId: [0-9]* producerEpoch: [0-9]*\) .*/\1/p' | head -n 1)
check "dump-log of a producer snapshot after a clean stop" "producerId: 21474836480 producerEpoch: 0" "$out"
finish tools
