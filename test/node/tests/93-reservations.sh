#!/bin/bash
# Reservations and placement on real pools: the kubelet CPU manager's exclusive CPUs reach the
# node record and the engine (POST /v1/placement/evaluate); a reservation holds capacity on a
# real pool (reserved_bytes in the record, 507 for what would eat it), a volume create with its
# pod_uid consumes it (reserved back to 0, allocated up), reservations survive a pmemd restart
# (the file in state_dir), an expired one frees its capacity, a corrupt file is moved aside.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"
# shellcheck source=lib/pmemd.sh
. "$PMEMD_SRC/test/node/lib/pmemd.sh"

MiB=$((1024 * 1024))
OUT=$PWD/api.out
STATE=$PWD/state

# api METHOD PATH [BODY]: prints the HTTP status; the body goes to $OUT.
api() {
	local args=()
	[[ -n ${3:-} ]] && args=(-H 'Content-Type: application/json' -d "$3")
	curl -s -o "$OUT" -w '%{http_code}' --max-time 60 --unix-socket "$PMEMD_SOCK" \
		-X "$1" "${args[@]}" "http://localhost$2"
}
# pool FIELD MOUNT: a field of one pool in the node record.
pool() { pmemd_api GET /v1/node | jq -r --arg p "$2" ".pools[] | select(.name == \$p) | .$1"; }

# The kubelet's checkpoint: CPU 1 (NUMA node 1's only CPU) is a Guaranteed pod's.
cat >"$PWD/cpu_manager_state" <<'EOF'
{"policyName":"static","defaultCpuSet":"0","entries":{"0f1e2d3c-pod":{"app":"1"}},"checksum":42}
EOF

cfg=$PWD/pmemd.yaml
pmemd_config "$cfg" "state_dir: $STATE
placement:
  reservation_ttl: 1h
  cpu_manager_state: $PWD/cpu_manager_state
pools:
  - name: /mnt/pmem0
    regions: [region0]
  - name: /mnt/pmem1
    regions: [region1]
    topology:
      fstype: xfs"
pmemd_start "$cfg" || t_fatal "pmemd starts"
t_ok "pmemd starts and is ready"

# ---- the CPU facts and the engine ----
t_eq "numa1's CPU 1 is exclusive (cpu_manager_state)" \
	"$(pmemd_api GET /v1/node | jq -c '[.numa_nodes[] | {id, cpus_exclusive}]')" \
	'[{"id":0,"cpus_exclusive":[]},{"id":1,"cpus_exclusive":[1]}]'
t_eq "pools report reserved_bytes 0" "$(pool reserved_bytes /mnt/pmem0),$(pool reserved_bytes /mnt/pmem1)" "0,0"
t_eq "evaluate: 8 MiB fits" "$(api POST /v1/placement/evaluate "{\"volumes\":[{\"size_bytes\":$((8 * MiB))}]}")" 200
t_eq "evaluate: feasible, on a pool" "$(jq -c '[.feasible, (.volumes[0].pool != null)]' "$OUT")" '[true,true]'
t_eq "evaluate: xfs + 1 CPU on the same NUMA node does not fit (numa1's CPU is taken)" \
	"$(api POST /v1/placement/evaluate "{\"volumes\":[{\"size_bytes\":$((8 * MiB)),\"fstype\":\"xfs\"}],\"cpus\":1,\"cpu_policy\":\"single-numa-cpu\"}")" 200
t_note "evaluate: $(jq -c . "$OUT")"
t_eq "evaluate: infeasible with a reason" "$(jq -r '.feasible' "$OUT")" false
api POST /v1/placement/evaluate "{\"volumes\":[{\"size_bytes\":$((8 * MiB)),\"fstype\":\"xfs\"}],\"cpus\":1}" >/dev/null
t_eq "evaluate: shortest-distance puts the CPU on numa0" "$(jq -c '[.feasible, .cpu_numa_node, .volumes[0].numa_node]' "$OUT")" '[true,0,1]'
t_eq "evaluate: a bad body is 400 naming the field" \
	"$(api POST /v1/placement/evaluate '{"volumes":[{"size_bytes":-1}]}')" 400
