#!/usr/bin/env bash
# Install the Debian packages foil needs, and only those that are missing.
# Idempotent: when everything is present it does nothing (not even apt-get update).
#
#   scripts/install-deps.sh              build + runtime + test dependencies
#   scripts/install-deps.sh --crosscheck also python3-torch, python3-torchvision and python3-onnx,
#                                        for the optional cross-check tests, and
#                                        auto_LiRPA 0.3 (PyPI) in a venv over them,
#                                        $FOIL_LIRPA_VENV (/opt/foil-lirpa as root,
#                                        else ~/.cache/foil-lirpa), for
#                                        tests/test_crown_lirpa.sh, and Opacus 1.4.0
#                                        (PyPI) likewise in $FOIL_OPACUS_VENV
#                                        (/opt/foil-opacus, else ~/.cache/foil-opacus),
#                                        for tests/test_dp_opacus.sh and
#                                        bench/dp_sgd_vs_opacus.py, and
#                                        skl2onnx, onnxmltools, onnxruntime,
#                                        xgboost and lightgbm (PyPI, pinned) in
#                                        $FOIL_ML_VENV (/opt/foil-ml, else
#                                        ~/.cache/foil-ml), for
#                                        tests/test_ml_crosscheck.sh
#   scripts/install-deps.sh --fuzz       also clang and libFuzzer, for scripts/fuzz.sh
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libopenblas-openmp-dev       # sgemm for Conv and Gemm (OpenMP flavour)
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev   # ONNX via generated protobuf-c code
  zlib1g-dev libcjson-dev
  libpng-dev libsodium-dev     # the audit report's example images (PNG, base64 inside the HTML)
  libjpeg62-turbo-dev          # the JPEG preprocessing defense (libjpeg-turbo)
  libcurl4-openssl-dev         # remote models over HTTP
  libopenmpi-dev openmpi-bin   # scale-out: mpirun -np N foil certify ... (optional at build time)
  libmicrohttpd-dev            # foil serve (optional at build time) and the remote models' test server
  libsqlite3-dev sqlite3       # foil serve's audit log (optional at build time); tests read it
  libcmocka-dev                # test framework
  libonnx-testdata             # official ONNX operator tests (conformance suite)
  dataset-fashion-mnist        # the built-in image dataset
  python3-sklearn              # ships the built-in tabular CSV datasets
  python3-jsonschema           # tests: report.json against its schema
  curl openssl                 # tests: foil serve over HTTP and HTTPS (a self-signed certificate)
)
if [[ "${1:-}" == "--crosscheck" ]]; then
  packages+=(python3-torch python3-torchvision python3-onnx python3-numpy python3-scipy python3-venv python3-yaml
             chromium)         # tests: report.html rendered in a real browser
fi
if [[ "${1:-}" == "--fuzz" ]]; then
  packages+=(clang-14 libclang-rt-14-dev libomp-14-dev)  # libFuzzer, its sanitizers, OpenMP for clang
fi

# auto_LiRPA 0.3 pins torch < 1.13, yet runs on Debian's 1.13 (the
# cross-check shows it): installed without its pins (and without the test
# and build tools it lists), with the three small packages it imports.
install_lirpa() {
  local venv=${FOIL_LIRPA_VENV:-$([[ $(id -u) == 0 ]] && echo /opt/foil-lirpa || echo "$HOME/.cache/foil-lirpa")}
  "$venv/bin/python" -c 'import auto_LiRPA' >/dev/null 2>&1 && return 0
  echo "installing auto_LiRPA 0.3 into $venv" >&2
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps auto-lirpa==0.3 appdirs tqdm packaging
}

# Opacus 1.5 and later need torch.func (torch 2.0); 1.4.0 runs on Debian's
# torch 1.13. Installed without its pins, with the one package it imports
# that Debian's python3-numpy and python3-scipy do not cover.
install_opacus() {
  local venv=${FOIL_OPACUS_VENV:-$([[ $(id -u) == 0 ]] && echo /opt/foil-opacus || echo "$HOME/.cache/foil-opacus")}
  "$venv/bin/python" -c 'import opacus' >/dev/null 2>&1 && return 0
  echo "installing Opacus 1.4.0 into $venv" >&2
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps opacus==1.4.0 opt-einsum
}

# The ONNX-ML cross-check (tests/ml_crosscheck.py): exporters and runtimes
# pinned to versions that install and run over Debian's scikit-learn 1.2.1,
# onnx 1.12 and numpy 1.24 (pip pulls their own small dependencies:
# onnxconverter-common, protobuf, flatbuffers, ...); the README's measured
# differences are from these.
install_ml() {
  local venv=${FOIL_ML_VENV:-$([[ $(id -u) == 0 ]] && echo /opt/foil-ml || echo "$HOME/.cache/foil-ml")}
  "$venv/bin/python" -c 'import skl2onnx, onnxmltools, xgboost, lightgbm, onnxruntime' >/dev/null 2>&1 && return 0
  echo "installing skl2onnx, onnxmltools, onnxruntime, xgboost and lightgbm into $venv" >&2
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check skl2onnx==1.14.1 onnxmltools==1.11.2 \
    onnxruntime==1.16.3 xgboost==1.7.6 lightgbm==3.3.5
}

crosscheck_python() { install_lirpa; install_opacus; install_ml; }

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  if [[ "${1:-}" == "--crosscheck" ]]; then crosscheck_python; fi
  exit 0
fi

echo "installing: ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
if [[ "${1:-}" == "--crosscheck" ]]; then crosscheck_python; fi
