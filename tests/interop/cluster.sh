#!/bin/sh
# cluster.sh [KLAB] - real clients against a static cluster of three real
# `klab broker` processes on loopback (chapter 3), each client given ONE
# bootstrap server:
#
#   kafkajs (kafkajs/cluster.js) creates a 6-partition topic through broker 1;
#   kcat -L through each broker alone shows the same leaders, spanning all
#   three brokers;
#   kcat produces 3,000 keyed records through broker 2 only and consumes them
#   through broker 3 only: every record back (keys, values, count), each
#   partition in order from offset 0, each key in one partition, every
#   partition used;
#   each broker's log.dirs holds exactly the partitions it leads, with the
#   records kcat read from them;
#   kafkajs produces 3,000 keyed records through broker 3 only and reads every
#   partition back from its leader with its own Fetch (the broker has no
#   consumer groups, so not with the kafkajs Consumer); kcat reads the same;
#   broker 1 killed (SIGKILL): the partitions of brokers 2 and 3 still take
#   and give records, broker 1's refuse them; restarted, it has its records;
#   SIGTERM stops each broker cleanly (exit 0, clean-shutdown marker).
#
# Every client call is bounded by `timeout`; the run takes seconds.
# Prints "cluster: N passed, M failed"; exits 1 if anything failed or if
# node/npm are missing, 77 (skip) when kcat is not installed.
set -u
if ! command -v kcat >/dev/null 2>&1; then
	echo "cluster: kcat is not installed (apt-get install -y kcat); skipped"
	exit 77
fi
. "$(dirname "$0")/lib/broker.sh"
suite_init cluster "${1:-}" kafkajs
need_node
pid1='' pid2='' pid3=''
lp='' bb='' pp='' # set through eval: pidN, bN and PN by a broker's id
cleanup() {
	for q in $pid1 $pid2 $pid3; do kill -KILL "$q" 2>/dev/null; done
	rm -rf "$tmp"
}
T=30 # seconds, for any one client call
N=3000
PARTS=6
topic=six

# Three distinct free ports: the sockets are all bound before any is closed.
ports=$(python3 -c 'import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' 2>/dev/null) ||
	ports="$((20000 + $$ % 20000)) $((20001 + $$ % 20000)) $((20002 + $$ % 20000))"
# shellcheck disable=SC2086 # three words
set -- $ports
P1=$1 P2=$2 P3=$3
b1=127.0.0.1:$P1 b2=127.0.0.1:$P2 b3=127.0.0.1:$P3

for id in 1 2 3; do
	eval "lp=\$P$id"
	server_properties $id "$lp" "$tmp/logs$id" "cluster.brokers=1@$b1,2@$b2,3@$b3" \
		num.partitions=1 auto.create.topics.enable=false >"$tmp/s$id.properties"
done

