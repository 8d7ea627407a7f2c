#!/bin/bash
# pmemd's discovery (libndctl, libdaxctl, libnuma) matches what ndctl, daxctl
# and numactl report in the same boot: regions, DIMMs, namespaces, dax
# devices, NUMA nodes with their CPUs, and the distance matrix.
# It expects the regions as booted (label-less), so it asks for a fresh node.
# node-fresh: yes
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"

probe=$PMEMD_SRC/build/node-bin/topo-probe
[[ -x $probe ]] || t_fatal "$probe is not built (make build/node-bin/topo-probe)"
arr='if type == "array" then . else [.] end'

# A devdax namespace on region1 so that there is a dax device to compare too.
ns=$(ndctl list -r region1 -N | jq -r "$arr | .[0].dev // empty")
ndctl create-namespace -f -e "$ns" -m devdax >/dev/null || t_fatal "devdax namespace on region1"

snap=$("$probe" discover) || t_fatal "topo-probe discover"
t_ok "topo-probe discover printed $(wc -c <<<"$snap") bytes of JSON"
nd=$(ndctl list -RDNv)

# Regions: the fields both sides have, sorted by dev, compared as JSON.
want=$(jq -c '.regions | map({dev, type, size, available_size, max_available_extent, align,
	numa_node, target_node, persistence_domain,
	mappings: (.mappings | map({dimm, offset, length, position}))}) | sort_by(.dev)' <<<"$nd")
got=$(jq -c '.regions | map({dev, type, size, available_size, max_available_extent, align,
	numa_node, target_node, persistence_domain,
	mappings: (.mappings | map({dimm, offset, length, position}))}) | sort_by(.dev)' <<<"$snap")
t_eq "regions (dev, sizes, align, numa_node, target_node, mappings) match ndctl list -Rv" "$got" "$want"
t_note "regions: $got"
t_eq "region0 on node 0, region1 on node 1" "$(jq -r '[.regions[] | "\(.dev):\(.numa_node)"] | sort | join(" ")' <<<"$snap")" "region0:0 region1:1"
t_eq "no NUMA warnings (firmware is consistent here)" "$(jq -c '[.regions[] | .warning // empty]' <<<"$snap")" "[]"

want=$(jq -c '.dimms | map({dev, id, handle, phys_id}) | sort_by(.dev)' <<<"$nd")
got=$(jq -c '.dimms | map({dev, id, handle, phys_id}) | sort_by(.dev)' <<<"$snap")
t_eq "DIMMs (dev, id, handle, phys_id) match ndctl list -D" "$got" "$want"

want=$(jq -c '[.regions[] | .namespaces // [] | .[] | select(.size > 0) | {dev, mode, size, blockdev, chardev: (.daxregion.devices[0].chardev // null), uuid}] | sort_by(.dev)' <<<"$nd")
got=$(jq -c '[.namespaces[] | {dev, mode, size, blockdev, chardev, uuid}] | sort_by(.dev)' <<<"$snap")
t_eq "namespaces (dev, mode, usable size, blockdev, chardev, uuid) match ndctl list -N" "$got" "$want"
t_note "namespaces: $got"

want=$(daxctl list -D | jq -c "$arr | map({dev: .chardev, size, target_node, mode}) | sort_by(.dev)")
got=$(jq -c '.daxes | map({dev, size, target_node, mode}) | sort_by(.dev)' <<<"$snap")
t_eq "dax devices (chardev, size, target node, mode) match daxctl list -D" "$got" "$want"
t_eq "dax1.0 lives in region1" "$(jq -r '.daxes[] | select(.dev == "dax1.0") | .region' <<<"$snap")" region1

# NUMA against numactl -H.
numactl=$(numactl -H)
t_eq "NUMA node ids match numactl -H" "$(jq -r '[.numa.nodes[].id] | join(" ")' <<<"$snap")" \
	"$(sed -n 's/^node \([0-9]*\) cpus:.*/\1/p' <<<"$numactl" | tr '\n' ' ' | sed 's/ $//')"
for n in $(jq -r '.numa.nodes[].id' <<<"$snap"); do
	t_eq "node $n CPUs match numactl -H" "$(jq -r ".numa.nodes[] | select(.id == $n) | .cpus | join(\" \")" <<<"$snap")" \
		"$(sed -n "s/^node $n cpus: *//p" <<<"$numactl" | sed 's/ *$//')"
	mb=$(sed -n "s/^node $n size: \([0-9]*\) MB/\1/p" <<<"$numactl")
	t_eq "node $n memory total in MiB matches numactl -H" "$(jq -r ".numa.nodes[] | select(.id == $n) | .mem_total / 1048576 | floor" <<<"$snap")" "$mb"
done
want=$(awk '/^node distances:/ { on = 1; getline; next } on && /^ *[0-9]+:/ { $1 = ""; sub(/^ /, ""); print }' <<<"$numactl" | jq -R -c 'split(" ") | map(select(length > 0) | tonumber)' | jq -s -c .)
t_eq "distance matrix matches numactl -H" "$(jq -c '.numa.distances' <<<"$snap")" "$want"
t_eq "distance between node 0 and 1" "$(jq -r '.numa.distances[0][1]' <<<"$snap")" 21
t_eq "every node has CPUs here" "$(jq -r '[.numa.nodes[] | .has_cpus] | all' <<<"$snap")" true
t_done
