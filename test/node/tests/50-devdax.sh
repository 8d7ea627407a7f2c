#!/bin/bash
# A devdax namespace on region1 gives a character DAX device that daxctl sees
# on NUMA node 1.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

ns=$(ndctl list -r region1 -N | jq -r 'if type == "array" then . else [.] end | .[0].dev // empty')
if [[ -n $ns ]]; then
	json=$(ndctl create-namespace -f -e "$ns" -m devdax)
else
	json=$(ndctl create-namespace -r region1 -m devdax)
fi || t_fatal "devdax namespace on region1"
chardev=$(jq -r '.daxregion.devices[0].chardev // empty' <<<"$json")
t_check "devdax namespace on region1: ${chardev:-none}" test -n "$chardev"
t_check "/dev/$chardev is a character device" test -c "/dev/$chardev"
dax=$(daxctl list -d "$chardev")
t_eq "daxctl list: mode" "$(jq -r 'if type == "array" then .[0] else . end | .mode' <<<"$dax")" devdax
t_eq "daxctl list: target node" "$(jq -r 'if type == "array" then .[0] else . end | .target_node' <<<"$dax")" 1
t_done
