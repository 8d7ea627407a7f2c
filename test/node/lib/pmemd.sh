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

# quota_limits FS MNT: "projid kib inodes" (block and inode hard limits) for every project
# with a limit, as the quota tools see it. pmemd sets no soft limit, so no grace column.
quota_limits() {
	local id s h is ih
	if [[ $1 == ext4 ]]; then
		# #1000 -- used soft hard iused isoft ihard (-v: also the ids that use nothing)
		repquota -v -P -n "$2" | while read -r id _ _ s h _ is ih _; do
			[[ $id =~ ^#[0-9]+$ ]] && ((s + h + is + ih > 0)) && echo "${id#\#} $h $ih"
		done
	else
		# #1000 used soft hard warn [grace] iused isoft ihard warn [grace]
		xfs_quota -x -c 'report -p -n -N -b -i' "$2" | while read -r id _ s h _ _ _ is ih _; do
			[[ $id =~ ^#[0-9]+$ ]] && ((s + h + is + ih > 0)) && echo "${id#\#} $h $ih"
		done
	fi
}

# pool_audit FS MNT: the catalog (GET /v1/volumes, the pool's allocated_bytes) against what
# the pool holds, for tests 92 and 98 and bench/load to assert or report. Sets:
#   AUDIT_STAGING, AUDIT_TRASH  what .pmemd/staging and .pmemd/trash hold ("" when empty)
#   AUDIT_DIRS, AUDIT_NAMES     the pool's volume directories and the catalog's names, sorted
#   AUDIT_ALLOC, AUDIT_SUM      allocated_bytes and the sum of the volumes' limit_bytes
#   AUDIT_IDS                   "name=projid ..." of the catalog
#   AUDIT_BAD_IDS               directories whose project id (lsattr -p) is not the volume's
#   AUDIT_QUOTAS                "projid:KiB:inodes ..." the catalog wants
#   AUDIT_BAD_QUOTAS            kernel limits that differ, are missing, or have no volume
#   AUDIT_N                     volumes in the pool
pool_audit() {
	local fs=$1 mnt=$2 f id kib ino n
	local -A got=() ids=()
	{ read -r AUDIT_NAMES; read -r AUDIT_QUOTAS; read -r AUDIT_SUM; read -r AUDIT_IDS; read -r AUDIT_ALLOC; } < <(
		curl -sS --max-time 60 --unix-socket "$PMEMD_SOCK" http://localhost/v1/volumes \
			"http://localhost/v1/pools/x?name=$mnt" | jq -nr --arg p "$mnt" '
		[inputs] as [$v, $pool] | [$v.volumes[] | select(.pool == $p)] |
		([.[].name] | sort | join(" ")),
		(sort_by(.project_id) | map("\(.project_id):\((.limit_bytes + 1023) / 1024 | floor):\(.inodes)") | join(" ")),
		(map(.limit_bytes) | add // 0),
		(map("\(.name)=\(.project_id)") | join(" ")),
		$pool.allocated_bytes')
	AUDIT_STAGING=$(find "$mnt/.pmemd/staging" -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null)
	AUDIT_STAGING=${AUDIT_STAGING% }
	AUDIT_TRASH=$(find "$mnt/.pmemd/trash" -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null)
	AUDIT_TRASH=${AUDIT_TRASH% }
	AUDIT_DIRS=$(find "$mnt" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name .pmemd \
		-printf '%f\n' | LC_ALL=C sort | tr '\n' ' ')
	AUDIT_DIRS=${AUDIT_DIRS% }
	AUDIT_N=$(wc -w <<<"$AUDIT_NAMES")

	for n in $AUDIT_IDS; do ids[$mnt/${n%=*}]=${n#*=}; done
	AUDIT_BAD_IDS=
	if ((${#ids[@]})); then
		while read -r id _ f; do
			[[ ${ids[$f]:-} == "$id" ]] || AUDIT_BAD_IDS+=" $f:$id"
		done < <(lsattr -pd "${!ids[@]}" 2>&1)
	fi
	AUDIT_BAD_IDS=${AUDIT_BAD_IDS# }

	while read -r id kib ino; do got[$id]="$kib:$ino"; done < <(quota_limits "$fs" "$mnt")
	AUDIT_BAD_QUOTAS=
	for n in $AUDIT_QUOTAS; do
		id=${n%%:*}
		[[ ${got[$id]:-none} == "${n#*:}" ]] ||
			AUDIT_BAD_QUOTAS+=" #$id has ${got[$id]:-no limit}, not ${n#*:};"
		unset "got[$id]"
	done
	for id in "${!got[@]}"; do AUDIT_BAD_QUOTAS+=" #$id has ${got[$id]} but no volume (leaked);"; done
	AUDIT_BAD_QUOTAS=${AUDIT_BAD_QUOTAS# }
}

# pool_consistent LABEL FS MNT: asserts pool_audit's figures (staging and trash empty,
# directories = catalog, allocated_bytes = the sum of limits, project ids, exactly the
# catalog's quotas).
pool_consistent() {
	local l=$1
	pool_audit "$2" "$3"
	t_eq "$l: staging is empty" "$AUDIT_STAGING" ""
	t_eq "$l: trash is empty" "$AUDIT_TRASH" ""
	t_eq "$l: the pool's directories are the volumes pmemd lists" "$AUDIT_DIRS" "$AUDIT_NAMES"
	t_eq "$l: allocated_bytes is the sum of the volumes' limits" "$AUDIT_ALLOC" "$AUDIT_SUM"
	t_eq "$l: every volume's directory has its project id ($AUDIT_N volumes)" "$AUDIT_BAD_IDS" ""
	t_eq "$l: project quotas (id:KiB:inodes) are exactly the volumes' [$AUDIT_QUOTAS]" \
		"$AUDIT_BAD_QUOTAS" ""
}
