#!/usr/bin/env bash
# The Python package (python/): installed offline into a fresh venv over
# Debian's python3 (numpy from python3-numpy), then python/tests/test_foil.py
# under pytest when the venv has it, else plain unittest: Model.predict and
# .gradient against foil predict and foil grad, PGD against foil attack
# --out bit for bit, errors, the progress callback, the ctypes struct
# layouts against the C compiler's, README.md's Python example as written,
# and the ART adapter (against ART's own compute_success where ART is
# importable). Needs FOIL_LIBRARY (libfoil.so) and the attack_models
# fixture (FOIL_ATTACK_MODEL).
set -uo pipefail
python=/usr/bin/python3  # Debian's, with python3-numpy; not a pyenv python on PATH
[ -x "$python" ] || { echo "SKIP: $python is missing"; exit 77; }
"$python" -c 'import numpy' 2>/dev/null || { echo "SKIP: python3-numpy is not installed"; exit 77; }
"$python" -c 'import venv, ensurepip' 2>/dev/null || { echo "SKIP: python3-venv is not installed"; exit 77; }
[ -e "${FOIL_LIBRARY:-}" ] || { echo "FAIL: FOIL_LIBRARY (libfoil.so) is not set or missing"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Installed from a copy: pip's setuptools build writes build/ and
# *.egg-info beside pyproject.toml, which must not land in the source tree.
cp -r "$FOIL_SOURCE_DIR/python" "$tmp/src"
"$python" -m venv --system-site-packages "$tmp/venv" || { echo "FAIL: python3 -m venv"; exit 1; }
"$tmp/venv/bin/pip" install -q --no-index --disable-pip-version-check --no-build-isolation "$tmp/src" ||
  { echo "FAIL: pip install --no-build-isolation python/"; exit 1; }

# ART, where scripts/install-deps.sh --crosscheck put it in a venv of its
# own, joins the test venv's path (after its own packages) for foil.art's test.
art_venv=${FOIL_ART_VENV:-$([[ $(id -u) == 0 ]] && echo /opt/foil-art || echo "$HOME/.cache/foil-art")}
if "$art_venv/bin/python" -c 'import art.utils' >/dev/null 2>&1; then
  purelib() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
  purelib "$art_venv/bin/python" >"$(purelib "$tmp/venv/bin/python")/foil-test-art.pth"
fi

# A sanitizer build's libfoil.so needs AddressSanitizer's runtime loaded
# before anything else, and python3 is not built with it: preload it, and
# leave the interpreter's own allocations, which live to exit, out of the
# leak check (later ASAN_OPTIONS entries win).
asan=$(ldd "$FOIL_LIBRARY" | awk '/libasan/ {print $3}')
if [ -n "$asan" ]; then
  export LD_PRELOAD="$asan${LD_PRELOAD:+:$LD_PRELOAD}" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi

# The tests import the installed package, not python/ (run outside it).
cd "$tmp"
export FOIL_LIBRARY
if "$tmp/venv/bin/python" -c 'import pytest' 2>/dev/null; then
  "$tmp/venv/bin/python" -m pytest -q -rs -p no:cacheprovider "$tmp/src/tests"
else
  echo "(python3-pytest is not installed: running the tests under unittest)"
  "$tmp/venv/bin/python" -m unittest discover -v -s "$tmp/src/tests" -t "$tmp/src/tests"
fi
