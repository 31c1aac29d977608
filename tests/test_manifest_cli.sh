#!/usr/bin/env bash
# foil manifest and foil train --manifest (issue 16, part 5): a manifest
# records a dataset's files and examples; the same data checks clean; a
# model trained with --manifest carries the manifest's hash and its own
# command line in its ONNX metadata; one corrupted example (or label) is
# refused, naming the file and the example; bad manifests and options get
# clear errors.
set -uo pipefail
FOIL=${FOIL_BIN:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 60 examples of 8 float32 features, 3 classes, and their int64 labels
{ npy_header '<f4' '60, 8'; for i in $(seq 0 479); do printf '\x00\x00\x80\x3f'; done; } >"$tmp/x.npy"
{ npy_header '<i8' '60,'; for i in $(seq 0 59); do printf "\\x0$((i % 3))\\x00\\x00\\x00\\x00\\x00\\x00\\x00"; done; } >"$tmp/y.npy"
data=(--data "$tmp/x.npy" --labels "$tmp/y.npy")

check "write a manifest" 0 "60 examples, 3 classes, 2 files" -- "$FOIL" manifest "${data[@]}" --out "$tmp/m.json"
sha=$(sed -n 's/.*sha256 \([0-9a-f]*\);.*/\1/p' <<<"$out")
check "the same data matches" 0 "matches" -- "$FOIL" manifest "${data[@]}" --check "$tmp/m.json"
[ ${#sha} = 64 ] || fail "the manifest has no dataset sha256"
check "train with the manifest" 0 "model written" -- "$FOIL" train --arch mlp "${data[@]}" --epochs 1 \
  --manifest "$tmp/m.json" --output "$tmp/model.onnx"
grep -qa "$sha" "$tmp/model.onnx" || fail "the model's metadata lacks the manifest's sha256"
grep -qa "foil train --arch mlp --data $tmp/x.npy" "$tmp/model.onnx" || fail "the model's metadata lacks its command"
check "the model still loads" 0 "" -- "$FOIL" eval --model "$tmp/model.onnx" "${data[@]}"

# example 17's third feature (byte 4 * (17 * 8 + 2) of the data) becomes 2.0
cp "$tmp/x.npy" "$tmp/x.orig"
off=$(( $(stat -c %s "$tmp/x.npy") - 60 * 8 * 4 + 4 * (17 * 8 + 2) ))
printf '\x00\x00\x00\x40' | dd of="$tmp/x.npy" bs=1 seek=$off conv=notrunc status=none
check "a corrupted example" 1 "example 17 of .*x.npy.*row 17.*changed: .*x.npy" -- "$FOIL" manifest "${data[@]}" \
  --check "$tmp/m.json"
check "train refuses it" 1 "m.json: example 17 of .*x.npy" -- "$FOIL" train --arch mlp "${data[@]}" --epochs 1 \
  --manifest "$tmp/m.json" --output "$tmp/bad.onnx"
[ -e "$tmp/bad.onnx" ] && fail "a model was written from data that fails its manifest"
cp "$tmp/x.orig" "$tmp/x.npy"
# label 40 changes from 1 to 2
off=$(( $(stat -c %s "$tmp/y.npy") - 60 * 8 + 8 * 40 ))
printf '\x02' | dd of="$tmp/y.npy" bs=1 seek=$off conv=notrunc status=none
check "a changed label" 1 "example 40 of .*changed: .*y.npy" -- "$FOIL" manifest "${data[@]}" --check "$tmp/m.json"
cp "$tmp/x.orig" "$tmp/x2.npy"
check "other data" 1 "examples, the manifest 60|example 0 of" -- "$FOIL" manifest --data digits --check "$tmp/m.json"

# a directory of class folders of PGM images: one image a file, so the
# changed example is named by its file
for c in a b; do
  mkdir -p "$tmp/faces/$c"
  for i in 1 2 3; do printf "P5\\n2 2\\n255\\n\\x0${i}\\x10\\x20\\x30" >"$tmp/faces/$c/$i.pgm"; done
done
check "manifest a directory" 0 "6 examples, 2 classes, 6 files" -- "$FOIL" manifest --data "$tmp/faces" --out "$tmp/f.json"
printf 'P5\n2 2\n255\n\x02\x10\x20\x31' >"$tmp/faces/b/2.pgm"
check "a changed image" 1 "example 4 of .*faces \(.*faces/b/2.pgm\).*changed: .*faces/b/2.pgm" -- "$FOIL" manifest \
  --data "$tmp/faces" --check "$tmp/f.json"
echo '{"schema": "foil-manifest/1", "data": "x"}' >"$tmp/broken.json"
check "a manifest missing fields" 1 "broken.json: data, examples" -- "$FOIL" manifest "${data[@]}" \
  --check "$tmp/broken.json"
echo 'not json' >"$tmp/nojson.json"
check "not JSON" 1 "nojson.json: not JSON" -- "$FOIL" manifest "${data[@]}" --check "$tmp/nojson.json"
check "no manifest file" 1 "none.json" -- "$FOIL" train --arch mlp "${data[@]}" --manifest "$tmp/none.json" \
  --output "$tmp/x.onnx"
check "neither --out nor --check" 2 "one of --out" -- "$FOIL" manifest "${data[@]}"
check "both" 2 "one of --out" -- "$FOIL" manifest "${data[@]}" --out a --check b
echo "$failures failures"
[ "$failures" = 0 ]
