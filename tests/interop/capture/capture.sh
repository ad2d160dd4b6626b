#!/bin/sh
# capture.sh [OUTDIR] - regenerate tests/ch3/golden: the request frames real
# clients send, recorded by fakebroker.js (a stand-in Kafka 3.6 broker, node
# id 7, on a free loopback port), one file per client, API and version:
#
#   platformatic-<Api>-v<N>.bin   @platformatic/kafka 1.35.0 (platformatic/capture.mjs)
#   kafkats-<Api>-v<N>.bin        kafka-ts 1.5.0 (kafkats/capture.js)
#   librdkafka-<Api>-v<N>.bin     kcat with librdkafka 2.x: kcat -L, then kcat -P
#
# Each file is one frame exactly as sent: a 4-byte size, the request header,
# the body. Needs node, npm and kcat; `npm ci` runs in the suites' folders.
# Not part of make test: the files are committed and only change when the
# pinned clients do (see tests/ch3/golden/README.md).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
out=${1:-$top/tests/ch3/golden}
tmp=$(mktemp -d)
fpid=
cleanup() {
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$top/tests/checks.sh"
mkdir -p "$out"

# fake CLIENT: a fake broker for CLIENT's frames; sets $port
fake() {
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null
	port=$(free_port)
	node "$here/fakebroker.js" "$port" "$out" "$1" >"$tmp/fake-$1.log" 2>&1 &
	fpid=$!
	i=0
	until grep -q listening "$tmp/fake-$1.log" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
		[ $i -lt 50 ] || { echo "capture: fakebroker did not start"; cat "$tmp/fake-$1.log"; exit 1; }
	done
}

rm -f "$out"/*.bin
for d in platformatic kafkats; do
	(cd "$here/../$d" && timeout 120 npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
		{ echo "capture: npm ci in $d failed"; exit 1; }
done

fake platformatic
timeout 30 node "$here/../platformatic/capture.mjs" "127.0.0.1:$port"
fake kafkats
timeout 30 node "$here/../kafkats/capture.js" "127.0.0.1:$port"

if command -v kcat >/dev/null 2>&1; then
	fake librdkafka
	timeout 10 kcat -b "127.0.0.1:$port" -L -X client.id=klab-golden >/dev/null 2>&1
	# Produce v7 is not answered (the fake speaks only Produce v9): kcat gives
	# up after message.timeout.ms, which is all right, the frame is recorded.
	printf 'key-0:value 0\n' | timeout 10 kcat -b "127.0.0.1:$port" -P -t golden -p 0 -K: \
		-X client.id=klab-golden -X message.timeout.ms=3000 >/dev/null 2>&1
	echo "capture: $(kcat -V 2>&1 | grep -o 'Version [0-9.]*\|librdkafka [0-9.]*' | tr '\n' ' ')"
else
	echo "capture: no kcat, no librdkafka frames"
fi
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
fpid=
cat "$tmp"/fake-*.log | grep -- '->' | sed 's/.*-> //' | sort
echo "capture: $(ls "$out"/*.bin | wc -l) frames in $out"