t_check "evaluate: ... volumes[0].size_bytes" grep -q 'volumes\[0\].size_bytes' "$OUT"

# ---- reserve, consume ----
alloc0=$(pool allocated_bytes /mnt/pmem0)
body="{\"pod_uid\":\"pod-a\",\"pod_name\":\"db-0\",\"namespace\":\"ns\",\"volumes\":[{\"size_bytes\":$((16 * MiB)),\"pool\":\"/mnt/pmem0\",\"claim\":\"ns/data\"}]}"
t_eq "reserve 16 MiB on /mnt/pmem0 is 201" "$(api POST /v1/reservations "$body")" 201
t_note "reservation: $(jq -c . "$OUT")"
held=$(jq -r '.volumes[0].reserved_bytes' "$OUT")
t_eq "the record's reserved_bytes is the reservation's" "$(pool reserved_bytes /mnt/pmem0)" "$held"
t_eq "the same body again is 200" "$(api POST /v1/reservations "$body")" 200
t_eq "another body for pod-a is 409" \
	"$(api POST /v1/reservations '{"pod_uid":"pod-a","volumes":[{"size_bytes":1}]}')" 409
t_eq "a hostile pod_uid is 400" "$(api POST /v1/reservations '{"pod_uid":"../x","volumes":[{"size_bytes":1}]}')" 400
free0=$(($(pool allocatable_bytes /mnt/pmem0) - $(pool allocated_bytes /mnt/pmem0) - $(pool reserved_bytes /mnt/pmem0)))
t_eq "a volume that would eat the reserved capacity is 507" \
	"$(api POST /v1/volumes "{\"name\":\"greedy\",\"size_bytes\":$((free0 + held / 2)),\"pool\":\"/mnt/pmem0\"}")" 507
t_eq "a reservation that does not fit is 507" \
	"$(api POST /v1/reservations "{\"pod_uid\":\"pod-big\",\"volumes\":[{\"size_bytes\":$((64 * 1024 * MiB))}]}")" 507
t_note "507: $(jq -c . "$OUT")"
t_eq "a volume create with pod_uid and claim is 201" \
	"$(api POST /v1/volumes "{\"name\":\"va\",\"size_bytes\":$((16 * MiB)),\"pod_uid\":\"pod-a\",\"claim\":\"ns/data\"}")" 201
t_eq "... in the reserved pool" "$(jq -r .pool "$OUT")" /mnt/pmem0
limit=$(jq -r .limit_bytes "$OUT")
t_eq "reserved_bytes is back to 0" "$(pool reserved_bytes /mnt/pmem0)" 0
t_eq "allocated_bytes grew by the volume's limit" "$(pool allocated_bytes /mnt/pmem0)" "$((alloc0 + limit))"
t_eq "the consumed reservation is gone" "$(api GET /v1/reservations/pod-a)" 404

# ---- restart ----
t_eq "reserve pod-b on NUMA node 1 is 201" \
	"$(api POST /v1/reservations "{\"pod_uid\":\"pod-b\",\"volumes\":[{\"size_bytes\":$((8 * MiB)),\"numa_node\":1}],\"cpus\":1}")" 201
t_eq "... on /mnt/pmem1, CPUs on numa0 (numa1 has none free)" \
	"$(jq -c '[.volumes[0].pool, .cpu_numa_node]' "$OUT")" '["/mnt/pmem1",0]'
