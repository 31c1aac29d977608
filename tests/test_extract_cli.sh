#!/usr/bin/env bash
# foil extract from the command line, on digits (an MLP victim; seconds,
# also under the sanitizers): every attack spends exactly its budget and
# copies the victim closely; the report says what was measured and agrees
# with what is printed; the stolen model is an ONNX file that loads,
# predicts and scores what the report says; labels-only and reverse-sigmoid
# answers are reported with their cost; a victim behind a command works;
# bad options and a victim of the wrong shape get clear errors.
set -uo pipefail
FOIL=${FOIL_BIN:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3

"$FOIL" train --arch mlp --data digits --epochs 30 --output "$tmp/victim.onnx" --quiet || { echo "FAIL: training the victim"; exit 1; }
ext() { "$FOIL" extract --model "$tmp/victim.onnx" --data digits --surrogate digits --epochs 30 "$@"; }

check "four attacks, one budget" 0 '"schema":"foil-extraction/1"' -- ext \
  --attack copycat,knockoff-random,knockoff-adaptive,jacobian --budget 600 --checkpoints 200,600 \
  --params seed-size=40 --eps 1 --out "$tmp/x" --json
echo "$out" | tail -1 >"$tmp/printed.json"
$py - "$tmp/x/report.json" "$tmp/printed.json" <<'PY' || fail "the report is not what was measured"
import json, sys
r = json.load(open(sys.argv[1]))
printed = json.loads(open(sys.argv[2]).read())
assert printed == r, "the printed JSON is report.json"
assert r["budget"] == 600 and r["output_mode"] == "logits" and r["test_data"] == "digits"
assert r["victim_accuracy"] > 0.9, r["victim_accuracy"]
att = {a["attack"]: a for a in r["attacks"]}
assert list(att) == ["copycat", "knockoff-random", "knockoff-adaptive", "jacobian"]
for name, a in att.items():
    assert a["queries"] == 600, (name, a["queries"])  # exactly the budget
    pts = a["points"]
    assert pts[-1]["queries"] == 600 and a["fidelity"] == pts[-1]["fidelity"], name
    assert all(p["queries"] < q["queries"] for p, q in zip(pts, pts[1:])), name
    assert all(0 <= p["fidelity"] <= 1 and 0 <= p["accuracy"] <= 1 for p in pts), name
    t = a["transfer"]
    assert t["eps"] == 1 and t["examples"] > 0 and 0 <= t["transfer_rate"] <= 1 and 0 <= t["copy_success_rate"] <= 1
for name in ("copycat", "knockoff-random", "knockoff-adaptive"):
    assert [p["queries"] for p in att[name]["points"]] == [200, 600], name
    assert att[name]["fidelity"] > 0.85, (name, att[name]["fidelity"])
assert att["copycat"]["labels"] == "hard" and att["knockoff-random"]["labels"] == "soft"
assert att["knockoff-adaptive"]["labels"] == "soft" and att["jacobian"]["labels"] == "hard"
# jacobian: 40 seeds doubling each round (40, 80, 160, 320) and the last round cut to the budget
assert [p["queries"] for p in att["jacobian"]["points"]] == [40, 80, 160, 320, 600], att["jacobian"]["points"]
assert att["jacobian"]["rounds"] == 4 and att["jacobian"]["fidelity"] > 0.5
pol = att["knockoff-adaptive"]
assert len(pol["policy"]) == 10 and abs(sum(pol["policy"]) - 1) < 1e-9 and sum(pol["pulls"]) == 600
open(sys.argv[1] + ".acc", "w").write("%.2f" % (100 * att["copycat"]["accuracy"]))
PY
# the stolen copy is an ONNX model: foil eval scores it as the report did
for a in copycat knockoff-random knockoff-adaptive jacobian; do
  [ -s "$tmp/x/copy-$a.onnx" ] || fail "no copy-$a.onnx"
done
check "the copy loads and is scored" 0 "accuracy" -- "$FOIL" eval --model "$tmp/x/copy-copycat.onnx" --data digits
grep -q "$(cat "$tmp/x/report.json.acc")%" <<<"$out" || fail "foil eval's accuracy of the copy differs from the report's ($(cat "$tmp/x/report.json.acc")%)"

# output defenses: labels only leaves the top-1 (no cost) and Knockoff falls back on hard labels;
# reverse sigmoid reports its cost
check "labels-only victim" 0 '"labels":"hard"' -- ext --attack knockoff-random --budget 300 --output-mode labels \
  --eps 0 --json
$py -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["top1_changed_test"]==0 and r["victim_accuracy_through_output_mode"]==r["victim_accuracy"]; assert r["attacks"][0]["fidelity"]>0.8; assert "transfer" not in r["attacks"][0]' \
  "$(tail -1 <<<"$out")" || fail "labels-only: the report"
check "reverse sigmoid" 0 "accuracy through it" -- ext --attack copycat --budget 200 \
  --output-mode reverse-sigmoid=1,0.1 --eps 0
check "reverse sigmoid, table" 0 "^copycat +hard +200 " -- ext --attack copycat --budget 200 \
  --output-mode reverse-sigmoid --eps 0

# a victim behind a command (NPY in, NPY out): the same attack through the remote client
if [ -n "${FOIL_REMOTE_SERVER:-}" ]; then
  check "victim behind a command" 0 '"queries":150' -- "$FOIL" extract --command \
    "$FOIL_REMOTE_SERVER --stdin --model $tmp/victim.onnx --features 64" --data digits --surrogate digits \
    --attack copycat --budget 150 --epochs 30 --eps 0 --json
  # behind HTTP, measured on the ONNX file (--judge-model): the endpoint sees the attack's queries alone
  "$FOIL_REMOTE_SERVER" --model "$tmp/victim.onnx" --features 64 --count "$tmp/served" >"$tmp/port" 2>"$tmp/server.err" &
  server=$!
  for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
  check "victim behind HTTP, judged locally" 0 '"judge_model"' -- "$FOIL" extract --endpoint \
    "http://127.0.0.1:$(head -1 "$tmp/port")/predict" --input-shape 64 --judge-model "$tmp/victim.onnx" --data digits \
    --surrogate digits --attack knockoff-adaptive,jacobian --budget 120 --params seed-size=30 --epochs 20 --json
  kill "$server"; wait "$server" 2>/dev/null
  grep -q "examples 240$" "$tmp/served" || fail "the endpoint served $(cat "$tmp/served"), not the 2 x 120 queries"
fi

# bad options and data
check "zero budget" 2 "--budget" -- ext --budget 0
check "unknown attack" 2 "unknown extraction attack 'knockoff'" -- ext --attack knockoff
check "attack twice" 2 "names copycat twice" -- ext --attack copycat,copycat
check "checkpoints decreasing" 2 "increasing order" -- ext --checkpoints 500,100
check "checkpoint past the budget" 2 "up to the budget" -- ext --budget 300 --checkpoints 100,400
check "bad output mode" 2 "output mode 'soft'" -- ext --output-mode soft
check "bad params" 2 "unknown key" -- ext --params alpha=2
check "bad label kind" 2 "--label-kind" -- ext --label-kind maybe
check "no surrogate" 2 "--surrogate" -- "$FOIL" extract --model "$tmp/victim.onnx" --data digits
check "surrogate skip too far" 2 "leaves none" -- ext --surrogate-skip 100000
check "surrogate of another shape" 2 "copy takes one shape" -- "$FOIL" extract --model "$tmp/victim.onnx" --data digits --surrogate wine
# a victim of the wrong shape: 64 features for a model of 13
"$FOIL" train --arch mlp --data wine --epochs 2 --output "$tmp/wine.onnx" --quiet
check "victim of the wrong shape" 1 "digits" -- "$FOIL" extract --model "$tmp/wine.onnx" --data digits --surrogate digits
check "missing victim" 1 "cannot open" -- "$FOIL" extract --model "$tmp/none.onnx" --data digits --surrogate digits

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all passed"
