#!/bin/bash
# The auto resizer with usage from a real Prometheus (Debian's prometheus, scraping pmemd's
# /metrics every second, queried for pmemd's own pmem_volume_* series): a writer without
# CAP_SYS_RESOURCE appends steadily to a volume whose policy grows it by 50% at 80% used up to
# 4x; it grows in steps and the writer sees EDQUOT once, at max. Then bad sources: Prometheus
# stopped (unreachable), a fake answering HTTP 500, a non-JSON body, an empty result: no
# resize, one log line per failure, pmem_autoresize_source_errors_total rising, no crash.
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"
# shellcheck source=lib/pmemd.sh
. "$PMEMD_SRC/test/node/lib/pmemd.sh"

MiB=$((1024 * 1024))
START=$((8 * MiB))
MAX=$((4 * START))
PROM_PORT=9090
PMEMD_PORT=9464
OUT=$PWD/api.out
PROM_PID=
FAKE_PID=
WRITER_PID=

cleanup() {
	local p
	for p in "$WRITER_PID" "$PROM_PID" "$FAKE_PID"; do
		[[ -n $p ]] && kill "$p" 2>/dev/null
	done
	pmemd_stop >/dev/null 2>&1
}
trap cleanup EXIT

# api METHOD PATH [BODY]: prints the HTTP status; the body goes to $OUT.
api() {
	local args=()
	[[ -n ${3:-} ]] && args=(-H 'Content-Type: application/json' -d "$3")
	curl -s -o "$OUT" -w '%{http_code}' --max-time 60 --unix-socket "$PMEMD_SOCK" \
		-X "$1" "${args[@]}" "http://localhost$2"
}
size_of() { pmemd_api GET "/v1/volumes/$1" | jq -r '.size_bytes'; }
# metric NAME_WITH_LABELS: its value in pmemd's /metrics (empty when absent).
metric() {
	pmemd_api GET /metrics | awk -v m="$1" '$1 == m { print $2; exit }'
}
errors_total() { metric 'pmem_autoresize_source_errors_total{source="prometheus"}'; }
source_up() { metric 'pmem_autoresize_source_up{source="prometheus"}'; }
failed_lines() { grep -c 'event=resize_source_failed' "$PMEMD_LOG"; }
# Predicates for wait_for (evaluated at each poll).
errors_above() { (($(errors_total) > $1)); }
source_up_is() { [[ $(source_up) == "$1" ]]; }

# wait_for SECS DESC CMD...: polls CMD every 0.5 s until it succeeds; fails the check if not.
wait_for() {
	local secs=$1 desc=$2 i
	shift 2
	for ((i = 0; i < secs * 2; i++)); do
		if "$@" >/dev/null 2>&1; then
			t_ok "$desc (after ~$((i / 2)) s)"
			return 0
		fi
		sleep 0.5
	done
	t_fail "$desc: not within $secs s"
	return 1
}

# ---- pmemd: one ext4 pool, /metrics on loopback TCP for Prometheus ----
cfg=$PWD/pmemd.yaml
cat >"$cfg" <<CFG
node_name: pmem-node
log_level: info
state_dir: $PWD/state
listen:
  - unix: $PMEMD_SOCK
  - tcp: 127.0.0.1:$PMEMD_PORT
pools:
  - name: /mnt/pmem0
    regions: [region0]
resize:
  source: prometheus
  interval: 1s
  prometheus:
    url: http://127.0.0.1:$PROM_PORT
    preset: pmemd
    timeout: 2s
CFG
pmemd_start "$cfg" || t_fatal "pmemd starts with resize.source prometheus"
t_ok "pmemd starts with resize.source prometheus"

t_eq "volume grow (8 MiB) is created" \
	"$(api POST /v1/volumes "{\"name\":\"grow\",\"size_bytes\":$START,\"pool\":\"/mnt/pmem0\"}")" 201
vpath=$(jq -r '.path' "$OUT")
chown 65534:65534 "$vpath"
policy="{\"name\":\"grow\",\"selector\":{\"volumes\":[\"grow\"]},\"trigger\":{\"used_percent\":80},
	\"step\":{\"percent\":50},\"max_size_bytes\":$MAX,\"cooldown_seconds\":0}"