before=$(jq -c . "$OUT")
held1=$(jq -r '.volumes[0].reserved_bytes' "$OUT")
t_check "the file is in state_dir" test -s "$STATE/reservations.json"
pmemd_stop
pmemd_start "$cfg" || t_fatal "pmemd restarts"
t_eq "pod-b survives the restart" "$(api GET /v1/reservations/pod-b)" 200
t_eq "... unchanged" "$(jq -c . "$OUT")" "$before"
t_eq "... and holds its capacity again" "$(pool reserved_bytes /mnt/pmem1)" "$held1"
t_eq "delete is 204" "$(api DELETE /v1/reservations/pod-b)" 204
t_eq "delete again is 404" "$(api DELETE /v1/reservations/pod-b)" 404
t_eq "reserved_bytes of /mnt/pmem1 is 0" "$(pool reserved_bytes /mnt/pmem1)" 0

# ---- expiry ----
free0=$(($(pool allocatable_bytes /mnt/pmem0) - $(pool allocated_bytes /mnt/pmem0)))
t_eq "reserve all but 1 MiB of /mnt/pmem0 for 2 s is 201" \
	"$(api POST /v1/reservations "{\"pod_uid\":\"pod-c\",\"ttl_seconds\":2,\"volumes\":[{\"size_bytes\":$((free0 - MiB)),\"pool\":\"/mnt/pmem0\"}]}")" 201
t_eq "a 2 MiB volume does not fit meanwhile" \
	"$(api POST /v1/volumes "{\"name\":\"late\",\"size_bytes\":$((2 * MiB)),\"pool\":\"/mnt/pmem0\"}")" 507
for ((i = 0; i < 300; i++)); do
	[[ $(api GET /v1/reservations/pod-c) == 404 ]] && break
	sleep 0.1
done
t_eq "pod-c expires" "$(api GET /v1/reservations/pod-c)" 404
t_eq "its capacity is free: reserved_bytes 0" "$(pool reserved_bytes /mnt/pmem0)" 0
t_eq "the 2 MiB volume fits now" \
	"$(api POST /v1/volumes "{\"name\":\"late\",\"size_bytes\":$((2 * MiB)),\"pool\":\"/mnt/pmem0\"}")" 201

# ---- the checkpoint is read on every pass ----
echo 'garbage' >"$PWD/cpu_manager_state"
rec=$(pmemd_api GET '/v1/node?refresh=true')
t_eq "a malformed checkpoint: no exclusive CPUs" "$(jq -c '[.numa_nodes[].cpus_exclusive]' <<<"$rec")" '[[],[]]'
t_eq "... and a warning naming the file" \
	"$(jq -r --arg f "CPU manager state $PWD/cpu_manager_state:" '[.warnings[] | select(startswith($f))] | length' <<<"$rec")" 1
t_note "warnings: $(jq -c .warnings <<<"$rec")"
echo '{"policyName":"none","defaultCpuSet":"","checksum":1}' >"$PWD/cpu_manager_state"
rec=$(pmemd_api GET '/v1/node?refresh=true')
t_eq "policy none: no exclusive CPUs, no warning" \
	"$(jq -c '[[.numa_nodes[].cpus_exclusive], [.warnings[] | select(startswith("CPU manager"))]]' <<<"$rec")" '[[[],[]],[]]'

# ---- a corrupt file ----
t_eq "reserve pod-d is 201" "$(api POST /v1/reservations '{"pod_uid":"pod-d","volumes":[{"size_bytes":1048576}]}')" 201
pmemd_stop
echo '{"version":1,"reservations":[{"pod_uid":' >"$STATE/reservations.json"
pmemd_start "$cfg" || t_fatal "pmemd starts with a corrupt reservations file"
t_ok "a corrupt file does not stop pmemd"
t_eq "no reservations" "$(pmemd_api GET /v1/reservations | jq -c .)" '{"reservations":[]}'
t_check "the file was moved aside" compgen -G "$STATE/reservations.json.corrupt-*"
t_check "the log says so" grep -q 'event=reservations_corrupt' "$PMEMD_LOG"
t_eq "volumes are untouched" "$(pmemd_api GET /v1/volumes | jq -r '[.volumes[].name] | join(",")')" "late,va"

for v in va late; do
	api DELETE "/v1/volumes/$v" >/dev/null
done
pmemd_stop
pmemd_done
