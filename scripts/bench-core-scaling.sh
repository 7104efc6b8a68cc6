#!/usr/bin/env bash
# Does the hub use a second core when every delivery goes through a Lua on_deliver filter? A WebSocket
# chat (moonwire bench chat: CLIENTS clients in rooms of ROOM_SIZE, each sending RATE messages/s, more
# than one core can filter) with the hub held to one core (taskset -c 1) and then given both
# (taskset -c 0,1), once with the filter in one Lua state per core (the default) and once in a single
# state (single_state = true: one lock that every delivery goes through, as before the state pool).
# Rooms fan out in parallel (one room's events go out in order, on one thread at a time), so a chat of
# many rooms is what a second core can speed up. The filter does WORK loop rounds per call (about
# 25-30 us with the call) so that the hub, not the load generator on the same machine, is what runs out of CPU.
# The load generator is held to core 0: with the hub on core 1 they do not meet; given both cores, the hub
# shares core 0 with it.
#
#   scripts/bench-core-scaling.sh [BINARY]      (default .build/release/moonwire)
#
# Settings (environment): WORK (1000), CLIENTS (400), ROOM_SIZE (20), RATE (8), DURATION (6), RUNS (2).
# Loopback only; starts and stops its own hubs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-.build/release/moonwire}")
WORK=${WORK:-1000}
CLIENTS=${CLIENTS:-400}
ROOM_SIZE=${ROOM_SIZE:-20}
RATE=${RATE:-8}
DURATION=${DURATION:-6}
RUNS=${RUNS:-2}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

filter() {
    cat <<LUA
-- bench: an on_deliver filter that costs a fixed amount of Lua work per recipient, then lets the event through.
return {
  name = "bench_heavy_deliver",
  single_state = $1,
  on_deliver = function(recipient, event)
    local h = 0
    for i = 1, $WORK do h = (h * 31 + i) % 1000003 end
    if h < 0 then return false end
    return nil
  end }
LUA
}
mkdir -p "$DIR/per_core" "$DIR/single"
filter false >"$DIR/per_core/bench_heavy_deliver.lua"
filter true >"$DIR/single/bench_heavy_deliver.lua"
for cores in 1 0,1; do
    printf '#!/bin/sh\nexec taskset -c %s "%s" "$@"\n' "$cores" "$BIN" >"$DIR/hub-$cores"
    chmod +x "$DIR/hub-$cores"
done

echo "cores  states    run  delivered/s  hub CPU %"
for states in per_core single; do
    for run in $(seq "$RUNS"); do
        for cores in 1 0,1; do
            out=$(taskset -c 0 "$BIN" bench chat --hub-binary "$DIR/hub-$cores" --plugins-dir "$DIR/$states" \
                --subscribers "$CLIENTS" --room-size "$ROOM_SIZE" --message-rate "$RATE" --duration "$DURATION" --json 2>/dev/null)
            python3 - "$cores" "$states" "$run" "$out" <<'PY'
import json, sys
cores, states, run, text = sys.argv[1:]
result = json.loads(text)
result = result[0] if isinstance(result, list) else result
hub = result.get("hub") or {}
print(f"{'1' if cores == '1' else '2':5}  {states:8}  {run:3}  {result['delivered_per_second']:11.0f}  {hub.get('cpu_percent', 0):9.0f}  "
      f"p99 {result['latency']['p99'] / 1e3:.0f} ms  missing {result['missing']}")
PY
        done
    done
done
