# Sourced by the tests that need the cross-check venv scripts/install-deps.sh
# --crosscheck makes (skl2onnx, onnxmltools, xgboost, lightgbm, onnxruntime
# over Debian's torch and scikit-learn): ML_PY is $FOIL_ML_PYTHON, or that
# venv's Python ($FOIL_ML_VENV: /opt/foil-ml as root, else ~/.cache/foil-ml).
ml_venv=${FOIL_ML_VENV:-$([[ $(id -u) == 0 ]] && echo /opt/foil-ml || echo "$HOME/.cache/foil-ml")}
ML_PY=${FOIL_ML_PYTHON:-$ml_venv/bin/python}
# ml_python_has MODULE,...: whether ML_PY runs and imports them
ml_python_has() { [ -x "$ML_PY" ] && "$ML_PY" -c "import $1" >/dev/null 2>&1; }
