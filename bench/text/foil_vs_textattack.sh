#!/usr/bin/env bash
# foil's DeepWordBug and TextAttack's side by side, on the same messages and
# the same ONNX model: for each TextAttack results file that
# textattack_deepwordbug.py wrote, run `foil attack --attack deepwordbug` on
# exactly the messages TextAttack attacked, with the same edit budget, and
# print both tools' figures in one table.
#
#   bench/text/foil_vs_textattack.sh [--foil BIN] [--out DIR] [--model M.onnx] [--vocab V.txt] \
#       bench/results/text/textattack_deepwordbug_k5.json [bench/results/text/textattack_deepwordbug.json]
#
# The model and its vocab.txt default to those the TextAttack file names.
# Written in --out (default: the TextAttack file's directory):
#   minilm_sms.tokenizer.json   foil's tokenizer for the vocab: wordpiece,
#                               lowercase, max_length 64, pad 0, [UNK] [CLS]
#                               [SEP] ids from the vocab (BertTokenizer's, as
#                               textattack_deepwordbug.py tokenizes)
#   foil_deepwordbug[_kK].tsv   the messages, LABEL<TAB>TEXT: one ham line
#                               first (so that the classes are ham 0, spam 1,
#                               as the model's), then TextAttack's messages in
#                               its order. A tab, CR or LF inside a message
#                               becomes a space: all are whitespace to the
#                               WordPiece tokenizer, so the model sees the
#                               same ids, and the length in characters (what
#                               the edit budget counts) is unchanged.
#   foil_deepwordbug[_kK].json  foil attack --json
# foil runs with --threads 1 (TextAttack ran onnxruntime on 1 thread), the
# budget --max-edits K of the TextAttack file (30, the recipe's, when it has
# none), --seed 0. Medians are taken alike for both tools here (Python's
# statistics.median over the per-message results, the mean of the middle two
# for an even count); seconds per message is the time in attacking (the sum
# of TextAttack's per-message attack.attack() times; foil's attack loop),
# model loading and imports excluded for both.
# Needs Python 3 (the standard library only) to read and write the JSON:
# $PYTHON, default /usr/bin/python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
FOIL=${FOIL:-$root/build/foil}
PYTHON=${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)}
out_dir="" model="" vocab=""
files=()
while [ $# -gt 0 ]; do
  case $1 in
    --foil) FOIL=$2; shift 2 ;;
    --out) out_dir=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --vocab) vocab=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "$0: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) files+=("$1"); shift ;;
  esac
