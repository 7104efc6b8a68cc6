#!/usr/bin/env bash
# make bench-vs-nchan: the fan-out scenarios against Moonwire and Nchan in one run, one table with the ratios.
#
#   1. installs Nchan (Debian's nginx-light + libnginx-mod-nchan) if it is missing;
#   2. builds Moonwire in release (swift build -c release --product moonwire);
#   3. starts nginx with bench/nchan/nginx.conf and the hub (no plugins), both on loopback;
#   4. runs `moonwire bench compare`: per transport (ws, sse, poll) and subscriber count (1,000 and 5,000), each
#      server gets the subscribers, then one ~10 s run per payload (100 B, 1 KiB) and mode (fixed rate, full speed);
#   5. prints one table (Moonwire vs Nchan, ratios), writes the results as JSON and text, stops both servers.
#
# Settings (environment): DURATION (seconds per run, 10), SUBSCRIBERS (1000,5000), TRANSPORTS (ws,sse,poll),
# PAYLOADS (100,1024), MODES (rate,full), DELIVERIES (deliveries/s of the fixed-rate runs, 20000), MW_PORT (18080),
# NC_PORT (18090), OUT (file prefix of the results, default /tmp/moonwire-bench-vs-nchan-DATE), BUDGET (seconds the
# whole comparison may take before it is stopped, 3600), SWIFT (the swift command, e.g. "swiftlock swift").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SWIFT=${SWIFT:-swift}
DURATION=${DURATION:-10}
SUBSCRIBERS=${SUBSCRIBERS:-1000,5000}
TRANSPORTS=${TRANSPORTS:-ws,sse,poll}
PAYLOADS=${PAYLOADS:-100,1024}
MODES=${MODES:-rate,full}
DELIVERIES=${DELIVERIES:-20000}
MW_PORT=${MW_PORT:-18080}
NC_PORT=${NC_PORT:-18090}
BUDGET=${BUDGET:-3600}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-/tmp/moonwire-bench-vs-nchan-$STAMP}

log() { echo "bench-vs-nchan: $*" >&2; }

# 1. Nchan.
if ! command -v nginx >/dev/null 2>&1 || [ ! -f /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
    log "installing nginx-light and libnginx-mod-nchan"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q nginx-light libnginx-mod-nchan
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# Thousands of sockets per process: the open-file limit as high as allowed.
HARD=$(ulimit -Hn)
if [ "$HARD" = "unlimited" ]; then ulimit -n 65536; else ulimit -n "$HARD"; fi
log "open-file limit $(ulimit -n)"

# 2. Moonwire, release.
log "building Moonwire (release)"
$SWIFT build -c release --product moonwire >&2
BIN="$ROOT/.build/release/moonwire"

RUN=$(mktemp -d /tmp/moonwire-bench-vs-nchan.XXXXXX)
HUB_PID=""
NGINX_PID=""
cleanup() {
    if [ -n "$HUB_PID" ] && kill -0 "$HUB_PID" 2>/dev/null; then
        kill -TERM "$HUB_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$HUB_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$HUB_PID" 2>/dev/null || true
    fi
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
    fi
    rm -rf "$RUN"
}
trap cleanup EXIT INT TERM

wait_health() { # URL NAME PID
    for _ in $(seq 1 200); do
        if curl -fsS -o /dev/null "$1/health" 2>/dev/null; then return 0; fi
        if ! kill -0 "$3" 2>/dev/null; then log "$2 exited at startup"; return 1; fi
        sleep 0.1
    done
    log "$2 did not answer $1/health"
    return 1
}

# 3. nginx + Nchan, then the hub.
sed "s/NCHAN_PORT/$NC_PORT/" bench/nchan/nginx.conf > "$RUN/nginx.conf"
"$NGINX" -p "$RUN" -c "$RUN/nginx.conf" -g "pid $RUN/nginx.pid;" > "$RUN/nginx.log" 2>&1 &
NGINX_PID=$!
wait_health "http://127.0.0.1:$NC_PORT" nginx "$NGINX_PID" || { cat "$RUN/nginx.log" >&2; exit 1; }
log "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') with Nchan on 127.0.0.1:$NC_PORT (pid $NGINX_PID)"

# From an empty directory, so that no ./moonwire.toml is read; no plugins, loopback only.
(cd "$RUN" && exec "$BIN" serve --host 127.0.0.1 --port "$MW_PORT" --plugins "" --log-level warning \
    --set server.examples_dir= --set server.max_connections=100000) > "$RUN/hub.log" 2>&1 &
HUB_PID=$!
wait_health "http://127.0.0.1:$MW_PORT" moonwire "$HUB_PID" || { cat "$RUN/hub.log" >&2; exit 1; }
log "Moonwire (release) on 127.0.0.1:$MW_PORT (pid $HUB_PID)"

# 4. The comparison.
log "running: transports $TRANSPORTS, subscribers $SUBSCRIBERS, payloads $PAYLOADS, modes $MODES, $DURATION s each"
set +e
timeout --signal=INT "$BUDGET" "$BIN" bench compare \
    --moonwire-url "http://127.0.0.1:$MW_PORT" --moonwire-pid "$HUB_PID" \
    --nchan-url "http://127.0.0.1:$NC_PORT" --nchan-pid "$NGINX_PID" \
    --compare-transports "$TRANSPORTS" --compare-subscribers "$SUBSCRIBERS" \
    --compare-payloads "$PAYLOADS" --compare-modes "$MODES" --deliveries-per-second "$DELIVERIES" \
    --duration "$DURATION" --json-out "$OUT.json" > "$OUT.txt"
STATUS=$?
set -e

# 5. The table.
{
    echo "Moonwire vs Nchan, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "command: make bench-vs-nchan (DURATION=$DURATION SUBSCRIBERS=$SUBSCRIBERS TRANSPORTS=$TRANSPORTS PAYLOADS=$PAYLOADS MODES=$MODES DELIVERIES=$DELIVERIES)"
    echo
    cat "$OUT.txt"
} > "$OUT.report.txt"
cat "$OUT.report.txt"
log "results: $OUT.report.txt, $OUT.json"
if [ "$STATUS" -ne 0 ]; then
    log "the comparison ended with status $STATUS (124: stopped after BUDGET=$BUDGET s)"
    exit "$STATUS"
fi
