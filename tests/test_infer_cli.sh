#!/usr/bin/env bash
# foil infer from the command line: membership inference on an MLP that
# overfits digits leaks (the loss attack beats chance, LiRA beats the loss
# attack, the shadow-model attack classifier beats chance, each by a margin
# the seeds we tried clear easily); the report
# writes down the split it was measured on and agrees with the figures
# printed; a given target with its members file works; bad options and
# files get clear errors.
set -uo pipefail
FOIL=${FOIL_BIN:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3

# foil trains the target on half of 400 candidates, and 16 shadow models
check "membership, foil's own target" 0 '"attack":"lira-online"' -- "$FOIL" infer --data digits --arch mlp \
  --pool 400 --shadows 16 --epochs 60 --out "$tmp/mi" --json
echo "$out" >"$tmp/printed.json"
$py - "$tmp/mi" "$tmp/printed.json" <<'PY' || fail "membership: the report is not what was measured"
import json, struct, sys
r = json.load(open(sys.argv[1] + "/report.json"))
printed = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
fig = {a["attack"]: a for a in r["attacks"]}
assert [a["attack"] for a in printed["attacks"]] == list(fig), "the same attacks, in order"
for a in printed["attacks"]:
    assert abs(a["auc"] - fig[a["attack"]]["auc"]) < 1e-12, a["attack"]
split = r["split"]
assert r["candidates"] == 400 == len(split["index"]) == len(split["member"]), "400 candidates"
assert sum(split["member"]) == 200 == r["members"], "a balanced split"
assert split["index"] == sorted(set(split["index"])) and 0 <= split["index"][0] and split["index"][-1] < 1352
# the leak, by a margin: an overfit MLP gives its members away
assert fig["loss"]["auc"] > 0.56, fig["loss"]["auc"]
assert fig["lira-online"]["auc"] > fig["loss"]["auc"] + 0.02, (fig["lira-online"]["auc"], fig["loss"]["auc"])
assert fig["shadow-classifier"]["auc"] > 0.58, fig["shadow-classifier"]["auc"]
for a in fig.values():
    assert 0 <= a["tpr_at_0.1%_fpr"] <= a["tpr_at_1%_fpr"] <= 1, a
    assert 0.5 <= a["balanced_accuracy"] <= 1, a
# right or wrong: one threshold, where the balanced accuracy is the AUC, 0.5 + half the accuracy gap
gap = fig["gap"]
assert abs(gap["balanced_accuracy"] - gap["auc"]) < 1e-9, gap
assert abs(gap["auc"] - (0.5 + (r["target_accuracy_members"] - r["target_accuracy_non_members"]) / 2)) < 1e-9, gap
for a in fig.values():
    roc = a["roc"]
    assert roc["fpr"] == sorted(roc["fpr"]) and roc["tpr"] == sorted(roc["tpr"]), "a ROC curve rises"
# scores.npy: attacks x candidates, float32
raw = open(sys.argv[1] + "/scores.npy", "rb").read()
hl = struct.unpack("<H", raw[8:10])[0]
assert "(9, 400)" in raw[10:10 + hl].decode() and len(raw) == 10 + hl + 4 * 9 * 400
PY
check "same seed, same report" 0 "" -- "$FOIL" infer --data digits --arch mlp --pool 400 --shadows 16 --epochs 60 \
  --out "$tmp/mi2" --quiet
cmp -s "$tmp/mi/report.json" "$tmp/mi2/report.json" || fail "same seed: report.json differs"
check "thresholds only without shadows" 0 "^modified-entropy" -- "$FOIL" infer --data digits --arch mlp \
  --pool 200 --shadows 0 --epochs 5
grep -q lira <<<"$out" && fail "no shadows: LiRA ran anyway"

# the target as an API that answers with labels alone: only the label-only
# attacks run, the label-noise one at least as strong as the gap; with
# probabilities the thresholds see exactly what the logits gave them
check "labels only" 0 '"attack":"gap".*"attack":"label-noise"' -- "$FOIL" infer --data digits --arch mlp \
  --pool 400 --epochs 60 --output-mode labels --json
$py -c "
import json, sys
r = json.loads(sys.argv[1]); a = {x['attack']: x for x in r['attacks']}
assert set(a) == {'gap', 'label-noise'} and r['output_mode'] == 'labels', r
assert a['label-noise']['auc'] >= a['gap']['auc'] - 0.01 and a['gap']['auc'] > 0.52, a
" "$out" || fail "labels only: not the label-only attacks, or no leak"
check "labels only refuses score attacks" 2 "--attack loss needs the target's scores" -- "$FOIL" infer \
  --data digits --arch mlp --pool 100 --epochs 2 --output-mode labels --attack loss
check "probabilities" 0 '"attack":"loss"' -- "$FOIL" infer --data digits --arch mlp --pool 400 --epochs 60 \
  --shadows 0 --attack loss --output-mode probabilities --json
$py -c "
import json, sys
p = json.loads(sys.argv[1])['attacks'][0]; l = json.load(open(sys.argv[2]))['attacks'][0]
assert l['attack'] == 'loss' and abs(p['auc'] - l['auc']) < 1e-9, (p, l)
" "$out" "$tmp/mi/report.json" || fail "probabilities: the loss attack differs from the logits'"
# the shadows' outputs pass through the output mode as the target's do:
# probabilities are the logits up to a constant per example, so every
# attack, the shadow-model ones too, sees what it saw from the logits
check "probabilities, with shadows" 0 '"attack":"shadow-classifier"' -- "$FOIL" infer --data digits --arch mlp \
  --pool 400 --shadows 16 --epochs 60 --output-mode probabilities --json
$py -c "
import json, sys
p = {x['attack']: x['auc'] for x in json.loads(sys.argv[1])['attacks']}
l = {x['attack']: x['auc'] for x in json.load(open(sys.argv[2]))['attacks']}
assert set(p) == set(l) and all(abs(p[a] - l[a]) < 0.01 for a in p), (p, l)
" "$out" "$tmp/mi/report.json" || fail "probabilities with shadows: the attacks differ from the logits'"
# a target and shadows trained by DP-SGD: the report says what the target spent
check "DP-SGD target" 0 '"dp":{"epsilon"' -- "$FOIL" infer --data digits --arch mlp --pool 200 --shadows 2 \
  --epochs 3 --dp --target-epsilon 3 --attack loss,lira-online --json
$py -c "
import json, sys
dp = json.loads(sys.argv[1])['training']['dp']
assert 2.9 < dp['epsilon'] <= 3 and dp['delta'] == 1e-5 and dp['noise_multiplier'] > 0.5, dp
" "$out" || fail "DP-SGD target: not the epsilon asked for"
check "DP options without --dp" 2 "--dp" -- "$FOIL" infer --data digits --arch mlp --noise-multiplier 1
check "bad output mode" 2 "--output-mode" -- "$FOIL" infer --data digits --arch mlp --output-mode soft

# a given target: trained on the first 300 examples of digits' training split
check "train a target" 0 "" -- "$FOIL" train --data digits --arch mlp --limit 300 --epochs 60 \
  --output "$tmp/target.onnx" --quiet
# members.npy: one int64 per candidate (digits' 1352 training examples)
write_members() { # FILE VALUES (a Python list expression)
  $py - "$1" "$2" <<'PY'
import struct, sys
v = eval(sys.argv[2])
h = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }" % len(v)
h += " " * (118 - len(h)) + "\n"
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + struct.pack("<%dq" % len(v), *v))
PY
}
write_members "$tmp/members.npy" "[1] * 300 + [0] * 1052"
write_members "$tmp/short.npy" "[1] * 300 + [0] * 52"
write_members "$tmp/two.npy" "[1] * 300 + [2] + [0] * 1051"
write_members "$tmp/all.npy" "[1] * 1352"
write_members "$tmp/bc.npy" "[1] * 200 + [0] * 227"  # breast-cancer's 427 training examples
check "membership, a given target" 0 '"candidates":1352,"members":300' -- "$FOIL" infer --data digits \
  --model "$tmp/target.onnx" --members "$tmp/members.npy" --attack loss,entropy --json
