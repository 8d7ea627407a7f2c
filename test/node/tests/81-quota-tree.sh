#!/bin/bash
# quota_kernel_ops' directory side on ext4 and xfs pools: the staging → rename flow,
# RENAME_NOREPLACE, list_dir with project ids, trusted.pmemd.* metadata, remove_tree of a deep
# tree that never follows a planted symlink nor crosses a mount, and hostile paths.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

QP=$PMEMD_SRC/build/node-bin/quota-probe
[[ -x $QP ]] || t_fatal "$QP is missing: make build/node-bin/quota-probe"

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

scenario() { # FS REGION
	local fs=$1 region=$2 mnt=/mnt/t-$1 out d i rel legacy=
	t_note "---- $fs ----"
	pool_up "$fs" "$region" "$mnt" || { t_fail "$fs pool on $region"; return; }
	t_ok "$fs pool mounted dax,prjquota on $mnt"

	# Create as the service will: staging, id, limit, metadata, rename into place.
	t_check "$fs: make_dir .pmemd" "$QP" make-dir "$mnt" .pmemd 0700
	t_check "$fs: make_dir .pmemd/staging" "$QP" make-dir "$mnt" .pmemd/staging 0700
	t_check "$fs: make_dir .pmemd/trash" "$QP" make-dir "$mnt" .pmemd/trash 0700
	t_check "$fs: make_dir .pmemd/staging/v1 (three components)" "$QP" make-dir "$mnt" .pmemd/staging/v1 0777
	t_eq "$fs: mode is exact whatever the umask" "$(stat -c %a "$mnt/.pmemd/staging/v1")" 777
	t_check "$fs: project_set in staging" "$QP" project-set "$mnt" .pmemd/staging/v1 1001
	t_check "$fs: limit_set" "$QP" limit-set "$mnt" 1001 $((4 << 20))
	t_check "$fs: meta_set size" "$QP" meta-set "$mnt" .pmemd/staging/v1 size 4194304
	t_check "$fs: rename staging → v1" "$QP" rename "$mnt" .pmemd/staging/v1 v1
	t_eq "$fs: v1 keeps its id and inherit after the rename" "$("$QP" project-get "$mnt" v1)" "projid=1001 inherit=1"
	t_eq "$fs: meta_get size after the rename" "$("$QP" meta-get "$mnt" v1 size)" 4194304
	t_errno "$fs: make_dir v1 again" EEXIST "$QP" make-dir "$mnt" v1 0777

	# Metadata roundtrip: any string, including JSON with spaces and quotes.
	t_check "$fs: meta_set labels (JSON)" "$QP" meta-set "$mnt" v1 labels '{"app": "db", "tier": "gold"}'
	t_eq "$fs: meta_get labels" "$("$QP" meta-get "$mnt" v1 labels)" '{"app": "db", "tier": "gold"}'
	t_check "$fs: meta_set overwrites" "$QP" meta-set "$mnt" v1 size 8388608
	t_eq "$fs: meta_get size" "$("$QP" meta-get "$mnt" v1 size)" 8388608
	t_errno "$fs: meta_get of a missing key" ENODATA "$QP" meta-get "$mnt" v1 created
	t_errno "$fs: meta_set with a bad key" EINVAL "$QP" meta-set "$mnt" v1 "Bad/Key" x

	# RENAME_NOREPLACE.
	t_check "$fs: make_dir .pmemd/staging/v2" "$QP" make-dir "$mnt" .pmemd/staging/v2 0777
	t_check "$fs: project_set 1002" "$QP" project-set "$mnt" .pmemd/staging/v2 1002
	echo keep >"$mnt/v1/data"
	t_errno "$fs: rename onto an existing volume" EEXIST "$QP" rename "$mnt" .pmemd/staging/v2 v1
	t_eq "$fs: the existing volume is untouched" "$(cat "$mnt/v1/data")" keep
	t_check "$fs: rename → v2" "$QP" rename "$mnt" .pmemd/staging/v2 v2
	out=$("$QP" rename "$mnt" v1 v2/v1 2>&1)
	t_note "$fs: moving v1 into v2 (another project, PROJINHERIT): $out"
	t_check "$fs: the kernel refuses to move a volume into another project (EXDEV)" grep -q EXDEV <<<"$out"
	mkdir "$mnt/plain"
	echo x >"$mnt/file"

	# list_dir: names, directories, ids.
	out=$("$QP" list-dir "$mnt" "")
	t_note "$fs: list_dir \"\": $(tr '\n' ';' <<<"$out")"
	t_check "$fs: list_dir shows v1 with its id" grep -qx "v1 projid=1001 inherit=1 dir=1" <<<"$out"
	t_check "$fs: list_dir shows v2 with its id" grep -qx "v2 projid=1002 inherit=1 dir=1" <<<"$out"
	t_check "$fs: list_dir shows a plain directory with id 0" grep -qx "plain projid=0 inherit=0 dir=1" <<<"$out"
	t_check "$fs: list_dir shows a file as not a directory" grep -qx "file projid=0 inherit=0 dir=0" <<<"$out"
	t_check "$fs: list_dir shows .pmemd" grep -q "^.pmemd " <<<"$out"
	t_eq "$fs: list_dir .pmemd/staging is empty" "$("$QP" list-dir "$mnt" .pmemd/staging)" ""

	# remove_tree: a deep tree with a symlink planted inside that points outside
	# the pool, and one to a sibling volume; neither is followed.
	mkdir -p /mnt/outside-$fs/dir
	echo precious >/mnt/outside-$fs/secret
	echo precious >/mnt/outside-$fs/dir/file
	t_check "$fs: make_dir .pmemd/trash/v3" "$QP" make-dir "$mnt" .pmemd/trash/v3 0777
	t_check "$fs: project_set 1003" "$QP" project-set "$mnt" .pmemd/trash/v3 1003
	d=$mnt/.pmemd/trash/v3
	for i in $(seq 1 150); do
		echo "$i" >"$d/f"
		d=$d/level-$i
		mkdir "$d"
	done
	ln -s /mnt/outside-$fs "$d/escape-dir"
	ln -s /mnt/outside-$fs/secret "$d/escape-file"
	ln -s "$mnt/v1" "$mnt/.pmemd/trash/v3/to-v1"
	ln "$mnt/v1/data" "$mnt/.pmemd/trash/v3/hardlink" 2>/dev/null || true
	mkfifo "$mnt/.pmemd/trash/v3/fifo"
	t_note "$fs: tree of $(find "$mnt/.pmemd/trash/v3" | wc -l) entries, 150 levels deep"
	t_check "$fs: remove_tree .pmemd/trash/v3" "$QP" remove-tree "$mnt" .pmemd/trash/v3
	t_check "$fs: the tree is gone" test ! -e "$mnt/.pmemd/trash/v3"
	t_eq "$fs: the outside file survives" "$(cat /mnt/outside-$fs/secret)" precious
	t_eq "$fs: the outside directory survives" "$(cat /mnt/outside-$fs/dir/file)" precious
	t_eq "$fs: the sibling volume survives" "$(cat "$mnt/v1/data")" keep
	t_eq "$fs: usage_get 1003 after remove" "$("$QP" usage-get "$mnt" 1003)" \
		"bytes_used=0 bytes_limit=0 inodes_used=0 inodes_limit=0"

	# remove_tree never crosses into a mount inside the tree.
	mkdir -p "$mnt/v2/sub/mnt"
	mount -t tmpfs tmpfs "$mnt/v2/sub/mnt"
	echo mounted >"$mnt/v2/sub/mnt/inside"
	out=$("$QP" remove-tree "$mnt" v2 2>&1)
	t_note "$fs: remove_tree over a mount: $out"
	t_check "$fs: remove_tree refuses a tree holding a mount point" grep -Eq "EXDEV|EBUSY" <<<"$out"
	t_eq "$fs: the mounted filesystem is untouched" "$(cat "$mnt/v2/sub/mnt/inside")" mounted
	umount "$mnt/v2/sub/mnt"
	t_check "$fs: remove_tree v2 once unmounted" "$QP" remove-tree "$mnt" v2

	# A symlink where a volume should be is refused, not followed.
	ln -s /mnt/outside-$fs "$mnt/evil"
	t_errno "$fs: project_set through a symlink" ELOOP "$QP" project-set "$mnt" evil 1009
	t_errno "$fs: make_dir below a symlink" ELOOP "$QP" make-dir "$mnt" evil/x 0777
	t_errno "$fs: remove_tree of a symlink" ELOOP "$QP" remove-tree "$mnt" evil
	t_errno "$fs: meta_set through a symlink" ELOOP "$QP" meta-set "$mnt" evil size 1
	t_check "$fs: the symlink's target is untouched" test -f /mnt/outside-$fs/secret -a ! -e /mnt/outside-$fs/x

	# Hostile relative paths.
	for rel in .. a/../b /etc "" ../t-$fs a//b v1/ ./v1 a/b/c/d; do
		t_errno "$fs: make_dir '$rel'" EINVAL "$QP" make-dir "$mnt" "$rel" 0777
		t_errno "$fs: project_get '$rel'" EINVAL "$QP" project-get "$mnt" "$rel"
		t_errno "$fs: remove_tree '$rel'" EINVAL "$QP" remove-tree "$mnt" "$rel"
	done
	t_errno "$fs: rename to '..'" EINVAL "$QP" rename "$mnt" v1 ..
	t_errno "$fs: stat_dir '/etc'" EINVAL "$QP" stat-dir "$mnt" /etc
	t_errno "$fs: meta_get 'a/../b'" EINVAL "$QP" meta-get "$mnt" a/../b size
	t_errno "$fs: list_dir '..'" EINVAL "$QP" list-dir "$mnt" ..
	t_check "$fs: /etc untouched" test ! -e /etc/..pmemd

	# The same without openat2 (a walk with O_NOFOLLOW).
	t_eq "$fs: --legacy project_get" "$("$QP" --legacy project-get "$mnt" v1)" "projid=1001 inherit=1"
	out=$("$QP" --legacy project-set "$mnt" evil 1009 2>&1)
	t_check "$fs: --legacy refuses the symlink too ($out)" test -n "$out"
	t_check "$fs: --legacy remove_tree v1" "$QP" --legacy remove-tree "$mnt" v1
	t_check "$fs: v1 is gone" test ! -e "$mnt/v1"
	umount "$mnt" || t_fail "umount $mnt"
}

scenario ext4 region0
scenario xfs region1
t_done