t_eq "policy: 80% used -> +50%, max 4x" "$(api POST /v1/resize-policies "$policy")" 201

# ---- a real Prometheus scraping pmemd every second ----
cat >"$PWD/prometheus.yml" <<CFG
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: pmemd
    static_configs:
      - targets: ['127.0.0.1:$PMEMD_PORT']
CFG
/usr/bin/prometheus --config.file="$PWD/prometheus.yml" --storage.tsdb.path="$PWD/prom-data" \
	--web.listen-address=127.0.0.1:$PROM_PORT --log.level=warn >"$PWD/prometheus.log" 2>&1 &
PROM_PID=$!
prom_has_grow() {
	curl -s --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode 'query=pmem_volume_used_bytes{volume="grow"}' |
		jq -e '.data.result | length == 1'
}
if ! wait_for 150 "Prometheus is up and has scraped pmemd's pmem_volume_used_bytes" prom_has_grow; then
	sed 's/^/#   /' "$PWD/prometheus.log" | tail -n 20
	pmemd_done
fi
wait_for 30 "pmemd's Prometheus source answers (pmem_autoresize_source_up 1)" source_up_is 1

# ---- the writer: uid 65534, no capabilities, 64 KiB every 1/6 s (384 KiB/s): from 80% to full
# takes 4 s at 8 MiB, more at each step; scrape (1 s) + pass (1 s) + query fit in that ----
cat >"$PWD/writer.py" <<'PY'
import errno, os, sys, time
path, chunk, period, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
buf = b"\xa5" * chunk
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
total, errors, first = 0, 0, None
t = time.monotonic()
while total < limit:
    try:
        total += os.write(fd, buf)
    except OSError as e:
        errors += 1
        first = first or errno.errorcode.get(e.errno, str(e.errno))
        break
    t += period
    time.sleep(max(0.0, t - time.monotonic()))
print("written=%d errors=%d error=%s" % (total, errors, first or "none"), flush=True)
PY
# The script comes on stdin (opened by this root shell): the scratch folder is root's only.
t_as_nobody /usr/bin/python3 - "$vpath/data" $((64 * 1024)) 0.16667 $((2 * MAX)) \
	<"$PWD/writer.py" >"$PWD/writer.out" 2>&1 &