$py -c "import json,sys; a=json.loads(sys.argv[1])['attacks']; assert a[0]['auc'] > 0.55, a" "$out" ||
  fail "a given target: the overfit model does not leak by the loss attack"
given=$out

# the same target behind a command (the remote model wrapper, as an API):
# the same figures as the ONNX file gives
check "a target behind a command" 0 '"attack":"loss"' -- "$FOIL" infer --data digits \
  --command "${FOIL_REMOTE_SERVER:?} --stdin --model $tmp/target.onnx --features 64" --input-shape 64 \
  --members "$tmp/members.npy" --attack loss,entropy --json
$py -c "
import json, sys
a, b = json.loads(sys.argv[1])['attacks'], json.loads(sys.argv[2])['attacks']
assert [x['auc'] for x in a] == [x['auc'] for x in b], (a, b)
" "$out" "$given" || fail "a target behind a command: figures differ from the ONNX file's"

check "members file of the wrong length" 1 "short.npy: 352 entries for 1352 candidates" -- "$FOIL" infer \
  --data digits --model "$tmp/target.onnx" --members "$tmp/short.npy"
check "members file not 0 or 1" 1 "two.npy: entry 300 is 2, not 0 or 1" -- "$FOIL" infer \
  --data digits --model "$tmp/target.onnx" --members "$tmp/two.npy"
