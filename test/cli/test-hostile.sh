#!/usr/bin/env bash
# test-hostile: 1,000 idle or slow (slowloris) connections against pmemd on the host: a
# well-behaved client is still served, the connection limits hold, the request deadline
# (limits.request_timeout) closes slowloris connections, and every descriptor comes back.
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, N failed".
# shellcheck disable=SC2317 # cleanup and the wait_until predicates are called indirectly
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/cli/lib.sh
. test/cli/lib.sh
PMEMD=${PMEMD:-$PWD/pmemd}
HOSTILE=$PWD/test/cli/hostile-clients.py
N=1000
tmp=$(mktemp -d /tmp/pmemd-hostile.XXXXXX)
pass=0
fail=0
pid=
hpid=
cleanup() {
	[[ -n $hpid ]] && kill -TERM "$hpid" 2>/dev/null
	[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "not ok - $*"; }
eq() { if [[ $2 == "$3" ]]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi; }
finish() {
	if ((fail > 0)) && [[ -f $tmp/log ]]; then
		echo "# pmemd's log (without libmicrohttpd's lines), last 20:"
		grep -v 'event=http_library' "$tmp/log" | tail -n 20 | sed 's/^/#   /'
	fi
	echo "$pass passed, $fail failed"
	[[ $fail -eq 0 ]]
	exit
}

# Each connection is a descriptor here and in pmemd; the hard limit is what we may raise to.
need=$((N + 1000))
if (($(ulimit -Hn) < need)); then
	bad "the hard limit of open files ($(ulimit -Hn)) is below the $need this test needs"
	finish
fi
ulimit -n "$need"

port=$(free_port) || { bad "no free port"; finish; }
# A short request_timeout so the deadline can be seen within the test, yet long enough that
# the first idle connections are still held when the driver opens the last of them on a slow
# machine; the connection limits are the defaults (max_connections 1024,
# per_client_connections 64).
cat >"$tmp/c.yaml" <<YAML
log_level: info
listen:
  - tcp: 127.0.0.1:$port
limits:
  request_timeout: 8s
YAML
"$PMEMD" --config "$tmp/c.yaml" 2>"$tmp/log" &
pid=$!
for _ in $(seq 600); do
	[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz") == 200 ]] && break
	sleep 0.05
done
eq "pmemd is ready" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" 200
nfd() { find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
base=$(nfd)

# status KEY: KEY's value in the driver's last status line (-1 while there is none).
status() {
	local v
	v=$(tail -n 1 "$tmp/hostile.out" 2>/dev/null | grep -o "$1=[0-9]*" | cut -d= -f2)
	echo "${v:--1}"
}

# hostile MODE SOURCES [ARGS]: starts the driver in the background and waits for its first
# status line (every connection attempted).
hostile() {
	: >"$tmp/hostile.out"
	python3 "$HOSTILE" --port "$port" --count $N --mode "$1" --sources "$2" --report 0.2 \
		"${@:3}" >"$tmp/hostile.out" 2>"$tmp/hostile.err" &
	hpid=$!
	for _ in $(seq 600); do
		[[ -s $tmp/hostile.out ]] && return 0
		kill -0 "$hpid" 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/# driver: /' "$tmp/hostile.err"
	return 1
}
hostile_stop() {
	kill -TERM "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null
	hpid=
}

# wait_until DESC GUARD_S CMD...: polls CMD until it succeeds (a hang guard, not a timing).
wait_until() {
	local desc=$1 guard=$2 i
	shift 2
	for ((i = 0; i < guard * 10; i++)); do
		"$@" && { ok "$desc"; return 0; }
		sleep 0.1
	done
	bad "$desc"
	return 1
}
# A few descriptors of slack: pmemd may open a file of its own meanwhile; a leak is ~1,000.
fds_back() { (($(nfd) <= base + 3)); }
all_closed() { [[ $(status open) == 0 && $(status closed) == "$N" ]]; }

# good LABEL: a well-behaved client gets /v1/version and /healthz.
good() {
	eq "$1: GET /v1/version answers 200" \
		"$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "http://127.0.0.1:$port/v1/version")" 200
	eq "$1: GET /healthz answers 200" \
		"$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "http://127.0.0.1:$port/healthz")" 200
	if kill -0 "$pid" 2>/dev/null; then ok "$1: pmemd is alive"; else bad "$1: pmemd is alive"; fi
}

# --- 1,000 idle connections from 249 addresses, then the clients go away ---
if hostile idle many; then
	eq "idle: the kernel accepted all $N connections" "$(status connected)" $N
	held=$(($(nfd) - base))
	if ((held >= N)); then ok "idle: pmemd holds them ($held descriptors more)"; else
		bad "idle: pmemd holds them: only $held descriptors more, want >= $N"; fi
	good idle
	hostile_stop
	wait_until "idle: every descriptor is released when the clients go ($(nfd) -> $base)" 30 fds_back
else
	bad "idle: the driver started"
fi

# --- 1,000 slowloris connections: headers dribbled, one byte per 0.5 s, never ended ---
# Faster than request_timeout, so libmicrohttpd's idle timeout alone never closes them.
if hostile headers many --interval 0.5; then
	eq "slow headers: the kernel accepted all $N connections" "$(status connected)" $N
	good "slow headers"
	wait_until "slow headers: the request deadline closes all $N connections" 60 all_closed
	eq "slow headers: none got an answer" "$(status answered)" 0
	hostile_stop
	wait_until "slow headers: every descriptor is released" 30 fds_back
else
	bad "slow headers: the driver started"
fi

# --- 1,000 slow bodies: complete headers of a POST, body dribbled, never finished ---
if hostile body many --interval 0.5; then
	eq "slow bodies: the kernel accepted all $N connections" "$(status connected)" $N
	good "slow bodies"
	wait_until "slow bodies: the request deadline closes all $N connections" 60 all_closed
	hostile_stop
	wait_until "slow bodies: every descriptor is released" 30 fds_back
else
	bad "slow bodies: the driver started"
fi
if grep -q 'event=request_timeout connections=' "$tmp/log"; then
	ok "the deadline's closes are logged (event=request_timeout)"
else
	bad "the deadline's closes are logged (event=request_timeout)"
fi

# libmicrohttpd logs a line per connection it closes; pmemd passes 20 a second on and counts
# the rest, so thousands of hostile connections do not flood the log.
lines=$(grep -c 'event=http_library ' "$tmp/log")
if ((lines < N)); then ok "libmicrohttpd's lines are capped ($lines for $((3 * N)) closed connections)"; else
	bad "libmicrohttpd's lines are capped: $lines lines for $((3 * N)) closed connections"; fi
if grep -q 'event=http_library_dropped listener=127.0.0.1:[0-9]* lines=[1-9]' "$tmp/log"; then
	ok "the dropped lines are counted in the log (event=http_library_dropped)"
else
	bad "the dropped lines are counted in the log (event=http_library_dropped)"
fi

# --- 1,000 idle connections from ONE address: per_client_connections (64) holds ---
if hostile idle 127.0.0.2; then
	refused_all() { (($(status closed) + $(status refused) >= N - 64)); }
	wait_until "one address: all but 64 connections are turned away" 30 refused_all
	held=$(($(nfd) - base))
	if ((held <= 64)); then ok "one address: pmemd holds at most 64 ($held)"; else
		bad "one address: pmemd holds $held connections from one address, want <= 64"; fi
	good "one address (the good client on 127.0.0.1)"
	hostile_stop
	wait_until "one address: every descriptor is released" 30 fds_back
else
	bad "one address: the driver started"
fi

# --- after all of it ---
good after
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
eq "SIGTERM exits 0 after the hostile clients" "$rc" 0
finish
