#!/bin/bash
# Volumes through pmemd's REST API on an ext4 and an xfs pool: create (idempotent, 409 on
# another size), a writer without CAP_SYS_RESOURCE stops at the size and df inside shows it,
# online growth under a writer that keeps appending, shrink refused below usage, publish on a
# kubelet target and write through it, unpublish, restart keeps everything, delete frees the
# capacity and the project id.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"
# shellcheck source=lib/pmemd.sh
. "$PMEMD_SRC/test/node/lib/pmemd.sh"

MiB=$((1024 * 1024))
OUT=$PWD/vapi.out

# vapi METHOD PATH [BODY]: prints the HTTP status; the body goes to $OUT.
vapi() {
	local args=()
	[[ -n ${3:-} ]] && args=(-H 'Content-Type: application/json' -d "$3")
	curl -s -o "$OUT" -w '%{http_code}' --max-time 60 --unix-socket "$PMEMD_SOCK" \
		-X "$1" "${args[@]}" "http://localhost$2"
}
size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# /var/lib is read-only in the node: a tmpfs over it lets kubelet's default root exist.
kubelet_tmpfs=
if ! mkdir -p /var/lib/kubelet/pods 2>/dev/null; then
	mount -t tmpfs tmpfs /var/lib && kubelet_tmpfs=1
	mkdir -p /var/lib/kubelet/pods
fi
cleanup() {
	pmemd_stop >/dev/null 2>&1
	[[ -n $kubelet_tmpfs ]] && umount -l /var/lib 2>/dev/null
	true
}
trap cleanup EXIT

cfg=$PWD/pmemd.yaml
pmemd_config "$cfg" "pools:
  - name: /mnt/pmem0
    regions: [region0]
  - name: /mnt/pmem1
    regions: [region1]
    topology:
      fstype: xfs"
pmemd_start "$cfg" || t_fatal "pmemd starts"
t_ok "pmemd starts and is ready"

scenario() { # FS POOL
	local fs=$1 mnt=$2 name=vol-$1 path id out st s0 s1 i pid t alloc0
	t_note "---- $fs ($mnt) ----"
	alloc0=$(pmemd_api GET "/v1/pools/x?name=$mnt" | jq -r .allocated_bytes)
	st=$(vapi POST /v1/volumes "{\"name\":\"$name\",\"size_bytes\":$((8 * MiB)),\"pool\":\"$mnt\",\"labels\":{\"fs\":\"$fs\"}}")
	t_eq "$fs: create is 201" "$st" 201
	t_note "$fs: $(jq -c . "$OUT")"
	path=$(jq -r .path "$OUT")
	id=$(jq -r .project_id "$OUT")
	t_eq "$fs: the volume is a directory of the pool" "$path" "$mnt/$name"
	t_eq "$fs: its project id is what the kernel says (lsattr -p)" \
		"$(lsattr -pd "$path" | awk '{ print $1 }')" "$id"
	t_eq "$fs: the same create again is 200" \
		"$(vapi POST /v1/volumes "{\"name\":\"$name\",\"size_bytes\":$((8 * MiB))}")" 200
	t_eq "$fs: the same name with another size is 409" \
		"$(vapi POST /v1/volumes "{\"name\":\"$name\",\"size_bytes\":$((9 * MiB))}")" 409
	t_eq "$fs: pool allocated_bytes grew by the limit" \
		"$(pmemd_api GET "/v1/pools/x?name=$mnt" | jq -r .allocated_bytes)" \
		"$((alloc0 + $(jq -r .limit_bytes <<<"$(pmemd_api GET "/v1/volumes/$name")")))"

	# df inside shows the asked size as what can be stored.
	out=$(df -B1 --output=size,avail "$path" | tail -n 1)
	t_note "$fs: df -B1 size/avail inside: $out"
	t_check "$fs: df avail inside is the size (within 16 KiB)" \
		test "$(awk '{ print $2 }' <<<"$out")" -ge $((8 * MiB)) -a \
		"$(awk '{ print $2 }' <<<"$out")" -le $((8 * MiB + 16384))

	# A writer without CAP_SYS_RESOURCE stores the size, and not one block more.
	t_check "$fs: nobody writes 8 MiB" t_as_nobody dd if=/dev/zero of="$path/data" bs=1M count=8 conv=fsync status=none
	out=$(t_as_nobody dd if=/dev/zero of="$path/more" bs=64K count=1 conv=fsync 2>&1)
	if [[ $out == *"quota exceeded"* || $out == *"No space left"* ]]; then
		t_ok "$fs: one more write is refused ($([[ $out == *quota* ]] && echo EDQUOT || echo ENOSPC))"
	else
		t_fail "$fs: one more write is refused: got '$out'"
	fi
	t_check "$fs: used_bytes reports the 8 MiB" \
		test "$(pmemd_api GET "/v1/volumes/$name" | jq -r .used_bytes)" -ge $((8 * MiB))
	rm -f "$path/data" "$path/more"

	# Online growth under a writer that keeps its file open.
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all -- \
		bash -c 'exec 3>>"$1"; while :; do head -c 65536 /dev/zero >&3 2>/dev/null || sleep 0.2; done' \
		writer "$path/grow" &
	pid=$!
	s1=-1
	for i in $(seq 1 240); do
		s0=$s1
		sleep 0.5
		s1=$(size "$path/grow")
		((s1 > 7 * MiB && s1 == s0)) && break
	done
	t_note "$fs: writer stalled at $s1 bytes"
	t_check "$fs: the writer stalls at the size" test "$s1" -gt $((7 * MiB)) -a "$s1" -le $((8 * MiB))
	t_eq "$fs: resize to 16 MiB is 200" "$(vapi POST "/v1/volumes/$name/resize" "{\"size_bytes\":$((16 * MiB))}")" 200
	for i in $(seq 1 240); do
		s1=$(size "$path/grow")
		((s1 > 12 * MiB)) && break
		sleep 0.5
	done
	t_check "$fs: the same writer continues past the old limit ($s1 bytes)" test "$s1" -gt $((12 * MiB))
	t_check "$fs: the writer was never restarted" kill -0 $pid
	kill $pid
	wait $pid 2>/dev/null
	t_eq "$fs: shrink below the usage is 409" \
		"$(vapi POST "/v1/volumes/$name/resize" "{\"size_bytes\":$((4 * MiB))}")" 409
	t_check "$fs: ... saying how much is used" grep -q "uses [0-9]* bytes" "$OUT"
	rm -f "$path/grow"

	# Publish on a kubelet target, write through it, unpublish.
	t=/var/lib/kubelet/pods/p-$fs/volumes/$name
	mkdir -p "$t"
	t_eq "$fs: publish is 200" "$(vapi POST "/v1/volumes/$name/publish" "{\"target_path\":\"$t\"}")" 200
	t_check "$fs: the target is a mount point" mountpoint -q "$t"
	t_check "$fs: nobody writes through the target" t_as_nobody dd if=/dev/zero of="$t/via-target" bs=1M count=1 conv=fsync status=none
	t_check "$fs: ... and the file is in the volume" test -f "$path/via-target"
	t_eq "$fs: publish again is 200 (idempotent)" "$(vapi POST "/v1/volumes/$name/publish" "{\"target_path\":\"$t\"}")" 200
	t_eq "$fs: publish outside the roots is 400" \
		"$(vapi POST "/v1/volumes/$name/publish" "{\"target_path\":\"/tmp/x\"}")" 400
	t_eq "$fs: delete while published is 409" "$(vapi DELETE "/v1/volumes/$name")" 409
	t_eq "$fs: unpublish is 200" "$(vapi POST "/v1/volumes/$name/unpublish" "{\"target_path\":\"$t\"}")" 200
	t_check "$fs: the target is no longer a mount point" bash -c "! mountpoint -q '$t'"
	t_eq "$fs: unpublish again is 200" "$(vapi POST "/v1/volumes/$name/unpublish" "{\"target_path\":\"$t\"}")" 200
	t_eq "$fs: published is empty" "$(pmemd_api GET "/v1/volumes/$name" | jq -c .published)" "[]"
	echo "$fs-data" >"$path/keep"
}

