#!/bin/bash
# Two PMEM regions (one per emulated NVDIMM), region0 on NUMA node 0 and
# region1 on NUMA node 1, each 2 GiB.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

# ndctl prints an array, a single object, or {"regions": [...]} with -v.
regions=$(ndctl list -R -v | jq -c '(if type == "object" and has("regions") then .regions else . end) | if type == "array" then . else [.] end')
t_eq "ndctl list -R: regions" "$(jq -r 'map(.dev) | sort | join(" ")' <<<"$regions")" "region0 region1"
for r in 0 1; do
	t_eq "region$r numa_node (ndctl)" "$(jq -r ".[] | select(.dev == \"region$r\") | .numa_node" <<<"$regions")" "$r"
	t_eq "region$r numa_node (sysfs)" "$(cat /sys/bus/nd/devices/region$r/numa_node)" "$r"
	t_eq "region$r size" "$(jq -r ".[] | select(.dev == \"region$r\") | .size" <<<"$regions")" $((2 << 30))
	t_eq "region$r type" "$(jq -r ".[] | select(.dev == \"region$r\") | .type" <<<"$regions")" pmem
done
t_eq "ndctl list -D: DIMMs" "$(ndctl list -D | jq -r 'if type == "array" then . else [.] end | map(.dev) | sort | join(" ")')" "nmem0 nmem1"
t_done
