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
exec "$PY" "$FOIL_SOURCE_DIR/tests/zoo_crosscheck.py"
