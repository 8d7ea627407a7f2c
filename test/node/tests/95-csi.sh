#!/bin/bash
# The CSI shim against the real pmemd: pmem-csi on a unix socket, pointed at pmemd's socket,
# driven by the conformance suite (test/csi/csi-conformance.py, a real CSI client on
# python3-grpcio): every RPC's normal path, idempotency and error codes; publish under the
# kubelet root, a non-root writer, read-only; stats vs df; online expand under a writer;
# concurrent calls; the deploy/kubernetes manifests against both binaries
# (test/csi/check-deploy.py); then Probe with pmemd stopped (not ready) and started again.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"
# shellcheck source=lib/pmemd.sh
. "$PMEMD_SRC/test/node/lib/pmemd.sh"

SHIM_BIN=${PMEM_CSI_BIN:-$PMEMD_SRC/pmem-csi}
SUITE=$PMEMD_SRC/test/csi/csi-conformance.py
CSI_SOCK=/run/csi-test/csi.sock
SHIM_LOG=$PWD/pmem-csi.log
NODE_ID=pmem-node
SHIM_PID=

# /var/lib is read-only in the node: a tmpfs over it lets kubelet's default root exist
# (pmemd publishes only below /var/lib/kubelet).
kubelet_tmpfs=
if ! mkdir -p /var/lib/kubelet/pods 2>/dev/null; then
	mount -t tmpfs tmpfs /var/lib && kubelet_tmpfs=1
	mkdir -p /var/lib/kubelet/pods
fi

shim_stop() {
	local rc=0
	[[ -n $SHIM_PID ]] || return 0
	kill -TERM "$SHIM_PID" 2>/dev/null
	wait "$SHIM_PID" || rc=$?
	SHIM_PID=
	return $rc
}
cleanup() {
	shim_stop >/dev/null 2>&1
	pmemd_stop >/dev/null 2>&1
	[[ -n ${core_pattern:-} ]] && echo "$core_pattern" >/proc/sys/kernel/core_pattern
	# Targets the suite left mounted (after a failure) would keep /var/lib busy.
	awk '$2 ~ "^/var/lib/kubelet/" { print $2 }' /proc/mounts | tac | xargs -r -n 1 umount -l
	[[ -n $kubelet_tmpfs ]] && umount -l /var/lib 2>/dev/null
	true
}
trap cleanup EXIT

# checks NAME CMD...: runs CMD, whose 'ok'/'not ok' lines count as this test's checks; one
# that exits non-zero without a 'not ok' line (a crash) is a failed check too.
checks() {
	local name=$1 line checks=0 failed=0 rc=missing
	shift
	while IFS= read -r line; do
		case $line in
		'@@rc '*) rc=${line#@@rc }; continue ;;
		'ok - '*) checks=$((checks + 1)) ;;
		'not ok - '*) checks=$((checks + 1)) failed=$((failed + 1)) ;;
		esac
		echo "$line"
	done < <("$@" 2>&1; echo "@@rc $?")
	T_CHECKS=$((T_CHECKS + checks)) T_FAILED=$((T_FAILED + failed))
	if [[ $rc != 0 && $failed == 0 ]] || ((checks == 0)); then
		t_fail "$name ends cleanly: exit $rc after $checks checks"
	fi
	return 0
}
# suite ARGS...: the conformance suite against the shim on $CSI_SOCK.
suite() {
	checks "the suite ($*)" /usr/bin/python3 "$SUITE" --endpoint "$CSI_SOCK" \
		--pmemd-socket "$PMEMD_SOCK" --node-id "$NODE_ID" --stubs "$PWD/stubs" "$@"
}

[[ -x $SHIM_BIN ]] || t_fatal "$SHIM_BIN is built (make pmem-csi)"
t_note "pmem-csi under test: $SHIM_BIN (PMEM_CSI_BIN overrides it)"
t_check "python3-grpcio, python3-grpc-tools and python3-yaml are installed" \
	/usr/bin/python3 -c 'import grpc, grpc_tools.protoc, yaml'

