#!/bin/bash
# A device that already holds a foreign filesystem with a file on it is not touched: the
# pool is an error with the reason, the file survives, and the other pool is still ready.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"
# shellcheck source=lib/pmemd.sh
. "$PMEMD_SRC/test/node/lib/pmemd.sh"

dev=$(t_fsdax region1) || t_fatal "fsdax namespace on region1"
t_check "someone else's xfs on $dev" mkfs.xfs -q -f "$dev"
mkdir -p /mnt/theirs
mount "$dev" /mnt/theirs && echo "precious" >/mnt/theirs/data && umount /mnt/theirs
uuid=$(blkid -s UUID -o value "$dev")

cfg=$PWD/pmemd.yaml
pmemd_config "$cfg" "pools:
  - name: /mnt/pmem0
    regions: [region0]
  - name: /mnt/pmem1
    regions: [region1]"
pmemd_start "$cfg" || t_fatal "pmemd starts"
p1=$(pmemd_api GET /v1/pools/mnt-pmem1)
t_eq "/mnt/pmem1 is an error" "$(jq -r .state <<<"$p1")" error
t_check "the reason names the foreign filesystem" grep -q "holds xfs, the pool wants ext4" \
	<<<"$(jq -r .reason <<<"$p1")"
t_eq "/mnt/pmem0 is ready regardless" "$(pmemd_api GET /v1/pools/mnt-pmem0 | jq -r .state)" ready
t_eq "reconcile on demand changes nothing" \
	"$(pmemd_api POST /v1/pools/mnt-pmem1/reconcile | jq -r .state)" error
pmemd_stop
t_eq "the xfs UUID is unchanged" "$(blkid -s UUID -o value "$dev")" "$uuid"
mount -o ro "$dev" /mnt/theirs
t_eq "the file survived" "$(cat /mnt/theirs/data)" precious
umount /mnt/theirs
t_check "nothing mounted at /mnt/pmem1" bash -c '! grep -q " /mnt/pmem1 " /proc/mounts'
pmemd_done
