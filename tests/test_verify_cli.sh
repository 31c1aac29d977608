#!/usr/bin/env bash
# foil verify end to end on the attack_models fixture's cnn-small: the
# text and JSON reports, CROWN at least IBP's verified accuracy, no
# verified example that PGD or APGD breaks (verified <= robust accuracy),
# --normalize, --crown-only, and usage errors.
set -uo pipefail
source "$FOIL_SOURCE_DIR/tests/cli_helpers.sh"
need_fashion_mnist
model=${FOIL_ATTACK_MODEL:?}
[ -f "$model" ] || { echo "SKIP: $model is missing (the attack_models fixture makes it)"; exit 77; }
# fewer examples in the slower sanitizer build (it attacks fewer too)
n=$(( ${FOIL_ATTACK_EXAMPLES:-1000} < 1000 ? 4 : 10 ))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check "text report" 0 "crown +0.004 " -- "$FOIL_BIN" verify --model "$model" --data fashion-mnist --eps 0.004 --limit 4 --quiet
grep -qE "clean accuracy +[0-9.]+%" <<<"$out" || fail "text report: no clean accuracy line"

check "json report" 0 "" -- "$FOIL_BIN" verify --model "$model" --data fashion-mnist --eps 0.002,0.01 --limit $n --json
echo "$out" >"$tmp/verify.json"
for eps in 0.002 0.01; do
  for attack in pgd apgd-ce; do
    "$FOIL_BIN" attack --model "$model" --data fashion-mnist --attack $attack --eps $eps --limit $n --json --quiet \
      >"$tmp/attack-$attack-$eps.json" || fail "foil attack $attack at $eps"
  done
done
/usr/bin/python3 - "$tmp" "$n" <<'PY' || fail "json report: see above"
import json, sys
tmp = sys.argv[1]
v = json.load(open(f"{tmp}/verify.json"))
assert v["examples"] == int(sys.argv[2]) and set(v) >= {"model", "data", "split", "clean_accuracy", "results"}, v
rows = {(r["method"], r["eps"]): r for r in v["results"]}
assert len(rows) == 4, rows
for eps in (0.002, 0.01):
    ibp, crown = rows[("ibp", eps)], rows[("crown", eps)]
    assert crown["verified"] >= ibp["verified"], (eps, ibp, crown)
    assert crown["verified_accuracy"] <= v["clean_accuracy"], crown
    for attack in ("pgd", "apgd-ce"):
        a = json.load(open(f"{tmp}/attack-{attack}-{eps}.json"))
        # a verified example is one no attack can break
        assert crown["verified_accuracy"] <= a["robust_accuracy"] + 1e-9, (eps, attack, crown, a["robust_accuracy"])
assert rows[("crown", 0.002)]["verified"] > 0, rows
print("json report consistent:", {k: r["verified"] for k, r in rows.items()})
PY

check "normalize and crown-only" 0 "crown-only +0.003 " -- "$FOIL_BIN" verify --model "$model" --data fashion-mnist \
  --normalize 0/1 --eps 0.003 --method crown --crown-only --limit 4 --quiet
check "unknown method" 2 "unknown --method 'deeppoly'" -- "$FOIL_BIN" verify --model "$model" --data fashion-mnist --eps 0.1 --method deeppoly
check "negative eps" 2 "--eps expects numbers >= 0" -- "$FOIL_BIN" verify --model "$model" --data fashion-mnist --eps -0.1
check "eps required" 2 "--eps" -- "$FOIL_BIN" verify --model "$model" --data fashion-mnist
check "help" 0 "verified robust accuracy" -- "$FOIL_BIN" verify --help
[ "$failures" = 0 ]
