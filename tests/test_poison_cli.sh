#!/usr/bin/env bash
# foil poison and foil scan from the command line: the files poison writes
# agree with its manifest, the same seed writes the same files, a clean
# model is not fooled by the trigger alone, scan's outputs agree with its
# counts, and bad options get clear errors.
set -uo pipefail
FOIL=${FOIL_BIN:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
need_fashion_mnist
py=/usr/bin/python3
model=${FOIL_ATTACK_MODEL:?}

check "badnets" 0 "^badnets: poisoned 6000 of 60000 training examples" -- "$FOIL" poison --data fashion-mnist \
  --attack badnets --rate 0.1 --target 0 --output-dir "$tmp/bd" --seed 7
for f in train_x.npy train_y.npy manifest.json test_triggered_x.npy test_triggered_y.npy; do
  [ -s "$tmp/bd/$f" ] || fail "badnets: $f is missing"
done
# the manifest against the labels written (NPY int64 little-endian, header 128 bytes)
$py - "$tmp/bd" <<'PY' || fail "badnets: manifest and files disagree"
import json, struct, sys
d = sys.argv[1]
m = json.load(open(d + "/manifest.json"))
raw = open(d + "/train_y.npy", "rb").read()
hl = struct.unpack("<H", raw[8:10])[0]
y = struct.unpack("<%dq" % m["examples"], raw[10 + hl:])
assert m["poisoned"] == 6000 == len(m["index"]) == len(set(m["index"])), "count"
assert all(y[i] == 0 for i in m["index"]), "poisoned labels are the target"
assert all(b != 0 for b in m["label_before"]), "all-to-one poisons the other classes"
assert m["index"] == sorted(m["index"]), "sorted"
raw = open(d + "/test_triggered_y.npy", "rb").read()
hl = struct.unpack("<H", raw[8:10])[0]
t = struct.unpack("<%dq" % ((len(raw) - 10 - hl) // 8), raw[10 + hl:])
assert len(t) == 9000 and set(t) == {0}, "triggered test set: the 9,000 images not of class 0, labelled 0"
PY
check "same seed, same files" 0 "" -- "$FOIL" poison --data fashion-mnist --attack badnets --rate 0.1 --target 0 \
  --output-dir "$tmp/bd2" --seed 7 --quiet
for f in train_x.npy train_y.npy manifest.json test_triggered_x.npy; do
  cmp -s "$tmp/bd/$f" "$tmp/bd2/$f" || fail "same seed: $f differs"
done
# a model trained on clean data mostly keeps its answer under the trigger:
# its accuracy on the triggered set (the attack success rate) is low
check "clean model vs the trigger" 0 "" -- "$FOIL" eval --model "$model" --data "$tmp/bd/test_triggered_x.npy" \
  --labels "$tmp/bd/test_triggered_y.npy" --json
asr=$(sed -nE 's/.*"accuracy":([0-9.e-]+).*/\1/p' <<<"$out" | head -1)
awk -v a="${asr:-1}" 'BEGIN{exit !(a < 0.3)}' || fail "a clean model's attack success rate is ${asr:-?}, not below 0.3"

# foil scan: the mechanics on the badnets set (how well it finds poison is
# test_scan's and the benchmark's): the counts, the files, the manifest
check "scan spectral" 0 '"method":"spectral".*"flagged":[0-9]+.*"poisoned":6000' -- "$FOIL" scan --model "$model" \
  --data "$tmp/bd/train_x.npy" --labels "$tmp/bd/train_y.npy" --manifest "$tmp/bd/manifest.json" --eps 0.1 \
  --output-dir "$tmp/scan" --json
$py - "$tmp/scan" "$out" <<'PY' || fail "scan: its files disagree with its counts"
import json, struct, sys
r = json.loads(sys.argv[2].splitlines()[-1])
flagged = json.load(open(sys.argv[1] + "/flagged.json"))
raw = open(sys.argv[1] + "/filtered_y.npy", "rb").read()
hl = struct.unpack("<H", raw[8:10])[0]
kept = (len(raw) - 10 - hl) // 8
assert len(flagged) == r["flagged"] and kept == 60000 - r["flagged"], (len(flagged), kept, r["flagged"])
assert 0.14 * 60000 <= r["flagged"] <= 0.16 * 60000, "1.5 eps of each label: about 15%"
assert 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1
assert r["true_positives"] == round(r["recall"] * 6000)
PY
check "scan clustering" 0 "^clustering scan of .*: [0-9]+ of 60000 examples flagged" -- "$FOIL" scan --model "$model" \
  --data "$tmp/bd/train_x.npy" --labels "$tmp/bd/train_y.npy" --method clustering
check "scan clustering, trusted reference" 0 '"method":"clustering".*"flagged":[0-9]+' -- "$FOIL" scan \
  --model "$model" --data "$tmp/bd/train_x.npy" --labels "$tmp/bd/train_y.npy" --method clustering \
  --trusted fashion-mnist --json
check "scan: trusted is for clustering" 2 "--trusted is for --method clustering" -- "$FOIL" scan --model "$model" \
  --data "$tmp/bd/train_x.npy" --labels "$tmp/bd/train_y.npy" --trusted fashion-mnist
printf '{"index":[5,60000]}' >"$tmp/badmanifest.json"
check "scan: manifest index out of range" 1 "index 60000 is not an example of the data's 60000" -- "$FOIL" scan \
  --model "$model" --data "$tmp/bd/train_x.npy" --labels "$tmp/bd/train_y.npy" --manifest "$tmp/badmanifest.json"
check "scan: unknown method" 2 "unknown scan 'pca'" -- "$FOIL" scan --model "$model" --data "$tmp/bd/train_x.npy" \
  --labels "$tmp/bd/train_y.npy" --method pca

check "strip" 0 '"method":"strip".*"clean":200,"triggered":200.*"fpr":0.05' -- "$FOIL" scan --model "$model" \
  --data fashion-mnist --method strip --triggered "$tmp/bd/test_triggered_x.npy" --limit 200 --overlays 20 --json
check "strip needs inputs" 2 "needs --triggered" -- "$FOIL" scan --model "$model" --data fashion-mnist --method strip

# the loss filter finds flipped labels: the fixture model's loss on them is high
check "label flip for the loss scan" 0 "" -- "$FOIL" poison --data fashion-mnist --attack label-flip --rate 0.05 \
  --output-dir "$tmp/lf2" --quiet
check "scan loss" 0 '"method":"loss".*"poisoned":3000' -- "$FOIL" scan --model "$model" --method loss --eps 0.05 \
  --data "$tmp/lf2/train_x.npy" --labels "$tmp/lf2/train_y.npy" --manifest "$tmp/lf2/manifest.json" --json
recall=$(sed -nE 's/.*"recall":([0-9.e-]+).*/\1/p' <<<"$out")
awk -v r="${recall:-0}" 'BEGIN{exit !(r >= 0.8)}' || fail "loss scan: recall ${recall:-?} on flipped labels, not >= 0.8"

check "neural cleanse" 0 '"method":"cleanse","images":100,"classes":\[\{"class":0' -- "$FOIL" scan --model "$model" \
  --data fashion-mnist --method cleanse --limit 100 --steps 30 --output-dir "$tmp/nc" --json
n_png=$(ls "$tmp/nc"/trigger-*.png "$tmp/nc"/mask-*.png 2>/dev/null | wc -l)
[ "$n_png" = 20 ] || fail "neural cleanse: $n_png PNG files, not a trigger and a mask for each of 10 classes"
head -c 8 "$tmp/nc/trigger-0.png" | od -An -c | grep -q "P   N   G" || fail "neural cleanse: trigger-0.png is not a PNG"

check "blend json" 0 '"attack":"blend".*"poisoned":3000.*"alpha":0.1' -- "$FOIL" poison --data fashion-mnist \
  --attack blend --rate 0.05 --target 3 --alpha 0.1 --output-dir "$tmp/bl" --json
check "label flip on tabular data" 0 "^label-flip: poisoned" -- "$FOIL" poison --data breast-cancer \
  --attack label-flip --rate 0.2 --output-dir "$tmp/lf"
check "targeted flip" 0 '"poisoned":' -- "$FOIL" poison --data fashion-mnist --attack targeted-flip --source 1 \
  --target 7 --rate 0.25 --output-dir "$tmp/tf" --json

# clean-label: images of the target class keep their label, moved by PGD on
# the fixture model (at most eps outside the patch), then patched
check "clean-label" 0 '"attack":"clean-label".*"poisoned":300' -- "$FOIL" poison --data fashion-mnist \
  --attack clean-label --rate 0.05 --target 0 --model "$model" --eps 0.1 --steps 10 --output-dir "$tmp/cl" --json
$py - "$tmp/cl" <<'PY' || fail "clean-label: the poisoned images are not what the manifest says"
import gzip, json, struct, sys
d = sys.argv[1]
m = json.load(open(d + "/manifest.json"))
assert m["label_before"] == m["label_after"] == [0] * 300, "labels stay the target class"
raw = open(d + "/train_x.npy", "rb").read()
hl = struct.unpack("<H", raw[8:10])[0]
clean = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()[16:]
moved = 0
for i in m["index"]:
    x = struct.unpack("<784f", raw[10 + hl + 4 * 784 * i:10 + hl + 4 * 784 * (i + 1)])
    worst = 0
    for r in range(28):
        for c in range(28):
            v = x[r * 28 + c]
            if 24 <= r <= 26 and 24 <= c <= 26:
                assert v == (1.0 if (r + c) % 2 == 0 else 0.0), "the patch"
            else:
                worst = max(worst, abs(v - clean[784 * i + r * 28 + c] / 255.0))
    assert worst <= 0.1 + 1e-5, "PGD stays within eps (%g)" % worst
    moved += worst > 0.05
assert moved >= 200, "PGD moved %d of 300 images (not those the model already gets wrong)" % moved
PY
# gradient matching (a few steps: the mechanics; its success is the
# benchmark's): only images of the intended class change, within eps, labels
# kept; the target file is the test image with the intended label
check "gradient matching" 0 '"attack":"gradient-matching".*"poisoned":60.*"objective":[0-9].*"target_index":42' \
  -- "$FOIL" poison --data fashion-mnist --attack gradient-matching --rate 0.001 --target 5 --target-index 42 \
  --model "$model" --steps 5 --restarts 1 --output-dir "$tmp/gm" --json
$py - "$tmp/gm" <<'PY' || fail "gradient matching: the poisoned images are not what the manifest says"
import gzip, json, struct, sys
d = sys.argv[1]
m = json.load(open(d + "/manifest.json"))
assert m["label_before"] == m["label_after"] == [5] * 60, "clean labels, of the intended class"
assert m["target_label"] == 3
assert 0 <= m["objective"] <= 2, "1 - cos lies in [0, 2]"
raw = open(d + "/train_x.npy", "rb").read()
hl = struct.unpack("<H", raw[8:10])[0]
clean = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()[16:]
eps = 16 / 255
def image(i):
    return struct.unpack("<784f", raw[10 + hl + 4 * 784 * i:10 + hl + 4 * 784 * (i + 1)])
changed = set()
for i in range(0, 60000, 97):  # a sample of the others stays as it was
    if i not in m["index"]:
        assert all(abs(v - clean[784 * i + k] / 255.0) < 1e-6 for k, v in enumerate(image(i))), i
for i in m["index"]:
    worst = max(abs(v - clean[784 * i + k] / 255.0) for k, v in enumerate(image(i)))
    assert worst <= eps + 1e-5, worst
    if worst > eps / 2: changed.add(i)
assert len(changed) >= 50, len(changed)
t = open(d + "/target_y.npy", "rb").read()
assert struct.unpack("<q", t[-8:])[0] == 5, "the target labelled with the intended class"
PY
check "gradient matching, an ensemble" 0 '"crafting_models":2' -- "$FOIL" poison --data fashion-mnist \
  --attack gradient-matching --rate 0.001 --target 5 --target-index 42 --model "$model" --ensemble "$model" \
  --steps 2 --restarts 1 --output-dir "$tmp/gme" --json
check "ensemble only for gradient matching" 2 "--ensemble is for --attack gradient-matching" -- "$FOIL" poison \
  --data fashion-mnist --attack badnets --rate 0.01 --target 0 --ensemble "$model" --output-dir "$tmp/x"
check "ensemble member missing" 1 "$tmp/none.onnx" -- "$FOIL" poison --data fashion-mnist \
  --attack gradient-matching --rate 0.001 --target 5 --target-index 42 --model "$model" \
  --ensemble "$model,$tmp/none.onnx" --output-dir "$tmp/x"
check "targeted flip at an image" 0 '"source":' -- "$FOIL" poison --data fashion-mnist --attack targeted-flip \
  --target-index 0 --target 1 --rate 0.01 --output-dir "$tmp/tfi" --json
# poison frogs, and the victim it is for: the clean model with only its
# last layer fine-tuned (which layers change is test_train's)
check "feature collision" 0 '"attack":"feature-collision".*"poisoned":30.*"objective":0\.[0-9]' -- "$FOIL" poison \
  --data fashion-mnist --attack feature-collision --rate 0.0005 --target 5 --target-index 42 --model "$model" \
  --steps 50 --output-dir "$tmp/fc" --json
check "fine-tune the last layer" 0 "" -- "$FOIL" train --arch "$model" --fine-tune --data "$tmp/fc/train_x.npy" \
  --labels "$tmp/fc/train_y.npy" --limit 2000 --epochs 1 --output "$tmp/ft.onnx" --quiet
[ -s "$tmp/ft.onnx" ] || fail "fine-tune: no model written"
check "fine-tune needs a model" 2 "--fine-tune takes a trained --arch FILE.onnx" -- "$FOIL" train --arch cnn-small \
  --fine-tune --data fashion-mnist --output "$tmp/x.onnx"
check "gradient matching needs an image" 2 "needs --target-index" -- "$FOIL" poison --data fashion-mnist \
  --attack gradient-matching --rate 0.01 --target 3 --model "$model" --output-dir "$tmp/x"
check "target index out of range" 1 "--target-index 10000: fashion-mnist's test split has 10000" -- "$FOIL" poison \
  --data fashion-mnist --attack targeted-flip --target-index 10000 --target 1 --rate 0.01 --output-dir "$tmp/x"
check "clean-label needs a model" 2 "which need it" -- "$FOIL" poison --data fashion-mnist --attack clean-label \
  --rate 0.05 --target 0 --output-dir "$tmp/x"

check "unknown attack" 2 "unknown poisoning attack 'frogs'" -- "$FOIL" poison --data fashion-mnist --attack frogs \
  --rate 0.1 --output-dir "$tmp/x"
check "backdoor needs a target" 2 "needs --target" -- "$FOIL" poison --data fashion-mnist --attack badnets \
  --rate 0.1 --output-dir "$tmp/x"
check "trigger on a table" 1 "a trigger needs images; breast-cancer is tabular" -- "$FOIL" poison \
  --data breast-cancer --attack badnets --target 0 --rate 0.1 --output-dir "$tmp/x"
check "bad rate" 1 "the rate must be in \[0, 1\]" -- "$FOIL" poison --data fashion-mnist --attack label-flip \
  --rate 2 --output-dir "$tmp/x"
check "missing data file" 1 "nothere.npy" -- "$FOIL" poison --data "$tmp/nothere.npy" --attack label-flip \
  --rate 0.1 --output-dir "$tmp/x"
check "help" 0 "Gu et al. 2017" -- "$FOIL" poison --help
[ "$failures" = 0 ]
