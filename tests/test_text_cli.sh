#!/usr/bin/env bash
# End-to-end checks of foil's text commands on a small synthetic spam file:
# foil train --arch bow-logreg / text-cnn writes a model and its tokenizer,
# foil attack --attack deepwordbug / homoglyph evades the model, its JSON,
# --out file and budgets agree with each other and with the model (the
# adversarial texts of the successes really are misclassified when scored
# afresh), and bad input gets a clear error. No Python: the data comes from
# awk, the JSON is read line by line (cJSON_Print writes one "key":<TAB>value
# a line).
set -uo pipefail
FOIL=${FOIL_BIN:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cli_helpers.sh"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# 300 messages, every third spam, 6-13 words each: a quarter common words,
# the rest from the class's own vocabulary. A Park-Miller generator (exact in
# awk's doubles) rather than rand(): the same file from mawk and gawk.
awk 'BEGIN {
  x = 7
  nh = split("hey are we still on for lunch tomorrow call me when you get home thanks for the notes " \
             "see you at the meeting mum says dinner at seven", ham, " ")
  ns = split("win free prize cash claim now urgent winner award txt reply stop guaranteed bonus offer " \
             "mobile ringtone", spam, " ")
  nc = split("the a you to your and for is it", common, " ")
  for (i = 0; i < 300; i++) {
    s = i % 3 == 0
    x = (x * 16807) % 2147483647; n = 6 + x % 8
    line = ""
    for (j = 0; j < n; j++) {
      x = (x * 16807) % 2147483647; r = x % 4
      x = (x * 16807) % 2147483647
      w = r == 0 ? common[1 + x % nc] : s ? spam[1 + x % ns] : ham[1 + x % nh]
      line = line (j ? " " : "") w
    }
    printf "%s\t%s\n", s ? "spam" : "ham", line
  }
}' > "$tmp/msgs.tsv"

# json_top KEY FILE: a top-level value of foil's --json output.
json_top() { awk -F'\t' -v k="\"$1\":" 'NF == 3 && $1 == "" && $2 == k { sub(/,$/, "", $3); print $3; exit }' "$2"; }
# json_results FILE: one line per entry of "results": success, edits,
# label_probability_after, original, adversarial, tab-separated (the texts
# decoded from JSON; \uXXXX escapes, which cJSON writes only for control
# characters, are left as they are).
json_results() {
  awk -F'\t' '
    function text(v,   out, i, c, e) {
      sub(/^"/, "", v); sub(/",?$/, "", v); out = ""
      for (i = 1; i <= length(v); i++) {
        c = substr(v, i, 1)
        if (c == "\\") {
          e = substr(v, ++i, 1)
          c = e == "n" ? "\n" : e == "t" ? "\t" : e == "r" ? "\r" : e == "b" ? "\b" : e == "f" ? "\f" : \
              e == "u" ? "\\u" : e
        }
        out = out c
      }
      return out
    }
    $(NF - 1) == "\"success\":" { success = $NF; sub(/,$/, "", success) }
    $(NF - 1) == "\"edits\":" { edits = $NF; sub(/,$/, "", edits) }
    $(NF - 1) == "\"label_probability_after\":" { p = $NF; sub(/,$/, "", p) }
    $(NF - 1) == "\"original\":" { original = text($NF) }
    $(NF - 1) == "\"adversarial\":" { printf "%s\t%s\t%s\t%s\t%s\n", success, edits, p, original, text($NF) }
  ' "$1"
}
# at_least NAME VALUE MIN: VALUE >= MIN (numbers, as awk compares them).
at_least() {
  if awk -v v="$2" -v m="$3" 'BEGIN { exit !(v != "" && v + 0 >= m + 0) }'; then echo "ok   $1 ($2 >= $3)"
  else fail "$1: $2, expected at least $3"; fi
}

# --- train -------------------------------------------------------------------
check "train bow-logreg (words)" 0 "tokenizer written to .*bow.tokenizer.json" -- "$FOIL" train --arch bow-logreg \
  --data "$tmp/msgs.tsv" --tokenizer words --epochs 10 --output "$tmp/bow.onnx"
check "train text-cnn (bytes, 1 epoch)" 0 "tokenizer written to .*cnn.tokenizer.json" -- "$FOIL" train \
  --arch text-cnn --data "$tmp/msgs.tsv" --max-length 48 --epochs 1 --output "$tmp/cnn.onnx"