cfg=$PWD/pmemd.yaml
pmemd_config "$cfg" "pools:
  - name: /mnt/pmem0
    regions: [region0]
  - name: /mnt/pmem1
    regions: [region1]
    topology:
      fstype: xfs"
pmemd_start "$cfg" || t_fatal "pmemd starts"
t_ok "pmemd starts and is ready"
t_eq "both pools are ready" "$(pmemd_api GET /v1/pools | jq -r '[.pools[].state] | join(",")')" ready,ready

# A crash of the shim leaves a core for the backtrace below (the node's kernel setting,
# put back at the end).
core_pattern=$(cat /proc/sys/kernel/core_pattern)
echo "$PWD/core.%p" >/proc/sys/kernel/core_pattern
ulimit -c unlimited

mkdir -p /run/csi-test
"$SHIM_BIN" --endpoint "unix://$CSI_SOCK" --pmemd-socket "$PMEMD_SOCK" --node-id "$NODE_ID" \
	--max-volumes 64 --log-level debug >>"$SHIM_LOG" 2>&1 &
SHIM_PID=$!
for ((i = 0; i < 300; i++)); do
	[[ -S $CSI_SOCK ]] && break
	kill -0 "$SHIM_PID" 2>/dev/null || break
	sleep 0.1
done
if [[ ! -S $CSI_SOCK ]]; then
	sed 's/^/#   /' "$SHIM_LOG" | tail -n 30
	t_fatal "pmem-csi listens on $CSI_SOCK"
fi
t_ok "pmem-csi listens on $CSI_SOCK"

# Durations are notes for whoever keeps the test fast; nothing asserts them.
t_note "---- the suite, pmemd up (setup took ${SECONDS} s) ----"
t0=$SECONDS
suite --max-volumes 64 --shim "$SHIM_BIN" --shim-log "$SHIM_LOG"
t_note "the suite took $((SECONDS - t0)) s"

t_note "---- deploy/kubernetes against pmemd and pmem-csi ----"
mkdir -p "$PWD/deploy"
checks "check-deploy" /usr/bin/python3 "$PMEMD_SRC/test/csi/check-deploy.py" --repo "$PMEMD_SRC" \
	--pmemd "$PMEMD_BIN" --shim "$SHIM_BIN" --stubs "$PWD/stubs" --workdir "$PWD/deploy"

t_note "---- Probe follows pmemd ----"
t0=$SECONDS
pmemd_stop
t_eq "pmemd stops with 0" "$?" 0
suite --phase probe-down --timeout 60
pmemd_start "$cfg" || t_fatal "pmemd starts again"
t_ok "pmemd starts again"
suite --phase probe-up
t_note "stop, probe, start, probe took $((SECONDS - t0)) s"

t_eq "no target is left mounted below /var/lib/kubelet" \
	"$(awk '$2 ~ "^/var/lib/kubelet/" { print $2 }' /proc/mounts | wc -l)" 0
t_check "pmem-csi is still running" kill -0 "$SHIM_PID"
shim_pid=$SHIM_PID
shim_stop
t_eq "pmem-csi stops on SIGTERM with 0" "$?" 0
if [[ -f core.$shim_pid ]] && command -v gdb >/dev/null; then
	echo "# pmem-csi left a core; its threads:"
	gdb -batch -ex 'thread apply all bt 12' "$SHIM_BIN" "core.$shim_pid" 2>/dev/null |
		grep -E '^(Thread|#)' | sed 's/^/#   /'
fi
echo "$core_pattern" >/proc/sys/kernel/core_pattern
t_check "pmem-csi logged no crash" bash -c "! grep -Eq 'Sanitizer|runtime error:|Segmentation fault|Assertion .* failed' '$SHIM_LOG'"
if ((T_FAILED > 0)); then
	echo "# pmem-csi log (last 40 lines):"
	tail -n 40 "$SHIM_LOG" | sed 's/^/#   /'
fi
pmemd_stop
pmemd_done
