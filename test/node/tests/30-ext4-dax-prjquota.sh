#!/bin/bash
# An fsdax namespace on region0, ext4 with project quotas, mounted with DAX; a
# non-root writer gets EDQUOT at the project's hard block limit.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

dev=$(t_fsdax region0) || t_fatal "fsdax namespace on region0"
t_ok "fsdax namespace on region0: $dev"
t_eq "$dev is on NUMA node 0" "$(cat "/sys/block/${dev#/dev/}/device/numa_node")" 0
t_check "mkfs.ext4 -O project,quota $dev" mkfs.ext4 -q -F -O project,quota "$dev"
mnt=/mnt/pool0
mkdir -p $mnt
t_check "mount -o dax,prjquota" mount -t ext4 -o dax,prjquota "$dev" $mnt
opts=$(awk -v m=$mnt '$2 == m { print $4 }' /proc/mounts)
t_note "mount options: $opts"
t_check "DAX is on (/proc/mounts has dax)" grep -Eq '(^|,)dax(=always)?(,|$)' <<<"$opts"
t_check "project quota is on (/proc/mounts has prjquota)" grep -Eq '(^|,)prjquota(,|$)' <<<"$opts"

vol=$mnt/vol-42
mkdir $vol
t_check "chattr -p 42 +P $vol" chattr -p 42 +P $vol
t_eq "lsattr -p: project id" "$(lsattr -pd $vol | awk '{ print $1 }')" 42
t_check "setquota -P 42: 1 MiB hard limit" setquota -P 42 0 1024 0 0 $mnt
chmod 0777 $vol

small=$(t_as_nobody dd if=/dev/zero of=$vol/small bs=64K count=4 conv=fsync 2>&1) &&
	t_ok "nobody writes 256 KiB under the limit" || t_fail "nobody writes 256 KiB: $small"
out=$(t_as_nobody dd if=/dev/zero of=$vol/big bs=64K count=32 conv=fsync 2>&1)
rc=$?
t_note "dd 2 MiB as nobody: exit $rc: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
t_check "nobody gets EDQUOT past 1 MiB" grep -q 'Disk quota exceeded' <<<"$out"
report=$(repquota -P -n $mnt)
t_note "$(grep -E '^#42 ' <<<"$report")"
used=$(awk '$1 == "#42" { print $3 }' <<<"$report")
t_check "repquota -P: project 42 uses ${used:-?} KiB, at most 1024" test "${used:-0}" -gt 256 -a "${used:-0}" -le 1024
t_check "root is not bound by the quota" dd if=/dev/zero of=$vol/root bs=1M count=2 conv=fsync status=none
t_check "umount" umount $mnt
t_done