for m in bow cnn; do
  for f in "$m.onnx" "$m.tokenizer.json"; do
    [ -s "$tmp/$f" ] && echo "ok   $f written" || fail "$f missing or empty"
  done
  tok="$tmp/$m.tokenizer.json"
  if command -v python3 >/dev/null; then
    python3 -c 'import json, sys; t = json.load(open(sys.argv[1])); sys.exit(t.get("format") != "foil-tokenizer")' \
      "$tok" && echo "ok   $m tokenizer is JSON with \"format\": \"foil-tokenizer\"" || fail "$tok: not a foil-tokenizer JSON file"
  fi
  grep -qE '"format": *"foil-tokenizer"' "$tok" || fail "$tok lacks \"format\": \"foil-tokenizer\""
done
grep -qE '"kind": *"words"' "$tmp/bow.tokenizer.json" || fail "bow tokenizer is not kind words"
grep -qE '"kind": *"bytes"' "$tmp/cnn.tokenizer.json" && grep -qE '"max_length": *48' "$tmp/cnn.tokenizer.json" ||
  fail "cnn tokenizer is not kind bytes with max_length 48"

# --- deepwordbug on the bag of words -------------------------------------------
# The held-out split (the default): 20 of the 100 spam messages.
K=5
check "deepwordbug --json" 0 '"attack":.*"deepwordbug"' -- "$FOIL" attack --model "$tmp/bow.onnx" \
  --data "$tmp/msgs.tsv" --attack deepwordbug --class spam --max-edits $K --json --out "$tmp/dwb.tsv"
