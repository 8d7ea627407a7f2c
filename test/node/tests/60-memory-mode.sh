#!/bin/bash
# Memory mode: an NVDIMM on a NUMA node with neither CPUs nor RAM, made a
# devdax namespace and onlined as system RAM (kmem), becomes a memory-only
# NUMA node.
# node-shape: --nvdimms 3 --nvdimm-size 1G --cpuless-numa 1 --nvdimm-nodes 0,1,2
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

sysn=/sys/devices/system/node
t_check "node2 is not online before (no CPUs, no RAM)" test ! -e $sysn/node2
regions=$(ndctl list -R -v | jq -c '(if type == "object" and has("regions") then .regions else . end) | if type == "array" then . else [.] end')
region=$(jq -r '.[] | select(.target_node == 2) | .dev' <<<"$regions")
t_check "a region targets node 2: ${region:-none}" test -n "$region"
[[ -n $region ]] || t_done

ns=$(ndctl list -r "$region" -N | jq -r 'if type == "array" then . else [.] end | .[0].dev // empty')
if [[ -n $ns ]]; then
	json=$(ndctl create-namespace -f -e "$ns" -m devdax)
else
	json=$(ndctl create-namespace -r "$region" -m devdax)
fi || t_fatal "devdax namespace on $region"
dax=$(jq -r '.daxregion.devices[0].chardev // empty' <<<"$json")
t_check "devdax namespace on $region: ${dax:-none}" test -n "$dax"
t_check "daxctl reconfigure-device --mode=system-ram $dax" daxctl reconfigure-device --mode=system-ram "$dax"
t_eq "daxctl list: mode" "$(daxctl list -d "$dax" | jq -r 'if type == "array" then .[0] else . end | .mode')" system-ram
t_check "node2 is online" test -d $sysn/node2
t_eq "node2 has no CPUs" "$(cat $sysn/node2/cpulist 2>/dev/null)" ""
kib=$(awk '/MemTotal/ { print $4 }' $sysn/node2/meminfo 2>/dev/null)
t_check "node2 has the NVDIMM's memory (${kib:-0} KiB)" test "${kib:-0}" -gt $((512 * 1024))
t_check "numactl -H: 3 nodes" grep -q '^available: 3 nodes (0-2)' <<<"$(numactl -H)"
t_done
