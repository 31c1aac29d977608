#!/usr/bin/env bash
# Cross-check of foil's ai.onnx.ml operators (scikit-learn, XGBoost and
# LightGBM exports) against the libraries' own predict_proba and against
# onnxruntime (optional: skipped with a message when no Python with
# skl2onnx, onnxmltools, xgboost, lightgbm and onnxruntime is found). The
# Python is $FOIL_ML_PYTHON, or the venv scripts/install-deps.sh
# --crosscheck makes ($FOIL_ML_VENV: /opt/foil-ml as root, else
# ~/.cache/foil-ml).
venv=${FOIL_ML_VENV:-$([[ $(id -u) == 0 ]] && echo /opt/foil-ml || echo "$HOME/.cache/foil-ml")}
PY=${FOIL_ML_PYTHON:-$venv/bin/python}
if ! [ -x "$PY" ] || ! "$PY" -c 'import skl2onnx, onnxmltools, xgboost, lightgbm, onnxruntime, sklearn' >/dev/null 2>&1; then
  echo "SKIP: no Python with skl2onnx, onnxmltools, xgboost, lightgbm and onnxruntime at $PY (scripts/install-deps.sh --crosscheck, or set FOIL_ML_PYTHON)"
  exit 77
fi
exec "$PY" "$FOIL_SOURCE_DIR/tests/ml_crosscheck.py"
