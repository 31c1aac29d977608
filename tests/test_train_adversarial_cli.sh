#!/usr/bin/env bash
# foil train --adv: PGD, FGSM-RS and TRADES adversarial training from the
# CLI on a small Fashion-MNIST subset. Checks that each mode runs and
# reports what it measured (JSON), that PGD fools the PGD-trained model far
# less often than a plainly trained one of the same data and budget (the
# point of it all), and that bad options are refused with clear errors.
set -uo pipefail
FOIL=${FOIL_BIN:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
need_fashion_mnist
data=(--arch cnn-small --data fashion-mnist --limit 3000 --seed 3 --quiet)
py=/usr/bin/python3

# --- each mode runs and reports -------------------------------------------
check "pgd" 0 '"mode":"pgd"' -- "$FOIL" train "${data[@]}" --epochs 2 --adv pgd --eps 0.1 --adv-steps 3 --holdout 500 \
  --keep-best --json --output "$tmp/pgd.onnx"
pgd_json=$out
check "fgsm-rs" 0 '"probe_fgsm_accuracy"' -- "$FOIL" train "${data[@]}" --epochs 1 --adv fgsm-rs --eps 0.1 \
  --json --output "$tmp/fgsm.onnx"
check "trades" 0 '"mode":"trades"' -- "$FOIL" train "${data[@]}" --epochs 1 --adv trades --eps 0.1 --adv-steps 2 \
  --trades-beta 6 --json --output "$tmp/trades.onnx"
"$py" - "$pgd_json" <<'EOF' || fail "pgd JSON"
import json, sys
r = json.loads(sys.argv[1].strip().splitlines()[-1])
a = r["adversarial_training"]
assert a["eps"] == 0.1 and a["holdout"] == 500, a  # the float32 eps printed as given
assert a["kept_epoch"] in (1, 2), a
for e in r["epochs"]:
    assert e["eps"] == 0.1 and 0 <= e["holdout_pgd_accuracy"] <= 1, e
print("ok   pgd JSON: kept epoch %d, held-out PGD accuracy %s" % (a["kept_epoch"], [e["holdout_pgd_accuracy"] for e in r["epochs"]]))
EOF

# --- it works: PGD training buys robustness plain training does not --------
check "plain" 0 "" -- "$FOIL" train "${data[@]}" --epochs 2 --output "$tmp/plain.onnx"
# On this small budget (3,000 images, 2 epochs) neither model is accurate,
# so compare PGD's success rate, the share of correctly classified test
# images it fools: about 49% on the plain model, 24% on the PGD-trained one.
success() { # PGD-10 success rate at eps 0.1 on 300 test images
  "$FOIL" attack --model "$1" --data fashion-mnist --limit 300 --attack pgd --eps 0.1 --json --quiet 2>/dev/null |
    "$py" -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["success_rate"])'
}
plain=$(success "$tmp/plain.onnx") at=$(success "$tmp/pgd.onnx")
echo "     PGD success rate at eps 0.1: plain model $plain, PGD-trained $at"
"$py" -c "import sys; sys.exit(0 if $at <= $plain - 0.15 else 1)" ||
  fail "PGD training did not make the model harder to fool (success rate: plain $plain, adversarially trained $at)"

# --- refusals ---------------------------------------------------------------
bad() { check "$1" 2 "$2" -- "$FOIL" train "${data[@]}" --output "$tmp/x.onnx" "${@:3}"; }
bad "eps without --adv" "add --adv MODE" --eps 0.1
bad "no eps" "--eps E > 0" --adv pgd
bad "unknown mode" "pgd, fgsm-rs or trades" --adv free --eps 0.1
bad "fgsm-rs steps" "one step" --adv fgsm-rs --eps 0.1 --adv-steps 3
bad "beta for pgd" "for --adv trades" --adv pgd --eps 0.1 --trades-beta 6
check "holdout too large" 1 "cannot hold out 3000 of 3000" -- "$FOIL" train "${data[@]}" --output "$tmp/x.onnx" \
  --adv pgd --eps 0.1 --holdout 3000
[ "$failures" = 0 ]
