#!/bin/bash
# The node has two NUMA nodes, each with a CPU, at distance 21.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

sysn=/sys/devices/system/node
mapfile -t nodes < <(cd $sysn && ls -d node[0-9]*)
t_eq "NUMA nodes in $sysn" "${nodes[*]}" "node0 node1"
t_eq "distances from node0" "$(cat $sysn/node0/distance)" "10 21"
t_eq "distances from node1" "$(cat $sysn/node1/distance)" "21 10"
for n in 0 1; do
	t_check "node$n has a CPU ($(cat $sysn/node$n/cpulist))" test -n "$(cat $sysn/node$n/cpulist)"
	t_check "node$n has memory" grep -Eq 'MemTotal: +[1-9]' $sysn/node$n/meminfo
done
numactl=$(numactl -H)
t_check "numactl -H: 2 nodes" grep -q '^available: 2 nodes (0-1)' <<<"$numactl"
t_check "numactl -H: distance row of node 0 is 10 21" grep -Eq '^ *0: +10 +21 *$' <<<"$numactl"
t_done
