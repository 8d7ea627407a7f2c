#!/bin/bash
# Memory mode through pmemd's code: a devdax namespace on the NVDIMM of the
# CPU-less, RAM-less NUMA node 2, dax-to-ram (libdaxctl, kmem) onlines it as
# movable system RAM and node 2 appears with that memory and no CPUs.
# node-shape: --nvdimms 3 --nvdimm-size 1G --cpuless-numa 1 --nvdimm-nodes 0,1,2
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

probe=$PMEMD_SRC/build/node-bin/topo-probe
[[ -x $probe ]] || t_fatal "$probe is not built (make build/node-bin/topo-probe)"

snap=$("$probe" discover) || t_fatal "topo-probe discover"
region=$(jq -r '.regions[] | select(.target_node == 2) | .dev' <<<"$snap")
t_check "a region targets node 2: ${region:-none}" test -n "$region"
[[ -n $region ]] || t_done
r=$(jq -c ".regions[] | select(.dev == \"$region\")" <<<"$snap")
t_note "discover: $r"
t_eq "node 2 is not online yet" "$(jq -r '[.numa.nodes[].id] | index(2)' <<<"$snap")" null
t_eq "$region: numa_node is a CPU node, target_node 2, no warning" \
	"$(jq -r '"\(.numa_node != 2) \(.target_node) \(.warning // "none")"' <<<"$r")" "true 2 none"

avail=$(jq -r '.max_available_extent' <<<"$r")
((avail > 0)) || avail=$(jq -r '.size' <<<"$r")
size=$((avail / (16 << 20) * (16 << 20)))
ns=$("$probe" create-namespace "$region" devdax $size $((2 << 20))) || t_fatal "create-namespace $region devdax $size"
dax=$("$probe" discover | jq -r ".namespaces[] | select(.dev == \"$ns\") | .chardev")
t_ok "devdax namespace $ns on $region: /dev/$dax"
t_eq "daxctl: $dax is devdax" "$(daxctl list -d "$dax" | jq -r 'if type == "array" then .[0] else . end | .mode')" devdax

out=$("$probe" dax-to-ram "$dax" 2>&1)
rc=$?
t_note "dax-to-ram $dax: exit $rc ${out}"
t_eq "dax-to-ram $dax succeeds" $rc 0
d=$(daxctl list -d "$dax" | jq -c 'if type == "array" then .[0] else . end')
t_note "daxctl list: $d"
t_eq "daxctl: mode system-ram" "$(jq -r .mode <<<"$d")" system-ram
t_eq "daxctl: movable" "$(jq -r .movable <<<"$d")" true
t_eq "daxctl: every memory block online" "$(jq -r '.online_memblocks == .total_memblocks' <<<"$d")" true
snap=$("$probe" discover)
t_eq "discover: $dax system-ram, movable, target node 2" \
	"$(jq -r ".daxes[] | select(.dev == \"$dax\") | \"\(.mode) \(.movable) \(.target_node)\"" <<<"$snap")" "system-ram true 2"
n2=$(jq -c '.numa.nodes[] | select(.id == 2)' <<<"$snap")
t_note "discover: node 2: $n2"
t_eq "node 2 is online with no CPUs" "$(jq -r '"\(.has_cpus) \(.cpus | length)"' <<<"$n2")" "false 0"
t_check "node 2 memory is most of the namespace ($(jq -r .mem_total <<<"$n2") of $size)" \
	test "$(jq -r ".mem_total * 100 / $size | floor" <<<"$n2")" -ge 80
t_eq "numactl -H agrees on node 2's size (MiB)" "$(jq -r '.mem_total / 1048576 | floor' <<<"$n2")" \
	"$(numactl -H | sed -n 's/^node 2 size: \([0-9]*\) MB/\1/p')"
t_eq "distance 0→2 matches numactl" "$(jq -r '.numa.distances[0][2]' <<<"$snap")" \
	"$(numactl -H | awk '/^ *0:/ { print $4 }')"
t_check "dax-to-ram again is a no-op" "$probe" dax-to-ram "$dax"

# Give the memory back so the runner can reset the namespaces.
daxctl offline-memory "$dax" >/dev/null 2>&1 && daxctl reconfigure-device -m devdax "$dax" >/dev/null 2>&1 ||
	t_note "could not give $dax back to devdax (the reset may fail)"
t_done
