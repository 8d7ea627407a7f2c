#!/usr/bin/env bash
# test-sched-agents: the scheduler role and 3 node-role pmemds, all on this host, end to end.
# The nodes are simulated (simulate: in their config): one cluster description, each node
# pmemd takes its own node from it, so their pools are real to pmemd (node record,
# reservations, volumes) without PMEM. The cluster fits exactly 100 pods of 16Gi; 200 pods go
# filter -> prioritize -> bind concurrently (16 workers) through the scheduler, whose bind
# POSTs a reservation to the chosen node. Exactly 100 must bind; the nodes' own reservations
# (read back from each node) must be those 100, never over a pool, consistent per NUMA node;
# then the volumes are created on the nodes, consume the reservations, and become allocated.
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, N failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=test/cli/lib.sh
. test/cli/lib.sh
PMEMD=${PMEMD:-$PWD/pmemd}
tmp=$(mktemp -d /tmp/pmemd-sched-agents.XXXXXX)
pass=0
fail=0
pid=
npids=()
sampler=
cleanup() {
	[[ -n $sampler ]] && { kill -TERM "$sampler"; wait "$sampler"; } 2>/dev/null
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
finish() { echo "$pass passed, $fail failed"; [[ $fail -eq 0 ]]; exit; }

# Below the kernel's ephemeral range: this test opens thousands of client connections (see
# test-sched.sh).

wait_ready() {
	local url=$1
	for _ in $(seq 400); do curl -sf "$url/readyz" >/dev/null && return 0; sleep 0.05; done
	return 1
}

command -v jq >/dev/null || { bad "jq is needed (apt-get install jq)"; finish; }

GI=$((1024 * 1024 * 1024))
# --- the cluster: room for exactly 34 + 33 + 33 pods of 16Gi ---
# A reservation on a node holds a volume's quota, a few KiB more than its size, so every pool
# has 1Gi of slack: enough for that, never for one more pod.
cat >"$tmp/cluster.yaml" <<'YAML'
nodes:
  - name: agent-a
    labels: {zone: a}
    numa_nodes:
      - id: 0
        cpus: 8
        pools: [{name: /mnt/pmem0, size: 273Gi}]      # 17 pods
      - id: 1
        cpus: 8
        pools: [{name: /mnt/pmem1, size: 273Gi}]      # 17 pods
  - name: agent-b
    replicas: 2                                      # agent-b-0, agent-b-1
    numa_nodes:
      - id: 0
        cpus: 8
        cpus_exclusive: 2
        pools: [{name: /mnt/pmem0, size: 257Gi}]      # 16 pods
      - id: 1
        cpus: 8
        distances: {0: 31}
        pools:
          - {name: /mnt/pmem1, size: 241Gi, fstype: xfs}      # 15 pods ...
          - {name: /mnt/pmem2, size: 41Gi, allocated: 8Gi}    # ... + 2 (33Gi allocatable)
YAML

# --- a node that is not in the description, and simulate with pools: clear errors ---
port=$(free_port) || { bad "no free port"; finish; }
cat >"$tmp/bad-node.yaml" <<YAML
node_name: agent-c
listen:
  - tcp: 127.0.0.1:$port
kube:
  enabled: false
simulate:
  file: $tmp/cluster.yaml
YAML
out=$("$PMEMD" --check-config --config "$tmp/bad-node.yaml" 2>&1)
eq "--check-config fails for a node the description does not have" "$?" 1
check "... and says which node and which nodes there are" \
	grep -q "^$tmp/cluster.yaml: node \"agent-c\" is not in the cluster description (its 3 nodes: agent-a, agent-b-0, agent-b-1)" <<<"$out"
out=$(timeout 10 "$PMEMD" --config "$tmp/bad-node.yaml" 2>&1)
eq "such a node pmemd does not start (exit 1)" "$?" 1
check "... with the same message" grep -q 'node "agent-c" is not in the cluster description' <<<"$out"
cat >"$tmp/bad-pools.yaml" <<YAML
node_name: agent-a
kube:
  enabled: false
pools:
  - name: /mnt/pmem0
    regions: [region0]
simulate: {file: $tmp/cluster.yaml, colour: blue}
YAML
out=$("$PMEMD" --check-config --config "$tmp/bad-pools.yaml" 2>&1)
eq "--check-config refuses simulate with pools" "$?" 1
check "... naming the conflict with its position" \
	grep -q "^$tmp/bad-pools.yaml:4:1: pools: simulate and pools exclude each other" <<<"$out"
check "... and the unknown key under simulate" \
	grep -Eq "^$tmp/bad-pools.yaml:7:[0-9]+: simulate: unknown key \"colour\" \(expected one of file, node\)" <<<"$out"

# --- 3 simulated node agents and one scheduler ---
nodes=(agent-a agent-b-0 agent-b-1)
urls=()
mkdir -p "$tmp/publish"
# One node at a time, each checked to be the pmemd that answers on its port: a port that
# looked free can be taken by another process before pmemd binds it (pmemd then exits, and
# whatever holds the port would answer for it). Then another port is tried.
for n in "${nodes[@]}"; do
	mkdir -p "$tmp/state-$n"
	started=
	for _ in 1 2 3 4 5; do
		p=$(free_port) || break
		cat >"$tmp/$n.yaml" <<YAML
node_name: $n
log_level: warn
threads: 4
listen:
  - tcp: 127.0.0.1:$p
limits:
  per_client_connections: 256
kube:
  enabled: false
state_dir: $tmp/state-$n
volumes:
  publish_roots: [$tmp/publish]
simulate:
  file: $tmp/cluster.yaml
YAML
		"$PMEMD" --config "$tmp/$n.yaml" >"$tmp/$n.log" 2>&1 &
		npid=$!
		if wait_ready "http://127.0.0.1:$p" && kill -0 "$npid" 2>/dev/null &&
			[[ $(curl -s "http://127.0.0.1:$p/v1/node" | jq -r .node) == "$n" ]]; then
			started=$p
			break
		fi
		kill -TERM "$npid" 2>/dev/null
		wait "$npid" 2>/dev/null
	done
	if [[ -n $started ]]; then
		npids+=("$npid")
		urls+=("http://127.0.0.1:$started")
		ok "$n: the simulated node agent becomes ready on its own port"
	else
		bad "$n: the simulated node agent becomes ready on its own port; its log:"
		tail -5 "$tmp/$n.log"
		finish
	fi
done
rec=$(curl -s "${urls[1]}/v1/node")
check "the node record says simulated: true" jq -e '.simulated == true' <<<"$rec"
check "... and so does each of its pools" jq -e '[.pools[].simulated] == [true, true, true]' <<<"$rec"
eq "... whose pools are the description's (allocatable = size - allocated)" \
	"$(jq -c '[.pools[] | [.name, .numa_node, .fstype, .allocatable_bytes / 1073741824]]' <<<"$rec")" \
	'[["/mnt/pmem0",0,"ext4",257],["/mnt/pmem1",1,"xfs",241],["/mnt/pmem2",1,"ext4",33]]'
eq "... with its NUMA nodes, CPUs, pinned CPUs and distances" \
	"$(jq -c '[.numa_nodes[] | [.id, (.cpus | length), .cpus_exclusive, .distances]]' <<<"$rec")" \
	'[[0,8,[0,1],{"0":10,"1":21}],[1,8,[],{"0":31,"1":10}]]'
eq "... its labels, and its own name as hostname" "$(jq -c .labels <<<"$rec")" \
	'{"kubernetes.io/hostname":"agent-b-0"}'
eq "the pools endpoint shows them ready and simulated" \
	"$(curl -s "${urls[0]}/v1/pools" | jq -c '[.pools[] | [.state, .region, .simulated]] | unique')" \
	'[["ready","simulated",true]]'
eq "the NodeResourceTopology has its zones" \
	"$(curl -s "${urls[0]}/v1/node?format=nrt" | jq -c '[.zones[].name]')" '["node-0","node-1"]'

sport=$(free_port) || { bad "no free port"; finish; }
cat >"$tmp/sched.yaml" <<YAML
role: scheduler
log_level: warn
threads: 8
listen:
  - tcp: 127.0.0.1:$sport
limits:
  per_client_connections: 256
kube:
  enabled: false
scheduler:
  agents: [${urls[0]}, ${urls[1]}, ${urls[2]}]
  poll_interval: 100ms
  max_record_age: 10s
YAML
"$PMEMD" --config "$tmp/sched.yaml" >"$tmp/sched.log" 2>&1 &
pid=$!
base=http://127.0.0.1:$sport
view=
for _ in $(seq 600); do
	view=$(curl -s "$base/v1/cluster")
	[[ $(jq '[.nodes[]? | select(.generation > 0 and .unusable == null)] | length' <<<"$view" 2>/dev/null) == 3 ]] && break
	sleep 0.05
done
eq "the scheduler holds the 3 node agents' records" \
	"$(jq -r '[.nodes[].name] | join(",")' <<<"$view")" "agent-a,agent-b-0,agent-b-1"
eq "... from the agents source" "$(jq -r .source <<<"$view")" agents
eq "... each marked simulated" "$(jq -c '[.nodes[].simulated]' <<<"$view")" '[true,true,true]'
eq "... with the cluster's capacity (273+273 + 2 x (257+241+33) Gi)" \
	"$(jq '[.nodes[].capacity.allocatable_bytes] | add / 1073741824' <<<"$view")" 1608

post() { curl -s -H 'Content-Type: application/json' --data-binary "$2" "$base/scheduler/$1"; }

# While the pods are bound: every node's record, sampled, must never show a pool over its
# capacity (allocated + reserved > allocatable).
sample() {
	while :; do
		for u in "${urls[@]}"; do
			curl -s "$u/v1/node" | jq -c '.pools[] | select(.allocated_bytes + .reserved_bytes > .allocatable_bytes) | {name, allocatable_bytes, reserved_bytes}' 2>/dev/null
			echo "SAMPLE" >>"$tmp/samples"
		done
		sleep 0.1
	done >>"$tmp/over"
}
: >"$tmp/over"
: >"$tmp/samples"
sample &
sampler=$!

# --- 200 pods, 16 at a time, for room for 100 (as test-sched.sh drives the extender) ---
schedule_one() {
	local i=$1 pod args passing best out
	pod=$(printf '{"metadata":{"name":"pod-%d","namespace":"load","uid":"uid-%d","annotations":{"pmem.io/requests":"[{\\"size\\":\\"16Gi\\"}]"}},"spec":{"containers":[{"name":"c"}]}}' "$i" "$i")
	args=$(printf '{"Pod":%s,"Nodes":null,"NodeNames":["agent-a","agent-b-0","agent-b-1"]}' "$pod")
	out=$(post filter "$args")
	passing=$(jq -c '.NodeNames // []' <<<"$out")
	if [[ $passing == "[]" ]]; then
		echo "NOFIT $i $(jq -c '.FailedNodes' <<<"$out")" >>"$tmp/nofit"
		best=$(shuf -n1 -e agent-a agent-b-0 agent-b-1)
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

# The volumes of bound pods, created on their nodes as the CSI shim would (by pod_uid).
create_volumes() {
	local _ i n u k
	while read -r _ i n; do
		for k in 0 1 2; do [[ ${nodes[$k]} == "$n" ]] && u=${urls[$k]}; done
		curl -s -o /dev/null -w "%{http_code} $i $n\n" -H 'Content-Type: application/json' \
			--data-binary "{\"name\":\"vol-$i\",\"size_bytes\":17179869184,\"pod_uid\":\"uid-$i\"}" \
			"$u/v1/volumes"
	done
}

# Checks of one round's binds ($1: its results file).
round_checks() {
	local r=$1 label=$2 notcap nodeno
	notcap=$(grep '^REFUSED ' "$r" | grep -vcE 'node agent-[a-z0-9-]+: numa[0-9]+: need 16Gi, free [0-9.]+[KMGT]?i?')
	eq "$label: every refused bind is the scheduler's capacity check (numaN: need 16Gi, free X)" "$notcap" 0
	[[ $notcap -gt 0 ]] && grep '^REFUSED ' "$r" | grep -vE 'need 16Gi, free' | head -3
	nodeno=$(grep -c 'reservation refused by' "$r")
	eq "$label: no node refused a reservation the scheduler made (the two accountings agree)" "$nodeno" 0
	eq "$label: every pod got an answer" "$(grep -cE '^(BOUND|REFUSED) ' "$r")" "$(wc -l <"$r")"
}

# --- round 1: 200 pods, 16 at a time, for room for 100 ---
seq 1 200 | xargs -P 16 -I{} bash -c 'schedule_one {}' >"$tmp/results" 2>"$tmp/errors"
bound1=$(grep -c '^BOUND ' "$tmp/results")
echo "# round 1, 200 pods, 16 workers: $bound1 bound, $(grep -c '^REFUSED ' "$tmp/results") refused; per node:" \
	"$(grep '^BOUND ' "$tmp/results" | awk '{print $3}' | sort | uniq -c | tr -s ' \n' ' ')"
echo "# pods no node passed in filter (then bound at random): $(wc -l <"$tmp/nofit")"
echo "# e.g. $(grep -m1 '^REFUSED ' "$tmp/results")"
eq "round 1: 200 answers" "$(wc -l <"$tmp/results")" 200
round_checks "$tmp/results" "round 1"
eq "round 1: exactly 100 of the 200 concurrent pods bind (the cluster fits 100)" "$bound1" 100
kill -TERM "$sampler"
wait "$sampler" 2>/dev/null
sampler=
echo "# node records sampled during round 1: $(grep -c SAMPLE "$tmp/samples")"
check "the nodes' records were sampled during the round" test "$(grep -c SAMPLE "$tmp/samples")" -gt 0
eq "no sampled record showed a pool over its capacity" "$(wc -l <"$tmp/over")" 0
[[ -s $tmp/over ]] && head -3 "$tmp/over"

# What the nodes hold after round 1, read back from each node.
total=0
for i in 0 1 2; do
	n=${nodes[$i]}
	u=${urls[$i]}
	resv=$(curl -s "$u/v1/reservations")
	rec=$(curl -s "$u/v1/node")
	echo "$resv" >"$tmp/resv1-$n.json"
	want=$(grep "^BOUND [0-9]* $n\$" "$tmp/results" | awk '{print "uid-" $2}' | sort | tr '\n' ' ')
	got=$(jq -r '.reservations[].pod_uid' <<<"$resv" | sort | tr '\n' ' ')
	eq "$n: its reservations are exactly the pods bound to it" "$got" "$want"
	total=$((total + $(jq '.reservations | length' <<<"$resv")))
	eq "$n: each holds one 16Gi volume, unconsumed, on a NUMA node" \
		"$(jq '[.reservations[] | select((.volumes | length) == 1 and .volumes[0].size_bytes == 17179869184 and .volumes[0].consumed == false and .volumes[0].numa_node != null)] | length' <<<"$resv")" \
		"$(jq '.reservations | length' <<<"$resv")"
	eq "$n: no pool over its capacity" \
		"$(jq '[.pools[] | select(.allocated_bytes + .reserved_bytes > .allocatable_bytes)] | length' <<<"$rec")" 0
	eq "$n: each pool's reserved_bytes is the sum of the reservations in it" \
		"$(jq -c '[.pools[] | [.name, .reserved_bytes]]' <<<"$rec")" \
		"$(jq -c --argjson r "$resv" '[.pools[] | .name as $p | [$p, ([$r.reservations[].volumes[] | select(.pool == $p) | .reserved_bytes] | add // 0)]]' <<<"$rec")"
	eq "$n: per NUMA node, the reservations sit in that NUMA node's pools" \
		"$(jq -c --argjson r "$resv" '[.numa_nodes[] | .id as $id | .pools as $ps | [$id, ([$r.reservations[].volumes[] | select(.numa_node == $id and (.pool as $p | $ps | index($p)) != null) | .reserved_bytes] | add // 0)]]' <<<"$rec")" \
		"$(jq -c --argjson r "$resv" '[.numa_nodes[] | .id as $id | [$id, ([$r.reservations[].volumes[] | select(.numa_node == $id) | .reserved_bytes] | add // 0)]]' <<<"$rec")"
done
eq "the nodes hold one reservation per bound pod" "$total" "$bound1"

# The volumes of the bound pods are created on their nodes and consume the reservations.
grep '^BOUND ' "$tmp/results" | create_volumes >"$tmp/creates"
eq "the round's volumes are created (201)" "$(grep -c '^201 ' "$tmp/creates")" "$bound1"
for i in 0 1 2; do
	n=${nodes[$i]}
	u=${urls[$i]}
	rec=$(curl -s "$u/v1/node")
	vols=$(curl -s "$u/v1/volumes")
	eq "$n: every reservation is consumed (none left)" \
		"$(curl -s "$u/v1/reservations" | jq '.reservations | length')" 0
	eq "$n: each volume went to the pool its pod's reservation held" \
		"$(jq -c '[.volumes[] | [.name, .pool]] | sort' <<<"$vols")" \
		"$(jq -c '[.reservations[] | ["vol-" + (.pod_uid | ltrimstr("uid-")), .volumes[0].pool]] | sort' "$tmp/resv1-$n.json")"
	eq "$n: reserved bytes became allocated bytes, pool by pool" \
		"$(jq -c '[.pools[] | [.name, .allocated_bytes, .reserved_bytes]]' <<<"$rec")" \
		"$(jq -c --argjson r "$(cat "$tmp/resv1-$n.json")" '[.pools[] | .name as $p | [$p, ([$r.reservations[].volumes[] | select(.pool == $p) | .reserved_bytes] | add // 0), 0]]' <<<"$rec")"
done

# --- round 2: kube-scheduler retries the pods it could not place; the cluster is full, so
# none binds (a hold counted twice in round 1 would show up as room found here) ---
# First the scheduler's view must have caught up with the nodes: no holds left.
for _ in $(seq 200); do
	view=$(curl -s "$base/v1/cluster")
	[[ $(jq '.holds | length' <<<"$view") == 0 ]] && break
	sleep 0.05
done
eq "the scheduler's holds are gone once the nodes' records show the volumes" \
	"$(jq '.holds | length' <<<"$view")" 0
: >"$tmp/nofit"
grep '^REFUSED ' "$tmp/results" | awk '{print $2}' |
	xargs -P 16 -I{} bash -c 'schedule_one {}' >"$tmp/results2" 2>>"$tmp/errors"
bound2=$(grep -c '^BOUND ' "$tmp/results2")
echo "# round 2, the $((200 - bound1)) refused pods again: $bound2 bound"
round_checks "$tmp/results2" "round 2"
grep '^BOUND ' "$tmp/results2" | create_volumes >"$tmp/creates2"
eq "round 2's volumes are created (201)" "$(grep -c '^201 ' "$tmp/creates2")" "$bound2"
eq "exactly 100 pods bind in all" "$((bound1 + bound2))" 100
dups=$(cat "$tmp/results" "$tmp/results2" | grep '^BOUND ' | awk '{print $2}' | sort | uniq -d | wc -l)
eq "no pod is bound twice" "$dups" 0
if [[ -s $tmp/errors ]]; then
	bad "the workers printed errors"
	head -5 "$tmp/errors"
fi

# --- the cluster is full of volumes, exactly ---
for i in 0 1 2; do
	n=${nodes[$i]}
	u=${urls[$i]}
	rec=$(curl -s "$u/v1/node")
	vols=$(curl -s "$u/v1/volumes")
	eq "$n: its volumes are exactly the pods bound to it" \
		"$(jq -r '.volumes[].name' <<<"$vols" | sort | tr '\n' ' ')" \
		"$(cat "$tmp/results" "$tmp/results2" | grep "^BOUND [0-9]* $n\$" | awk '{print "vol-" $2}' | sort | tr '\n' ' ')"
	eq "$n: no reservation left" "$(curl -s "$u/v1/reservations" | jq '.reservations | length')" 0
	eq "$n: a pool's allocated bytes are its volumes' limits, none reserved" \
		"$(jq -c '[.pools[] | [.name, .allocated_bytes, .reserved_bytes]]' <<<"$rec")" \
		"$(jq -c --argjson v "$vols" '[.pools[] | .name as $p | [$p, ([$v.volumes[] | select(.pool == $p) | .limit_bytes] | add // 0), 0]]' <<<"$rec")"
	eq "$n: per NUMA node, allocated bytes are its pools'" \
		"$(jq -c '[.numa_nodes[] | [.id, .pmem_allocated_bytes]]' <<<"$rec")" \
		"$(jq -c '. as $r | [.numa_nodes[] | .id as $id | [$id, ([$r.pools[] | select(.numa_node == $id) | .allocated_bytes] | add // 0)]]' <<<"$rec")"
	eq "$n: no pool over its capacity, and none with room for another 16Gi volume" \
		"$(jq '[.pools[] | select(.allocated_bytes > .allocatable_bytes or .allocatable_bytes - .allocated_bytes >= 17179869184)] | length' <<<"$rec")" 0
done
out=$(post filter '{"Pod": {"metadata": {"name": "late", "namespace": "load", "uid": "late", "annotations": {"pmem.io/requests": "[{\"size\":\"16Gi\"}]"}}}, "NodeNames": ["agent-a", "agent-b-0", "agent-b-1"]}')
eq "one more pod fits no node" "$(jq '.FailedNodes | length' <<<"$out")" 3

v=$(jq -r '.volumes[0].name' <<<"$(curl -s "${urls[0]}/v1/volumes")")
mkdir -p "$tmp/publish/target"
out=$(curl -s -w '\n%{http_code}' -H 'Content-Type: application/json' \
	--data-binary "{\"target_path\":\"$tmp/publish/target\"}" "${urls[0]}/v1/volumes/$v/publish")
eq "publishing a simulated volume is refused: 501" "$(tail -1 <<<"$out")" 501
check "... saying it is a simulated node" jq -e '.error.message | test("simulated node")' <<<"$(head -1 <<<"$out")"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${urls[0]}/v1/volumes/$v")
eq "deleting a simulated volume works (204)" "$code" 204

# The scheduler sees the nodes full of volumes, not of reservations (once its polls have
# caught up with the delete).
for _ in $(seq 200); do
	view=$(curl -s "$base/v1/cluster")
	[[ $(jq -c '[([.nodes[].capacity.reserved_bytes] | add), (.holds | length), ([.nodes[].capacity.allocated_bytes] | add | . / 17179869184 | floor)]' <<<"$view") == "[0,0,99]" ]] && break
	sleep 0.05
done
eq "the scheduler's view: no reservations or holds, 99 volumes of 16Gi (one was deleted)" \
	"$(jq -c '[([.nodes[].capacity.reserved_bytes] | add), (.holds | length), ([.nodes[].capacity.allocated_bytes] | add | . / 17179869184 | floor)]' <<<"$view")" \
	"[0,0,99]"
check "the scheduler is still alive" curl -sf "$base/healthz"

kill -TERM "$pid"
wait "$pid"
eq "SIGTERM stops the scheduler with exit 0" "$?" 0
pid=
for i in 0 1 2; do
	kill -TERM "${npids[$i]}"
	wait "${npids[$i]}"
	eq "SIGTERM stops ${nodes[$i]} with exit 0" "$?" 0
	npids[$i]=
done
npids=()
finish
