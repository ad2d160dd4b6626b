#!/bin/sh
# kcat.sh [KLAB] - a real client (kcat 1.7.1, librdkafka 2.0.2) against a
# real `klab broker` on loopback (chapter 3 §5):
#
#   kcat -L sees the broker as controller and leader;
#   10,000 keyed records with headers go in (kcat -P -K: -H) and come back
#   intact with their offsets (kcat -C -e -f '%k %s %h %o');
#   the same with gzip, snappy, lz4 and zstd from the client, and with
#   acks 0, 1 and all;
#   meta.properties records broker.id; a mismatch is a clear error;
#   SIGTERM stops the broker cleanly (exit 0, clean-shutdown marker).
#
# Every client call is bounded by `timeout`; the whole run takes seconds.
# Prints "kcat: N passed, M failed"; exits 1 if anything failed, 77 (skip)
# when kcat is not installed.
set -u
if ! command -v kcat >/dev/null 2>&1; then
	echo "kcat: not installed (apt-get install -y kcat); skipped"
	exit 77
fi
. "$(dirname "$0")/lib/broker.sh"
suite_init kcat "${1:-}"
T=60 # seconds, for any one client call
# ready when kcat -L gets an answer (this suite needs no node)
broker_ready() { timeout 5 kcat -b "$b" -L -m 2 >/dev/null 2>&1; }
start_broker

# ---- kcat -L ---------------------------------------------------------------
out=$(timeout $T kcat -b "$b" -L 2>&1)
if printf '%s\n' "$out" | grep -q "broker 7 at 127.0.0.1:$port (controller)"; then
	ok "kcat -L names broker 7 as controller"
else
	bad "kcat -L" "$out"
fi

# ---- produce and consume -----------------------------------------------------
# produce_consume NAME TOPIC COUNT KCAT-OPTIONS...
produce_consume() {
	name=$1 topic=$2 n=$3
	shift 3
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "key-%d:value %d of %s\n", i, i, "'"$topic"'" }' \
		>"$tmp/in"
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "key-%d value %d of %s trace=%d,app=klab %d\n", i, i, "'"$topic"'", 7, i }' \
		>"$tmp/want"
	if ! out=$(timeout $T kcat -b "$b" -P -t "$topic" -p 0 -K: -H trace=7 -H app=klab "$@" \
		<"$tmp/in" 2>&1); then
		bad "$name: produce" "$out"
		return
	fi
	if ! timeout $T kcat -b "$b" -C -t "$topic" -p 0 -o beginning -e -q \
		-f '%k %s %h %o\n' >"$tmp/got" 2>"$tmp/err"; then
		bad "$name: consume" "$(cat "$tmp/err")"
		return
	fi
	if cmp -s "$tmp/want" "$tmp/got"; then
		ok "$name: $n records round-trip (keys, values, headers, offsets)"
	else
		bad "$name: records differ ($(wc -l <"$tmp/got") lines back)" \
			"$(diff "$tmp/want" "$tmp/got" | head -n 10)"
	fi
}

produce_consume "plain" plain 10000
for codec in gzip snappy lz4 zstd; do
	produce_consume "compression.codec=$codec" "c-$codec" 10000 -X compression.codec=$codec
	# the client really compressed: the batches on disk carry the codec
	# (lz4: librdkafka 2.0.2 uses it only when the broker's ApiVersions lists
	# FindCoordinator v0, its LZ4 feature in rdkafka_feature.c; klab lists it.)
	seg=$tmp/logs/c-$codec-0/00000000000000000000.log
	if "$klab" dump-log "$seg" 2>&1 | grep -q "compresscodec: $codec"; then
		ok "compression.codec=$codec: the stored batches are $codec-compressed"
	else
		bad "compression.codec=$codec: no $codec batch on disk" \
			"$("$klab" dump-log "$seg" 2>&1 | head -n 3)"
	fi
done
for acks in 0 1 all; do
	produce_consume "acks=$acks" "acks-$acks" 10000 -X acks=$acks
done

# ---- a waiting consumer gets records as they arrive (Fetch long polling) ----------
echo a | timeout $T kcat -b "$b" -P -t live -p 0 >/dev/null 2>&1 # creates it
timeout $T kcat -b "$b" -C -t live -p 0 -o beginning -c 5 -q -f '%s\n' >"$tmp/live" 2>&1 &
cpid=$!
sleep 1
printf 'b\nc\nd\ne\n' | timeout $T kcat -b "$b" -P -t live -p 0 >/dev/null 2>&1
wait $cpid
if [ "$(tr '\n' ' ' <"$tmp/live")" = "a b c d e " ]; then
	ok "a waiting consumer receives records produced later"
