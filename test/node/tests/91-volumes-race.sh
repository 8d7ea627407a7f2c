#!/bin/bash
# 50 concurrent creates of 20 names through pmemd's REST API give exactly 20 volumes: one 201
# per name, 200 for the repeats, 20 distinct project ids, nothing left in staging.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"
# shellcheck source=lib/pmemd.sh
. "$PMEMD_SRC/test/node/lib/pmemd.sh"

cfg=$PWD/pmemd.yaml
pmemd_config "$cfg" "pools:
  - name: /mnt/pmem0
    regions: [region0]"
pmemd_start "$cfg" || t_fatal "pmemd starts"
t_ok "pmemd starts and is ready"

dir=$PWD/race
mkdir -p "$dir"
pids=()
for i in $(seq 0 49); do
	curl -s -o "$dir/$i.json" -w '%{http_code}\n' --max-time 120 --unix-socket "$PMEMD_SOCK" \
		-H 'Content-Type: application/json' \
		-d "{\"name\":\"race-$((i % 20))\",\"size_bytes\":1048576}" \
		http://localhost/v1/volumes >"$dir/$i.status" &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: pmemd is a background job too
t_eq "20 creates answered 201" "$(cat "$dir"/*.status | grep -c '^201$')" 20
t_eq "30 answered 200 (the same volume)" "$(cat "$dir"/*.status | grep -c '^200$')" 30
list=$(pmemd_api GET /v1/volumes)
t_eq "exactly 20 volumes" "$(jq '.volumes | length' <<<"$list")" 20
t_eq "20 distinct project ids" "$(jq '[.volumes[].project_id] | unique | length' <<<"$list")" 20
t_eq "20 directories in the pool" "$(ls /mnt/pmem0 | grep -c '^race-')" 20
t_eq "nothing left in staging" "$(ls -A /mnt/pmem0/.pmemd/staging | wc -l)" 0
t_eq "every answer for a name names the same project id" \
	"$(for i in $(seq 0 49); do echo "$((i % 20)) $(jq -r .project_id "$dir/$i.json")"; done | sort -u | wc -l)" 20
pmemd_stop
pmemd_done
