#!/bin/sh
# bench/serve_monitor.sh - PRADA's queries-to-alarm on real extraction
# streams and its false alarms on a benign one, through foil serve: one
# server per stream (one key each, --no-auth), its audit log read back for
# the first request with an alarm. Usage:
#   bench/serve_monitor.sh FOIL MODEL.onnx ATTACK BUDGET [DELTA]
# ATTACK: jacobian, knockoff-random, ... (foil extract --attack) or benign
# (foil eval: the 10,000 Fashion-MNIST test images in order).
# foil extract judges its copies on MODEL itself (--judge-model), so the
# server sees the attack's queries alone. (Before --judge-model, the
# 10,000 test images it asked the victim about for fidelity went through
# the same key, and PRADA saw the attack mixed with them: no alarm.)
set -eu
FOIL=$1 MODEL=$2 ATTACK=$3 BUDGET=$4 DELTA=${5:-0.95}
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
"$FOIL" serve --model "$MODEL" --no-auth --port 0 --audit "$dir/audit.db" --audit-sync normal \
    --monitor "prada:delta=$DELTA" > "$dir/serve.out" 2> "$dir/serve.err" &
pid=$!
while ! grep -q serving "$dir/serve.out" 2>/dev/null; do sleep 0.2; done
url=$(sed -n 's/.* on \(http[^ ]*\)$/\1/p' "$dir/serve.out")
if [ "$ATTACK" = benign ]; then
    "$FOIL" eval --endpoint "$url" --input-shape 1,28,28 --data fashion-mnist --batch 16 > /dev/null
else
    "$FOIL" extract --endpoint "$url" --input-shape 1,28,28 --data fashion-mnist --surrogate fashion-mnist \
        --attack "$ATTACK" --budget "$BUDGET" --eps 0 --judge-model "$MODEL" --out "$dir/x" > /dev/null 2>&1 || true
fi
kill $pid; wait $pid 2>/dev/null || true
sqlite3 "$dir/audit.db" "SELECT '$ATTACK delta=$DELTA: ' || (SELECT SUM(examples) FROM requests WHERE status = 200) ||
  ' queries, first alarm after ' || COALESCE((SELECT SUM(examples) FROM requests r WHERE status = 200 AND id <=
  (SELECT MIN(id) FROM requests WHERE alarms IS NOT NULL AND alarms != '')), 'none') || ' queries; ' ||
  (SELECT COUNT(*) FROM requests WHERE alarms IS NOT NULL AND alarms != '') || ' of ' || COUNT(*) ||
  ' requests flagged' FROM requests"