WRITER_PID=$!
# Sizes as seen every ~0.5 s while it writes (for the log; the events are the record).
sizes=()
while kill -0 "$WRITER_PID" 2>/dev/null; do
	s=$(size_of grow)
	[[ ${#sizes[@]} -gt 0 && ${sizes[-1]} == "$s" ]] || sizes+=("$s")
	sleep 0.5
done
wait "$WRITER_PID"
WRITER_PID=
read -r wline <"$PWD/writer.out"
t_note "writer: $wline; sizes seen: ${sizes[*]}"
written=$(sed -n 's/.*written=\([0-9]*\).*/\1/p' <<<"$wline")
t_eq "the writer stopped on its one and only error, EDQUOT" \
	"$(sed -n 's/.*errors=\([0-9]*\) error=\([A-Z]*\).*/\1 \2/p' <<<"$wline")" "1 EDQUOT"
t_eq "the volume is at max (4 x 8 MiB) when the writer gets EDQUOT" "$(size_of grow)" "$MAX"
t_check "the writer got EDQUOT only at max: it wrote > 30 MiB of the 32 MiB ($written)" \
	test "${written:-0}" -gt $((30 * MiB))
api GET /v1/volumes/grow/events >/dev/null
t_note "events: $(jq -c '[.events[] | {result, from_bytes, to_bytes}]' "$OUT")"
t_eq "it grew in steps of 50% from the current size, capped at max: 12, 18, 27, 32 MiB" \
	"$(jq -c '[.events[] | select(.result == "resized" or .result == "capped") | .to_bytes / 1048576]' "$OUT")" \
	'[12,18,27,32]'
t_eq "pmem_autoresize_total{result=resized} + capped" \
	"$(($(metric 'pmem_autoresize_total{result="resized"}') + $(metric 'pmem_autoresize_total{result="capped"}')))" 4

# ---- bad sources: a volume above its threshold that must not grow while the source is bad ----
t_eq "volume held (8 MiB) is created" \
	"$(api POST /v1/volumes "{\"name\":\"held\",\"size_bytes\":$START,\"pool\":\"/mnt/pmem0\"}")" 201
hpath=$(jq -r '.path' "$OUT")
t_eq "a policy for it" "$(api POST /v1/resize-policies "$(sed 's/"grow"/"held"/g' <<<"$policy")")" 201

# Prometheus stopped: unreachable (connection refused). The counts are taken before, so the
# failure is counted whenever the next pass comes.
e0=$(errors_total)
l0=$(failed_lines)
kill "$PROM_PID"
wait "$PROM_PID" 2>/dev/null
PROM_PID=
# Then 7 MiB (87%) into held, as root (not bound by the quota): only a source could see it.
dd if=/dev/zero of="$hpath/data" bs=1M count=7 status=none
wait_for 30 "Prometheus stopped: pmem_autoresize_source_errors_total rises ($e0 -> more than $((e0 + 2)))" \
	errors_above $((e0 + 2))
t_eq "source_up is 0" "$(source_up)" 0
t_eq "one resize_source_failed line for the outage, not one per pass" "$(failed_lines)" $((l0 + 1))
t_check "it names the refused connection" \
	bash -c "grep 'event=resize_source_failed' '$PMEMD_LOG' | tail -n 1 | grep -q 'Couldn.t connect\\|Connection refused'"
t_eq "held did not grow" "$(size_of held)" "$START"

# A fake Prometheus on the same port, its answer chosen by a file.
cat >"$PWD/fake.py" <<'PY'
import http.server, json, sys
mode_file = sys.argv[2]
GOOD = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
    {"metric": {"volume": "someone-else"}, "value": [1, "1"]}]}})
ANSWERS = {
    "other": (200, GOOD),
    "500": (500, json.dumps({"status": "error", "errorType": "internal", "error": "fake failure"})),
    "nonjson": (200, "<html>this is not Prometheus</html>"),
    "empty": (200, json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})),
}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        code, body = ANSWERS[open(mode_file).read().strip()]
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
echo other >"$PWD/fake.mode"
/usr/bin/python3 "$PWD/fake.py" "$PROM_PORT" "$PWD/fake.mode" >"$PWD/fake.log" 2>&1 &
FAKE_PID=$!
wait_for 60 "a fake Prometheus answering series for no volume of ours: the source recovers" \
	source_up_is 1
t_check "recovery is logged" grep -q 'event=resize_source_recovered' "$PMEMD_LOG"

# mode DESC LOG_PATTERN: the fake answers MODE; the errors count, one log line says why; back
# to a good answer after.
bad_mode() {
	local mode=$1 desc=$2 pattern=$3 e l
	e=$(errors_total)
	l=$(failed_lines)
	echo "$mode" >"$PWD/fake.mode"
	wait_for 30 "$desc: pmem_autoresize_source_errors_total rises" errors_above $((e + 2))
	t_eq "$desc: source_up 0" "$(source_up)" 0
	t_eq "$desc: logged once" "$(failed_lines)" $((l + 1))
	t_check "$desc: the log line says $pattern" \
		bash -c "grep 'event=resize_source_failed' '$PMEMD_LOG' | tail -n 1 | grep -q '$pattern'"
	t_eq "$desc: held did not grow" "$(size_of held)" "$START"
	echo other >"$PWD/fake.mode"
	wait_for 30 "$desc: back to a good answer, the source recovers" source_up_is 1
}
bad_mode 500 "HTTP 500" 'HTTP 500: internal: fake failure'
bad_mode nonjson "a non-JSON body" 'not JSON'
bad_mode empty "an empty result" 'returned no series'

t_eq "held never grew" "$(size_of held)" "$START"
t_check "pmemd is still running" kill -0 "$PMEMD_PID"
t_eq "pmemd still answers" "$(pmemd_status GET /readyz)" 200
pmemd_done
