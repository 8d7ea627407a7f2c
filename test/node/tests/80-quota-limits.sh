#!/bin/bash
# quota_kernel_ops on ext4 and xfs pools: project id + inherit, a hard limit from
# quota_limit_for_size that lets a non-root writer store exactly the asked size and makes
# df show it, usage, online growth under a writer that keeps its file open, shrink below
# usage, inode limits, clearing, and the legacy quotactl-on-device path.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

QP=$PMEMD_SRC/build/node-bin/quota-probe
[[ -x $QP ]] || t_fatal "$QP is missing: make build/node-bin/quota-probe"
MiB=$((1024 * 1024))

# t_errno DESC ERRNO CMD...: CMD fails and names ERRNO (quota-probe prints "(EINVAL)").
t_errno() {
	local desc=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		t_fail "$desc: succeeded, want $want"
	elif [[ $out == *"($want)"* ]]; then
		t_ok "$desc: $want"
	else
		t_fail "$desc: want $want, got: $out"
	fi
}
# kv KEY: the value of KEY=... in stdin.
kv() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

pool_up() { # FS REGION MNT
	local fs=$1 region=$2 mnt=$3 dev
	dev=$(t_fsdax "$region") || return 1
	mkdir -p "$mnt"
	if [[ $fs == ext4 ]]; then
		mkfs.ext4 -q -F -O project,quota "$dev" && mount -t ext4 -o dax,prjquota "$dev" "$mnt"
	else
		mkfs.xfs -q -f "$dev" && mount -t xfs -o dax=always,prjquota "$dev" "$mnt"
	fi
}

# size FILE: its size in bytes (0 when missing).
size() { stat -c %s "$1" 2>/dev/null || echo 0; }