scenario ext4 /mnt/pmem0
scenario xfs /mnt/pmem1

# Labels and NUMA filters.
t_eq "filter numa_node=1 finds the xfs volume" \
	"$(pmemd_api GET '/v1/volumes?numa_node=1' | jq -r '[.volumes[].name] | join(",")')" vol-xfs
t_eq "filter label fs=ext4 finds the ext4 volume" \
	"$(pmemd_api GET '/v1/volumes?label=fs=ext4' | jq -r '[.volumes[].name] | join(",")')" vol-ext4
t_check "/metrics has pmem_volume_capacity_bytes" grep -q \
	'pmem_volume_capacity_bytes{volume="vol-xfs",pool="/mnt/pmem1",numa_node="1"} 16777216' \
	<(pmemd_api GET /metrics)

# Restart: the catalog is rebuilt from the pools.
before=$(pmemd_api GET /v1/volumes | jq -c '[.volumes[] | {name, pool, project_id, size_bytes, labels}]')
pmemd_stop
t_eq "pmemd stops with 0" "$?" 0
pmemd_start "$cfg" || t_fatal "pmemd restarts"
after=$(pmemd_api GET /v1/volumes | jq -c '[.volumes[] | {name, pool, project_id, size_bytes, labels}]')
t_eq "restart keeps every volume as it was" "$after" "$before"
t_eq "restart keeps the data" "$(cat /mnt/pmem0/vol-ext4/keep /mnt/pmem1/vol-xfs/keep | xargs)" "ext4-data xfs-data"

# Delete frees the capacity and the id.
for pair in ext4:/mnt/pmem0 xfs:/mnt/pmem1; do
	fs=${pair%%:*} mnt=${pair#*:}
	id=$(pmemd_api GET "/v1/volumes/vol-$fs" | jq -r .project_id)
	t_eq "$fs: delete is 204" "$(vapi DELETE "/v1/volumes/vol-$fs")" 204
	t_check "$fs: the directory is gone" test ! -e "$mnt/vol-$fs"
	t_eq "$fs: the trash is empty" "$(ls -A "$mnt/.pmemd/trash" | wc -l)" 0
	t_eq "$fs: delete again is 404" "$(vapi DELETE "/v1/volumes/vol-$fs")" 404
	t_eq "$fs: allocated_bytes is back to 0" "$(pmemd_api GET "/v1/pools/x?name=$mnt" | jq -r .allocated_bytes)" 0
	t_eq "$fs: a new volume gets the freed project id" \
		"$(vapi POST /v1/volumes "{\"name\":\"again-$fs\",\"size_bytes\":4096,\"pool\":\"$mnt\"}")" 201
	t_eq "$fs: ... $id" "$(jq -r .project_id "$OUT")" "$id"
	t_eq "$fs: and it goes away again" "$(vapi DELETE "/v1/volumes/again-$fs")" 204
done
pmemd_stop
pmemd_done
