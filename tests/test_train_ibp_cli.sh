#!/usr/bin/env bash
# foil train --adv ibp: IBP training (Gowal et al. 2018) from the CLI on a
# small Fashion-MNIST subset. Checks that the run reports its schedule
# (JSON), that foil verify accepts the model and verifies more test images
# than on a plainly trained model of the same data, steps and seed (the
# point of certified training), and that bad options are refused as usage
# errors.
set -uo pipefail
FOIL=${FOIL_BIN:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
need_fashion_mnist
data=(--arch cnn-small --data fashion-mnist --limit 1500 --epochs 2 --batch 50 --optimizer adam --seed 3 --quiet)
py=/usr/bin/python3

# --- it runs and reports its schedule ---------------------------------------
check "ibp" 0 '"mode":"ibp"' -- "$FOIL" train "${data[@]}" --adv ibp --eps 0.02 --json --output "$tmp/ibp.onnx"
"$py" - "$out" <<'PY' || fail "ibp JSON"
import json, sys
r = json.loads(sys.argv[1].strip().splitlines()[-1])
a, e = r["adversarial_training"], r["epochs"][-1]
# defaults: train eps 1.1 eps, no warm-up for 2 epochs, a ramp of 1 epoch, kappa to 0.5
assert a["eps"] == 0.02 and a["train_eps"] == 0.022 and a["warmup_epochs"] == 0 and a["ramp_epochs"] == 1, a
assert a["kappa_final"] == 0.5 and abs(e["kappa"] - 0.5) < 1e-9 and abs(e["eps"] - 0.022) < 1e-7, e
assert 0 <= e["ibp_verified_train"] <= 1, e
print("ok   ibp JSON: eps %.3f, kappa %.2f, IBP-verified on training batches %.3f" %
      (e["eps"], e["kappa"], e["ibp_verified_train"]))
PY

# --- it works: more test images verified than on a plain model -------------
# (on this budget about 25% against 0% at eps 0.02, IBP bounds, 300 images)
check "plain" 0 "" -- "$FOIL" train "${data[@]}" --output "$tmp/plain.onnx"
verified() {
  "$FOIL" verify --model "$1" --data fashion-mnist --eps 0.02 --method ibp --limit 300 --json --quiet |
    "$py" -c 'import json,sys; print(json.loads(sys.stdin.read())["results"][0]["verified_accuracy"])'
}
ibp=$(verified "$tmp/ibp.onnx") plain=$(verified "$tmp/plain.onnx")
echo "     IBP-verified accuracy at eps 0.02: plain model $plain, IBP-trained $ibp"
"$py" -c "import sys; sys.exit(0 if $ibp >= $plain + 0.1 else 1)" ||
  fail "IBP training did not make more test images verifiable (plain $plain, IBP-trained $ibp)"

# --- refusals ---------------------------------------------------------------
bad() { check "$1" 2 "$2" -- "$FOIL" train "${data[@]}" --output "$tmp/x.onnx" "${@:3}"; }
bad "ramp without --adv" "add --adv MODE" --eps-ramp 3
bad "kappa for pgd" "are for --adv ibp" --adv pgd --eps 0.1 --kappa-final 0
bad "train eps for pgd" "are for --adv ibp" --adv pgd --eps 0.1 --ibp-train-eps 0.1
bad "kappa range" "--kappa-final must lie in" --adv ibp --eps 0.1 --kappa-final 1.5
bad "train eps" "--ibp-train-eps must be > 0" --adv ibp --eps 0.1 --ibp-train-eps -1
bad "ramp" "--eps-ramp must be at least 1" --adv ibp --eps 0.1 --eps-ramp 0
bad "warm-up" "leaves none of the 2 epochs" --adv ibp --eps 0.1 --eps-warmup 2
bad "attack steps" "runs no attack" --adv ibp --eps 0.1 --adv-steps 3
check "batchnorm" 1 "BatchNormalization.*IBP training" -- "$FOIL" train --arch resnet-mini --data fashion-mnist \
  --limit 200 --epochs 1 --adv ibp --eps 0.1 --quiet --output "$tmp/x.onnx"
[ "$failures" = 0 ]
