#!/bin/bash
# A namespace request that cannot be met fails with a reason and leaves the
# region exactly as it was: no half-configured namespace, no lost capacity; a
# label-less region's raw namespace that holds a filesystem is never reclaimed.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

probe=$PMEMD_SRC/build/node-bin/topo-probe
[[ -x $probe ]] || t_fatal "$probe is not built (make build/node-bin/topo-probe)"

state() { ndctl list -R -N -i -r "$1" | jq -S -c .; }

# region1 still label-less (a fresh node): put a filesystem on its raw namespace.
if [[ $(cat /sys/bus/nd/devices/region1/nstype) == 4 ]]; then
	raw=$(ndctl list -r region1 -N | jq -r 'if type == "array" then .[0] else . end | .blockdev')
	mkfs.ext4 -q -F "/dev/$raw"
	before=$(state region1)
	out=$("$probe" create-namespace region1 fsdax $((2 << 30)) $((2 << 20)) 2>&1) &&
		t_fail "create-namespace over /dev/$raw's ext4 succeeded" ||
		t_ok "create-namespace refuses to reclaim /dev/$raw holding ext4: $out"
	t_eq "region1 unchanged" "$(state region1)" "$before"
	t_eq "the ext4 on /dev/$raw survives" "$(blkid -s TYPE -o value "/dev/$raw")" ext4
else
	t_note "region1 already has labels in this boot: the label-less refusal is not exercised"
fi

# region0 with labels: make room by creating then destroying, as after a reset.
"$probe" create-namespace region0 fsdax $((1 << 30)) $((2 << 20)) >/dev/null ||
	t_fatal "a 1 GiB namespace on region0"
before=$(state region0)
t_note "region0 before: $before"
check() {
	local desc=$1 out
	shift
	if out=$("$probe" create-namespace "$@" 2>&1); then
		t_fail "$desc: succeeded ($out)"
	else
		t_ok "$desc: refused: $out"
	fi
	t_eq "$desc: region0 unchanged" "$(state region0)" "$before"
}
check "absurd size (1 PiB)" region0 fsdax $((1 << 50)) $((2 << 20))
check "more than is left (2 GiB)" region0 fsdax $((2 << 30)) $((2 << 20))
check "size not a multiple of the alignment" region0 fsdax $(((512 << 20) + 4096)) $((2 << 20))
check "unsupported alignment (3 MiB)" region0 fsdax $((512 << 20)) $((3 << 20))
check "below the 16 MiB minimum" region0 devdax $((2 << 20)) $((2 << 20))
check "unknown region" region9 fsdax $((512 << 20)) $((2 << 20))
t_check "the rest still fits afterwards" "$probe" create-namespace region0 devdax $((512 << 20)) $((2 << 20))
t_done
