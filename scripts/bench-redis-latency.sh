#!/usr/bin/env bash
# The Redis broker with the shipped plugins (moderation makes three hub.store round trips per message),
# with Redis answering directly and through a proxy that adds DELAY_MS to every reply: chat throughput and
# latency (moonwire bench chat), and how long /health takes meanwhile.
#
#   scripts/bench-redis-latency.sh [BINARY]      (default .build/release/moonwire)
#
# Settings (environment): DELAY_MS (5), CLIENTS (200), ROOM_SIZE (10), RATE (messages/s per client, 2),
# DURATION (seconds per run, 10). Loopback only; starts and stops its own redis-server, proxy and hubs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/moonwire}
DELAY_MS=${DELAY_MS:-5}
CLIENTS=${CLIENTS:-200}
ROOM_SIZE=${ROOM_SIZE:-10}
RATE=${RATE:-2}
DURATION=${DURATION:-10}
REDIS_PORT=${REDIS_PORT:-16379}
PROXY_PORT=${PROXY_PORT:-16380}
HUB_PORT=${HUB_PORT:-18081}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --loglevel warning >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
python3 bench/redis/latency_proxy.py --listen "$PROXY_PORT" --target "$REDIS_PORT" --delay-ms "$DELAY_MS" >"$WORK/proxy.log" 2>&1 &
PIDS+=($!)
sleep 1

# /health round trips while a run goes on: count, median and worst, in ms.
probe_health() {
    python3 - "$HUB_PORT" "$DURATION" <<'PY'
import http.client, sys, time
port, duration = int(sys.argv[1]), float(sys.argv[2])
times, end = [], time.time() + duration
while time.time() < end:
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/health")
    connection.getresponse().read()
    connection.close()
    times.append((time.perf_counter() - start) * 1000)
    time.sleep(0.02)
times.sort()
print("health: %d requests, median %.2f ms, p99 %.2f ms, max %.2f ms" % (len(times), times[len(times) // 2], times[int(len(times) * 0.99)], times[-1]))
PY
}

run() {
    local label=$1 port=$2
    "$BIN" serve --port "$HUB_PORT" --plugins plugins --broker "redis://127.0.0.1:$port" --log-level warning >"$WORK/hub-$label.log" 2>&1 &
    local hub=$!
    PIDS+=($hub)
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$HUB_PORT/health" >/dev/null && break; sleep 0.1; done
    echo "== $label"
    probe_health > "$WORK/health-$label.txt" &
    local probe=$!
    "$BIN" bench chat --url "http://127.0.0.1:$HUB_PORT" --hub-pid "$hub" --subscribers "$CLIENTS" --room-size "$ROOM_SIZE" \
        --message-rate "$RATE" --duration "$DURATION"
    wait "$probe" || true
    cat "$WORK/health-$label.txt"
    kill "$hub"; wait "$hub" 2>/dev/null || true
}

run "redis-direct" "$REDIS_PORT"
run "redis+${DELAY_MS}ms" "$PROXY_PORT"
