#!/usr/bin/env bash
# torchvision's zoo and two text classifiers in foil against PyTorch, and
# against onnxruntime where the cross-check venv has it (tests/ml_venv.sh):
# optional, skipped with a message without Debian's python3-torch,
# python3-torchvision and python3-onnx.
. "$(dirname "$0")/ml_venv.sh"
PY=/usr/bin/python3
ml_python_has torch,torchvision,onnx,onnxruntime && PY=$ML_PY
if ! "$PY" -c 'import torch, torchvision, onnx' >/dev/null 2>&1; then
  echo "SKIP: Debian's python3-torch, python3-torchvision and python3-onnx are not installed (scripts/install-deps.sh --crosscheck)"
  exit 77
fi
# The sanitizer build (it attacks fewer examples: FOIL_ATTACK_EXAMPLES) is
# some ten times slower: there a third of the zoo, the ops of the rest being
# checked by the release build, keeps the test within its time.
models=()
[ "${FOIL_ATTACK_EXAMPLES:-1000}" -lt 1000 ] && models=(mobilenet_v3_small shufflenet_v2_x1_0 text_transformer text_lstm)
exec "$PY" "$FOIL_SOURCE_DIR/tests/zoo_crosscheck.py" "${models[@]}"
