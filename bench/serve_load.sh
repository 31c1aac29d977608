#!/usr/bin/env bash
# foil serve under load: wrk (Debian's HTTP load generator) against
# 127.0.0.1 only, for a bounded time, on cnn-small (Fashion-MNIST), one
# example per request in the JSON format of docs/remote-protocol.md, every
# request authenticated and written to the audit log (synchronous=FULL).
# Prints predictions/s, latency percentiles and errors, with batching on
# (--max-batch 64) and off (--max-batch 1), so the batching's effect shows,
# and batching with the engine on one thread (the other core left to HTTP and wrk).
#
#   bench/serve_load.sh [MODEL.onnx]    (default: build/tests/attack-cnn-small.onnx,
#                                        or a cnn-small trained for one epoch)
# Environment: FOIL_BIN (build/foil), DURATION (s, default 20), CONNECTIONS (64), THREADS (2).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
foil=${FOIL_BIN:-$here/build/foil}
duration=${DURATION:-20}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian's package) for this benchmark" >&2
  sudo_cmd=(); [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
fi
dir=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

model=${1:-$here/build/tests/attack-cnn-small.onnx}
if [ ! -e "$model" ]; then
  model=$dir/cnn-small.onnx
  "$foil" train --arch cnn-small --data fashion-mnist --epochs 1 --output "$model" --quiet
fi
"$foil" serve --keys "$dir/keys" --add-key bench >"$dir/key" 2>/dev/null

# one 1x28x28 example with values in [0, 1], as a JSON body
awk 'BEGIN { printf "{\"shape\":[1,1,28,28],\"inputs\":["; for (i = 0; i < 784; i++) printf "%s%.6g", i ? "," : "", ((i * 7919) % 256) / 255; printf "]}" }' >"$dir/body.json"
cat >"$dir/post.lua" <<LUA
local f = io.open("$dir/body.json", "rb"); local body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $(cat "$dir/key")"
done = function(summary, latency, requests)
  io.write(string.format("predictions/s %.0f  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms  requests %d  "
    .. "errors: connect %d read %d write %d timeout %d non-2xx %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, summary.requests, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status))
end
LUA

run() { # LABEL SERVE-OPTIONS...
  local label=$1; shift
  rm -f "$dir/audit.db"*
  "$foil" serve --model "$model" --keys "$dir/keys" --audit "$dir/audit.db" --port 0 "$@" >"$dir/port" 2>"$dir/err" &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
  local port; port=$(sed -n 's/.*:\([0-9]*\)\/v1\/predict$/\1/p' "$dir/port")
  [ -n "$port" ] || { echo "the server did not start: $(cat "$dir/err")"; exit 1; }
  echo "== $label: foil serve $* ; wrk -t$threads -c$connections -d${duration}s --latency"
  wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$dir/post.lua" "http://127.0.0.1:$port/v1/predict"
  echo "-- /v1/metrics (batch sizes):"
  curl -s -H "Authorization: Bearer $(cat "$dir/key")" "http://127.0.0.1:$port/v1/metrics" |
    grep -E '^foil_serve_(batch_size_(sum|count)|requests_total)' || true
  kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=
  echo "-- audit rows: $(sqlite3 "$dir/audit.db" 'select status, count(*) from requests group by status' 2>/dev/null | tr '\n' ' ')"
}

echo "foil serve load test, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "model: $model; $("$foil" --version)"
run "batching on" --max-batch 64 --max-wait 2
run "batching off" --max-batch 1 --max-wait 0
run "batching on, engine on 1 thread" --max-batch 64 --max-wait 2 --threads 1
