#!/bin/bash
# Restarts under fire (issue 9): while clients create, resize and delete volumes on an ext4 and
# an xfs pool (writing known data into them) and create and delete reservations and resize
# policies, pmemd is SIGKILLed FIRE_KILLS times (default 20) at random moments and restarted.
# Afterwards: every acknowledged create is there with its last acknowledged size and its data,
# every acknowledged delete is gone, each request without an answer did all or nothing; no half
# volume, no leaked project id or quota, nothing in staging or trash, allocated_bytes = the sum
# of the quotas; reservations and policies as acknowledged (short-lived ones expired). The
# client (build/node-bin/fire-client) logs every request and its outcome to journal.log.
# Rerun one: FIRE_SEED=<the seed printed> (the choices and the kill delays follow it; the
# moments the kills land on do not).
# shellcheck source-path=SCRIPTDIR/..
# Started by run-node (to pass FIRE_SEED/FIRE_KILLS with --env), the current folder is the
# repo's, read-only in the node: work in a scratch folder, before lib/pmemd.sh takes its log
# path from the current one.
[[ -w $PWD ]] || cd "$(mktemp -d /tmp/test98.XXXXXX)" || exit 1
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"
# shellcheck source=lib/pmemd.sh
. "$PMEMD_SRC/test/node/lib/pmemd.sh"

SEED=${FIRE_SEED:-$(((RANDOM << 15) | RANDOM))}
KILLS=${FIRE_KILLS:-20}
THREADS=${FIRE_THREADS:-4}
CLIENT=$PMEMD_SRC/build/node-bin/fire-client
STOP=$PWD/stop
JOURNAL=$PWD/journal.log
STATE=$PWD/state
shopt -s nullglob dotglob # a folder's entries are globbed (a process costs much under TCG)
export LC_ALL=C           # ... and sorted as jq sorts
client_pid=

cleanup() {
	: >"$STOP"
	[[ -n $client_pid ]] && kill "$client_pid" 2>/dev/null
	pmemd_stop >/dev/null 2>&1
	true
}
trap cleanup EXIT

# pause MS: sleeps MS milliseconds.
pause() { sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"; }

[[ -x $CLIENT ]] || t_fatal "$CLIENT is not built (make build/node-bin/fire-client)"
t_note "seed $SEED (rerun with FIRE_SEED=$SEED), $KILLS kills, $THREADS volume clients"
RANDOM=$SEED # the kill delays follow the seed
cfg=$PWD/pmemd.yaml
pmemd_config "$cfg" "state_dir: $STATE
placement:
  reservation_ttl: 1h
pools:
  - name: /mnt/pmem0
    regions: [region0]
  - name: /mnt/pmem1
    regions: [region1]
    topology:
      fstype: xfs"
pmemd_start "$cfg" || t_fatal "pmemd starts (and makes the pools)"
t_ok "pmemd starts and is ready (ext4 /mnt/pmem0, xfs /mnt/pmem1)"

start=$SECONDS
rm -f "$STOP"
"$CLIENT" "$PMEMD_SOCK" "$SEED" "$JOURNAL" "$STOP" "$THREADS" /mnt/pmem0 /mnt/pmem1 \
	>"$PWD/client.out" 2>"$PWD/client.err" &
client_pid=$!
restarted=0
for ((k = 1; k <= KILLS; k++)); do
	pause $((200 + RANDOM % 2801)) # 0.2-3 s after it was ready
	kill -KILL "$PMEMD_PID"
	wait "$PMEMD_PID" 2>/dev/null
	PMEMD_PID=
	pause $((RANDOM % 300)) # down a moment: clients find no listener
	pmemd_start "$cfg" || break
	restarted=$k
done
t_eq "pmemd is SIGKILLed and restarted (ready again) $KILLS times" "$restarted" "$KILLS"
kill -0 "$client_pid" 2>/dev/null
t_eq "the clients kept running through the kills" "$?" 0
pause 500
: >"$STOP"
wait "$client_pid"
rc=$?
client_pid=
t_note "$KILLS kills in $((SECONDS - start)) s; the client's checks:"
while IFS= read -r line; do
	case $line in
	"ok - "*) t_ok "${line#ok - }" ;;
	"not ok - "*) t_fail "${line#not ok - }" ;;
	*) echo "$line" ;;
	esac
done <"$PWD/client.out"
t_eq "the client's checks pass (exit status)" "$rc" 0
if ((rc != 0)) || [[ -s $PWD/client.err ]]; then
	sed 's/^/# client: /' "$PWD/client.err" | head -n 20
fi
t_note "refusals by status and reason (journal.log):"
grep -o 'status=[0-9]* outcome=refused reason="[^"]*"' "$JOURNAL" | sed 's/fire-[a-z0-9-]*/NAME/g' |
	sort | uniq -c | sort -rn | head -n 8 | sed 's/^/#   /'
t_note "journal: $(grep -c 'outcome=unknown' "$JOURNAL") requests without answer, e.g.:"
grep 'outcome=unknown' "$JOURNAL" | head -n 3 | sed 's/^/#   /'
t_note "repairs at the starts: $(grep -c 'event=volume_repaired' "$PMEMD_LOG")"

pool_consistent "ext4" ext4 /mnt/pmem0
pool_consistent "xfs" xfs /mnt/pmem1

# A clean restart after the storm repairs nothing and finds the same.
before=$(pmemd_api GET /v1/volumes | jq -c '[.volumes[] | {name, size_bytes, project_id}]')
pmemd_stop
t_eq "pmemd stops with 0" "$?" 0
n=$(wc -l <"$PMEMD_LOG")
pmemd_start "$cfg" || t_fatal "pmemd restarts cleanly"
t_eq "no repair at a clean restart" "$(tail -n +$((n + 1)) "$PMEMD_LOG" | grep 'event=volume_repaired')" ""
t_eq "the same volumes after a clean restart" \
	"$(pmemd_api GET /v1/volumes | jq -c '[.volumes[] | {name, size_bytes, project_id}]')" "$before"
t_note "the test took $((SECONDS)) s"
pmemd_stop
pmemd_done
