#!/bin/bash
# pmemd's kernel layer turns region0 into a pool as the reconciler will: an
# fsdax namespace of the region's whole capacity (aligned down), probed empty,
# ext4 with project quotas, a directory, a dax,prjquota mount that find-mount
# reads back, and statfs capacity close to the NVDIMM size.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

probe=$PMEMD_SRC/build/node-bin/topo-probe
[[ -x $probe ]] || t_fatal "$probe is not built (make build/node-bin/topo-probe)"
region=region0 align=$((2 << 20))

snap=$("$probe" discover) || t_fatal "topo-probe discover"
r=$(jq -c ".regions[] | select(.dev == \"$region\")" <<<"$snap")
# A label-less region (fresh node) offers no free extent: its one raw
# namespace spans it, and creating reclaims that (unused) namespace.
avail=$(jq -r '.max_available_extent' <<<"$r")
labelless=$(jq -r --arg r $region '[.namespaces[] | select(.region == $r and .mode == "raw" and (.uuid == null))] | length' <<<"$snap")
if ((avail == 0 && labelless == 1)); then
	avail=$(jq -r '.size' <<<"$r")
	t_note "$region is label-less: its raw namespace spans all $avail bytes"
fi
ralign=$(jq -r '.align' <<<"$r") ways=$(jq -r '.interleave_ways' <<<"$r")
# lcm(align * ways, region align): both are powers of two, so the larger.
unit=$((align * ways)); ((ralign > unit)) && unit=$ralign
size=$((avail / unit * unit))
t_note "$region: available $avail, unit $unit, namespace size $size"

ns=$("$probe" create-namespace $region fsdax $size $align) || t_fatal "create-namespace $region fsdax $size"
t_ok "create-namespace $region fsdax $size $align: $ns"
nd=$(ndctl list -N -n "$ns" | jq -c 'if type == "array" then .[0] else . end')
t_eq "ndctl list: $ns mode" "$(jq -r .mode <<<"$nd")" fsdax
t_eq "ndctl list: $ns align" "$(jq -r .align <<<"$nd")" $align
blk=$(jq -r .blockdev <<<"$nd")
t_check "ndctl list: $ns has a block device ($blk)" test -b "/dev/$blk"
t_eq "ndctl list: $region has no capacity left" "$(ndctl list -R -r $region | jq -r 'if type == "array" then .[0] else . end | .available_size')" 0
snap=$("$probe" discover)
t_eq "discover: $ns is fsdax on $blk, node 0" "$(jq -r ".namespaces[] | select(.dev == \"$ns\") | \"\(.mode) \(.blockdev) \(.numa_node)\"" <<<"$snap")" "fsdax $blk 0"

t_eq "probe-fs on the fresh $blk: no filesystem" "$("$probe" probe-fs "$blk")" '{"fstype": "", "uuid": ""}'
t_check "mkfs $blk ext4" "$probe" mkfs "$blk" ext4
p=$("$probe" probe-fs "$blk")
t_eq "probe-fs after mkfs: ext4" "$(jq -r .fstype <<<"$p")" ext4
uuid=$(jq -r .uuid <<<"$p")
t_eq "probe-fs UUID is blkid's" "$uuid" "$(blkid -s UUID -o value "/dev/$blk")"
t_check "ext4 has the project and quota features" sh -c "dumpe2fs -h /dev/$blk 2>/dev/null | grep -i 'features' | grep -q project"

mnt=/mnt/pools/pmem0
t_check "make-dir $mnt" "$probe" make-dir $mnt
t_check "make-dir again is fine" "$probe" make-dir $mnt
t_check "mount $blk $mnt ext4 dax,prjquota,shared" "$probe" mount "$blk" $mnt ext4 dax,prjquota,shared
m=$("$probe" find-mount $mnt) || t_fail "find-mount $mnt"
t_note "find-mount: $m"
t_eq "find-mount: source" "$(jq -r .source <<<"$m")" "/dev/$blk"
t_eq "find-mount: fstype" "$(jq -r .fstype <<<"$m")" ext4
t_eq "find-mount: dax" "$(jq -r .dax <<<"$m")" true
t_eq "find-mount: prjquota" "$(jq -r .prjquota <<<"$m")" true
t_check "/proc/mounts agrees: dax and prjquota" sh -c "awk '\$2 == \"$mnt\" { print \$4 }' /proc/mounts | grep -E '(^|,)dax(=always)?(,|$)' | grep -q prjquota"
t_check "the mount is shared (mountinfo shared:N)" sh -c "awk '\$5 == \"$mnt\"' /proc/self/mountinfo | grep -q 'shared:'"
"$probe" mount "$blk" $mnt ext4 dax,prjquota >/dev/null 2>&1 && t_fail "a second mount on $mnt was allowed" || t_ok "a second mount on $mnt is refused"
t_eq "find-mount on an unmounted path fails" "$("$probe" find-mount /mnt/pools >/dev/null 2>&1; echo $?)" 1

st=$("$probe" fs-stat $mnt)
t_note "fs-stat: $st"
total=$(jq -r .total <<<"$st")
t_check "statfs total $total is over 90% of the namespace size $size" test $((total * 100 / size)) -ge 90
t_eq "statfs agrees with df" "$(jq -r .total <<<"$st")" "$(df -B1 --output=size $mnt | tail -n 1 | tr -d ' ')"
t_eq "has-volumes on the fresh pool (only lost+found)" "$("$probe" has-volumes $mnt)" false
mkdir $mnt/.pmemd-staging
t_eq "has-volumes ignores .pmemd*" "$("$probe" has-volumes $mnt)" false
mkdir $mnt/vol-1
t_eq "has-volumes sees a volume" "$("$probe" has-volumes $mnt)" true
t_check "umount" umount $mnt
t_done
