#!/usr/bin/env bash
# foil attack --preprocess: a defense is attacked as given and adaptively,
# side by side, and the report never calls a masking defense robust.
#   - bit-depth squeezing plus median smoothing (Xu et al. 2018): the plain
#     PGD sees zero gradients and leaves most examples standing; PGD through
#     BPDA breaks it; the warning names gradient masking;
#   - Gaussian noise: PGD on one draw is beaten by PGD with EOT;
#   - --bpda / --no-adaptive run one side only; bad lists are refused.
set -uo pipefail
FOIL=${FOIL_BIN:?}
MODEL=${FOIL_ATTACK_MODEL:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
py=/usr/bin/python3
common=(--model "$MODEL" --data fashion-mnist --limit 200 --attack pgd --eps 0.1 --quiet)

# robust accuracy of the JSON row named $2 in the JSON list $1
robust() { "$py" -c 'import json,sys; print({r["attack"]: r["robust_accuracy"] for r in json.loads(sys.argv[1])}[sys.argv[2]])' "$1" "$2"; }
below() { "$py" -c "import sys; sys.exit(0 if $1 <= $2 else 1)"; }

check "squeeze+median" 0 "relies on gradient masking" -- "$FOIL" attack "${common[@]}" \
  --preprocess squeeze:bits=3,median:3 --json
json=$(grep -v "^foil attack: warning" <<<"$out")
plain=$(robust "$json" pgd) adaptive=$(robust "$json" pgd+bpda)
echo "     squeeze:bits=3,median:3: PGD robust accuracy $plain as given, $adaptive with BPDA"
below "$adaptive" "$plain - 0.4" || fail "BPDA did not break squeezing + median ($plain -> $adaptive)"
below "$adaptive" 0.3 || fail "the adaptive attack left the squeezed model robust ($adaptive)"

check "noise" 0 "" -- "$FOIL" attack "${common[@]}" --preprocess noise:sigma=0.1 --eot 8 --json
json=$(grep -v "^foil attack: warning" <<<"$out")
plain=$(robust "$json" pgd) adaptive=$(robust "$json" pgd+bpda+eot)
echo "     noise:sigma=0.1: PGD robust accuracy $plain on one draw, $adaptive with EOT-8"
below "$adaptive" "$plain - 0.08" || fail "EOT did not beat one draw against Gaussian noise ($plain -> $adaptive)"

check "bpda only" 0 "^  pgd " -- "$FOIL" attack "${common[@]}" --preprocess squeeze:bits=3 --bpda
grep -q "pgd+bpda" <<<"$out" && fail "--bpda printed two rows"
check "plain only" 0 "zero_grad" -- "$FOIL" attack "${common[@]}" --preprocess squeeze:bits=3 --no-adaptive
grep -q "pgd+bpda" <<<"$out" && fail "--no-adaptive ran the adaptive attack"
check "square runs once on a deterministic defense" 0 "^  square " -- "$FOIL" attack --model "$MODEL" \
  --data fashion-mnist --limit 20 --attack square --eps 0.1 --queries 50 --quiet --preprocess median:3
grep -q "square+" <<<"$out" && fail "a score-based attack ran twice on a deterministic defense"

check "bad stage" 2 "not one of: squeeze:bits=B" -- "$FOIL" attack "${common[@]}" --preprocess jpeg:50
check "even window" 2 "must be odd" -- "$FOIL" attack "${common[@]}" --preprocess median:4
check "eot without defense" 2 "need --preprocess" -- "$FOIL" attack "${common[@]}" --eot 4
check "both sides off" 2 "exclude each other" -- "$FOIL" attack "${common[@]}" --preprocess median --bpda \
  --no-adaptive
[ "$failures" = 0 ]
