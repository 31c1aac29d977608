#!/usr/bin/env bash
# foil attack --preprocess: a defense is attacked as given and adaptively,
# side by side, and the report never calls a masking defense robust.
#   - bit-depth squeezing plus median smoothing (Xu et al. 2018): the plain
#     PGD sees zero gradients and leaves most examples standing; PGD through
#     BPDA breaks it; the warning names gradient masking;
#   - Gaussian noise: PGD on one draw is beaten by PGD with EOT;
#   - --bpda / --no-adaptive run one side only; bad lists are refused;
#   - foil defend writes squeezing and blur into the ONNX graph and says
#     that median smoothing cannot go in.
set -uo pipefail
FOIL=${FOIL_BIN:?}
MODEL=${FOIL_ATTACK_MODEL:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
py=/usr/bin/python3
common=(--model "$MODEL" --data fashion-mnist --limit 200 --attack pgd --eps 0.1 --quiet)

# robust accuracy of the JSON row named $2 in the JSON list $1
robust() { "$py" -c 'import json,sys; print({r["attack"]: r["robust_accuracy"] for r in json.loads(sys.argv[1])}[sys.argv[2]])' "$1" "$2"; }
field() { "$py" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
below() { "$py" -c "import sys; sys.exit(0 if $1 <= $2 else 1)"; }

check "squeeze+median" 0 "relies on gradient masking" -- "$FOIL" attack "${common[@]}" \
  --preprocess squeeze:bits=3,median:3 --json
json=$(grep -v "^foil attack: warning" <<<"$out")
plain=$(robust "$json" pgd) adaptive=$(robust "$json" pgd+bpda)
echo "     squeeze:bits=3,median:3: PGD robust accuracy $plain as given, $adaptive with BPDA"
below "$adaptive" "$plain - 0.4" || fail "BPDA did not break squeezing + median ($plain -> $adaptive)"
below "$adaptive" 0.3 || fail "the adaptive attack left the squeezed model robust ($adaptive)"

check "noise" 0 "relies on gradient masking" -- "$FOIL" attack "${common[@]}" --preprocess noise:sigma=0.1 --eot 8 \
  --json
json=$(grep -v "^foil attack: warning" <<<"$out")
plain=$(robust "$json" pgd) adaptive=$(robust "$json" pgd+bpda+eot)
echo "     noise:sigma=0.1: PGD robust accuracy $plain on one draw, $adaptive with EOT-8"
below "$adaptive" "$plain - 0.05" || fail "EOT did not beat one draw against Gaussian noise ($plain -> $adaptive)"

check "bpda only" 0 "^  pgd " -- "$FOIL" attack "${common[@]}" --preprocess squeeze:bits=3 --bpda
grep -q "pgd+bpda" <<<"$out" && fail "--bpda printed two rows"
check "plain only" 0 "zero_grad" -- "$FOIL" attack "${common[@]}" --preprocess squeeze:bits=3 --no-adaptive
grep -q "pgd+bpda" <<<"$out" && fail "--no-adaptive ran the adaptive attack"
check "square runs once on a deterministic defense" 0 "^  square " -- "$FOIL" attack --model "$MODEL" \
  --data fashion-mnist --limit 20 --attack square --eps 0.1 --queries 50 --quiet --preprocess median:3
grep -q "square+" <<<"$out" && fail "a score-based attack ran twice on a deterministic defense"

# --plot: one curve per row, the defense's next to the model without it
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
check "plot" 0 "" -- "$FOIL" attack --model "$MODEL" --data fashion-mnist --limit 100 --attack pgd --quiet \
  --eps 0.05,0.1 --preprocess squeeze:bits=3 --plot "$tmp/curves.svg"
"$py" - "$tmp/curves.svg" <<'PY' || fail "plot: not the chart expected"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
lines = root.findall(f"{ns}polyline")
names = [t.text for t in root.findall(f"{ns}text")]
assert len(lines) == 3, len(lines)
for want in ("pgd", "pgd+bpda", "pgd (no defense)"):
    assert want in names, (want, names)
# each curve: the clean point at eps 0, then eps 0.05 and 0.1
assert all(len(l.get("points").split()) == 3 for l in lines)
PY
check "plot unwritable" 1 "cannot write" -- "$FOIL" attack "${common[@]}" --plot /nonexistent/dir/c.svg
check "bad stage" 2 "not one of: squeeze:bits=B" -- "$FOIL" attack "${common[@]}" --preprocess jpg:50
# JPEG has no derivative: the unaware attacker crafts on the model alone
# (pgd+transfer), the adaptive one through BPDA, which breaks the defense
check "jpeg" 0 "relies on gradient masking" -- "$FOIL" attack "${common[@]}" --preprocess jpeg:75 --json
json=$(grep -v "^foil attack" <<<"$out")
grep -q '"attack":"pgd",' <<<"$json" && fail "jpeg: a plain gradient attack ran through JPEG"
plain=$(robust "$json" pgd+transfer) adaptive=$(robust "$json" pgd+bpda)
echo "     jpeg:75: PGD robust accuracy $plain crafted without the defense, $adaptive with BPDA"
below "$adaptive" 0.3 || fail "jpeg: BPDA left the model robust ($adaptive)"
below "$adaptive" "$plain - 0.1" || fail "jpeg: BPDA no stronger than transfer ($plain -> $adaptive)"
check "even window" 2 "must be odd" -- "$FOIL" attack "${common[@]}" --preprocess median:4
check "eot without defense" 2 "need --preprocess" -- "$FOIL" attack "${common[@]}" --eot 4
check "both sides off" 2 "exclude each other" -- "$FOIL" attack "${common[@]}" --preprocess median --bpda \
  --no-adaptive
# --- foil defend: the defense written into the model ------------------------
check "defend" 0 "wrote .* with bit-depth\(4\) blur\(0.5\)" -- "$FOIL" defend --model "$MODEL" \
  --preprocess median:3,squeeze:bits=4,blur:sigma=0.5 --output "$tmp/defended.onnx"
grep -q "median(3) cannot be written into ONNX" <<<"$out" || fail "defend did not say that median smoothing stays out"
if "$py" -c "import onnx" 2>/dev/null; then
  "$py" -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)" "$tmp/defended.onnx" &&
    echo "ok   the defended model passes onnx.checker (full_check)" || fail "onnx.checker rejects the defended model"
fi
# squeezing inside the graph is Round, which has no gradient: the plain
# attack on the written model meets the masking foil warns about
check "defended model attacked" 0 "had an input gradient of exactly zero" -- "$FOIL" attack \
  --model "$tmp/defended.onnx" --data fashion-mnist --limit 50 --attack pgd --eps 0.1 --quiet --json
zero=$(field "$(grep -v '^foil attack:' <<<"$out")" zero_gradient_fraction)
[ "$zero" = 1 ] || fail "PGD on the written squeezing saw zero_gradient_fraction $zero, expected 1"
check "nothing to write" 1 "nothing written" -- "$FOIL" defend --model "$MODEL" --preprocess squeeze:bits=4,median:3 \
  --output "$tmp/x.onnx"
check "defend needs a list" 2 "--preprocess" -- "$FOIL" defend --model "$MODEL" --output "$tmp/x.onnx"
[ "$failures" = 0 ]
