#!/usr/bin/env bash
# test-sched: the scheduler role from the outside: a simulated cluster that fits exactly 100
# pods, 200 pods going filter -> prioritize -> bind concurrently (16 workers), as
# kube-scheduler would drive the extender. Exactly 100 must bind, no pool may go over, and every
# refused bind must say it was capacity. Plus a broken simulate file and the extender's errors.
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, N failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=test/cli/lib.sh
. test/cli/lib.sh
PMEMD=${PMEMD:-$PWD/pmemd}
tmp=$(mktemp -d /tmp/pmemd-sched.XXXXXX)
pass=0
fail=0
pid=
npids=()
cleanup() {
	[[ -n $pid ]] && { kill -TERM "$pid"; wait "$pid"; } 2>/dev/null
	for p in "${npids[@]}"; do [[ -n $p ]] && { kill -TERM "$p"; wait "$p"; } 2>/dev/null; done
npids=()
	[[ -n ${KEEP:-} || $fail -gt 0 ]] || rm -rf "$tmp"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { local d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else bad "$d"; fi; }
eq() { if [[ $2 == "$3" ]]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi; }

# Below the kernel's ephemeral range: this test opens thousands of client connections, and a
# port one of them holds (or a curl to a port nobody listens on, which can connect to itself)
# must never be the one a pmemd is told to listen on.

command -v jq >/dev/null || { bad "jq is needed (apt-get install jq)"; echo "$pass passed, $fail failed"; exit 1; }

# --- a broken cluster description: every error, with its position ---
cat >"$tmp/bad-sim.yaml" <<'YAML'
nodes:
  - name: Bad_Name
    numa_nodes:
      - id: 0
        cpus: 4
        pools: [{name: /mnt/pmem0, size: 12Zi}]
  - name: ok-node
    colour: blue
    numa_nodes: []
YAML
port=$(free_port) || { bad "no free port"; echo "$pass passed, $fail failed"; exit 1; }
cat >"$tmp/bad.yaml" <<YAML
role: scheduler
listen:
  - tcp: 127.0.0.1:$port
kube:
  enabled: false
scheduler:
  simulate: $tmp/bad-sim.yaml
YAML
out=$("$PMEMD" --check-config --config "$tmp/bad.yaml" 2>&1)
eq "--check-config checks the simulate file too" "$?" 1
check "... and prints its errors with their positions" \
	grep -q "^$tmp/bad-sim.yaml:8:5: nodes\[1\]: unknown key \"colour\"" <<<"$out"
out=$(timeout 10 "$PMEMD" --config "$tmp/bad.yaml" 2>&1)
eq "a broken simulate file stops the scheduler with exit 1" "$?" 1
check "the bad node name is named with its position" \
	grep -q "^$tmp/bad-sim.yaml:2:11: nodes\[0\].name: \"Bad_Name\" is not a Kubernetes node name" <<<"$out"
check "the bad size is named with its position" \
	grep -q "^$tmp/bad-sim.yaml:6:42: nodes\[0\].numa_nodes\[0\].pools\[0\].size" <<<"$out"
check "the unknown key is named with its position" \
	grep -q "^$tmp/bad-sim.yaml:8:5: nodes\[1\]: unknown key \"colour\"" <<<"$out"
check "the empty numa_nodes is named with its position" \
	grep -q "^$tmp/bad-sim.yaml:9:17: nodes\[1\].numa_nodes: 1..64 NUMA nodes, got 0" <<<"$out"

# --- the cluster: 3 nodes, room for exactly 34 + 33 + 33 pods of 16Gi ---
cat >"$tmp/sim.yaml" <<'YAML'
nodes:
  - name: node-a
    numa_nodes:
      - id: 0
        cpus: 16
        pools: [{name: /mnt/pmem0, size: 272Gi}]   # 17 pods
      - id: 1
        cpus: 16
        pools: [{name: /mnt/pmem1, size: 272Gi}]   # 17 pods
  - name: node-b
    replicas: 2                                   # node-b-0, node-b-1
    numa_nodes:
      - id: 0
        cpus: 16
        pools: [{name: /mnt/pmem0, size: 256Gi}]  # 16 pods
      - id: 1
        cpus: 16
        distances: {0: 31}
        pools:
          - {name: /mnt/pmem1, size: 240Gi, fstype: xfs}   # 15 pods ...
          - {name: /mnt/pmem2, size: 40Gi, allocated: 8Gi} # ... + 2 pods (32Gi free)
YAML
port=$(free_port) || { bad "no free port"; echo "$pass passed, $fail failed"; exit 1; }
cat >"$tmp/sched.yaml" <<YAML
role: scheduler
log_level: warn
threads: 8
listen:
  - tcp: 127.0.0.1:$port
limits:
  per_client_connections: 256
kube:
  enabled: false
scheduler:
  simulate: $tmp/sim.yaml
YAML
"$PMEMD" --config "$tmp/sched.yaml" >"$tmp/log" 2>&1 &
pid=$!
base=http://127.0.0.1:$port
# Generous: a loaded machine starts processes slowly.
for _ in $(seq 400); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.05; done
if curl -sf "$base/readyz" >/dev/null; then
	ok "the scheduler role becomes ready"
else
	bad "the scheduler role becomes ready; its log:"
	tail -5 "$tmp/log"
fi
nodes=$(curl -s "$base/v1/cluster" | jq -r '[.nodes[].name] | join(",")')
eq "the cluster view holds the simulated nodes" "$nodes" "node-a,node-b-0,node-b-1"
eq "... from the simulate source" "$(curl -s "$base/v1/cluster" | jq -r .source)" simulate

post() { curl -s -H 'Content-Type: application/json' --data-binary "$2" "$base/scheduler/$1"; }

# --- the extender's errors: HTTP 200 with Error, never a crash ---
out=$(post filter '{"Pod": {"metadata": {}}, "NodeNames": [1]}')
check "a malformed ExtenderArgs gets an Error in the filter result" \
	jq -e '.Error | test("NodeNames")' <<<"$out"
out=$(post bind '{"PodName": "x"}')
check "a malformed ExtenderBindingArgs gets an Error in the bind result" \
	jq -e '.Error | test("ExtenderBindingArgs")' <<<"$out"
out=$(post bind '{"PodName": "x", "PodNamespace": "default", "PodUID": "nope", "Node": "node-a"}')
check "binding a pod filter never saw is refused with that reason" \
	jq -e '.Error | test("not seen by filter")' <<<"$out"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/scheduler/filter")
eq "GET on a verb is 405" "$code" 405
out=$(post filter '{"Pod": {"metadata": {"name": "web", "namespace": "default", "uid": "w"}}, "NodeNames": ["node-a", "elsewhere"]}')
check "a pod asking nothing of pmemd passes filter untouched" \
	jq -e '.NodeNames == ["node-a", "elsewhere"] and .FailedNodes == {}' <<<"$out"
out=$(post prioritize '{"Pod": {"metadata": {"name": "web", "namespace": "default", "uid": "w"}}, "NodeNames": ["node-a", "elsewhere"]}')
check "... and gets the same score, 0, everywhere" jq -e '[.[].Score] == [0, 0]' <<<"$out"
out=$(post filter '{"Pod": {"metadata": {"name": "db", "namespace": "default", "uid": "d"}, "spec": {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}}, "NodeNames": ["node-a"]}')
check "a PVC without a Kubernetes API fails filter with that reason" \
	jq -e '.FailedNodes["node-a"] | test("default/data.*no Kubernetes API")' <<<"$out"

# --- 200 pods, 16 at a time, for room for 100 ---
# One pod as kube-scheduler drives it: filter, prioritize among the passing nodes, bind the
# best. A pod no node passes is bound anyway, to a node at random, as a scheduler with an
# older view would: the bind verb must be the authority, not filter.
schedule_one() {
	local i=$1 pod args passing best out
	pod=$(printf '{"metadata":{"name":"pod-%d","namespace":"load","uid":"uid-%d","annotations":{"pmem.io/requests":"[{\\"size\\":\\"16Gi\\"}]"}},"spec":{"containers":[{"name":"c"}]}}' "$i" "$i")
	args=$(printf '{"Pod":%s,"Nodes":null,"NodeNames":["node-a","node-b-0","node-b-1"]}' "$pod")
	out=$(post filter "$args")
	passing=$(jq -c '.NodeNames // []' <<<"$out")
	if [[ $passing == "[]" ]]; then
		echo "NOFIT $i $(jq -c '.FailedNodes' <<<"$out")" >>"$tmp/nofit"
		best=$(shuf -n1 -e node-a node-b-0 node-b-1)
	else
		args=$(printf '{"Pod":%s,"Nodes":null,"NodeNames":%s}' "$pod" "$passing")
		best=$(post prioritize "$args" | jq -r 'sort_by(-.Score, .Host) | .[0].Host')
	fi
	out=$(post bind "{\"PodName\":\"pod-$i\",\"PodNamespace\":\"load\",\"PodUID\":\"uid-$i\",\"Node\":\"$best\"}")
	if ! jq -e 'has("Error")' <<<"$out" >/dev/null 2>&1; then
		echo "NOANSWER $i $best $out"
	elif [[ $(jq -r .Error <<<"$out") == "" ]]; then
		echo "BOUND $i $best"
	else
		echo "REFUSED $i $best $(jq -r .Error <<<"$out")"
	fi
}
export -f schedule_one post
export base tmp
: >"$tmp/nofit"
seq 1 200 | xargs -P 16 -I{} bash -c 'schedule_one {}' >"$tmp/results" 2>"$tmp/errors"
bound=$(grep -c '^BOUND ' "$tmp/results")
refused=$(grep -c '^REFUSED ' "$tmp/results")
echo "# 200 pods, 16 workers: $bound bound, $refused refused; per node:" \
	"$(grep '^BOUND ' "$tmp/results" | awk '{print $3}' | sort | uniq -c | tr -s ' \n' ' ')"
echo "# pods no node passed in filter (then bound at random): $(wc -l <"$tmp/nofit")"
echo "# e.g. $(grep -m1 '^REFUSED ' "$tmp/results")"
eq "every pod got an answer" "$((bound + refused))" 200
eq "exactly 100 pods bind" "$bound" 100
eq "the other 100 are refused" "$refused" 100
notcap=$(grep '^REFUSED ' "$tmp/results" | grep -vcE 'node-[a-z0-9-]+: numa[0-9]+: need 16Gi, free [0-9]+')
eq "every refused bind names the capacity (numaN: need 16Gi, free X)" "$notcap" 0
[[ $notcap -gt 0 ]] && grep '^REFUSED ' "$tmp/results" | grep -vE 'need 16Gi, free' | head -3
notcap2=$(grep -o '"node-[a-z0-9-]*":"[^"]*"' "$tmp/nofit" | grep -vc 'need 16Gi, free')
eq "every node a pod failed in filter names the capacity" "$notcap2" 0
dups=$(grep '^BOUND ' "$tmp/results" | awk '{print $2}' | sort | uniq -d | wc -l)
eq "no pod is bound twice" "$dups" 0

view=$(curl -s "$base/v1/cluster")
eq "the view holds 100 holds" "$(jq '.holds | length' <<<"$view")" 100
eq "... of 16Gi each (1600Gi)" "$(jq '[.holds[].bytes] | add' <<<"$view")" $((100 * 16 * 1024 * 1024 * 1024))
over=$(jq '[.nodes[].capacity.pools[] | select(.allocated_bytes + .reserved_bytes > .allocatable_bytes)] | length' <<<"$view")
eq "no pool is over its capacity" "$over" 0
left=$(jq '[.nodes[].capacity.free_bytes] | add' <<<"$view")
eq "and the cluster is full: no pool has room for a 16Gi volume" \
	"$(jq '[.nodes[].capacity.pools[] | select(.free_bytes >= 17179869184)] | length' <<<"$view")" 0
echo "# bytes left over in the cluster (pieces under 16Gi): $left"
for n in node-a node-b-0 node-b-1; do
	held=$(jq --arg n "$n" '[.holds[] | select(.node == $n) | .bytes] | add // 0' <<<"$view")
	binds=$(grep -c "^BOUND [0-9]* $n\$" "$tmp/results")
	eq "$n: its holds are its binds" "$held" $((binds * 16 * 1024 * 1024 * 1024))
done
check "the scheduler is still alive" curl -sf "$base/healthz"
if [[ -s $tmp/errors ]]; then
	bad "the workers printed errors"
	head -5 "$tmp/errors"
fi

kill -TERM "$pid"
wait "$pid"
eq "SIGTERM stops the scheduler with exit 0" "$?" 0
pid=

# --- agents: 3 node-role pmemds polled by the scheduler (no PMEM on this host: no pools) ---
ports=()
for n in x y z; do
	p=$(free_port) || { bad "no free port"; break; }
	ports+=("$p")
	cat >"$tmp/node-$n.yaml" <<YAML
node_name: node-$n
log_level: error
listen:
  - tcp: 127.0.0.1:$p
kube:
  enabled: false
state_dir: $tmp/state-$n
YAML
	mkdir -p "$tmp/state-$n"
	"$PMEMD" --config "$tmp/node-$n.yaml" >"$tmp/node-$n.log" 2>&1 &
	npids+=($!)
done
port=$(free_port) || { bad "no free port"; echo "$pass passed, $fail failed"; exit 1; }
cat >"$tmp/agents.yaml" <<YAML
role: scheduler
log_level: warn
listen:
  - tcp: 127.0.0.1:$port
kube:
  enabled: false
scheduler:
  agents: [http://127.0.0.1:${ports[0]}, http://127.0.0.1:${ports[1]}, http://127.0.0.1:${ports[2]}]
  poll_interval: 100ms
  max_record_age: 1s
YAML
"$PMEMD" --config "$tmp/agents.yaml" >"$tmp/agents.log" 2>&1 &
pid=$!
base=http://127.0.0.1:$port
view=
for _ in $(seq 600); do
	view=$(curl -s "$base/v1/cluster")
	[[ $(jq '[.agents[]? | select(.not_modified > 0)] | length' <<<"$view" 2>/dev/null) == 3 ]] && break
	sleep 0.05
done
eq "the scheduler polls the 3 node agents" "$(jq -r '[.nodes[].name] | join(",")' <<<"$view")" \
	"node-x,node-y,node-z"
if [[ $(jq '.nodes | length' <<<"$view") != 3 ]]; then
	jq -c '.agents' <<<"$view"
	tail -n 3 "$tmp"/node-*.log "$tmp/agents.log"
fi
eq "... whose unchanged records come back as 304s" \
	"$(jq '[.agents[] | select(.not_modified > 0)] | length' <<<"$view")" 3
eq "... and are fresh" "$(jq '[.nodes[] | select(.stale)] | length' <<<"$view")" 0
out=$(post filter '{"Pod": {"metadata": {"name": "p", "namespace": "default", "uid": "p", "annotations": {"pmem.io/requests": "[{\"size\":\"1Gi\"}]"}}}, "NodeNames": ["node-x", "node-y", "node-z"]}')
eq "a PMEM pod fits none of them (they have no pools)" "$(jq '.FailedNodes | length' <<<"$out")" 3
echo "# e.g. node-x: $(jq -r '.FailedNodes["node-x"]' <<<"$out")"
out=$(post bind '{"PodName": "p", "PodNamespace": "default", "PodUID": "p", "Node": "node-x"}')
check "... and its bind is refused by the engine" jq -e '.Error | test("^node node-x: ")' <<<"$out"
kill -TERM "${npids[2]}"
wait "${npids[2]}" 2>/dev/null
npids[2]=
for _ in $(seq 100); do
	view=$(curl -s "$base/v1/cluster")
	[[ $(jq -r '.nodes[] | select(.name == "node-z") | .stale' <<<"$view") == true ]] && break
	sleep 0.05
done
check "a node agent that stops goes stale after max_record_age" \
	jq -e '.nodes[] | select(.name == "node-z") | .stale' <<<"$view"
out=$(post filter '{"Pod": {"metadata": {"name": "q", "namespace": "default", "uid": "q", "annotations": {"pmem.io/requests": "[{\"size\":\"1Gi\"}]"}}}, "NodeNames": ["node-z"]}')
check "... and fails filter with the age and the reason, never as empty" \
	jq -e '.FailedNodes["node-z"] | test("^record is [0-9]+s old \\(max 1s\\): the node.s pmemd is not reporting \\(GET http://127.0.0.1:[0-9]+/v1/node: ")' <<<"$out"
kill -TERM "$pid"
wait "$pid"
eq "SIGTERM stops the agents-mode scheduler with exit 0" "$?" 0
pid=
for p in "${npids[@]}"; do [[ -n $p ]] && { kill -TERM "$p"; wait "$p"; } 2>/dev/null; done
npids=()

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
