#!/usr/bin/env bash
# foil train --dp (DP-SGD, Abadi et al. 2016) from the command line: the
# (epsilon, delta) it reports against the accountant's definition, a secret
# seed unless --seed is given, the options it refuses, and BatchNorm
# refused. Without subsampling (q = 1)
# the sampled Gaussian mechanism is the Gaussian one, whose RDP is
# alpha T / (2 sigma^2) exactly: epsilon is then recomputed here from
# Balle et al. 2020's conversion over foil/privacy.h's orders.
set -uo pipefail
FOIL=${FOIL_BIN:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
last_json() { grep '^{' <<<"$out" | tail -1; }
dp_field() { "$py" -c 'import json,sys; print(json.loads(sys.argv[1])["dp"][sys.argv[2]])' "$1" "$2"; }
# q = 1: --batch above digits' 1,352 training examples, one step an epoch
check "dp at q = 1" 0 "" -- "$FOIL" train --arch mlp --data digits --epochs 3 --batch 5000 --dp --noise-multiplier 2 \
  --lr 0.5 --output "$tmp/q1.onnx" --json --quiet
j=$(last_json)
"$py" - "$j" <<'EOF' || fail "epsilon at q = 1 is not the Gaussian mechanism's"
import json, math, sys
d = json.loads(sys.argv[1])["dp"]
assert d["sample_rate"] == 1 and d["steps"] == 3 and d["noise_multiplier"] == 2 and d["max_grad_norm"] == 1, d
orders = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
delta, T, s = d["delta"], 3, 2.0
eps = min(a * T / (2 * s * s) + math.log((a - 1) / a) - (math.log(delta) + math.log(a)) / (a - 1) for a in orders)
print("     q = 1, sigma 2, 3 steps, delta %g: epsilon %.6f, recomputed %.6f" % (delta, d["epsilon"], eps))
assert abs(d["epsilon"] - eps) < 1e-9 * eps, (d["epsilon"], eps)
EOF
[ -s "$tmp/q1.onnx" ] || fail "no model written at q = 1"
check "the model evaluates" 0 "" -- "$FOIL" eval --model "$tmp/q1.onnx" --data digits --quiet
# q < 1: Poisson batches of 64 expected, round(1352 / 64) = 21 steps an epoch; less than at q = 1
check "dp at q < 1" 0 "" -- "$FOIL" train --arch mlp --data digits --epochs 2 --batch 64 --dp --noise-multiplier 2 \
  --max-grad-norm 0.5 --delta 1e-4 --lr 0.2 --output "$tmp/q.onnx" --json --quiet
j=$(last_json)
"$py" - "$j" <<'EOF' || fail "the JSON of a run at q < 1"
import json, math, sys
r = json.loads(sys.argv[1])
d = r["dp"]
assert abs(d["sample_rate"] - 64 / 1352) < 1e-12 and d["steps"] == 42 and d["examples"] == 1352, d
assert d["max_grad_norm"] == 0.5 and d["delta"] == 1e-4, d
orders = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
unsampled = min(a * 42 / 8 + math.log((a - 1) / a) - (math.log(1e-4) + math.log(a)) / (a - 1) for a in orders)
assert 0 < d["epsilon"] < unsampled, (d["epsilon"], unsampled)
e = r["epochs"]
assert len(e) == 2 and 0 < e[0]["dp_epsilon"] < e[1]["dp_epsilon"] == d["epsilon"], e
assert all(0 <= x["dp_clipped"] <= 1 for x in e), e
print("     q = %.4f, 42 steps: epsilon %.4f (%.4f without subsampling)" % (d["sample_rate"], d["epsilon"], unsampled))
EOF
check "the summary line" 0 "^DP-SGD: epsilon [0-9.]+ at delta 1e-05 \(RDP, Balle et al. 2020 conversion; sigma 2, q 0.04734, 21 steps\)$" \
  -- "$FOIL" train --arch mlp --data digits --epochs 1 --batch 64 --dp --noise-multiplier 2 --output "$tmp/t.onnx"
check "a target epsilon" 0 "" -- "$FOIL" train --arch mlp --data digits --epochs 2 --batch 64 --dp --target-epsilon 2 \
  --output "$tmp/e.onnx" --json --quiet
eps=$(dp_field "$(last_json)" epsilon)
"$py" -c "import sys; sys.exit(0 if 1.98 <= $eps <= 2 else 1)" || fail "target epsilon 2 spent $eps"
# the noise must be secret: without --seed each run draws its own seed; with one, a warning
small=(train --arch mlp --data digits --epochs 1 --batch 64 --dp --noise-multiplier 1 --quiet)
check "a secret seed" 0 "" -- "$FOIL" "${small[@]}" --output "$tmp/s1.onnx"
check "another secret seed" 0 "" -- "$FOIL" "${small[@]}" --output "$tmp/s2.onnx"
cmp -s "$tmp/s1.onnx" "$tmp/s2.onnx" && fail "two --dp runs without --seed gave the same model"
check "--seed warns" 0 "anyone who knows the seed can recompute DP-SGD's noise" -- "$FOIL" "${small[@]}" --seed 3 \
  --output "$tmp/s3.onnx"
train=(train --arch mlp --data digits --output "$tmp/x.onnx")
check "--dp needs the noise" 2 "needs --noise-multiplier S or --target-epsilon E" -- "$FOIL" "${train[@]}" --dp
check "not both" 2 "one of them" -- "$FOIL" "${train[@]}" --dp --noise-multiplier 1 --target-epsilon 3
check "options need --dp" 2 "belong to DP-SGD: add --dp" -- "$FOIL" "${train[@]}" --noise-multiplier 1
check "sigma > 0" 2 "noise-multiplier must lie in \(0, 1000\]" -- "$FOIL" "${train[@]}" --dp --noise-multiplier 0
check "C > 0" 2 "max-grad-norm must lie in" -- "$FOIL" "${train[@]}" --dp --noise-multiplier 1 --max-grad-norm -1
check "delta > 0" 2 "delta must lie in \(0, 1\)" -- "$FOIL" "${train[@]}" --dp --noise-multiplier 1 --delta 0
check "delta < 1/N" 1 "delta must lie in \(0, 1/N\) = \(0, 0.00074\) for the 1352 training examples" -- \
  "$FOIL" "${train[@]}" --dp --noise-multiplier 1 --delta 0.001
check "no adversarial training" 2 "cannot be combined with --adv" -- "$FOIL" "${train[@]}" --dp --noise-multiplier 1 \
  --adv pgd --eps 0.1
check "no augmentation" 2 "does not support augmentation" -- "$FOIL" "${train[@]}" --dp --noise-multiplier 1 \
  --noise-sigma 0.1
check "no checkpoints" 2 "cannot be combined with" -- "$FOIL" "${train[@]}" --dp --noise-multiplier 1 \
  --checkpoint "$tmp/c.ckpt"
if [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  check "batch norm refused" 1 "node '[^']+' \(BatchNormalization\) trains the weight .*batch normalization mixes the examples" \
    -- "$FOIL" train --arch resnet-mini --data fashion-mnist --limit 100 --dp --noise-multiplier 1 \
    --output "$tmp/r.onnx"
  [ -e "$tmp/r.onnx" ] && fail "a refused run wrote a model"
else
  echo "skip batch norm refused: dataset-fashion-mnist is not installed"
fi
[ "$failures" = 0 ]
