#!/bin/bash
# pmemd turns a fresh node's two regions into ready pools (ext4 on NUMA node 0, xfs on
# node 1), reports a pool on a missing region as an error without blocking the others,
# matches what ndctl and numactl report, and adopts everything on restart (no namespace,
# mkfs or mount the second time: same filesystem UUIDs, the marker file survives).
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"
# shellcheck source=lib/pmemd.sh
. "$PMEMD_SRC/test/node/lib/pmemd.sh"

cfg=$PWD/pmemd.yaml
pmemd_config "$cfg" "pools:
  - name: /mnt/pmem0
    regions: [region0]
  - name: /mnt/pmem1
    regions: [region1]
    topology:
      fstype: xfs
  - name: /mnt/missing
    regions: [region7]"

pmemd_start "$cfg" || { t_fail "pmemd starts and becomes ready"; pmemd_done; }
t_ok "pmemd starts and becomes ready on a fresh node"

pools=$(pmemd_api GET /v1/pools)
t_note "pools: $(jq -c '[.pools[] | {name, state, reason}]' <<<"$pools")"
p0=$(jq -c '.pools[] | select(.name == "/mnt/pmem0")' <<<"$pools")
p1=$(jq -c '.pools[] | select(.name == "/mnt/pmem1")' <<<"$pools")
pm=$(jq -c '.pools[] | select(.name == "/mnt/missing")' <<<"$pools")
t_eq "/mnt/pmem0 is ready" "$(jq -r .state <<<"$p0")" ready
t_eq "/mnt/pmem0 is on NUMA node 0" "$(jq -r .numa_node <<<"$p0")" 0
t_eq "/mnt/pmem0 is ext4" "$(jq -r .fstype <<<"$p0")" ext4
t_eq "/mnt/pmem1 is ready" "$(jq -r .state <<<"$p1")" ready
t_eq "/mnt/pmem1 is on NUMA node 1" "$(jq -r .numa_node <<<"$p1")" 1
t_eq "/mnt/pmem1 is xfs" "$(jq -r .fstype <<<"$p1")" xfs
t_eq "/mnt/missing is an error" "$(jq -r .state <<<"$pm")" error
t_eq "... with a reason a person can act on" "$(jq -r .reason <<<"$pm")" \
	"region7 not found on this node; regions here: region0, region1"

for p in /mnt/pmem0 /mnt/pmem1; do
	opts=$(awk -v m=$p '$2 == m { print $4 }' /proc/mounts)
	t_note "$p: $(awk -v m=$p '$2 == m { print $1, $3 }' /proc/mounts) $opts"
	t_check "$p is mounted with dax" grep -Eq '(^|,)dax(=always)?(,|$)' <<<"$opts"
	t_check "$p is mounted with project quotas" grep -Eq '(^|,)(prjquota|pquota)(,|$)' <<<"$opts"
done

# Capacity close to the 2 GiB NVDIMM: the filesystem, less its own metadata.
cap=$(jq -r .capacity_bytes <<<"$p0")
t_check "/mnt/pmem0 capacity $cap is between 1.8 and 2 GiB" \
	test "$cap" -gt $((18 * 1024 * 1024 * 1024 / 10)) -a "$cap" -le $((2 * 1024 * 1024 * 1024))
dfsize=$(df -B1 --output=size /mnt/pmem0 | tail -1 | tr -d ' ')
t_eq "capacity_bytes agrees with df" "$cap" "$dfsize"

# The node record against ndctl and numactl, in the same boot.
node=$(pmemd_api GET /v1/node)
t_eq "node record: 2 NUMA nodes like numactl" "$(jq '.numa_nodes | length' <<<"$node")" \
	"$(numactl -H | awk '/^available:/ { print $2 }')"
t_eq "node record: distance 0→1 like numactl" "$(jq -r '.numa_nodes[0].distances["1"]' <<<"$node")" \
	"$(numactl -H | awk '$1 == "0:" { print $3 }')"
t_eq "node record: CPUs of node 1 like numactl" "$(jq -c '.numa_nodes[1].cpus' <<<"$node")" \
	"[$(numactl -H | awk '/^node 1 cpus:/ { $1=$2=$3=""; print }' | xargs | tr ' ' ',')]"
t_eq "node record: /mnt/pmem1 under NUMA node 1" "$(jq -c '.numa_nodes[1].pools' <<<"$node")" \
	'["/mnt/pmem1"]'
regions=$(pmemd_api GET /v1/regions)
nd=$(ndctl list -R -v | jq -c '(if type == "object" and has("regions") then .regions else . end) |
	if type == "array" then . else [.] end')
for r in region0 region1; do
	for k in size numa_node available_size; do
		t_eq "$r $k like ndctl list -Rv" \
			"$(jq -r --arg r $r --arg k $k '.[] | select(.dev == $r) | .[$k]' <<<"$regions")" \
			"$(jq -r --arg r $r --arg k $k '.[] | select(.dev == $r) | .[$k]' <<<"$nd")"
	done
done
t_eq "ndctl sees one fsdax namespace per region" \
	"$(ndctl list -N | jq -r '[.[] | select(.mode == "fsdax")] | length')" 2

# ETag: a poller pays nothing when nothing changed.
etag=$(curl -sS -D - -o /dev/null --unix-socket "$PMEMD_SOCK" http://localhost/v1/node |
	awk 'tolower($1) == "etag:" { print $2 }' | tr -d '\r')
t_eq "If-None-Match with the current ETag is 304" \
	"$(pmemd_status GET /v1/node -H "If-None-Match: $etag")" 304
t_check "/metrics reports the pools" grep -q 'pmem_pool_ready{pool="/mnt/pmem1",numa_node="1",fstype="xfs"} 1' \
	<(pmemd_api GET /metrics)

# Restart: everything is adopted as it is.
uuid0=$(blkid -s UUID -o value /dev/pmem0)
uuid1=$(blkid -s UUID -o value "$(awk '$2 == "/mnt/pmem1" { print $1 }' /proc/mounts)")
echo "marker $$" >/mnt/pmem0/.marker-test
pmemd_stop
t_eq "pmemd stops on SIGTERM with exit 0" "$?" 0
steps_before=$(grep -c 'event=pool_step' "$PMEMD_LOG")
t_note "first run took $steps_before pool steps"
pmemd_start "$cfg" || t_fatal "pmemd restarts"
t_ok "pmemd restarts and is ready"
t_eq "no pool step on restart (no namespace, mkfs or mount)" \
	"$(grep -c 'event=pool_step' "$PMEMD_LOG")" "$steps_before"
t_eq "ext4 UUID unchanged" "$(blkid -s UUID -o value /dev/pmem0)" "$uuid0"
t_eq "xfs UUID unchanged" "$(blkid -s UUID -o value "$(awk '$2 == "/mnt/pmem1" { print $1 }' /proc/mounts)")" "$uuid1"
t_eq "the marker file survived" "$(cat /mnt/pmem0/.marker-test)" "marker $$"
t_eq "reported fs_uuid matches blkid" \
	"$(pmemd_api GET /v1/pools/mnt-pmem0 | jq -r .fs_uuid)" "$uuid0"
t_eq "mounts not doubled" "$(awk '$2 == "/mnt/pmem0"' /proc/mounts | wc -l)" 1
pmemd_stop
pmemd_done
