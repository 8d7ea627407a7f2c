#!/bin/bash
# The same pool steps with xfs on region1: fsdax namespace of the whole region,
# mkfs.xfs without reflink, a dax,prjquota mount that find-mount reads back.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

probe=$PMEMD_SRC/build/node-bin/topo-probe
[[ -x $probe ]] || t_fatal "$probe is not built (make build/node-bin/topo-probe)"
region=region1 align=$((2 << 20))

snap=$("$probe" discover) || t_fatal "topo-probe discover"
r=$(jq -c ".regions[] | select(.dev == \"$region\")" <<<"$snap")
avail=$(jq -r '.max_available_extent' <<<"$r")
((avail > 0)) || avail=$(jq -r '.size' <<<"$r") # label-less: the raw namespace is reclaimed
ralign=$(jq -r '.align' <<<"$r")
unit=$align; ((ralign > unit)) && unit=$ralign
size=$((avail / unit * unit))

ns=$("$probe" create-namespace $region fsdax $size $align) || t_fatal "create-namespace $region fsdax $size"
blk=$("$probe" discover | jq -r ".namespaces[] | select(.dev == \"$ns\") | .blockdev")
t_ok "create-namespace $region fsdax $size: $ns on /dev/$blk"
t_eq "ndctl list: $ns is fsdax" "$(ndctl list -N -n "$ns" | jq -r 'if type == "array" then .[0] else . end | .mode')" fsdax
t_eq "probe-fs on the fresh $blk: no filesystem" "$("$probe" probe-fs "$blk" | jq -r .fstype)" ""
t_check "mkfs $blk xfs" "$probe" mkfs "$blk" xfs
p=$("$probe" probe-fs "$blk")
t_eq "probe-fs after mkfs: xfs" "$(jq -r .fstype <<<"$p")" xfs
t_eq "probe-fs UUID is blkid's" "$(jq -r .uuid <<<"$p")" "$(blkid -s UUID -o value "/dev/$blk")"
t_check "xfs has reflink off (DAX needs it)" sh -c "xfs_db -r -c version /dev/$blk | grep -vq REFLINK"

mnt=/mnt/pools/pmem1
t_check "make-dir $mnt" "$probe" make-dir $mnt
t_check "mount $blk $mnt xfs with no options (dax,prjquota are implied)" "$probe" mount "$blk" $mnt xfs ""
m=$("$probe" find-mount $mnt) || t_fail "find-mount $mnt"
t_note "find-mount: $m"
t_eq "find-mount: fstype" "$(jq -r .fstype <<<"$m")" xfs
t_eq "find-mount: dax" "$(jq -r .dax <<<"$m")" true
t_eq "find-mount: prjquota" "$(jq -r .prjquota <<<"$m")" true
t_check "xfs_quota: project quota accounting and enforcement on" sh -c "xfs_quota -x -c state $mnt | grep -A2 'Project quota state' | grep -q 'Enforcement: ON'"
total=$("$probe" fs-stat $mnt | jq -r .total)
t_check "statfs total $total is over 90% of the namespace size $size" test $((total * 100 / size)) -ge 90
t_check "umount" umount $mnt
t_done