scenario() { # FS REGION
	local fs=$1 region=$2 mnt=/mnt/q-$1 id=1001 v limit limit16 out used used0 rc pid s0 s1 i bs
	t_note "---- $fs ----"
	pool_up "$fs" "$region" "$mnt" || { t_fail "$fs pool on $region"; return; }
	t_ok "$fs pool mounted dax,prjquota on $mnt"
	bs=$(stat -f -c %S "$mnt")
	v=$mnt/vol

	t_check "$fs: make_dir vol 0777" "$QP" make-dir "$mnt" vol 0777
	t_check "$fs: project_set vol $id" "$QP" project-set "$mnt" vol $id
	t_eq "$fs: project_get reads back id and inherit" "$("$QP" project-get "$mnt" vol)" \
		"projid=$id inherit=1"
	t_eq "$fs: lsattr agrees" "$(lsattr -pd "$v" | awk '{ print $1 }')" $id

	limit=$("$QP" limit-for-size $((8 * MiB)) "$fs" "$bs")
	t_note "$fs: block size $bs; limit for 8 MiB: $limit bytes (+$((limit - 8 * MiB)))"
	t_check "$fs: limit_set $id $limit" "$QP" limit-set "$mnt" $id "$limit"
	out=$("$QP" usage-get "$mnt" $id)
	t_note "$fs: empty volume: $out"
	t_eq "$fs: usage_get reports the limit" "$(kv bytes_limit <<<"$out")" "$limit"
	t_eq "$fs: one inode (the directory)" "$(kv inodes_used <<<"$out")" 1
	used0=$(kv bytes_used <<<"$out")
	# ext4 charges the directory's block; xfs keeps a small directory in its inode.
	t_eq "$fs: the empty volume's own charge" "$used0" "$([[ $fs == ext4 ]] && echo "$bs" || echo 0)"
	out=$("$QP" stat-dir "$mnt" vol)
	t_note "$fs: statfs of the empty volume: $out; df -B1 size/used/avail: $(df -B1 --output=size,used,avail "$v" | tail -n 1)"
	t_eq "$fs: stat_dir total is the limit" "$(kv total <<<"$out")" "$limit"
	t_eq "$fs: stat_dir avail is the limit minus the charge" "$(kv avail <<<"$out")" $((limit - used0))
	t_eq "$fs: df inside agrees (avail)" "$(df -B1 --output=avail "$v" | tail -n 1 | tr -d ' ')" \
		$((limit - used0))

	# Exactly the asked size fits; one block more does not.
	out=$(t_as_nobody dd if=/dev/zero of="$v/data" bs=1M count=8 conv=fsync 2>&1)
	rc=$?
	[[ $rc == 0 ]] && t_ok "$fs: nobody stores exactly 8 MiB" ||
		t_fail "$fs: nobody stores 8 MiB: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
	out=$(t_as_nobody dd if=/dev/zero of="$v/more" bs="$bs" count=1 conv=fsync 2>&1)
	rc=$?
	t_note "$fs: one more block: exit $rc: $(tail -n 3 <<<"$out" | head -n 1)"
	if [[ $rc != 0 && ($out == *"Disk quota exceeded"* || $out == *"No space left"*) ]]; then
		t_ok "$fs: one block past the size is refused ($([[ $out == *quota* ]] && echo EDQUOT || echo ENOSPC))"
	else
		t_fail "$fs: one block past the size is refused"
	fi
	out=$("$QP" usage-get "$mnt" $id)
	t_note "$fs: full: $out"
	used=$(kv bytes_used <<<"$out")
	t_eq "$fs: usage_get: used = 8 MiB + the empty volume's charge" "$used" $((8 * MiB + used0))
	# xfs refuses even to create an empty file then: the create reserves blocks.
	t_eq "$fs: usage_get: inodes (dir, data$([[ $fs == ext4 ]] && echo ", more"))" \
		"$(kv inodes_used <<<"$out")" "$([[ $fs == ext4 ]] && echo 3 || echo 2)"
	t_eq "$fs: stat_dir avail when full (xfs: the reservation slack)" \
		"$("$QP" stat-dir "$mnt" vol | kv avail)" $((limit - 8 * MiB - used0))
	# ext4 exempts CAP_SYS_RESOURCE from block limits; xfs enforces project quotas on root too.
	if [[ $fs == ext4 ]]; then
		t_check "$fs: root is not bound (CAP_SYS_RESOURCE)" dd if=/dev/zero of="$v/root" bs=64K count=1 status=none
	else
		out=$(dd if=/dev/zero of="$v/root" bs=64K count=1 status=none 2>&1)
		t_check "$fs: root is bound too (xfs ignores CAP_SYS_RESOURCE)" grep -q "No space left" <<<"$out"
	fi
	rm -f "$v/data" "$v/more" "$v/root"

	# Online growth: a writer holds one file open and keeps appending; it stalls
	# at the limit, then continues past it once the limit grows. No remount.
	# (setpriv as in t_as_nobody, but not in a subshell: $! is the writer itself.)
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all -- \
		bash -c 'exec 3>>"$1"; while :; do head -c 65536 /dev/zero >&3 2>/dev/null || sleep 0.2; done' \
		writer "$v/grow" &
	pid=$!
	s1=-1
	for i in $(seq 1 240); do
		s0=$s1
		sleep 0.5
		s1=$(size "$v/grow")
		((s1 > 7 * MiB && s1 == s0)) && break
	done
	t_note "$fs: writer $pid stalled at $s1 bytes"
	t_check "$fs: the writer stalls at the limit (below 8 MiB + 1 block)" test "$s1" -gt $((7 * MiB)) -a "$s1" -le $((8 * MiB))
	limit16=$("$QP" limit-for-size $((16 * MiB)) "$fs" "$bs")
	t_check "$fs: limit_set grows to 16 MiB while the writer runs" "$QP" limit-set "$mnt" $id "$limit16"
	for i in $(seq 1 240); do
		s1=$(size "$v/grow")
		((s1 > 12 * MiB)) && break
		sleep 0.5
	done
	t_check "$fs: the same writer continues past the old limit ($s1 bytes)" test "$s1" -gt $((12 * MiB))
	t_check "$fs: the writer is the same process, never restarted" kill -0 $pid
	t_eq "$fs: stat_dir total follows the new limit" "$("$QP" stat-dir "$mnt" vol | kv total)" "$limit16"
	t_check "$fs: the pool was not remounted" grep -q " $mnt .*prjquota" /proc/mounts
	kill $pid
	wait $pid 2>/dev/null

	# Shrink below usage: the kernel takes it (the service must refuse it).
	out=$("$QP" limit-set "$mnt" $id $MiB 2>&1)
	rc=$?
	t_note "$fs: shrink to 1 MiB under $(size "$v/grow") bytes used: exit $rc $out; then $("$QP" usage-get "$mnt" $id)"
	t_eq "$fs: the kernel accepts a limit below usage" $rc 0
	out=$(t_as_nobody dd if=/dev/zero of="$v/after-shrink" bs=4096 count=1 conv=fsync 2>&1)
	t_check "$fs: after the shrink a new block is refused" test $? -ne 0
	t_eq "$fs: stat_dir avail is 0 over the limit" "$("$QP" stat-dir "$mnt" vol | kv avail)" 0
	rm -f "$v/grow" "$v/after-shrink"

	# Inode limit.
	t_check "$fs: limit_set 8 MiB and 10 inodes" "$QP" limit-set "$mnt" $id "$limit" 10
	t_eq "$fs: usage_get reports the inode limit" "$("$QP" usage-get "$mnt" $id | kv inodes_limit)" 10
	t_as_nobody bash -c 'for i in $(seq 1 20); do touch "$1/f$i" 2>/dev/null || exit 0; done' x "$v"
	i=$(find "$v" -mindepth 1 | wc -l)
	t_eq "$fs: nobody creates 9 files next to the directory, not 10" "$i" 9
	rm -f "$v"/f*

	# The legacy path: quotactl(2) on the block device found in mountinfo.
	t_eq "$fs: --legacy usage_get (quotactl on the device) agrees" \
		"$("$QP" --legacy usage-get "$mnt" $id)" "$("$QP" usage-get "$mnt" $id)"
	t_check "$fs: --legacy limit_set" "$QP" --legacy limit-set "$mnt" $id "$limit16"
	t_eq "$fs: quotactl_fd sees the legacy limit" "$("$QP" usage-get "$mnt" $id | kv bytes_limit)" "$limit16"

	# Clear, delete: no limit and no usage left behind.
	t_check "$fs: limit_set 0 0 clears the limits" "$QP" limit-set "$mnt" $id 0 0
	out=$("$QP" usage-get "$mnt" $id)
	t_eq "$fs: usage_get after clearing" "$(kv bytes_limit <<<"$out") $(kv inodes_limit <<<"$out")" "0 0"
	t_check "$fs: remove_tree vol" "$QP" remove-tree "$mnt" vol
	out=$("$QP" usage-get "$mnt" $id)
	t_note "$fs: after remove: $out"
	t_eq "$fs: usage_get after remove: nothing used, no limit" "$out" \
		"bytes_used=0 bytes_limit=0 inodes_used=0 inodes_limit=0"
	t_errno "$fs: project id 0 is refused" EINVAL "$QP" limit-set "$mnt" 0 $MiB
	t_errno "$fs: project id 999 is refused" EINVAL "$QP" usage-get "$mnt" 999
	umount "$mnt" || t_fail "umount $mnt"
}

scenario ext4 region0
scenario xfs region1
t_done
