#!/usr/bin/env bash
# PRADA's false alarms on benign clients, through foil serve: KEYS API keys
# (20), each asking about its own random 500 Fashion-MNIST test images
# (seeded), all at once; the audit log says how many keys were flagged.
# The paper sets delta to the largest value without false alarms on benign
# traffic: run this at a few deltas.
#   bench/serve_prada_benign.sh [DELTA [MODEL.onnx]]
# Environment: FOIL_BIN (build/foil), KEYS (20), PER_KEY (500).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
foil=${FOIL_BIN:-$here/build/foil}
delta=${1:-0.9}
model=${2:-$here/build/tests/attack-cnn-small.onnx}
keys=${KEYS:-20} per_key=${PER_KEY:-500}
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
/usr/bin/python3 - "$dir" "$keys" "$per_key" <<'PY'
import gzip, sys
import numpy as np
out, keys, per_key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = "/usr/share/datasets/fashion-mnist/"
with gzip.open(d + "t10k-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
with gzip.open(d + "t10k-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
rng = np.random.RandomState(0)
for k in range(keys):
    i = rng.choice(len(x), per_key, replace=False)
    np.save(f"{out}/x{k}.npy", x[i]); np.save(f"{out}/y{k}.npy", y[i])
PY
for k in $(seq 0 $((keys - 1))); do "$foil" serve --keys "$dir/keys.txt" --add-key "k$k" 2>/dev/null | tail -1 >"$dir/key$k"; done
"$foil" serve --model "$model" --keys "$dir/keys.txt" --port 0 --audit "$dir/audit.db" --audit-sync normal \
  --monitor "prada:delta=$delta" >"$dir/serve.out" 2>"$dir/serve.err" &
pid=$!
while ! grep -q serving "$dir/serve.out" 2>/dev/null; do sleep 0.2; done
url=$(sed -n 's/.* on \(http[^ ]*\)$/\1/p' "$dir/serve.out")
clients=()
for k in $(seq 0 $((keys - 1))); do
  FOIL_API_KEY_FILE="$dir/key$k" "$foil" eval --endpoint "$url" --input-shape 1,28,28 --data "$dir/x$k.npy" \
    --labels "$dir/y$k.npy" --batch 10 >/dev/null 2>&1 &
  clients+=($!)
done
wait "${clients[@]}"
kill $pid; wait $pid 2>/dev/null || true; pid=
sqlite3 "$dir/audit.db" "SELECT 'PRADA delta $delta: ' || COUNT(DISTINCT key) || ' benign keys, ' || SUM(examples) ||
  ' queries; keys flagged: ' || (SELECT COUNT(DISTINCT key) FROM requests WHERE alarms IS NOT NULL AND alarms != '')
  FROM requests WHERE status = 200"
