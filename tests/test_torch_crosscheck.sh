#!/usr/bin/env bash
# PyTorch cross-check (optional: skipped with a message without python3-torch).
PY=/usr/bin/python3
if ! [ -x "$PY" ] || ! "$PY" -c 'import torch, onnx' 2>/dev/null; then
  echo "SKIP: Debian's python3-torch and python3-onnx are not installed (scripts/install-deps.sh --crosscheck)"
  exit 77
fi
exec "$PY" "$FOIL_SOURCE_DIR/tests/torch_crosscheck.py"
