#!/bin/bash
# The auto resizer's inode trigger with the local source on an ext4 and an xfs pool: a volume
# with an inode limit of 100 and a policy "inodes used >= 80 %, +50 % of the inode limit, max
# 300 inodes"; a writer without CAP_SYS_RESOURCE creates small files steadily. The inode limit
# grows in steps (100 -> 150 -> 225 -> 300, the last one capped at max), read back from pmemd
# and from the kernel (repquota / xfs_quota) at every step; the size never moves; the writer
# never sees a quota error before max and sees one at max (EDQUOT on ext4, ENOSPC on xfs);
# events, metrics and the log say the inodes grew. A resize of the inode limit over the API:
# alone, below the inodes used (409), 0 = none.
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
metric() { pmemd_api GET /metrics | awk -v k="$1" '$1 == k { print $2 }'; }

# kernel_inodes FS MNT PROJID: the project's inode hard limit as the quota tools see it.
kernel_inodes() {
	local id ih
	if [[ $1 == ext4 ]]; then
		# #1000 -- used soft hard iused isoft ihard (pmemd sets no soft limit: no grace)
		repquota -v -P -n "$2" | while read -r id _ _ _ _ _ _ ih _; do
			[[ $id == "#$3" ]] && echo "$ih"
		done
	else
		# #1000 iused isoft ihard warn
		xfs_quota -x -c 'report -p -n -N -i' "$2" | while read -r id _ _ ih _; do
			[[ $id == "#$3" ]] && echo "$ih"
		done
	fi
}

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

# writer DIR LOG: as nobody without capabilities, creates an empty file in DIR every 0.15 s
# until a create fails; then writes "<files made> <error>" to LOG and ends. Only bash builtins
# in the loop (the pace holds under TCG). In the background: its pid is $!.
writer() {
	: >"$2"
	: >"$2.err"
	chmod 666 "$2" "$2.err"
	rm -f "$2.fifo"
	mkfifo -m 666 "$2.fifo"
	# shellcheck disable=SC2016 # expanded by the writer's shell
	t_as_nobody bash -c '
		i=0
		exec 4<>"$2.fifo"
		while :; do
			if ! { : >"$1/f$i"; } 2>"$2.err"; then
				echo "$i $(cat "$2.err")" >>"$2"
				exit 0
			fi
			i=$((i + 1))
			read -r -t 0.15 -u 4 _
		done' writer "$1" "$2" >/dev/null 2>&1 &
}

