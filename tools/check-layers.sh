#!/bin/sh
# check-layers.sh - the layering rule of the architecture (DESIGN §1):
# a module may include headers of its own layer and the layers below it,
# never of a layer above.  The front ends (repl, viz, main) may use all.
#
#   rank: core 0, log 1, topic 2, net 3, proto 3, broker 4, client 4,
#         coord 5, replica 6, group 7, repl/viz/main 9
#
# Two modules of one rank stay apart where they are peers: a client never
# includes the broker's headers (both use the protocol layer, src/proto).
set -u
rank() {
	case $1 in
	core) echo 0 ;; log) echo 1 ;; topic) echo 2 ;; net|proto) echo 3 ;;
	broker|client) echo 4 ;; coord) echo 5 ;; replica) echo 6 ;; group) echo 7 ;;
	repl|viz|main) echo 9 ;; *) echo 99 ;;
	esac
}
bad=0
for f in $(find src -name '*.[ch]' | sort); do
	mod=$(echo "$f" | cut -d/ -f2)
	r=$(rank "$mod")
	if [ "$r" = 99 ]; then
		echo "layers: $f: module '$mod' is not in the layer table (tools/check-layers.sh)"
		bad=1; continue
	fi
	for inc in $(sed -n 's/^[ \t]*#[ \t]*include[ \t]*"\([a-z_]*\)\/[^"]*".*/\1/p' "$f" | sort -u); do
		ir=$(rank "$inc")
		if [ "$mod" = client ] && [ "$inc" = broker ]; then
			echo "layers: $f (client) includes broker/: clients and brokers share only src/proto"
			bad=1
		fi
		if [ "$ir" -gt "$r" ]; then
			echo "layers: $f ($mod, layer $r) includes $inc/ (layer $ir): a lower layer may not use a higher one"
			bad=1
		fi
	done
done
[ $bad = 0 ] && echo "layers: every include respects the layer order"
exit $bad
