#!/usr/bin/env bash
# FGSM and PGD against a PyTorch implementation on the same ONNX model
# (optional: skipped with a message without python3-torch / python3-onnx).
PY=/usr/bin/python3
if ! [ -x "$PY" ] || ! "$PY" -c 'import torch, onnx' 2>/dev/null; then
  echo "SKIP: Debian's python3-torch and python3-onnx are not installed (scripts/install-deps.sh --crosscheck)"
  exit 77
fi
exec "$PY" "$FOIL_SOURCE_DIR/tests/attack_crosscheck.py"
