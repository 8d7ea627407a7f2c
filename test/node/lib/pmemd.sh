# shellcheck shell=bash
# Helpers for system tests that run the real pmemd inside the node (sourced after lib/test.sh).

PMEMD_BIN=${PMEMD_BIN:-$PMEMD_SRC/pmemd}
PMEMD_SOCK=/run/pmemd-test/pmemd.sock
PMEMD_LOG=${PMEMD_LOG:-$PWD/pmemd.log}
PMEMD_PID=

# pmemd_start CONFIG: starts pmemd in the background and waits until /readyz answers 200.
pmemd_start() {
	local cfg=$1 i
	mkdir -p /run/pmemd-test
	"$PMEMD_BIN" --config "$cfg" >>"$PMEMD_LOG" 2>&1 &
	PMEMD_PID=$!
	for i in $(seq 1 600); do
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
