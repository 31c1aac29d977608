#!/usr/bin/env bash
# foil's DP-SGD accountant against Opacus's (opacus.accountants.RDPAccountant,
# Opacus 1.4.0: the RDP of the sampled Gaussian mechanism of Mironov, Talwar
# and Zhang 2019 at the same orders, Balle et al. 2020's conversion), live:
#   1. foil/privacy.h (through tests/dp_epsilon_tool.c) and Opacus give the
#      same epsilon for several (q, sigma, steps, delta), from q = 1 (the
#      Gaussian mechanism) to long runs at small q;
#   2. foil train --dp --target-epsilon E: Opacus, told the sampling rate,
#      noise multiplier and step count that foil's JSON report says the
#      trainer used, gives the epsilon foil reports, at most E; and the
#      noise foil chose is no more than Opacus's get_noise_multiplier
#      chooses for the same run (foil bisects to a tighter tolerance).
# Optional: skipped (77) with a message when no Python with Opacus is found.
# The Python is $FOIL_OPACUS_PYTHON, or the venv that
# scripts/install-deps.sh --crosscheck makes.
set -uo pipefail
FOIL=${FOIL_BIN:?}
TOOL=${FOIL_DP_EPSILON_TOOL:?}
venv=${FOIL_OPACUS_VENV:-$([[ $(id -u) == 0 ]] && echo /opt/foil-opacus || echo "$HOME/.cache/foil-opacus")}
PY=${FOIL_OPACUS_PYTHON:-$venv/bin/python}
if ! [ -x "$PY" ] || ! "$PY" -c 'import opacus.accountants' >/dev/null 2>&1; then
  echo "SKIP: no Python with Opacus at $PY (scripts/install-deps.sh --crosscheck, or set FOIL_OPACUS_PYTHON)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# 1. the accountant alone: q sigma steps delta, then foil's epsilon and order (the
# fourth row: bench/dp_sgd_fashion_mnist.sh's run, 40 epochs of batch 2048 at epsilon 3)
rows='1 5 10 1e-5
0.004266666666666667 1.12 14062 1e-5
0.004266666666666667 0.6 7031 1e-5
0.034133333333333335 1.9207 1160 1e-5
0.01 0.5 1000 1e-6
0.1 2 500 1e-5
0.5 1.3 37 1e-3
0.0005 0.8 100000 1e-7'
while read -r q sigma steps delta; do
  foil_out=$("$TOOL" "$q" "$sigma" "$steps" "$delta") || { echo "FAIL: dp_epsilon_tool $q $sigma $steps $delta"; exit 1; }
  echo "$q $sigma $steps $delta $foil_out"
done <<<"$rows" > "$tmp/rows"
"$PY" - "$tmp/rows" <<'PYEOF' || fails=1
import sys, warnings
warnings.simplefilter("ignore")
import opacus
from opacus.accountants import RDPAccountant
bad = 0
for line in open(sys.argv[1]):
    q, sigma, steps, delta, f_eps, f_order = (float(a) for a in line.split())
    acc = RDPAccountant()
    acc.history = [(sigma, q, int(steps))]
    eps, order = acc.get_privacy_spent(delta=delta)
    ok = abs(f_eps - eps) <= 1e-9 * max(1.0, eps) and f_order == order
    bad += not ok
    print("%s q %-10.6g sigma %-6g steps %-7d delta %-6g: foil epsilon %.10f (order %g), Opacus %s %.10f (order %g)"
          % ("ok  " if ok else "FAIL", q, sigma, int(steps), delta, f_eps, f_order, opacus.__version__, eps, order))
sys.exit(1 if bad else 0)
PYEOF

# 2. the trainer: what foil train --dp accounted, recomputed by Opacus
for cfg in "64 2 1.5" "200 3 0.7"; do
  read -r batch epochs target <<<"$cfg"
  if ! "$FOIL" train --arch mlp --data digits --hidden 16 --epochs "$epochs" --batch "$batch" --lr 0.5 --dp \
       --target-epsilon "$target" --delta 1e-5 --output "$tmp/m.onnx" --json --quiet > "$tmp/out.json" 2> "$tmp/err"; then
    echo "FAIL: foil train --dp --batch $batch --epochs $epochs --target-epsilon $target:"; cat "$tmp/err"; fails=1; continue
  fi
  "$PY" - "$target" "$tmp/out.json" <<'PYEOF' || fails=1
import json, sys, warnings
warnings.simplefilter("ignore")
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier
target = float(sys.argv[1])
d = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])["dp"]
acc = RDPAccountant()
acc.history = [(d["noise_multiplier"], d["sample_rate"], d["steps"])]
eps = acc.get_epsilon(delta=d["delta"])
sigma_opacus = get_noise_multiplier(target_epsilon=target, target_delta=d["delta"], sample_rate=d["sample_rate"],
                                    steps=d["steps"], accountant="rdp")
ok = abs(d["epsilon"] - eps) <= 1e-9 * eps and eps <= target and d["noise_multiplier"] <= sigma_opacus
print("%s foil train --dp --target-epsilon %g: q %.6g, %d steps, sigma %.6f (Opacus would choose %.6f); "
      "foil epsilon %.10f, Opacus %.10f" % ("ok  " if ok else "FAIL", target, d["sample_rate"], d["steps"],
                                           d["noise_multiplier"], sigma_opacus, d["epsilon"], eps))
sys.exit(0 if ok else 1)
PYEOF
done
exit $fails
