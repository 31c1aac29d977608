#!/usr/bin/env bash
# Cross-check of foil's ai.onnx.ml operators (scikit-learn, XGBoost and
# LightGBM exports) against the libraries' own predict_proba and against
# onnxruntime (optional: skipped with a message when no Python with
# skl2onnx, onnxmltools, xgboost, lightgbm and onnxruntime is found; see
# tests/ml_venv.sh for which Python).
. "$(dirname "$0")/ml_venv.sh"
if ! ml_python_has skl2onnx,onnxmltools,xgboost,lightgbm,onnxruntime,sklearn; then
  echo "SKIP: no Python with skl2onnx, onnxmltools, xgboost, lightgbm and onnxruntime at $ML_PY (scripts/install-deps.sh --crosscheck, or set FOIL_ML_PYTHON)"
  exit 77
fi
exec "$ML_PY" "$FOIL_SOURCE_DIR/tests/ml_crosscheck.py"