scenario() { # FS POOL
	local fs=$1 mnt=$2 name=files-$1 path log pid s seen last st want ok prev t0 id k base got
	t_note "---- $fs ($mnt) ----"
	st=$(api POST /v1/volumes "{\"name\":\"$name\",\"size_bytes\":$((64 * MiB)),\"inodes\":100,\"pool\":\"$mnt\",\"labels\":{\"app\":\"files-$fs\"}}")
	t_eq "$fs: create a 64 MiB volume with 100 inodes is 201" "$st" 201
	path=$(jq -r .path "$OUT")
	id=$(jq -r .project_id "$OUT")
	t_eq "$fs: the kernel's inode limit is 100" "$(kernel_inodes "$fs" "$mnt" "$id")" 100
	st=$(api POST /v1/resize-policies "{\"name\":\"files-$fs\",\"selector\":{\"labels\":{\"app\":\"files-$fs\"}},\"trigger\":{\"inodes_used_percent\":80},\"step\":{\"percent\":50,\"inodes_percent\":50},\"max_size_bytes\":$((64 * MiB)),\"max_inodes\":300}")
	t_eq "$fs: create a policy (inodes 80 %, +50 %, max 300 inodes) is 201" "$st" 201
	t_note "$fs: $(jq -c . "$OUT")"
	base=$(pmemd_api GET "/v1/volumes/$name" | jq -r .used_inodes)
	t_note "$fs: inodes used before the writer: $base"

	chmod 777 "$path"
	log=/tmp/resize-inodes-writer-$fs.log
	writer "$path" "$log"
	pid=$!
	writers+=("$pid")
	# Watch the inode limit while the writer runs (~300 files at 0.15 s: under a minute; at
	# most 3 minutes), and read the kernel's at every change.
	seen=100 last=100 t0=$SECONDS ok=1
	while ((SECONDS - t0 < 180)) && kill -0 "$pid" 2>/dev/null; do
		s=$(pmemd_api GET "/v1/volumes/$name" | grep -o '"inodes":[0-9]*' | cut -d: -f2)
		if [[ $s =~ ^[0-9]+$ ]] && ((s != last)); then
			k=$(kernel_inodes "$fs" "$mnt" "$id")
			t_note "$fs: +$((SECONDS - t0))s inodes $s (kernel $k), files made $(compgen -G "$path/f*" | wc -l)"
			[[ $k == "$s" ]] || ok=0
			seen+=" $s"
			last=$s
		fi
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		t_fail "$fs: the writer hit the inode quota at max within 3 minutes"
	fi
	wait "$pid" 2>/dev/null
	t_note "$fs: inode limits seen: $seen"
	t_note "$fs: the writer's failure: $(cat "$log")"
	t_check "$fs: at every step the kernel's inode limit was pmemd's" test $ok = 1

	want="100 150 225 300"
	ok=1 prev=0
	for s in $seen; do
		[[ " $want " == *" $s "* ]] && ((s > prev)) || ok=0
		prev=$s
	done
	t_check "$fs: GET /v1/volumes saw only step inode limits, growing ($seen)" test $ok = 1
	pmemd_api GET "/v1/volumes/$name" >"$OUT"
	t_eq "$fs: the inode limit ends at max (300)" "$(jq -r .inodes "$OUT")" 300
	t_eq "$fs: ... and the kernel's too" "$(kernel_inodes "$fs" "$mnt" "$id")" 300
	t_eq "$fs: the size never moved (64 MiB)" "$(jq -r .size_bytes "$OUT")" $((64 * MiB))
	t_eq "$fs: the volume uses all 300 inodes" "$(jq -r .used_inodes "$OUT")" 300
	t_eq "$fs: the events say 100->150->225 resized, 225->300 capped, then at_max (inodes)" \
		"$(pmemd_api GET "/v1/volumes/$name/events" | jq -r '[.events[] | "\(.result):\(.from_inodes)-\(.to_inodes)"] | join(" ")')" \
		"resized:100-150 resized:150-225 capped:225-300 at_max:300-300"

	# The writer saw exactly one error, at max: every inode up to the limit was made.
	t_eq "$fs: the writer failed exactly once" "$(wc -l <"$log")" 1
	got=$(awk '{ print $1 }' "$log")
	t_eq "$fs: ... after making 300 - $base files, never before" "$got" $((300 - base))
	if [[ $fs == ext4 ]]; then
		t_check "$fs: ... and the error is EDQUOT" grep -q "Disk quota exceeded" "$log"
	else
		t_check "$fs: ... and the error is ENOSPC (xfs for a full project quota)" \
			grep -q "No space left on device" "$log"
	fi
	t_check "$fs: the log has resize_applied with the inodes for each step" \
		test "$(grep -c "event=resize_applied volume=$name .*inodes_to=" "$PMEMD_LOG")" -eq 3
	t_check "$fs: ... and resize_at_max once" \
		test "$(grep -c "event=resize_at_max volume=$name " "$PMEMD_LOG")" -eq 1
}

scenario ext4 /mnt/pmem0
scenario xfs /mnt/pmem1

t_eq "pmem_autoresize_grown_total inodes is 6 (3 per volume)" \
	"$(metric 'pmem_autoresize_grown_total{part="inodes"}')" 6
t_eq "pmem_autoresize_grown_total bytes is 0" "$(metric 'pmem_autoresize_grown_total{part="bytes"}')" 0
t_eq "pmem_autoresize_total at_max is 2 (once per volume, not per pass)" \
	"$(metric 'pmem_autoresize_total{result="at_max"}')" 2

# The resize endpoint with inodes, by hand (the policy is gone first: it must not interfere).
t_eq "delete the ext4 policy is 204" "$(api DELETE /v1/resize-policies/files-ext4)" 204
t_eq "resize to fewer inodes than used is 409" \
	"$(api POST /v1/volumes/files-ext4/resize '{"inodes":200}')" 409
t_check "... naming both figures" grep -q "uses 300 inodes; cannot limit it to 200" "$OUT"
t_eq "... and the kernel's limit is still 300" "$(kernel_inodes ext4 /mnt/pmem0 "$(pmemd_api GET /v1/volumes/files-ext4 | jq -r .project_id)")" 300
t_eq "resize with a negative inodes is 400" \
	"$(api POST /v1/volumes/files-ext4/resize '{"inodes":-1}')" 400
t_check "... naming the field" grep -q "inodes: must be" "$OUT"
t_eq "resize with neither field is 400" "$(api POST /v1/volumes/files-ext4/resize '{}')" 400
t_eq "resize to 0 inodes (no limit) is 200" \
	"$(api POST /v1/volumes/files-ext4/resize '{"inodes":0}')" 200
t_eq "... the kernel has no inode limit" "$(kernel_inodes ext4 /mnt/pmem0 "$(jq -r .project_id "$OUT")")" 0
t_check "... and a nobody file create works again" t_as_nobody touch /mnt/pmem0/files-ext4/more
for v in files-ext4 files-xfs; do
	t_eq "delete volume $v is 204" "$(api DELETE "/v1/volumes/$v")" 204
done
pmemd_stop
pmemd_done
