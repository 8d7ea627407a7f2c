#!/bin/bash
# An fsdax namespace on region1, xfs mounted with DAX and project quotas; a
# non-root writer is stopped at the project's hard block limit (XFS says ENOSPC).
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

dev=$(t_fsdax region1) || t_fatal "fsdax namespace on region1"
t_ok "fsdax namespace on region1: $dev"
t_eq "$dev is on NUMA node 1" "$(cat "/sys/block/${dev#/dev/}/device/numa_node")" 1
t_check "mkfs.xfs $dev" mkfs.xfs -q -f "$dev"
mnt=/mnt/pool1
mkdir -p $mnt
t_check "mount -o dax=always,prjquota" mount -t xfs -o dax=always,prjquota "$dev" $mnt
opts=$(awk -v m=$mnt '$2 == m { print $4 }' /proc/mounts)
t_note "mount options: $opts"
t_check "DAX is on (/proc/mounts has dax)" grep -Eq '(^|,)dax(=always)?(,|$)' <<<"$opts"
t_check "project quota is on (/proc/mounts has prjquota)" grep -Eq '(^|,)prjquota(,|$)' <<<"$opts"

vol=$mnt/vol-43
mkdir $vol
t_check "xfs_quota project -s -p $vol 43" xfs_quota -x -c "project -s -p $vol 43" $mnt
t_check "xfs_quota limit -p bhard=1m 43" xfs_quota -x -c "limit -p bhard=1m 43" $mnt
chmod 0777 $vol
out=$(t_as_nobody dd if=/dev/zero of=$vol/big bs=64K count=32 conv=fsync 2>&1)
rc=$?
t_note "dd 2 MiB as nobody: exit $rc: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
# XFS reports a full project quota as ENOSPC, not EDQUOT (xfs_trans_dqresv():
# a project quota acts like a smaller filesystem).
t_check "nobody gets ENOSPC (xfs: project quota full) past 1 MiB" grep -q 'No space left on device' <<<"$out"
report=$(xfs_quota -x -c "report -p -n -b" $mnt)
used=$(awk '$1 == "#43" { print $2 }' <<<"$report")
t_note "$(grep -E '^#43 ' <<<"$report")"
t_check "xfs_quota report: project 43 uses ${used:-?} KiB, at most 1024" test "${used:-0}" -gt 0 -a "${used:-0}" -le 1024
t_check "umount" umount $mnt
t_done
