#!/usr/bin/env bash
# foil certify (randomized smoothing) and foil train --noise-sigma from the
# command line: the JSON's curve and examples are consistent, each example's
# result depends on the example alone (not on which others are certified
# with it), PREDICT runs, and bad options get usage errors.
set -uo pipefail
FOIL=${FOIL_BIN:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
need_fashion_mnist
py=/usr/bin/python3
model=${FOIL_ATTACK_MODEL:?}
check "train with noise" 0 "" -- "$FOIL" train --arch cnn-small --data fashion-mnist --limit 1000 --epochs 1 \
  --noise-sigma 0.25 --output "$tmp/noisy.onnx" --quiet
[ -s "$tmp/noisy.onnx" ] || fail "train --noise-sigma wrote no model"
check "negative noise" 2 "noise-sigma" -- "$FOIL" train --arch cnn-small --data fashion-mnist --noise-sigma -1 \
  --output "$tmp/x.onnx"
cert=(certify --model "$model" --data fashion-mnist --sigma 0.12 --n0 50 --n 600 --batch 200 --quiet)
check "certify json" 0 "" -- "$FOIL" "${cert[@]}" --limit 3 --json
echo "$out" >"$tmp/first3.json"
check "certify every other" 0 "" -- "$FOIL" "${cert[@]}" --limit 2 --every 2 --json
echo "$out" >"$tmp/every2.json"
"$py" - "$tmp/first3.json" "$tmp/every2.json" <<'PY' || fail "certify's JSON"
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
assert [e["index"] for e in a["examples"]] == [0, 1, 2], a["examples"]
assert [e["index"] for e in b["examples"]] == [0, 2], b["examples"]
for e in a["examples"]:
    assert e["prediction"] in range(-1, 10)
    assert 0 <= e["count"] <= 600 and e["p_lower"] <= e["count"] / 600
    assert (e["radius"] > 0) == (e["prediction"] >= 0), e
    # sigma * Phi^-1(p_lower) is the radius (less the grid distance)
    if e["prediction"] >= 0:
        from statistics import NormalDist
        assert abs(e["radius"] - 0.12 * NormalDist().inv_cdf(e["p_lower"])) < 1e-6, e
curve = [p["certified_accuracy"] for p in a["curve"]]
assert curve == sorted(curve, reverse=True), curve
assert [p["radius"] for p in a["curve"]][:3] == [0, 0.25, 0.5]
# example 2's noise is its own: the same result whichever examples ran with it
assert a["examples"][2] | {"seconds": 0} == b["examples"][1] | {"seconds": 0}, (a["examples"][2], b["examples"][1])
assert 0 < a["sampler_tv_bound"] < 1e-6
print("     certify: %d of 3 certified, curve %s" % (sum(e["prediction"] >= 0 for e in a["examples"]), curve))
PY
# --log: a run stopped after two examples (its last line cut short by the
# kill) resumes and ends with the uninterrupted run's results.
check "log, first two" 0 "" -- "$FOIL" "${cert[@]}" --limit 2 --log "$tmp/log.jsonl"
printf '{"index":2,"lab' >>"$tmp/log.jsonl"
check "log, resumed" 0 "" -- "$FOIL" "${cert[@]}" --limit 3 --json --log "$tmp/log.jsonl"
echo "$out" >"$tmp/resumed.json"
"$py" - "$tmp/first3.json" "$tmp/resumed.json" "$tmp/log.jsonl" <<'PY' || fail "a resumed certification differs"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
strip = lambda d: [{k: v for k, v in e.items() if k != "seconds"} for e in d["examples"]]
assert strip(a) == strip(b), (strip(a), strip(b))
lines = open(sys.argv[3]).read().splitlines()
assert len(lines) == 4 and json.loads(lines[0])["foil_certify_log"] == 1 and json.loads(lines[0])["n"] == 600, lines
print("     --log: stopped after 2 of 3 examples, resumed, the same results as one run")
PY
check "log, other settings" 1 "other settings" -- "$FOIL" "${cert[@]/0.12/0.2}" --limit 3 --log "$tmp/log.jsonl"
check "certify text" 0 "certified accuracy at L2 radius" -- "$FOIL" "${cert[@]}" --limit 2 --radii 0,0.1
check "predict" 0 "smoothed accuracy" -- "$FOIL" "${cert[@]}" --limit 2 --predict
check "needs sigma" 2 "sigma" -- "$FOIL" certify --model "$model" --data fashion-mnist
check "sigma 0" 2 "sigma" -- "$FOIL" certify --model "$model" --data fashion-mnist --sigma 0
check "alpha" 2 "alpha" -- "$FOIL" certify --model "$model" --data fashion-mnist --sigma 0.25 --alpha 0.7
check "radii order" 2 "increasing" -- "$FOIL" certify --model "$model" --data fashion-mnist --sigma 0.25 \
  --radii 0.5,0.25
check "missing model" 1 "nothere.onnx" -- "$FOIL" certify --model "$tmp/nothere.onnx" --data fashion-mnist \
  --sigma 0.25
check "help" 0 "Voracek and Hein" -- "$FOIL" certify --help
[ "$failures" = 0 ]
