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
case $out in *catastrophic*) fail "fgsm-rs at eps 0.1 raised a false catastrophic-overfitting alarm: $out" ;; esac
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

# --- catastrophic overfitting is caught -------------------------------------
# FGSM-RS at eps 0.3 with a step of 2 eps and a constant learning rate
# overfits: the probe's FGSM accuracy climbs (25%, 37-47%, 49-54%, 60% in
# epochs 1-4 on seeds 3-9) while its PGD accuracy stays near 15-22%, and
# the 30-point gap is crossed in epoch 2, 3 or 4. (A PGD-trained model of
# the same data and eps shows 33% FGSM and 26% PGD accuracy on test images.)
check "fgsm-rs overfits" 0 "catastrophic overfitting at epoch" -- "$FOIL" train "${data[@]}" --epochs 6 \
  --adv fgsm-rs --eps 0.3 --adv-step 0.6 --schedule constant --lr 0.05 --json --output "$tmp/co.onnx"
"$py" - "$out" <<'EOF' || fail "catastrophic overfitting JSON"
import json, sys
r = json.loads([l for l in sys.argv[1].splitlines() if l.startswith("{")][-1])
a, e = r["adversarial_training"], r["epochs"]
bad = a["catastrophic_overfitting_epoch"]
assert 2 <= bad <= 6 and len(e) == bad, a
last = e[-1]
assert last["probe_fgsm_accuracy"] > last["probe_pgd_accuracy"] + 0.3 or \
    last["probe_pgd_accuracy"] < e[-2]["probe_pgd_accuracy"] - 0.2, last
# the model written is the epoch before, and the JSON describes that one
assert a["kept_epoch"] == bad - 1 and r["val_accuracy"] == e[bad - 2]["val_accuracy"], r
print("ok   catastrophic overfitting caught at epoch %d (FGSM %.1f%%, PGD %.1f%%), kept epoch %d" %
      (bad, 100 * last["probe_fgsm_accuracy"], 100 * last["probe_pgd_accuracy"], a["kept_epoch"]))
EOF
[ -s "$tmp/co.onnx" ] || fail "no model written after catastrophic overfitting at a later epoch"

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
bad "unknown mode" "pgd, fgsm-rs, trades or ibp" --adv free --eps 0.1
bad "fgsm-rs steps" "one step" --adv fgsm-rs --eps 0.1 --adv-steps 3
bad "beta for pgd" "for --adv trades" --adv pgd --eps 0.1 --trades-beta 6
check "holdout too large" 1 "cannot hold out 3000 of 3000" -- "$FOIL" train "${data[@]}" --output "$tmp/x.onnx" \
  --adv pgd --eps 0.1 --holdout 3000
[ "$failures" = 0 ]
