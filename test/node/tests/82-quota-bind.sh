#!/bin/bash
# quota_kernel_ops' bind mounts on ext4 and xfs pools: publish a volume on a kubelet-like
# target, write through it within the quota, read-only binds refuse writes (EROFS), unmount;
# targets that are or pass through symlinks are refused; busy and repeated (un)mounts; the
# legacy mount(2) path.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

QP=$PMEMD_SRC/build/node-bin/quota-probe
[[ -x $QP ]] || t_fatal "$QP is missing: make build/node-bin/quota-probe"
MiB=$((1024 * 1024))

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

mounted() { findmnt -n -M "$1" >/dev/null; }

scenario() { # FS REGION
	local fs=$1 region=$2 mnt=/mnt/b-$1 kl=/tmp/kubelet-$1 tgt ro out rc limit pid bs
	t_note "---- $fs ----"
	pool_up "$fs" "$region" "$mnt" || { t_fail "$fs pool on $region"; return; }
	t_ok "$fs pool mounted dax,prjquota on $mnt"
	bs=$(stat -f -c %S "$mnt")
	limit=$("$QP" limit-for-size $((8 * MiB)) "$fs" "$bs")
	"$QP" make-dir "$mnt" vol 0777 && "$QP" project-set "$mnt" vol 1001 &&
		"$QP" limit-set "$mnt" 1001 "$limit" && t_ok "$fs: volume of 8 MiB (limit $limit)" ||
		t_fail "$fs: volume of 8 MiB"

	tgt=$kl/pods/p1/volumes/kubernetes.io~csi/vol/mount
	ro=$kl/pods/p2/volumes/kubernetes.io~csi/vol/mount
	mkdir -p "$tgt" "$ro"
	t_check "$fs: bind_mount vol on $tgt" "$QP" bind-mount "$mnt" vol "$tgt"
	t_note "$fs: $(findmnt -n -o TARGET,SOURCE,FSTYPE,OPTIONS -M "$tgt")"
	t_check "$fs: the target is a mount point" mounted "$tgt"
	t_check "$fs: nobody writes 4 MiB through the target" \
		t_as_nobody dd if=/dev/zero of="$tgt/through" bs=1M count=4 conv=fsync status=none
	t_check "$fs: the data is in the volume" test "$(stat -c %s "$mnt/vol/through")" -eq $((4 * MiB))
	t_eq "$fs: df at the target shows the volume (total)" \
		"$(df -B1 --output=size "$tgt" | tail -n 1 | tr -d ' ')" "$limit"
	out=$(t_as_nobody dd if=/dev/zero of="$tgt/big" bs=1M count=8 conv=fsync 2>&1)
	t_check "$fs: the quota binds through the target" grep -Eq "Disk quota exceeded|No space left" <<<"$out"
	rm -f "$tgt/big"
	t_errno "$fs: bind_mount on the same target again" EBUSY "$QP" bind-mount "$mnt" vol "$tgt"

	# Read-only.
	t_check "$fs: bind_mount vol on $ro read-only" "$QP" bind-mount "$mnt" vol "$ro" ro
	t_check "$fs: findmnt says ro" grep -Eq '(^|,)ro(,|$)' <<<"$(findmnt -n -o OPTIONS -M "$ro")"
	out=$(t_as_nobody touch "$ro/nope" 2>&1)
	t_check "$fs: nobody cannot write through the read-only target (EROFS)" grep -q "Read-only file system" <<<"$out"
	out=$(touch "$ro/nope" 2>&1)
	t_check "$fs: root cannot either" grep -q "Read-only file system" <<<"$out"
	t_eq "$fs: reads work through the read-only target" "$(stat -c %s "$ro/through")" $((4 * MiB))
	t_check "$fs: the pool itself stays writable" touch "$mnt/vol/still-rw"
	t_check "$fs: the read-write target stays writable" touch "$tgt/still-rw2"

	# Unmount: busy, then done, then not a mount point any more.
	(cd "$ro" && exec sleep 60) &
	pid=$!
	sleep 1
	t_errno "$fs: unmount while a process sits in the target" EBUSY "$QP" unmount "$ro"
	kill $pid
	wait $pid 2>/dev/null
	t_check "$fs: unmount $ro" "$QP" unmount "$ro"
	t_check "$fs: $ro is no longer a mount point" bash -c "! findmnt -n -M '$ro' >/dev/null"
	t_errno "$fs: unmount again" EINVAL "$QP" unmount "$ro"
	t_check "$fs: unmount $tgt" "$QP" unmount "$tgt"
	t_check "$fs: the volume keeps what was written through the target" test -f "$mnt/vol/still-rw2"

	# Symlinks: as the target, or in the target's parent path.
	mkdir -p "$kl/real/mount"
	ln -s "$kl/real/mount" "$kl/link-mount"
	ln -s "$kl/real" "$kl/link-parent"
	t_errno "$fs: a target that is a symlink" EINVAL "$QP" bind-mount "$mnt" vol "$kl/link-mount"
	t_errno "$fs: a target whose parent path has a symlink" EINVAL "$QP" bind-mount "$mnt" vol "$kl/link-parent/mount"
	t_errno "$fs: a relative target" EINVAL "$QP" bind-mount "$mnt" vol "tmp/x"
	t_errno "$fs: a target with '..'" EINVAL "$QP" bind-mount "$mnt" vol "$kl/real/../real/mount"
	t_errno "$fs: a missing target" ENOENT "$QP" bind-mount "$mnt" vol "$kl/missing"
	t_errno "$fs: unmount through a symlink" EINVAL "$QP" unmount "$kl/link-mount"
	t_check "$fs: nothing got mounted on the symlinks' target" bash -c "! findmnt -n -M '$kl/real/mount' >/dev/null"
	t_errno "$fs: bind_mount of a hostile volume path" EINVAL "$QP" bind-mount "$mnt" ../b-$fs "$tgt"
	ln -s /etc "$mnt/evil"
	t_errno "$fs: bind_mount of a volume that is a symlink" ELOOP "$QP" bind-mount "$mnt" evil "$tgt"

	# The legacy path: mount(2) on /proc/self/fd, then a read-only remount.
	t_check "$fs: --legacy bind_mount read-only" "$QP" --legacy bind-mount "$mnt" vol "$ro" ro
	out=$(touch "$ro/nope" 2>&1)
	t_check "$fs: --legacy read-only refuses writes (EROFS)" grep -q "Read-only file system" <<<"$out"
	t_check "$fs: --legacy unmount" "$QP" --legacy unmount "$ro"
	t_check "$fs: --legacy bind_mount read-write" "$QP" --legacy bind-mount "$mnt" vol "$tgt"
	t_check "$fs: --legacy write through" touch "$tgt/legacy"
	t_check "$fs: unmount" "$QP" unmount "$tgt"
	t_errno "$fs: --legacy: a target whose parent path has a symlink" EINVAL "$QP" --legacy bind-mount "$mnt" vol "$kl/link-parent/mount"
	umount "$mnt" || t_fail "umount $mnt"
}

scenario ext4 region0
scenario xfs region1
t_done
