#!/bin/bash
# A kmem pool (the talk's "PMEM in memory mode") through pmemd: the config names the
# region of the NVDIMM on the CPU-less NUMA node 2 (added by SIGHUP, which also proves a
# live reload of pools); pmemd makes a devdax namespace, onlines it as movable system RAM
# and reports the pool ready on node 2, with node 2 in the node record as a memory-only node.
# node-shape: --nvdimms 3 --nvdimm-size 1G --cpuless-numa 1 --nvdimm-nodes 0,1,2
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"
# shellcheck source=lib/pmemd.sh
. "$PMEMD_SRC/test/node/lib/pmemd.sh"

cfg=$PWD/pmemd.yaml
pmemd_config "$cfg" ""
pmemd_start "$cfg" || { t_fail "pmemd starts without pools"; pmemd_done; }
t_ok "pmemd starts without pools"
region=$(pmemd_api GET /v1/regions | jq -r '.[] | select(.target_node == 2) | .dev')
t_check "a region's memory targets NUMA node 2: ${region:-none}" test -n "$region"

pmemd_config "$cfg" "pools:
  - name: /mnt/kmem
    regions: [$region]
    topology:
      type: kmem"
kill -HUP "$PMEMD_PID"
for _ in $(seq 600); do
	state=$(pmemd_api GET /v1/pools/mnt-kmem | jq -r '.state // empty')
	[[ $state == ready || $state == error ]] && break
	sleep 0.1
done
pool=$(pmemd_api GET /v1/pools/mnt-kmem)
t_note "pool: $(jq -c '{state, reason, numa_node, device, capacity_bytes}' <<<"$pool")"
t_eq "the kmem pool is ready after SIGHUP" "$(jq -r .state <<<"$pool")" ready
t_eq "its capacity is on NUMA node 2" "$(jq -r .numa_node <<<"$pool")" 2
dax=$(jq -r .device <<<"$pool")
t_eq "daxctl: $dax is system-ram" \
	"$(daxctl list -d "$dax" | jq -r '(if type == "array" then .[0] else . end).mode')" system-ram
t_check "its memory is movable (every block online_movable or in ZONE_MOVABLE)" \
	bash -c "daxctl list -d $dax -M | jq -e '(if type == \"array\" then .[0] else . end).movable == true'"
node=$(pmemd_api GET /v1/node)
n2=$(jq -c '.numa_nodes[] | select(.id == 2)' <<<"$node")
t_note "node 2 in the record: $(jq -c '{cpus, has_cpus, memory_bytes, kmem_bytes, pools}' <<<"$n2")"
t_eq "node 2 has no CPUs" "$(jq -r .has_cpus <<<"$n2")" false
t_eq "node 2 carries the kmem pool" "$(jq -c .pools <<<"$n2")" '["/mnt/kmem"]'
t_check "node 2's memory is the pool's capacity (memory_bytes > 0, = kmem_bytes = capacity)" \
	test "$(jq -r .memory_bytes <<<"$n2")" -gt 0 -a "$(jq -r .kmem_bytes <<<"$n2")" = "$(jq -r .capacity_bytes <<<"$pool")" \
	-a "$(jq -r .memory_bytes <<<"$n2")" = "$(jq -r .capacity_bytes <<<"$pool")"
t_eq "numactl -H shows node 2's memory (MiB)" "$(jq -r '.memory_bytes / 1048576 | floor' <<<"$n2")" \
	"$(numactl -H | sed -n 's/^node 2 size: \([0-9]*\) MB/\1/p')"
t_check "the NRT object lists pmem.io/kmem on node-2" bash -c \
	"curl -s --unix-socket $PMEMD_SOCK 'http://x/v1/node?format=nrt' | jq -e '.zones[] | select(.name == \"node-2\") | .resources[] | select(.name == \"pmem.io/kmem\")'"
pmemd_stop

# Give the memory back so the runner can reset the namespaces.
daxctl offline-memory "$dax" >/dev/null 2>&1 && daxctl reconfigure-device -m devdax "$dax" >/dev/null 2>&1 ||
	t_note "could not give $dax back to devdax (the reset may fail)"
pmemd_done
