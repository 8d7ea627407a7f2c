# shellcheck shell=bash
# Shared helpers for the emulated PMEM node scripts (sourced, never run).

# Repository root: derived from this file's location so a clone in any folder works.
NODE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(cd "$NODE_DIR/../.." && pwd)
NODE_CACHE=${PMEMD_NODE_CACHE:-$REPO_ROOT/build/node-cache}
export NODE_DIR REPO_ROOT NODE_CACHE

node_prog=${node_prog:-$(basename "$0")}

node_log() { printf '%s: %s\n' "$node_prog" "$*" >&2; }
node_die() { printf '%s: error: %s\n' "$node_prog" "$*" >&2; exit 1; }

# node_size_mib SIZE -> prints SIZE in MiB; SIZE is N, NK, NM, NG or NT (binary units).
node_size_mib() {
	local s=$1 n unit
	[[ $s =~ ^([0-9]+)([KkMmGgTt]?)(i?B?)$ ]] || return 1
	n=${BASH_REMATCH[1]}
	unit=${BASH_REMATCH[2]^^}
	case $unit in
	"") ((n % 1048576 == 0)) || return 1; echo $((n / 1048576)) ;;
	K) ((n % 1024 == 0)) || return 1; echo $((n / 1024)) ;;
	M) echo "$n" ;;
	G) echo $((n * 1024)) ;;
	T) echo $((n * 1024 * 1024)) ;;
	esac
}