printf '%s\n' "$out" > "$tmp/dwb.json"
messages=$(json_top messages "$tmp/dwb.json")
[ "$messages" = 20 ] && echo "ok   20 test spam messages attacked" || fail "messages: '$messages', expected 20 (test spam)"
at_least "spam detected before" "$(json_top right_before "$tmp/dwb.json")" 18
at_least "success rate > 0" "$(json_top success_rate "$tmp/dwb.json")" 0.01
[ "$(json_top max_edits "$tmp/dwb.json")" = $K ] || fail "max_edits in the JSON is not $K"
json_results "$tmp/dwb.json" > "$tmp/dwb.results"
[ "$(wc -l < "$tmp/dwb.results")" = 20 ] || fail "$(wc -l < "$tmp/dwb.results") results in the JSON, expected 20"
[ "$(wc -l < "$tmp/dwb.tsv")" = 20 ] || fail "$(wc -l < "$tmp/dwb.tsv") lines in --out, expected 20"
# Every result within the budget; the --out file holds the same texts as the
# JSON, line for line; a text differs from its original exactly when the
# JSON counts edits, and by that many (deepwordbug keeps ASCII text ASCII, so
# awk's byte-wise Levenshtein distance is the code-point one foil reports).
bad=$(paste "$tmp/dwb.results" "$tmp/dwb.tsv" | awk -F'\t' -v K=$K '
  function lev(a, b,   n, m, i, j, c, prev, cur) {
    n = length(a); m = length(b)
    for (j = 0; j <= m; j++) prev[j] = j
    for (i = 1; i <= n; i++) {
      cur[0] = i
      for (j = 1; j <= m; j++) {
        c = prev[j - 1] + (substr(a, i, 1) != substr(b, j, 1))
        if (prev[j] + 1 < c) c = prev[j] + 1
        if (cur[j - 1] + 1 < c) c = cur[j - 1] + 1
        cur[j] = c
      }
      for (j = 0; j <= m; j++) prev[j] = cur[j]
    }
    return prev[m]
  }
  # $1 success, $2 edits, $3 p, $4 original, $5 adversarial (JSON); $6 label, $7 original, $8 adversarial (--out)
  NF != 8 { print NR ": " NF " fields"; next }
  $2 > K { print NR ": " $2 " edits > " K }
  $6 != "spam" { print NR ": label " $6 }
  $4 != $7 || $5 != $8 { print NR ": --out and the JSON differ" }
  ($2 == 0) != ($7 == $8) { print NR ": " $2 " edits but the texts are " ($7 == $8 ? "the same" : "different") }
  lev($7, $8) != $2 { print NR ": Levenshtein distance " lev($7, $8) ", JSON says " $2 }
  $1 == "true" && $2 == 0 { print NR ": a success with no edits" }')
[ -z "$bad" ] && echo "ok   edits within --max-edits $K, --out matches the JSON, edits = Levenshtein distance" ||
  fail "results disagree: $bad"

# Scored afresh, the adversarial text of a success is misclassified and that
# of a failure is not. The file keeps the labels and class ids the model was
# trained with: one ham line besides the spam (a file of spam only would make
# spam class 0, which is the model's ham), --class spam to score only the
# spam, --split all for every line. --max-queries 1 scores each message once;
# right_before counts those the model classifies right. Texts with p(spam)
# within 1e-4 of 1/2 are left out: at the decision boundary the last bits of
# the score could round either way.
mk_rescore() { # SUCCESS(true|false) -> file
  { printf 'ham\they are we still on for lunch\n'
    awk -F'\t' -v s="$1" '$1 == s && ($3 < 0.4999 || $3 > 0.5001) { printf "spam\t%s\n", $5 }' "$tmp/dwb.results"; }
}
mk_rescore true > "$tmp/evaded.tsv"
mk_rescore false > "$tmp/caught.tsv"
n_evaded=$(($(wc -l < "$tmp/evaded.tsv") - 1))
n_caught=$(awk -F'\t' '$1 == "false" && $3 > 0.5001' "$tmp/dwb.results" | wc -l)
[ "$n_evaded" -gt 0 ] || fail "no success to score afresh"
check "successes scored afresh" 0 "" -- "$FOIL" attack --model "$tmp/bow.onnx" --data "$tmp/evaded.tsv" \
  --split all --class spam --attack deepwordbug --max-queries 1 --json
printf '%s\n' "$out" > "$tmp/evaded.json"
[ "$(json_top messages "$tmp/evaded.json")" = "$n_evaded" ] || fail "rescoring the successes: not $n_evaded messages"
[ "$(json_top right_before "$tmp/evaded.json")" = 0 ] && echo "ok   all $n_evaded successes are misclassified" ||
  fail "rescoring the successes: $(json_top right_before "$tmp/evaded.json") of $n_evaded still detected"
check "failures scored afresh" 0 "" -- "$FOIL" attack --model "$tmp/bow.onnx" --data "$tmp/caught.tsv" \
  --split all --class spam --attack deepwordbug --max-queries 1 --json
printf '%s\n' "$out" > "$tmp/caught.json"
[ "$(json_top right_before "$tmp/caught.json")" = "$n_caught" ] &&
  echo "ok   the $n_caught failures (detected at the end) are still detected" ||
  fail "rescoring the failures: $(json_top right_before "$tmp/caught.json") detected, expected $n_caught"

# The tokenizer given by --tokenizer, the model alone elsewhere: the same attack.
mkdir "$tmp/alone" && cp "$tmp/bow.onnx" "$tmp/alone/bow.onnx"
check "--tokenizer FILE" 0 "" -- "$FOIL" attack --model "$tmp/alone/bow.onnx" --tokenizer "$tmp/bow.tokenizer.json" \
  --data "$tmp/msgs.tsv" --attack deepwordbug --class spam --max-edits $K --json
printf '%s\n' "$out" > "$tmp/alone.json"
json_results "$tmp/alone.json" | cmp -s - "$tmp/dwb.results" && echo "ok   same results with --tokenizer" ||
  fail "--tokenizer gives other results than the tokenizer beside the model"

# --- homoglyph: the successes read the same but are no longer ASCII ----------
check "homoglyph" 0 "" -- "$FOIL" attack --model "$tmp/bow.onnx" --data "$tmp/msgs.tsv" --attack homoglyph \
  --class spam --json
printf '%s\n' "$out" > "$tmp/homoglyph.json"
at_least "homoglyph success rate > 0" "$(json_top success_rate "$tmp/homoglyph.json")" 0.01
json_results "$tmp/homoglyph.json" | awk -F'\t' '$1 == "true" { print $5 }' > "$tmp/homoglyph.adv"
ascii_lines=$(LC_ALL=C grep -vc $'[\x80-\xff]' "$tmp/homoglyph.adv")
# One code point for one: as many characters (UTF-8 lead bytes) as the original.
lengths=$(json_results "$tmp/homoglyph.json" | awk -F'\t' '$1 == "true" { print $4; print $5 }' |
  LC_ALL=C tr -d '\200-\277' | awk 'NR % 2 { n = length($0); next } length($0) != n { bad++ } END { print bad + 0 }')
[ -s "$tmp/homoglyph.adv" ] && [ "$ascii_lines" = 0 ] && echo "ok   every homoglyph success has non-ASCII characters" ||
  fail "homoglyph: $ascii_lines of $(wc -l < "$tmp/homoglyph.adv") successes are plain ASCII"
[ "$lengths" = 0 ] && echo "ok   homoglyph successes keep their length in characters" ||
  fail "homoglyph: $lengths successes changed their length"

# --- the byte-level CNN: the attack runs within its budget -----------------
check "deepwordbug on the text-cnn" 0 "" -- "$FOIL" attack --model "$tmp/cnn.onnx" --data "$tmp/msgs.tsv" \
  --attack deepwordbug --limit 10 --max-edits 3 --json
printf '%s\n' "$out" > "$tmp/cnn.json"
[ "$(json_top messages "$tmp/cnn.json")" = 10 ] || fail "text-cnn: --limit 10 attacked $(json_top messages "$tmp/cnn.json")"
over=$(json_results "$tmp/cnn.json" | awk -F'\t' '$2 > 3' | wc -l)
[ "$over" = 0 ] && echo "ok   text-cnn results within --max-edits 3" || fail "text-cnn: $over results over 3 edits"

# The greedy search on the same model: within the budget, and it says so.
check "deepwordbug --search greedy" 0 '"search":.*"greedy"' -- "$FOIL" attack --model "$tmp/cnn.onnx" \
  --data "$tmp/msgs.tsv" --attack deepwordbug --search greedy --limit 3 --max-edits 3 --json
printf '%s\n' "$out" > "$tmp/greedy.json"
over=$(json_results "$tmp/greedy.json" | awk -F'\t' '$2 > 3' | wc -l)
[ "$over" = 0 ] && echo "ok   greedy search within --max-edits 3" || fail "greedy: $over results over 3 edits"

# --- errors ------------------------------------------------------------------
check "--search bogus" 2 "--search must be wir or greedy, not 'bogus'" -- "$FOIL" attack --model "$tmp/bow.onnx" \
  --data "$tmp/msgs.tsv" --attack deepwordbug --search bogus
check "hotflip --search greedy" 2 "hotflip searches with its beam" -- "$FOIL" attack --model "$tmp/cnn.onnx" \
  --data "$tmp/msgs.tsv" --attack hotflip --search greedy
check "model without its tokenizer" 1 \
  "alone/bow.onnx: a text model needs its tokenizer: none beside it \(.*alone/bow.tokenizer.json\); give --tokenizer FILE" \
  -- "$FOIL" attack --model "$tmp/alone/bow.onnx" --data "$tmp/msgs.tsv" --attack deepwordbug
check "--split bogus" 2 "--split must be test, train or all, not 'bogus'" -- "$FOIL" attack --model "$tmp/bow.onnx" \
  --data "$tmp/msgs.tsv" --attack deepwordbug --split bogus
{ head -3 "$tmp/msgs.tsv"; echo "no tab on this line"; tail -3 "$tmp/msgs.tsv"; } > "$tmp/notab.tsv"
check "a line without a tab (attack)" 1 "notab.tsv:4: no tab; every line is LABEL<TAB>TEXT" -- "$FOIL" attack \
  --model "$tmp/bow.onnx" --data "$tmp/notab.tsv" --attack deepwordbug --split all
check "a line without a tab (train)" 1 "notab.tsv:4: no tab; every line is LABEL<TAB>TEXT" -- "$FOIL" train \
  --arch bow-logreg --data "$tmp/notab.tsv" --output "$tmp/notab.onnx"
check "no such class" 1 "msgs.tsv: no class 'eggs' \(its classes: ham, spam\)" -- "$FOIL" attack \
  --model "$tmp/bow.onnx" --data "$tmp/msgs.tsv" --attack deepwordbug --class eggs
check "a tokenizer of another length" 1 "examples of shape \[48\] .* do not fit the model's declared input \[-1, 64\]" \
  -- "$FOIL" attack --model "$tmp/bow.onnx" --tokenizer "$tmp/cnn.tokenizer.json" --data "$tmp/msgs.tsv" \
  --attack deepwordbug

if [ $failures -ne 0 ]; then echo "$failures text CLI check(s) failed"; exit 1; fi
