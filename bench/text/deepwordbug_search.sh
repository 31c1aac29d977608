#!/usr/bin/env bash
# The character-level text attacks on the byte-level text-cnn spam filter,
# at 5 edits a message, with each search: by word importance (TextAttack's
# recipes, the default) and greedy (every change of every word scored at each
# step, --search greedy). Prints one table row per attack and search.
#
#   bench/text/deepwordbug_search.sh [BUILD] [MODEL.onnx]
#
# BUILD: foil's build directory (default build). MODEL: a byte-level
# text-cnn with its tokenizer beside it; without one, it is trained as the
# README's figures were (256 bytes, 5 epochs, seed 0) into a temporary
# directory. SMS: the SMS Spam Collection (default ../shared/data/...).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
SMS=${SMS:-../shared/data/sms_spam_collection/SMSSpamCollection}
[ -f "$SMS" ] || { echo "no SMS Spam Collection at $SMS (set SMS=...)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=${2:-}
if [ -z "$model" ]; then
  model=$tmp/cnn.onnx
  "$build"/foil train --arch text-cnn --data "$SMS" --output "$model" --max-length 256 --epochs 5 --quiet
fi
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; foil $(git rev-parse --short HEAD); $(date -u +%F)"
echo "| attack | search | spam detected after (of 149) | success | median queries | median edits | s / message |"
echo "|---|---|---|---|---|---|---|"
for attack in deepwordbug textbugger homoglyph; do
  for search in wir greedy; do
    "$build"/foil attack --model "$model" --data "$SMS" --attack "$attack" --class spam --max-edits 5 \
      --search "$search" --json --out "$tmp/$attack-$search.tsv" > "$tmp/r.json"
    python3 - "$tmp/r.json" "$attack" "$search" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
attacked = r["right_before"]  # --class spam: every message is spam, so those detected are those attacked
succ = sum(1 for x in r["results"] if x["success"])
print(f"| {sys.argv[2]} | {sys.argv[3]} | {r['right_after']} ({100 * r['right_after'] / r['messages']:.1f}%) "
      f"| {succ} of {attacked} | {r['median_queries']:.0f} | {r['median_edits']:.0f} "
      f"| {r['seconds'] / max(1, r['messages']):.2f} |")
PY
  done
done
