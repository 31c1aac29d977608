#!/usr/bin/env bash
# foil verify --vnnlib end to end on the VNN-COMP 2021 files in
# ../shared/data/onnx_vnncomp2021 (skips, 77, without them): the three
# sample properties parse and run; an mnistfc property that CROWN verifies
# and one that PGD falsifies, with the VNN-COMP result file and the NPY
# counterexample (checked again with onnxruntime when /work/venv has it);
# JSON; usage and file errors.
set -uo pipefail
source "$FOIL_SOURCE_DIR/tests/cli_helpers.sh"
data=${FOIL_SHARED_DATA:-}/onnx_vnncomp2021
[ -f "$data/instances.csv" ] || { echo "SKIP: $data is missing (VNN-COMP 2021 networks and properties)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mlp=$data/mnist/mnist-net_256x2.onnx props=$data/properties/benchmarks/mnistfc

check "verified" 0 "^verified [0-9.]+ s" -- "$FOIL_BIN" verify --model "$mlp" --vnnlib "$props/prop_2_0.03.vnnlib" \
  --timeout 20 --output "$tmp/v.txt" --quiet
[ "$(cat "$tmp/v.txt")" = unsat ] || fail "verified: result file says '$(cat "$tmp/v.txt")', not unsat"

check "falsified" 0 "^falsified [0-9.]+ s \(disjunct [0-9]+\)" -- "$FOIL_BIN" verify --model "$mlp" \
  --vnnlib "$props/prop_1_0.05.vnnlib" --timeout 20 --output "$tmp/f.txt" --counterexample "$tmp/ce.npy" --quiet
[ "$(head -1 "$tmp/f.txt")" = sat ] || fail "falsified: result file does not start with sat"
grep -q "^((X_0 " "$tmp/f.txt" && grep -q "^ (X_783 " "$tmp/f.txt" && grep -qE "^ \(Y_9 [-0-9.e]+\)\)$" "$tmp/f.txt" ||
  fail "falsified: the result file's counterexample is malformed"
[ -s "$tmp/ce.npy" ] || fail "falsified: no counterexample NPY"
if [ -x /work/venv/bin/python3 ] && /work/venv/bin/python3 -c "import onnxruntime" 2>/dev/null; then
  check "counterexample holds in onnxruntime" 0 "^ok" -- /work/venv/bin/python3 "$FOIL_SOURCE_DIR/bench/vnncomp_check_ce.py" \
    "$mlp" "$props/prop_1_0.05.vnnlib" "$tmp/ce.npy"
else
  echo "skip counterexample check (no onnxruntime in /work/venv)"
fi

check "json" 0 '"result":"(verified|falsified|unknown)"' -- "$FOIL_BIN" verify --model "$data/mnist/Convnet_avgpool.onnx" \
  --vnnlib "$data/mnist/verivital_avgpool_prop_0_0.02.vnnlib" --timeout 20 --json
grep -q '"result":"falsified"' <<<"$out" && fail "json: the verivital sample is falsified (VNN-COMP: it holds)"
check "oval21 sample parses and runs" 0 "^(verified|falsified|unknown) " -- "$FOIL_BIN" verify \
  --model "$data/cifar10/cifar_base_kw.onnx" --vnnlib "$data/cifar10/cifar_base_kw-img4549-eps0.00392156862745098.vnnlib" \
  --timeout 5 --no-bab --restarts 1 --steps 10 --quiet
check "mnistfc sample" 0 "^(verified|unknown) " -- "$FOIL_BIN" verify --model "$mlp" \
  --vnnlib "$data/mnist/mnistfc_prop_0_0.03.vnnlib" --timeout 3 --quiet

# errors
printf '(declare-const X_0 Real)\n(assert (<= X_0 1)\n' >"$tmp/bad.vnnlib"
check "malformed property" 1 "bad.vnnlib:2: '\(' is never closed" -- "$FOIL_BIN" verify --model "$mlp" --vnnlib "$tmp/bad.vnnlib"
printf '(declare-const X_0 Real)(declare-const Y_0 Real)(assert (>= X_0 0))(assert (<= X_0 1))(assert (<= Y_0 0))\n' \
  >"$tmp/one.vnnlib"
check "property of another size" 1 "the property has 1 inputs and 1 outputs, the model" -- "$FOIL_BIN" verify \
  --model "$mlp" --vnnlib "$tmp/one.vnnlib" --quiet
check "missing file" 1 "nope.vnnlib" -- "$FOIL_BIN" verify --model "$mlp" --vnnlib "$tmp/nope.vnnlib"
check "model required" 2 "--model is required" -- "$FOIL_BIN" verify --vnnlib "$tmp/one.vnnlib"
check "CROWN's slopes (--alpha-steps 0)" 0 "^verified [0-9.]+ s" -- "$FOIL_BIN" verify --model "$mlp" \
  --vnnlib "$props/prop_2_0.03.vnnlib" --alpha-steps 0 --timeout 60
check "bad alpha steps" 2 "--alpha-steps must be >= 0" -- "$FOIL_BIN" verify --model "$mlp" \
  --vnnlib "$tmp/one.vnnlib" --alpha-steps -1
check "bad timeout" 2 "--timeout must be > 0" -- "$FOIL_BIN" verify --model "$mlp" --vnnlib "$tmp/one.vnnlib" --timeout 0
check "help" 0 "--vnnlib P.vnnlib" -- "$FOIL_BIN" verify --help
[ "$failures" = 0 ]