else
	bad "waiting consumer" "$(cat "$tmp/live")"
fi

# ---- ApiVersions v3, flexible (KIP-482), answered in v3 under response header v0 -----------
out=$(timeout $T kcat -b "$b" -L -d protocol 2>&1)
if printf '%s\n' "$out" | grep -q 'Received ApiVersionResponse (v3' &&
	! printf '%s\n' "$out" | grep -q 'UNSUPPORTED_VERSION\|ApiVersionRequest v3 failed' &&
	printf '%s\n' "$out" | grep -q 'broker 7 at'; then
	ok "ApiVersions v3 (flexible) is answered at v3; no fallback"
else
	bad "ApiVersions v3" "$(printf '%s\n' "$out" | grep -i apiversion | head -n 5)"
fi

# ---- garbage on the wire: the broker closes those connections and carries on ----------
if command -v python3 >/dev/null 2>&1; then
	python3 - "$port" <<'PY' >/dev/null 2>&1
import socket, sys
frames = [b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff" + b"x" * 100,
          b"\x00\x00\x00\x02\x00\x12", b"\x00\x00\x00\x0a\x00\x63\x00\x00\x00\x00\x00\x01\xff\xff",
          b"\x00\x00\x00\x0a\x00\x00\x00\x63\x00\x00\x00\x01\xff\xff", bytes(range(256)) * 4]
for f in frames:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(f)
    s.settimeout(2)
    try:
        s.recv(100)
    except Exception:
        pass
    s.close()
PY
	out=$(timeout $T kcat -b "$b" -L 2>&1)
	if printf '%s\n' "$out" | grep -q "broker 7 at" && kill -0 "$pid" 2>/dev/null; then
		ok "garbage frames: the broker closes them and still answers"
	else
		bad "garbage frames" "$out"
	fi
fi

# ---- timestamps: kcat -f %T gives each record's timestamp back -----------------
out=$(timeout $T kcat -b "$b" -C -t plain -p 0 -o beginning -c 3 -q -f '%T\n' 2>&1)
if [ "$(printf '%s\n' "$out" | grep -c '^[0-9]\{13\}$')" = 3 ]; then
	ok "timestamps come back"
else
	bad "timestamps" "$out"
fi

# ---- consume from an offset in the middle ------------------------------------------
out=$(timeout $T kcat -b "$b" -C -t plain -p 0 -o 9998 -e -q -f '%k %o\n' 2>&1)
if [ "$out" = "key-9998 9998
key-9999 9999" ]; then
	ok "consume from offset 9998"
else
	bad "consume from offset 9998" "$out"
fi

# ---- SIGTERM: a clean shutdown -------------------------------------------------------
stop_broker

# ---- restart: the data is still there ----------------------------------------------------
if launch_broker; then
	out=$(timeout $T kcat -b "$b" -C -t c-zstd -p 0 -o beginning -e -q -f '%o\n' 2>&1 | tail -n 1)
	if [ "$out" = 9999 ]; then
		ok "after a restart the records are still there"
	else
		bad "after a restart" "$out"
	fi
	kill -TERM "$pid"
	wait "$pid"
	pid=
else
	bad "restart" "$(tail -n 5 "$tmp/broker.log")"
fi

# ---- meta.properties -----------------------------------------------------------------------
if grep -q '^broker.id=7$' "$tmp/logs/meta.properties" &&
	grep -q '^cluster.id=' "$tmp/logs/meta.properties"; then
	ok "meta.properties records broker.id and cluster.id"
else
	bad "meta.properties" "$(cat "$tmp/logs/meta.properties")"
fi
sed 's/^broker.id=7$/broker.id=8/' "$tmp/server.properties" >"$tmp/other.properties"
out=$(timeout 10 "$klab" broker -c "$tmp/other.properties" 2>&1)
rc=$?
if [ $rc = 1 ] && printf '%s\n' "$out" | grep -q 'broker.id=7.*broker.id=8'; then
	ok "a broker.id mismatch is a clear error"
else
	bad "broker.id mismatch: exit $rc" "$out"
fi

finish kcat
