#!/usr/bin/env bash
# auto_LiRPA cross-check of foil's CROWN and IBP bounds (optional: skipped
# with a message when no Python with auto_LiRPA is found). The Python is
# $FOIL_LIRPA_PYTHON, or the venv scripts/install-deps.sh --crosscheck makes.
venv=${FOIL_LIRPA_VENV:-$([[ $(id -u) == 0 ]] && echo /opt/foil-lirpa || echo "$HOME/.cache/foil-lirpa")}
PY=${FOIL_LIRPA_PYTHON:-$venv/bin/python}
if ! [ -x "$PY" ] || ! "$PY" -c 'import auto_LiRPA, torch, onnx' >/dev/null 2>&1; then
  echo "SKIP: no Python with auto_LiRPA, torch and onnx at $PY (scripts/install-deps.sh --crosscheck, or set FOIL_LIRPA_PYTHON)"
  exit 77
fi
exec "$PY" "$FOIL_SOURCE_DIR/tests/crown_lirpa.py"
