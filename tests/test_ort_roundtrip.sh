#!/usr/bin/env bash
# Models foil writes (trained, adversarially trained, defenses folded in)
# give foil's outputs in ONNX Runtime (optional: skipped with a message
# without a Python that has onnxruntime; see tests/ml_venv.sh).
. "$(dirname "$0")/ml_venv.sh"
if ! ml_python_has onnxruntime,numpy; then
  echo "SKIP: no Python with onnxruntime at $ML_PY (scripts/install-deps.sh --crosscheck, or set FOIL_ML_PYTHON)"
  exit 77
fi
exec "$ML_PY" "$FOIL_SOURCE_DIR/tests/ort_roundtrip.py"
