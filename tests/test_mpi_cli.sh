#!/usr/bin/env bash
# MPI scale-out (core/dist.c): `mpirun -np 2 foil certify`, `foil eval`,
# `foil attack`, `foil infer` and `foil verify` give exactly the one-process results (random draws are keyed
# by example, not by rank), `foil train` (data-parallel) the same weights up
# to rounding; a rank that fails fails the whole run, with rank 0 naming it
# and printing no partial result; a command that does not share its work refuses to run as two
# ranks. Skips where mpirun or an MPI build is absent.
set -uo pipefail
FOIL=${FOIL_BIN:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
need_fashion_mnist
command -v mpirun >/dev/null || { echo "SKIP: mpirun is not installed (apt-get install openmpi-bin)"; exit 77; }
"$FOIL" --version | grep -q "MPI: none" && { echo "SKIP: this foil was built without MPI"; exit 77; }
py=/usr/bin/python3
model=${FOIL_ATTACK_MODEL:?}
# CI runs as root, which Open MPI refuses unless told; two ranks on whatever cores there are.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Open MPI keeps some allocations until exit; the sanitizer build's leak check
# ignores them. Their stacks must be whole to be recognised: the slow
# unwinder (Open MPI is built without frame pointers), and its plugins kept
# loaded so that their frames have names.
export OMPI_MCA_mca_base_component_disable_dlclose=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=${FOIL_SOURCE_DIR}/tests/lsan-mpi.supp:print_suppressions=0:fast_unwind_on_malloc=0"
mpi=(mpirun --oversubscribe -np 2)
# both NAME ARGS...: foil ARGS as one process (run 1) and as two ranks (run
# 2), @RUN@ in ARGS replaced by the run's number; the last line of each
# output (its JSON) in $tmp/NAME.1 and $tmp/NAME.2.
both() {
  local name=$1 k; shift
  for k in 1 2; do
    local args=("${@//@RUN@/$k}") launch=()
    [ $k = 2 ] && launch=("${mpi[@]}")
    check "$name, $([ $k = 1 ] && echo one process || echo two ranks)" 0 "" -- "${launch[@]}" "$FOIL" "${args[@]}"
    tail -n 1 <<<"$out" >"$tmp/$name.$k"
  done
}
cert=(certify --model "$model" --data fashion-mnist --sigma 0.12 --n0 50 --n 400 --batch 200 --limit 5 --json
      --quiet --threads 1)
both certify "${cert[@]}"
"$py" - "$tmp"/certify.{1,2} <<'PY' || fail "two ranks differ from one process"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
strip = lambda d: [{k: v for k, v in e.items() if k != "seconds"} for e in d["examples"]]
assert len(strip(a)) == 5 and strip(a) == strip(b), (strip(a), strip(b))
assert a["curve"] == b["curve"]
print("     certify: 5 examples, the same predictions, counts, bounds and radii on 1 and 2 ranks")
PY
# Rank 1 alone cannot open its model.
check "a failing rank" 1 "rank 1 of 2.*nothere.onnx" -- "${mpi[@]}" bash -c \
  'm=$1; shift; [ "$OMPI_COMM_WORLD_RANK" = 1 ] && m=$1/nothere.onnx; shift; exec "$@" --model "$m"' _ "$model" \
  "$tmp" "$FOIL" certify --data fashion-mnist --sigma 0.12 --n 100 --limit 2 --json --quiet --threads 1
grep -q '"examples"' <<<"$out" && fail "a failing rank's run printed results"
# (the breast-cancer MLP: the whole Fashion-MNIST test set is slow under the sanitizers)
# (--batch 32: the ranks split at batch boundaries, and 142 examples make five)
ev=(eval --model "${FOIL_ATTACK_TABULAR_MODEL:?}" --data breast-cancer --batch 32 --json --threads 1)
both eval "${ev[@]}"
"$py" - "$tmp"/eval.{1,2} <<'PY' || fail "eval on two ranks differs from one process"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
a.pop("seconds"); b.pop("seconds")
assert a == b, (a, b)
print("     eval: the same accuracy, confusion matrix, confidence and ECE on 1 and 2 ranks (%d examples)" % a["examples"])
PY
# Membership inference: each rank trains its share of the shadow models
# (model k on rank k % 2) and they are summed; the same figures as one process.
inf=(infer --data digits --arch mlp --pool 200 --shadows 4 --epochs 10 --json --threads 1)
both infer "${inf[@]}"
"$py" - "$tmp"/infer.{1,2} <<'PY' || fail "infer on two ranks differs from one process"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert a == b, (a, b)
names = [x["attack"] for x in a["attacks"]]
assert "lira-online" in names and "shadow-classifier" in names, names
print("     infer: 4 shadow models, the same figures of %d attacks on 1 and 2 ranks" % len(names))
PY
# Attacks: the random start (PGD) and the random search (Square) of each
# example are keyed by its index in the whole set, not in a rank's block.
for attack in "pgd" "square --queries 100"; do
  atk=(attack --model "$model" --data fashion-mnist --attack $attack --eps 0.1 --limit 20 --batch 8 --json --quiet --threads 1)
  both "$attack" "${atk[@]}" --out "$tmp/adv@RUN@.npy"
  cmp -s "$tmp/adv1.npy" "$tmp/adv2.npy" || fail "$attack: two ranks wrote other adversarial examples than one process"
  "$py" - "$tmp/$attack".{1,2} "${attack%% *}" <<'PY' || fail "$attack on two ranks differs from one process"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for r in (a, b):
    r.pop("seconds"); r.pop("images_per_second")
assert a == b, [(k, a[k], b[k]) for k in a if a[k] != b[k]]
print("     %s: the same adversarial examples, success, norms and queries on 1 and 2 ranks (robust accuracy %.3f)"
      % (sys.argv[3], a["robust_accuracy"]))
PY
done
# Verification: every rank bounds every size-th example; the counts are summed.
vf=(verify --model "$model" --data fashion-mnist --eps 0.002,0.005 --limit 10 --json --quiet --threads 1)
both verify "${vf[@]}"
"$py" - "$tmp"/verify.{1,2} <<'PY' || fail "verify on two ranks differs from one process"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for r in a["results"] + b["results"]:
    r.pop("seconds_per_example")
assert a == b, (a, b)
print("     verify: the same verified counts by IBP and CROWN on 1 and 2 ranks (%s)"
      % ", ".join("%s %g: %d" % (r["method"], r["eps"], r["verified"]) for r in a["results"]))
PY
# A list of VNN-COMP instances shares out between the ranks: four mnistfc
# properties that foil decides in well under a second each (three verified,
# one falsified), so that a generous timeout leaves no room for timing.
vnn=${FOIL_SHARED_DATA:-}/onnx_vnncomp2021
if [ -f "$vnn/instances.csv" ]; then
  for p in 2 4 7 8; do
    echo "mnistfc,$vnn/mnist/mnist-net_256x2.onnx,$vnn/properties/benchmarks/mnistfc/prop_${p}_0.03.vnnlib,60"
  done >"$tmp/instances.csv"
  both instances verify --instances "$tmp/instances.csv" --json --threads 1
  "$py" - "$tmp"/instances.{1,2} <<'PY' || fail "the instance list on two ranks differs from one process"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
answers = [[e["result"] for e in r] for r in (a, b)]
assert answers[0] == answers[1] == ["verified", "verified", "falsified", "verified"], answers
print("     verify --instances: 4 mnistfc properties, the same answers on 1 and 2 ranks: %s" % answers[0])
PY
else
  echo "skip verify --instances: ../shared/data/onnx_vnncomp2021 is not here"
fi
check "one vnnlib property, two ranks" 2 "one process" -- "${mpi[@]}" "$FOIL" verify --model "$model" \
  --vnnlib "$tmp/none.vnnlib" --threads 1
# Data-parallel training: each rank back-propagates its part of every batch
# and the gradients are summed; the weights match one process up to the
# summation order's rounding.
train_limit=1000
[ "${FOIL_ATTACK_EXAMPLES:-1000}" -lt 1000 ] && train_limit=300 # the sanitizer build
tr=(train --arch cnn-small --data fashion-mnist --limit $train_limit --epochs 1 --batch 50 --threads 1 --quiet --json)
both train "${tr[@]}" --output "$tmp/model@RUN@.onnx"
"$py" - "$tmp" <<'PY' || fail "training on two ranks differs from one process"
import json, sys
import numpy as np, onnx
from onnx import numpy_helper
tmp = sys.argv[1]
a, b = (json.load(open(f"{tmp}/train.{k}"))["epochs"][0] for k in (1, 2))
assert abs(a["train_loss"] - b["train_loss"]) < 1e-5 * a["train_loss"], (a, b)
assert abs(a["val_accuracy"] - b["val_accuracy"]) <= 0.002, (a, b)
w = [{t.name: numpy_helper.to_array(t) for t in onnx.load(f"{tmp}/model{k}.onnx").graph.initializer} for k in (1, 2)]
worst = max(float(np.abs(w[0][k] - w[1][k]).max() / np.abs(w[0][k]).max()) for k in w[0])
assert worst < 1e-3, worst
print("     train: loss %.6f / %.6f, validation accuracy %.4f / %.4f, weights within %.1e of their scale"
      % (a["train_loss"], b["train_loss"], a["val_accuracy"], b["val_accuracy"], worst))
PY
check "adversarial training refused" 1 "does not share its work" -- "${mpi[@]}" "$FOIL" train --arch cnn-small \
  --data fashion-mnist --limit 200 --adv pgd --eps 0.1 --threads 1 --quiet --output "$tmp/x.onnx"
check "not distributed" 2 "does not share its work" -- "${mpi[@]}" "$FOIL" predict --model "$model" \
  --input "$tmp/none.npy" --threads 1
[ "$failures" = 0 ]