# start_id ID: start it in the background; pidID is its process.
start_id() {
	"$klab" broker -c "$tmp/s$1.properties" >>"$tmp/b$1.log" 2>&1 &
	eval "pid$1=$!"
}
# ready ID: its Metadata names all three brokers (within 10 s).
ready() {
	eval "bb=\$b$1 pp=\$pid$1"
	i=0
	while [ $i -lt 100 ]; do
		if timeout 5 kcat -b "$bb" -L -m 2 >"$tmp/L" 2>/dev/null &&
			[ "$(grep -c '^  broker [123] at ' "$tmp/L")" = 3 ]; then
			return 0
		fi
		kill -0 "$pp" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

for id in 1 2 3; do start_id $id; done
for id in 1 2 3; do
	if ! ready $id; then
		bad "broker $id starts" "$(cat "$tmp/b$id.log")"
		finish cluster
	fi
done
ok "three brokers start on $b1 $b2 $b3; each one's Metadata names all three"

# ---- kafkajs itself, exactly as locked (kafkajs.sh runs npm ci too) -------------------
if [ "$(cd "$dir" && node -p 'require("kafkajs/package.json").version' 2>/dev/null)" != 2.2.4 ]; then
	if ! out=$(cd "$dir" && timeout 60 npm ci --no-audit --no-fund 2>&1); then
		bad "npm ci (kafkajs 2.2.4)" "$out"
		finish cluster
	fi
fi

# ---- a topic created through broker 1 ----------------------------------------------------
run_node "cluster.js create" 45 node "$dir/cluster.js" create "$b1" $topic $PARTS
# leaders BROKER: "P LEADER" lines from kcat -L through that broker alone
leaders() {
	timeout $T kcat -b "$1" -L -t $topic 2>/dev/null |
		sed -n 's/^ *partition \([0-9]*\), leader \([0-9-]*\),.*/\1 \2/p' | sort -n
}
for id in 1 2 3; do
	eval "bb=\$b$id"
	i=0
	# the topic is pushed to the other brokers; give it a moment
	until [ "$(leaders "$bb" | wc -l)" = $PARTS ] || [ $i -ge 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	leaders "$bb" >"$tmp/leaders$id"
done
if cmp -s "$tmp/leaders1" "$tmp/leaders2" && cmp -s "$tmp/leaders1" "$tmp/leaders3" &&
	[ "$(wc -l <"$tmp/leaders1")" = $PARTS ]; then
	ok "kcat -L through each broker alone: the same $PARTS leaders ($(awk '{ printf "%s:%s ", $1, $2 }' "$tmp/leaders1"))"
else
	bad "kcat -L through each broker: leaders differ" \
		"$(for id in 1 2 3; do echo "broker $id: $(tr '\n' ' ' <"$tmp/leaders$id")"; done)"
fi
check "the leaders span all three brokers" "1 2 3" \
	"$(awk '{ print $2 }' "$tmp/leaders1" | sort -u | tr '\n' ' ' | sed 's/ $//')"
led_by() { awk -v b="$1" '$2 == b { print $1 }' "$tmp/leaders1"; }

# ---- kcat: produce through broker 2 only, consume through broker 3 only ------------------
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "key-%d:value %d\n", i % 100, i }' >"$tmp/in"
if out=$(timeout $T kcat -b "$b2" -P -t $topic -K: -X acks=all <"$tmp/in" 2>&1); then
	ok "kcat -P -K: through broker 2 only: $N keyed records"
else
	bad "kcat -P through broker 2" "$out"
fi
if timeout $T kcat -b "$b3" -C -t $topic -o beginning -e -q -f '%p %o %k %s\n' \
	>"$tmp/got" 2>"$tmp/err"; then
	ok "kcat -C through broker 3 only reads all partitions to their end"
else
	bad "kcat -C through broker 3" "$(cat "$tmp/err")"
fi
check "kcat: $N records back, the same keys and values" \
	"$(sed 's/:/ /' "$tmp/in" | sort)" "$(cut -d' ' -f 3- "$tmp/got" | sort)"
# each partition: offsets 0, 1, 2, ... and the records in the order they were sent
out=$(awk '{ p = $1; i = $5 + 0
	if (!(p in next_off)) next_off[p] = 0
	if ($2 != next_off[p]) print "partition " p ": offset " $2 ", want " next_off[p]
	if ((p in last) && i <= last[p]) print "partition " p ": value " i " after " last[p]
	if (($3 in part) && part[$3] != p) print $3 " in partitions " part[$3] " and " p
	next_off[p]++; last[p] = i; part[$3] = p }' "$tmp/got" | head -n 10)
check "kcat: each partition in order from offset 0, each key in one partition" "" "$out"
check "kcat: every partition got records" "$PARTS" "$(cut -d' ' -f 1 "$tmp/got" | sort -u | wc -l)"

# ---- the records sit on the brokers that lead their partitions ---------------------------
for id in 1 2 3; do
	want=$(led_by $id | sed "s/^/$topic-/" | tr '\n' ' ')
	have=$(cd "$tmp/logs$id" && ls -d $topic-* 2>/dev/null | sort -t- -k2n | tr '\n' ' ')
	check "broker $id's log.dirs holds exactly the partitions it leads" "$want" "$have"
done
out=
for p in $(seq 0 $((PARTS - 1))); do
	l=$(awk -v p="$p" '$1 == p { print $2 }' "$tmp/leaders1")
	seg=$tmp/logs$l/$topic-$p/00000000000000000000.log
	on_disk=$("$klab" dump-log "$seg" 2>/dev/null | awk '/^baseOffset/ { n += $6 } END { print n + 0 }')
	read_back=$(awk -v p="$p" '$1 == p' "$tmp/got" | wc -l)
	[ "$on_disk" = "$read_back" ] || out="$out
partition $p on broker $l: $on_disk records on disk, $read_back read"
done
check "each leader's segment holds the records read from its partitions" "" "$out"

# ---- kafkajs: produce through broker 3 only, Fetch from every leader ----------------------
run_node "cluster.js create" 45 node "$dir/cluster.js" create "$b3" kjs $PARTS
mkdir "$tmp/out"
run_node "cluster.js produce" 45 node "$dir/cluster.js" produce "$b3" kjs $N "$tmp/out"
if timeout $T kcat -b "$b1" -C -t kjs -o beginning -e -q -f '%p %k %s\n' >"$tmp/kgot" 2>"$tmp/err" &&
	[ -s "$tmp/out/kjs-want" ] && [ "$(sort "$tmp/out/kjs-want")" = "$(sort "$tmp/kgot")" ] &&
	[ "$(sort -s -n -k1,1 "$tmp/out/kjs-want")" = "$(sort -s -n -k1,1 "$tmp/kgot")" ]; then
	ok "kcat through broker 1 reads what kafkajs produced: same partitions, same order"
else
	bad "kcat reads kafkajs's records ($(wc -l <"$tmp/kgot") lines)" "$(cat "$tmp/err")
$(diff "$tmp/out/kjs-want" "$tmp/kgot" 2>&1 | head -n 10)"
fi

# ---- broker 1 killed: only its partitions are unavailable ---------------------------------
kill -KILL "$pid1"
wait "$pid1" 2>/dev/null
pid1=
out=
for p in $(led_by 2) $(led_by 3); do
	if ! o=$(echo "key-x:alive $p" | timeout $T kcat -b "$b3" -P -t $topic -p "$p" -K: 2>&1); then
		out="$out
produce to partition $p: $o"
		continue
	fi
	o=$(timeout $T kcat -b "$b2" -C -t $topic -p "$p" -o -1 -e -q -f '%k %s' 2>&1)
	[ "$o" = "key-x alive $p" ] || out="$out
partition $p: the last record is '$o'"
done
check "broker 1 killed: brokers 2 and 3's partitions ($(led_by 2 | tr '\n' ' ')$(led_by 3 | tr '\n' ' ')) take and give records" "" "$out"
out=
for p in $(led_by 1); do
	if echo "key-x:dead $p" | timeout $T kcat -b "$b3" -P -t $topic -p "$p" -K: \
		-X message.timeout.ms=2000 >/dev/null 2>&1; then
		out="$out partition $p took a record"
	fi
done
check "broker 1 killed: its partitions ($(led_by 1 | tr '\n' ' ')) refuse records" "" "$out"
out=$(timeout $T kcat -b "$b2" -L -t $topic 2>&1 | grep -c '^  broker [123] at ')
check "broker 1 killed: Metadata from broker 2 still lists three brokers (a static cluster)" 3 "$out"

start_id 1
if ready 1; then
	out=
	for p in $(led_by 1); do
		want=$(awk -v p="$p" '$1 == p { print $2, $3, $4, $5 }' "$tmp/got")
		o=$(timeout $T kcat -b "$b2" -C -t $topic -p "$p" -o beginning -e -q -f '%o %k %s\n' 2>&1)
		[ "$o" = "$want" ] || out="$out
partition $p: $(printf '%s\n' "$o" | wc -l) records back, want $(printf '%s\n' "$want" | wc -l)"
	done
	check "broker 1 restarted: its partitions have their records back" "" "$out"
else
	bad "broker 1 restarts" "$(tail -n 5 "$tmp/b1.log")"
fi

# ---- SIGTERM: a clean shutdown for each ----------------------------------------------------
for id in 1 2 3; do
	eval "pp=\$pid$id"
	[ -z "$pp" ] || stop_broker "broker $id" pid$id "$tmp/logs$id" "$tmp/b$id.log"
done
finish cluster