check "members file of members only" 1 "all.npy: every candidate is a member" -- "$FOIL" infer \
  --data digits --model "$tmp/target.onnx" --members "$tmp/all.npy"
check "members file missing" 1 "$tmp/none.npy" -- "$FOIL" infer \
  --data digits --model "$tmp/target.onnx" --members "$tmp/none.npy"
check "target of another shape" 1 "target.onnx" -- "$FOIL" infer --data breast-cancer \
  --model "$tmp/target.onnx" --members "$tmp/bc.npy"
check "model without members" 2 "and --members go together" -- "$FOIL" infer --data digits \
  --model "$tmp/target.onnx"
check "no target" 2 "give the target" -- "$FOIL" infer --data digits
check "unknown attack" 2 "unknown membership attack 'lira'" -- "$FOIL" infer --data digits --arch mlp --attack lira
check "LiRA without shadows" 2 "LiRA and shadow-classifier need --shadows 2 or more" -- "$FOIL" infer --data digits --arch mlp \
  --attack lira-online --shadows 1
check "LiRA on a given model needs the architecture" 2 "and their --arch" -- "$FOIL" infer --data digits \
  --model "$tmp/target.onnx" --members "$tmp/members.npy" --attack lira-offline
check "pool with a given model" 2 "--pool is for a target foil trains" -- "$FOIL" infer --data digits \
  --model "$tmp/target.onnx" --members "$tmp/members.npy" --pool 100
check "bad variance" 2 "--variance must be" -- "$FOIL" infer --data digits --arch mlp --variance wide

# model inversion (foil infer --attack miface): a softmax regression
# (--hidden 0) on digits; each reconstruction correlates best with its own
# class's mean image for most of the 10 classes
check "softmax regression" 0 "" -- "$FOIL" train --arch mlp --hidden 0 --data digits --epochs 30 \
  --weight-decay 0.01 --output "$tmp/sr.onnx" --quiet
check "miface" 0 "most correlated for" -- "$FOIL" infer --attack miface --model "$tmp/sr.onnx" --data digits \
  --max-iter 1000 --lr 2 --out "$tmp/inv"
$py -c "
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r['classes']) == 10 and r['own_mean_most_correlated'] >= 7, r['own_mean_most_correlated']
assert all(c['probability'] > 0.9 for c in r['classes']), [c['probability'] for c in r['classes']]
" "$tmp/inv/inversion.json" || fail "miface: the reconstructions do not look like their classes"
check "miface without a model" 2 "--model is required" -- "$FOIL" infer --attack miface --data digits --out "$tmp/x"
check "hidden sizes" 2 "or 0 for none" -- "$FOIL" train --arch mlp --hidden 0,5 --data digits --output "$tmp/x.onnx"
echo "$failures failures"
[ "$failures" = 0 ]
