#!/bin/sh
# deps.sh - make sure the Debian packages a target needs are installed.
#
#   tools/deps.sh run    what `make run` needs: a C compiler, readline, Graphviz,
#                        the compression libraries and jansson
#   tools/deps.sh test   also cmocka, clang with libFuzzer, clang-format, and the
#                        real clients of the interop tests (kcat; Node.js >= 20.19.4
#                        and npm for kafkajs, @platformatic/kafka and kafka-ts)
#   tools/deps.sh bench  what `run` needs, plus what `make bench` compares the
#                        broker with: librdkafka's headers (the benchmark's
#                        client), redis-server and nats-server
#
# As root, missing packages are installed with apt-get.  Otherwise the
# exact command is printed and the script fails, so make stops with a
# clear message instead of a compiler error.
set -eu

need=""
want() { need="$need $1"; }

have_header() {
	for h in "$@"; do printf '#include <%s>\n' "$h"; done |
		${CC:-cc} -E -x c - >/dev/null 2>&1
}

command -v ${CC:-cc} >/dev/null 2>&1 || want gcc
have_header readline/readline.h || want libreadline-dev
command -v dot >/dev/null 2>&1 || want graphviz
have_header zlib.h || want zlib1g-dev
have_header stddef.h snappy-c.h || want libsnappy-dev
have_header lz4frame.h || want liblz4-dev
have_header zstd.h || want libzstd-dev
have_header jansson.h || want libjansson-dev

if [ "${1:-run}" = bench ]; then
	have_header librdkafka/rdkafka.h || want librdkafka-dev
	command -v redis-server >/dev/null 2>&1 || want redis-server
	command -v nats-server >/dev/null 2>&1 || want nats-server
fi

if [ "${1:-run}" = test ]; then
	have_header stdarg.h stddef.h stdint.h setjmp.h cmocka.h || want libcmocka-dev
	command -v clang >/dev/null 2>&1 || want clang
	command -v clang-format >/dev/null 2>&1 || want clang-format
	command -v kcat >/dev/null 2>&1 || want kcat
	command -v node >/dev/null 2>&1 || want nodejs
	command -v npm >/dev/null 2>&1 || want npm
	if command -v clang >/dev/null 2>&1; then
		tmp=$(mktemp -d)
		printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}\n' >"$tmp/f.c"
		clang -fsanitize=fuzzer "$tmp/f.c" -o "$tmp/f" >/dev/null 2>&1 || want libclang-rt-dev
		rm -rf "$tmp"
	fi
fi

[ -z "$need" ] && exit 0

cmd="apt-get update && apt-get install -y --no-install-recommends$need"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "klab: installing Debian packages:$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $need
	exit 0
fi
echo "klab: missing Debian packages:$need" >&2
echo "klab: install them as root with:" >&2
echo "    $cmd" >&2
exit 1
