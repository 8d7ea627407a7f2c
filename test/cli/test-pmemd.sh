#!/usr/bin/env bash
# test-pmemd: the pmemd process from the outside: options, --check-config, signals, sd_notify.
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, N failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=test/cli/lib.sh
. test/cli/lib.sh
PMEMD=${PMEMD:-$PWD/pmemd}
tmp=$(mktemp -d /tmp/pmemd-cli.XXXXXX)
pass=0
fail=0
pid=
cleanup() {
	[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
	[[ -n ${npid:-} ]] && { kill -TERM "$npid"; wait "$npid"; } 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { local d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else bad "$d"; fi; }
eq() { if [[ $2 == "$3" ]]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi; }

# --- options ---
out=$("$PMEMD" --version)
eq "--version exits 0" "$?" 0
check "--version names the version" grep -Eq '^pmemd [0-9]+\.[0-9]+\.[0-9]+ \(' <<<"$out"
out=$("$PMEMD" --help)
check "--help lists --check-config" grep -q -- '--check-config' <<<"$out"
"$PMEMD" --bogus >/dev/null 2>&1
eq "an unknown option exits 2" "$?" 2
"$PMEMD" --format xml --check-config >/dev/null 2>&1
eq "--format xml exits 2" "$?" 2
"$PMEMD" --node-name 'Bad_Name' --check-config >/dev/null 2>&1
eq "an invalid --node-name exits 2" "$?" 2

# --- --check-config ---
out=$("$PMEMD" --check-config --config deploy/pmemd.example.yaml 2>&1)
eq "the example config is valid" "$?" 0
check "... and is printed back as YAML" grep -q '^pools:' <<<"$out"
out=$("$PMEMD" --check-config --format json --config deploy/pmemd.example.yaml)
check "--format json prints JSON with the pools" grep -q '"/mnt/pmem0"' <<<"$out"
out=$("$PMEMD" --check-config --config deploy/pmemd.demo.yaml 2>&1)
eq "the demo config is valid" "$?" 0
out=$(PMEMD_NODE_NAME=from-env "$PMEMD" --check-config --format json --config deploy/pmemd.demo.yaml)
check "PMEMD_NODE_NAME sets the node name" grep -q '"node_name": "from-env"' <<<"$out"
out=$(PMEMD_NODE_NAME=from-env "$PMEMD" --node-name from-flag --check-config --format json \
	--config deploy/pmemd.demo.yaml)
check "--node-name wins over PMEMD_NODE_NAME" grep -q '"node_name": "from-flag"' <<<"$out"

cat >"$tmp/bad.yaml" <<'YAML'
listen:
  - tcp: 0.0.0.0:8443
limits:
  max_body: 12Zi
pools:
  - name: relative/path
    regions: [region0]
colour: blue
YAML
out=$("$PMEMD" --check-config --config "$tmp/bad.yaml" 2>&1)
eq "a broken config exits 1" "$?" 1
eq "every error is printed, one per line" "$(grep -c "^$tmp/bad.yaml:[0-9]*:[0-9]*: " <<<"$out")" 4
check "the non-loopback listener is named with its position" \
	grep -q "^$tmp/bad.yaml:2:5: listen\[0\]: tcp endpoint 0.0.0.0:8443 is not loopback" <<<"$out"
check "the bad unit is named with its position" grep -q "^$tmp/bad.yaml:4:13: limits.max_body" <<<"$out"
check "the unknown key is named with its position" grep -q "^$tmp/bad.yaml:8:1: unknown key \"colour\"" <<<"$out"
"$PMEMD" --check-config --config "$tmp/missing.yaml" >/dev/null 2>&1
eq "a missing config file exits 1" "$?" 1
"$PMEMD" --config "$tmp/bad.yaml" >/dev/null 2>&1
eq "starting with a broken config exits 1" "$?" 1

# --- running: readiness, sd_notify, reload, graceful stop ---
port=$(free_port) || { bad "no free port"; echo "$pass passed, $fail failed"; exit 1; }
cat >"$tmp/c.yaml" <<YAML
log_level: info
listen:
  - tcp: 127.0.0.1:$port
  - unix: $tmp/pmemd.sock
    mode: "0600"
YAML
socat -u UNIX-RECV:"$tmp/notify.sock" OPEN:"$tmp/notify.log",creat,append &
npid=$!
for _ in $(seq 50); do [[ -S $tmp/notify.sock ]] && break; sleep 0.05; done
NOTIFY_SOCKET=$tmp/notify.sock "$PMEMD" --config "$tmp/c.yaml" 2>"$tmp/log" &
pid=$!
for _ in $(seq 600); do
	[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz") == 200 ]] && break
	sleep 0.05
done
ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
eq "TCP listener ready" "$ready" 200
if [[ $ready != 200 ]]; then
	echo "# pmemd's log:"
	sed 's/^/#   /' "$tmp/log"
fi
eq "unix listener answers" \
	"$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$tmp/pmemd.sock" http://x/v1/version)" 200
eq "the socket has the configured mode" "$(stat -c %a "$tmp/pmemd.sock")" 600
for _ in $(seq 50); do grep -q READY=1 "$tmp/notify.log" 2>/dev/null && break; sleep 0.05; done
check "systemd was told READY=1" grep -q 'READY=1' "$tmp/notify.log"
check "log lines are key=value with a level" grep -Eq '^level=info event=started version=' "$tmp/log"

# SIGHUP: a live change applies, a restart-only change is named.
sed -i 's/log_level: info/log_level: debug\nthreads: 1/' "$tmp/c.yaml"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q 'event=reloaded' "$tmp/log" && break; sleep 0.05; done
check "SIGHUP reloads" grep -q 'event=reloaded' "$tmp/log"
check "SIGHUP names what needs a restart" grep -q 'event=reload_needs_restart keys=threads' "$tmp/log"
# A broken file on SIGHUP keeps the old config and the process.
echo 'limits: {max_body: -1}' >"$tmp/c.yaml"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q 'event=reload_failed' "$tmp/log" && break; sleep 0.05; done
check "a broken reload is refused and logged" grep -q 'event=reload_failed' "$tmp/log"
eq "still serving after a broken reload" \
	"$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" 200

# SIGTERM (in-flight requests finishing is covered by test-api's graceful shutdown test).
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
eq "SIGTERM exits 0" "$rc" 0
check "systemd was told STOPPING=1" grep -q 'STOPPING=1' "$tmp/notify.log"
check "the unix socket file is removed" test ! -e "$tmp/pmemd.sock"
check "nothing listens any more" bash -c "! (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null"

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
