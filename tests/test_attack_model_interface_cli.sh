#!/usr/bin/env bash
# The model interface from the command line: --black-box gives the same
# adversarial examples and query counts as the plain model for a
# score-based attack and refuses a white-box one; --output-mode and
# --query-budget are checked and apply; --preprocess bit-depth with and
# without --bpda shows the zero exact gradient and the adaptive attack
# (--no-adaptive and --bpda each run one side; test_attack_defense_cli.sh
# checks the two side by side).
set -u
: "${FOIL_BIN:?run through ctest}" "${FOIL_ATTACK_MODEL:?run through ctest}"
. "$(dirname "$0")/cli_helpers.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
attack() { "$FOIL_BIN" attack --model "$FOIL_ATTACK_MODEL" --data fashion-mnist --limit 40 --eps 0.1 --quiet "$@"; }
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"; }

attack --attack square --queries 200 --json --out "$dir/plain.npy" >"$dir/plain.json" 2>&1 || fail "square: $(cat "$dir/plain.json")"
attack --attack square --queries 200 --json --out "$dir/bb.npy" --black-box >"$dir/bb.json" 2>&1 || fail "square --black-box: $(cat "$dir/bb.json")"
cmp -s "$dir/plain.npy" "$dir/bb.npy" && echo "ok   square: same adversarial examples through --black-box" ||
  fail "square: adversarial examples differ through --black-box"
for key in robust_accuracy mean_queries model_queries; do
  a=$(field $key "$dir/plain.json"); b=$(field $key "$dir/bb.json")
  [ -n "$a" ] && [ "$a" = "$b" ] && echo "ok   square: $key $a both ways" || fail "square: $key $a vs $b"
done
grep -q '"model_kind":"black-box"' "$dir/bb.json" && echo "ok   model_kind black-box" || fail "no model_kind in $(cat "$dir/bb.json")"

check "pgd refused on a black box" 1 "pgd needs input gradients.*black-box.*square" -- attack --attack pgd --black-box
check "output mode checked" 2 "top-k=K" -- attack --attack square --output-mode top-k=0
check "query budget checked" 2 "query-budget" -- attack --attack square --query-budget -5
check "labels only refuses square" 1 "labels only.*hsj" -- attack --attack square --output-mode labels
check "labels only runs hsj" 0 "black-box" -- attack --attack hsj --norm l2 --queries 200 --steps 3 --output-mode labels
check "budget spent" 1 "query budget of 500 spent" -- attack --attack square --queries 200 --query-budget 500
check "--bpda alone" 2 "need --preprocess" -- attack --attack pgd --bpda
check "bad preprocess" 2 "squeeze:bits=B" -- attack --attack pgd --preprocess median=3
check "bad bit depth" 2 "bits must be 1 to 16" -- attack --attack pgd --preprocess bit-depth=0

attack --attack pgd --preprocess bit-depth=3 --no-adaptive --json >"$dir/exact.json" 2>"$dir/exact.err" || fail "exact: $(cat "$dir/exact.err")"
attack --attack pgd --preprocess bit-depth=3 --bpda --json >"$dir/bpda.json" 2>"$dir/bpda.err" || fail "bpda: $(cat "$dir/bpda.err")"
ze=$(field zero_gradient_fraction "$dir/exact.json"); zb=$(field zero_gradient_fraction "$dir/bpda.json")
re=$(field robust_accuracy "$dir/exact.json"); rb=$(field robust_accuracy "$dir/bpda.json")
echo "bit-depth(3): exact gradient robust $re (zero gradients $ze), BPDA robust $rb (zero gradients $zb)"
[ "$ze" = "1" ] && grep -q "exactly zero" "$dir/exact.err" && echo "ok   exact gradient through the quantizer is zero, and warned" ||
  fail "exact: zero_gradient_fraction $ze, stderr: $(cat "$dir/exact.err")"
awk -v e="$re" -v b="$rb" -v z="$zb" 'BEGIN { exit !(b < e - 0.3 && z < 0.05) }' && echo "ok   BPDA breaks the squeezer" ||
  fail "BPDA robust $rb vs exact $re (zero $zb)"
exit $((failures > 0))
