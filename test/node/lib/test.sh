# shellcheck shell=bash
# Helpers for system tests that run inside the emulated PMEM node (sourced).
#
# A test is one scenario in one bash script under test/node/tests/; it prints
# one line per check ("ok - ..." / "not ok - ...") and exits non-zero when any
# check failed (call t_done at the end). It runs as root in the node, from a
# scratch folder; PMEMD_SRC is the repo root. Namespaces and PMEM mounts left
# behind are removed by the runner after each test; a region an earlier test
# used is then labelled and empty instead of label-less (docs/testing.md), unless
# the test says '# node-fresh: yes'.

set -uo pipefail

T_FAILED=0
T_CHECKS=0

t_ok() { T_CHECKS=$((T_CHECKS + 1)); echo "ok - $*"; }
t_fail() { T_CHECKS=$((T_CHECKS + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok - $*"; }
t_note() { echo "# $*"; }

# t_check DESC CMD [ARGS...]: passes when CMD succeeds; shows its output if not.
t_check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		t_ok "$desc"
	else
		t_fail "$desc (exit $?: $*)"
		[[ -n $out ]] && printf '%s\n' "$out" | sed 's/^/#   /'
	fi
	return 0
}

# t_eq DESC ACTUAL EXPECTED
t_eq() {
	if [[ $2 == "$3" ]]; then
		t_ok "$1 ($2)"
	else
		t_fail "$1: got '$2', want '$3'"
	fi
}

# t_fatal MESSAGE: stop the test here.
t_fatal() {
	t_fail "$*"
	t_done
}

t_done() {
	if ((T_CHECKS == 0)); then
		echo "not ok - the test made no check"
		exit 1
	fi
	((T_FAILED == 0)) || { echo "# $T_FAILED of $T_CHECKS checks failed"; exit 1; }
	exit 0
}

# t_fsdax REGION: makes the region one fsdax namespace; prints its block device
# (e.g. /dev/pmem0).
t_fsdax() {
	local region=$1 ns json dev
	ns=$(ndctl list -r "$region" -N | jq -r '(if type == "array" then . else [.] end)[0].dev // empty')
	if [[ -n $ns ]]; then
		json=$(ndctl create-namespace -f -e "$ns" -m fsdax) || return 1
	else
		json=$(ndctl create-namespace -r "$region" -m fsdax) || return 1
	fi
	dev=$(jq -r '.blockdev // empty' <<<"$json")
	[[ -n $dev ]] || return 1
	echo "/dev/$dev"
}

# t_as_nobody CMD [ARGS...]: runs CMD as uid/gid 65534 without capabilities
# (so quotas bind: root's CAP_SYS_RESOURCE ignores block limits).
t_as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		--bounding-set=-all -- "$@"
}
