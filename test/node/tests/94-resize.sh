#!/bin/bash
# The auto resizer with the local source on an ext4 and an xfs pool: a writer without
# CAP_SYS_RESOURCE appends steadily to a volume whose policy says 80 % / +50 % / max 4x the
# start size; the volume grows in steps (8 -> 12 -> 18 -> 27 -> 32 MiB, the last one capped
# at max), the writer never sees a quota error before max and sees one at max (EDQUOT on
# ext4, ENOSPC on xfs); events, metrics and the log say what happened; a volume no policy
# selects is left alone; policies survive a restart.
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
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
metric() { pmemd_api GET /metrics | awk -v k="$1" '$1 == k { print $2 }'; }

writers=()
cleanup() {
	local p
	for p in "${writers[@]}"; do kill "$p" 2>/dev/null; done
	pmemd_stop >/dev/null 2>&1
	true
}
trap cleanup EXIT

cfg=$PWD/pmemd.yaml
pmemd_config "$cfg" "state_dir: $STATE
resize:
  interval: 500ms
pools:
  - name: /mnt/pmem0
    regions: [region0]
  - name: /mnt/pmem1
    regions: [region1]
    topology:
      fstype: xfs"
pmemd_start "$cfg" || t_fatal "pmemd starts"
t_ok "pmemd starts and is ready (resize source local, interval 500ms)"

# writer FILE LOG: as nobody without capabilities, appends 128 KiB every 0.1 s to FILE (kept
# open, like a database's log) until a write fails; then writes "<file size> <error>" to LOG
# and ends. Only bash builtins in the loop (printf, read -t on a fifo as the pause), so the
# pace holds under TCG, where every fork costs. In the background: its pid is $!.
writer() {
	: >"$2"
	: >"$2.err"
	chmod 666 "$2" "$2.err"
	rm -f "$2.fifo"
	mkfifo -m 666 "$2.fifo"
	# shellcheck disable=SC2016 # expanded by the writer's shell
	t_as_nobody bash -c '
		chunk=$(head -c 131072 /dev/zero | tr "\0" x)
		exec 3>>"$1" 4<>"$2.fifo"
		while :; do
			if ! printf "%s" "$chunk" >&3 2>"$2.err"; then
				echo "$(stat -c %s "$1") $(cat "$2.err")" >>"$2"
				exit 0
			fi
			read -r -t 0.1 -u 4 _
		done' writer "$1" "$2" >/dev/null 2>&1 &
}

scenario() { # FS POOL
	local fs=$1 mnt=$2 name=grow-$1 path log pid s seen last st want got ok prev t0
	t_note "---- $fs ($mnt) ----"
	st=$(api POST /v1/volumes "{\"name\":\"$name\",\"size_bytes\":$((8 * MiB)),\"pool\":\"$mnt\",\"labels\":{\"app\":\"db-$fs\"}}")
	t_eq "$fs: create an 8 MiB volume is 201" "$st" 201
	path=$(jq -r .path "$OUT")
	st=$(api POST /v1/resize-policies "{\"name\":\"db-$fs\",\"selector\":{\"labels\":{\"app\":\"db-$fs\"}},\"trigger\":{\"used_percent\":80},\"step\":{\"percent\":50},\"max_size_bytes\":$((32 * MiB))}")
	t_eq "$fs: create a policy (80 %, +50 %, max 32 MiB) is 201" "$st" 201
	t_note "$fs: $(jq -c . "$OUT")"

	log=/tmp/resize-writer-$fs.log
	writer "$path/data" "$log"
	pid=$!
	writers+=("$pid")
	# Watch the volume's size while the writer runs (32 MiB at 1.3 MB/s, half that under TCG:
	# about a minute; at most 2 minutes).
	seen=$((8 * MiB)) last=$((8 * MiB)) t0=$SECONDS
	while ((SECONDS - t0 < 120)) && kill -0 "$pid" 2>/dev/null; do
		s=$(pmemd_api GET "/v1/volumes/$name" | grep -o '"size_bytes":[0-9]*' | cut -d: -f2)
		if [[ $s =~ ^[0-9]+$ ]] && ((s != last)); then
			t_note "$fs: +$((SECONDS - t0))s size $s, the file $(size "$path/data") bytes"
			seen+=" $s"
			last=$s
		fi
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		t_fail "$fs: the writer hit the quota at max within 2 minutes (file: $(size "$path/data") bytes)"
	fi
	wait "$pid" 2>/dev/null
	t_note "$fs: sizes seen: $seen"
	t_note "$fs: the writer's failure: $(cat "$log")"

	# The steps: each 50 % of the size then, rounded up to the MiB, the last capped at max.
	want="$((8 * MiB)) $((12 * MiB)) $((18 * MiB)) $((27 * MiB)) $((32 * MiB))"
	ok=1 prev=0
	for s in $seen; do
		[[ " $want " == *" $s "* ]] && ((s > prev)) || ok=0
		prev=$s
	done
	t_check "$fs: GET /v1/volumes saw only step sizes, growing ($seen)" test $ok = 1
	t_eq "$fs: the volume ends at max (32 MiB)" \
		"$(pmemd_api GET "/v1/volumes/$name" | jq -r .size_bytes)" $((32 * MiB))
	t_eq "$fs: the events say 8->12->18->27 resized, 27->32 capped, then at_max" \
		"$(pmemd_api GET "/v1/volumes/$name/events" | jq -r '[.events[] | "\(.result):\(.from_bytes / 1048576 | floor)-\(.to_bytes / 1048576 | floor)"] | join(" ")')" \
		"resized:8-12 resized:12-18 resized:18-27 capped:27-32 at_max:32-32"

	# The writer saw exactly one error, at max.
	t_eq "$fs: the writer failed exactly once" "$(wc -l <"$log")" 1
	got=$(awk '{ print $1 }' "$log")
	t_check "$fs: ... with the file at max (31..32 MiB + slack: $got bytes), never before" \
		test "${got:-0}" -gt $((31 * MiB)) -a "${got:-0}" -le $((32 * MiB + 131072))
	if [[ $fs == ext4 ]]; then
		t_check "$fs: ... and the error is EDQUOT" grep -q "Disk quota exceeded" "$log"
	else
		t_check "$fs: ... and the error is ENOSPC (xfs for a full project quota)" \
			grep -q "No space left on device" "$log"
	fi
	t_check "$fs: the log has resize_applied for each step" \
		test "$(grep -c "event=resize_applied volume=$name " "$PMEMD_LOG")" -eq 4
	t_check "$fs: ... and resize_at_max once" \
		test "$(grep -c "event=resize_at_max volume=$name " "$PMEMD_LOG")" -eq 1
	t_check "$fs: pmem_autoresize_last_seconds has the volume" \
		test -n "$(metric "pmem_autoresize_last_seconds{volume=\"$name\"}")"
	rm -f "$path/data"
}

