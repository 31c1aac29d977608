#!/usr/bin/env bash
# A tree ensemble (scikit-learn's gradient boosting on breast cancer,
# tests/models/breast-cancer-gboost.onnx, written by tests/make_ml_models.py)
# from the command line: it loads and is scored by its probabilities;
# query attacks (hsj, decision-based; simba-pixel, score-based) fool some
# examples within eps; gradient attacks (pgd, fgsm) are refused with an
# error that names the model and the operator without a gradient.
set -u
: "${FOIL_BIN:?run through ctest}" "${FOIL_SOURCE_DIR:?run through ctest}"
. "$(dirname "$0")/cli_helpers.sh"
model=$FOIL_SOURCE_DIR/tests/models/breast-cancer-gboost.onnx
attack() { "$FOIL_BIN" attack --model "$model" --data breast-cancer --limit 40 --eps 0.1 --quiet "$@"; }
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }

check "eval" 0 "accuracy" -- "$FOIL_BIN" eval --model "$model" --data breast-cancer --quiet
acc=$(field accuracy "$("$FOIL_BIN" eval --model "$model" --data breast-cancer --quiet --json 2>&1)")
awk -v a="$acc" 'BEGIN { exit !(a > 0.9) }' && echo "ok   clean accuracy $acc > 0.9" || fail "clean accuracy '$acc'"

for a in hsj simba-pixel; do
  out=$(attack --attack "$a" --json 2>&1) || { fail "$a: $out"; continue; }
  clean=$(field clean_accuracy "$out"); robust=$(field robust_accuracy "$out"); success=$(field success_rate "$out")
  grads=$(field model_gradients "$out")
  awk -v s="$success" -v c="$clean" -v r="$robust" 'BEGIN { exit !(s > 0 && r < c) }' &&
    echo "ok   $a fools the trees: success $success, robust $robust < clean $clean" || fail "$a: $out"
  [ "$grads" = 0 ] && echo "ok   $a took no gradients" || fail "$a: model_gradients '$grads'"
done

check "pgd refused" 1 "pgd needs input gradients, but .*breast-cancer-gboost.onnx is not differentiable: .*node 'TreeEnsembleClassifier' \(TreeEnsembleClassifier, ai.onnx.ml\), which has no gradient" -- attack --attack pgd
check "fgsm refused" 1 "fgsm needs input gradients.*not differentiable.*(hsj)" -- attack --attack fgsm
exit $((failures > 0))
