# shellcheck shell=bash
# Helpers for system tests that run the real pmemd inside the node (sourced after lib/test.sh).

PMEMD_BIN=${PMEMD_BIN:-$PMEMD_SRC/pmemd}
# The test build with fault-injection points (make build/pmemd-fault; never installed).
PMEMD_FAULT_BIN=${PMEMD_FAULT_BIN:-$PMEMD_SRC/build/pmemd-fault}
PMEMD_SOCK=/run/pmemd-test/pmemd.sock
PMEMD_LOG=${PMEMD_LOG:-$PWD/pmemd.log}
PMEMD_PID=

# pmemd_start CONFIG: starts pmemd in the background and waits until /readyz answers 200.
pmemd_start() {
	local cfg=$1 i
	mkdir -p /run/pmemd-test
	"$PMEMD_BIN" --config "$cfg" >>"$PMEMD_LOG" 2>&1 &
	PMEMD_PID=$!
	for ((i = 0; i < 600; i++)); do
		if [[ $(pmemd_status GET /readyz) == 200 ]]; then
			return 0
		fi
		kill -0 "$PMEMD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "# pmemd did not become ready; its log:"
	sed 's/^/#   /' "$PMEMD_LOG" | tail -n 30
	return 1
}

# pmemd_stop: SIGTERM and wait; returns pmemd's exit status.
pmemd_stop() {
	local rc=0
	[[ -n $PMEMD_PID ]] || return 0
	kill -TERM "$PMEMD_PID" 2>/dev/null
	wait "$PMEMD_PID" || rc=$?
	PMEMD_PID=
	return $rc
}

# pmemd_start_fault CONFIG OP:STEP: like pmemd_start, but the fault-injection build with
# PMEMD_FAULT=OP:STEP (e.g. volume_create:3: it aborts right after step 3 of a create).
pmemd_start_fault() {
	local bin=$PMEMD_BIN r=0
	PMEMD_BIN=$PMEMD_FAULT_BIN
	export PMEMD_FAULT=$2
	pmemd_start "$1" || r=$?
	unset PMEMD_FAULT
	PMEMD_BIN=$bin
	return $r
}

# pmemd_wait_exit [SECS]: waits until pmemd ends by itself (an injected abort) and returns
# its exit status (134: SIGABRT); after SECS (default 30) it kills it and returns 255.
pmemd_wait_exit() {
	local i s k v rc=0
	[[ -n $PMEMD_PID ]] || return 255
	for ((i = 0; i < ${1:-30} * 10; i++)); do
		s=
		while read -r k v _; do
			[[ $k == State: ]] && s=$v && break
		done 2>/dev/null <"/proc/$PMEMD_PID/status"
		[[ -z $s || $s == Z ]] && break
		sleep 0.1
	done
	if [[ -n $s && $s != Z ]]; then
		echo "# pmemd did not end within ${1:-30} s; killed"
		kill -KILL "$PMEMD_PID" 2>/dev/null
		wait "$PMEMD_PID" 2>/dev/null
		PMEMD_PID=
		return 255
	fi
	wait "$PMEMD_PID" 2>/dev/null || rc=$?
	PMEMD_PID=
	return $rc
}

# pmemd_api METHOD PATH: prints the body (curl over the unix socket).
pmemd_api() {
	curl -sS --max-time 60 --unix-socket "$PMEMD_SOCK" -X "$1" "http://localhost$2"
}

# pmemd_status METHOD PATH [curl args]: prints the HTTP status only.
pmemd_status() {
	local m=$1 p=$2
	shift 2
	curl -s -o /dev/null -w '%{http_code}' --max-time 60 --unix-socket "$PMEMD_SOCK" \
		-X "$m" "$@" "http://localhost$p"
}

# pmemd_config FILE POOLS_YAML: writes a config listening on the test socket only.
pmemd_config() {
	cat >"$1" <<CFG
node_name: pmem-node
log_level: info
listen:
  - unix: $PMEMD_SOCK
$2
CFG
}

# pmemd_done: like t_done, with pmemd's log shown when a check failed.
pmemd_done() {
	if ((T_FAILED > 0)) && [[ -f $PMEMD_LOG ]]; then
		echo "# pmemd log (last 40 lines):"
		tail -n 40 "$PMEMD_LOG" | sed 's/^/#   /'
	fi
	t_done
}

trap 'pmemd_stop >/dev/null 2>&1' EXIT