scenario ext4 /mnt/pmem0
scenario xfs /mnt/pmem1

t_eq "pmem_autoresize_total resized is 6 (3 per volume)" \
	"$(metric 'pmem_autoresize_total{result="resized"}')" 6
t_eq "pmem_autoresize_total capped is 2" "$(metric 'pmem_autoresize_total{result="capped"}')" 2
t_eq "pmem_autoresize_total at_max is 2 (once per volume, not per pass)" \
	"$(metric 'pmem_autoresize_total{result="at_max"}')" 2
t_eq "pmem_autoresize_source_errors_total is 0" \
	"$(metric 'pmem_autoresize_source_errors_total{source="local"}')" 0
t_note "monitor passes: $(metric pmem_autoresize_pass_seconds_count), seconds in them: $(metric pmem_autoresize_pass_seconds_sum)"

# A volume no policy selects: filled to its quota, it stays as it is.
t_eq "a volume without a policy: create is 201" \
	"$(api POST /v1/volumes "{\"name\":\"plain\",\"size_bytes\":$((4 * MiB)),\"pool\":\"/mnt/pmem0\"}")" 201
path=$(jq -r .path "$OUT")
t_as_nobody dd if=/dev/zero of="$path/data" bs=64K count=100 conv=fsync status=none 2>/dev/null
sleep 2 # four passes of the monitor: none may touch it
t_eq "... stays at 4 MiB after four passes" \
	"$(pmemd_api GET /v1/volumes/plain | jq -r .size_bytes)" $((4 * MiB))
t_eq "... and has no events" "$(pmemd_api GET /v1/volumes/plain/events | jq -c .events)" "[]"

# Bad input is refused with the field named; nothing is half-applied.
t_eq "a policy with an unknown field is 400" \
	"$(api POST /v1/resize-policies '{"name":"x","selector":{"pool":"/mnt/pmem0"},"trigger":{"used_percent":80},"step":{"percent":50},"max_size_bytes":1,"bogus":1}')" 400
t_check "... naming it" grep -q bogus "$OUT"
t_eq "a policy with used_percent 0 is 400" \
	"$(api POST /v1/resize-policies '{"name":"x","selector":{"pool":"/mnt/pmem0"},"trigger":{"used_percent":0},"step":{"percent":50},"max_size_bytes":1}')" 400
t_eq "... and no policy x exists" "$(api GET /v1/resize-policies/x)" 404

# Policies survive a restart (the file in state_dir).
before=$(pmemd_api GET /v1/resize-policies | jq -c .)
pmemd_stop
t_eq "pmemd stops with 0" "$?" 0
t_check "the policies file is in state_dir" test -s "$STATE/resize-policies.json"
pmemd_start "$cfg" || t_fatal "pmemd restarts"
t_eq "restart keeps both policies as they were" "$(pmemd_api GET /v1/resize-policies | jq -c .)" "$before"
t_eq "delete a policy is 204" "$(api DELETE /v1/resize-policies/db-ext4)" 204
t_eq "delete it again is 404" "$(api DELETE /v1/resize-policies/db-ext4)" 404
for v in grow-ext4 grow-xfs plain; do
	t_eq "delete volume $v is 204" "$(api DELETE "/v1/volumes/$v")" 204
done
pmemd_stop
pmemd_done