done
[ ${#files[@]} -gt 0 ] || { echo "usage: $0 [--foil BIN] [--out DIR] TEXTATTACK.json..." >&2; exit 2; }
[ -x "$FOIL" ] || { echo "$0: no foil at $FOIL (build it, or --foil BIN)" >&2; exit 1; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

for ta in "${files[@]}"; do
  dir=${out_dir:-$(dirname "$ta")}
  mkdir -p "$dir"
  # The TextAttack file's budget, model and vocab; the tokenizer and the
  # message file.
  info=$("$PYTHON" - "$ta" "$model" "$vocab" "$dir" <<'PY'
import json, os, sys
ta, model, vocab, out = sys.argv[1:]
r = json.load(open(ta, encoding="utf-8"))
if r.get("tool") != "textattack" or r.get("recipe") != "DeepWordBugGao2018":
    sys.exit(f"{ta}: not a textattack_deepwordbug.py results file")
K = r["max_edits"] if r["max_edits"] is not None else 30
model = model or r["model"]
vocab = vocab or r["vocab"]
name = "foil_deepwordbug" + (f"_k{r['max_edits']}" if r["max_edits"] is not None else "")
tokens = open(vocab, encoding="utf-8").read().split("\n")
if tokens and tokens[-1] == "":
    tokens.pop()
tokens = [t[:-1] if t.endswith("\r") else t for t in tokens]
ids = {t: i for i, t in enumerate(tokens)}
tok = {"format": "foil-tokenizer", "version": 1, "kind": "wordpiece", "max_length": r.get("seq_len", 64),
       "lowercase": True, "pad_id": ids["[PAD]"], "unk_id": ids["[UNK]"], "cls_id": ids["[CLS]"],
       "sep_id": ids["[SEP]"], "vocab": tokens}
with open(os.path.join(out, "minilm_sms.tokenizer.json"), "w", encoding="utf-8") as f:
    json.dump(tok, f, ensure_ascii=False)
with open(os.path.join(out, name + ".tsv"), "w", encoding="utf-8", newline="\n") as f:
    f.write("ham\tOk lar... Joking wif u oni...\n")
    for row in r["results"]:
        f.write("spam\t" + row["original"].translate({9: " ", 10: " ", 13: " "}) + "\n")
print(K, model, vocab, name, sep="\n")
PY
  ) || exit 1
  { read -r K; read -r m; read -r v; read -r name; } <<<"$info"
  echo "== $(basename "$ta"): foil attack --max-edits $K on $(basename "$dir/$name.tsv") ==" >&2
  t0=$(date +%s.%N)
  "$FOIL" attack --model "$m" --tokenizer "$dir/minilm_sms.tokenizer.json" --data "$dir/$name.tsv" --split all \
    --class spam --attack deepwordbug --max-edits "$K" --seed 0 --threads 1 --quiet --json > "$dir/$name.json"
  t1=$(date +%s.%N)
  "$PYTHON" - "$ta" "$dir/$name.json" "$K" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" <<'PY'
import json, statistics, sys
ta_path, foil_path, K, foil_wall = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ta = json.load(open(ta_path, encoding="utf-8"))
fo = json.load(open(foil_path, encoding="utf-8"))
trows, frows = ta["results"], fo["results"]
if len(trows) != len(frows):
    sys.exit(f"{foil_path}: {len(frows)} results for TextAttack's {len(trows)}")
for a, b in zip(trows, frows):
    if a["original"].split() != b["original"].split():
        sys.exit(f"{foil_path}: messages out of order at TextAttack's line {a['index']}")
med = lambda xs: statistics.median(xs) if xs else float("nan")
n = len(trows)
t_ok = [r for r in trows if r["result"] == "success"]
f_ok = [r for r in frows if r["success"]]
t_wall = sum(r["seconds"] for r in trows)  # attack.attack() per message
t_sec = t_wall / n
f_sec = fo["seconds"] / n
both = sum(1 for a, b in zip(trows, frows) if a["result"] == "success" and b["success"])
rows = [
    ("messages", n, n),
    ("detected before", sum(r["p_spam_before"] > 0.5 for r in trows), fo["right_before"]),
    ("detected after", sum(r["p_spam_after"] > 0.5 for r in trows), fo["right_after"]),
    ("success rate", f"{len(t_ok) / n:.2f} ({len(t_ok)}/{n})", f"{fo['success_rate']:.2f} ({len(f_ok)}/{fo['right_before']})"),
    ("median queries, successes", f"{med([r['queries'] for r in t_ok]):g}", f"{med([r['queries'] for r in f_ok]):g}"),
    ("median queries, all", f"{med([r['queries'] for r in trows]):g}", f"{med([r['queries'] for r in frows]):g}"),
    ("median character edits, successes", f"{med([r['levenshtein'] for r in t_ok]):g}", f"{med([r['edits'] for r in f_ok]):g}"),
    ("most character edits, successes", max((r["levenshtein"] for r in t_ok), default="-"), max((r["edits"] for r in f_ok), default="-")),
    ("median words changed, successes", f"{med([r['words_changed'] for r in t_ok]):g}", f"{med([r['words_changed'] for r in f_ok]):g}"),
    ("seconds per message", f"{t_sec:.3f}", f"{f_sec:.3f}"),
    ("wall time, attack loop", f"{t_wall:.1f} s", f"{fo['seconds']:.1f} s (process {foil_wall:.1f} s)"),
]
label = "DeepWordBug, " + (f"at most {K} character edits" if ta["max_edits"] is not None else "the recipe (at most 30 edits)")
print(f"\n{label}: {n} detected test spam messages, 1 thread")
print(f"| {'':<36} | TextAttack {ta['versions']['textattack']:<7} | foil{'':<22} |")
print(f"| {'-' * 36} | {'-' * 18} | {'-' * 26} |")
for k, a, b in rows:
    print(f"| {k:<36} | {str(a):<18} | {str(b):<26} |")
print(f"evaded by both: {both}; by TextAttack only: {len(t_ok) - both}; by foil only: {len(f_ok) - both}")
dp = max(abs(a["p_spam_before"] - b["label_probability_before"]) for a, b in zip(trows, frows))
print(f"p(spam) of the original messages, foil's engine and tokenizer vs onnxruntime and BertTokenizerFast: "
      f"largest difference {dp:.2e}")
if f_sec > 0:
    print(f"seconds per message, foil / TextAttack: {f_sec / t_sec:.2f}")
PY
done
