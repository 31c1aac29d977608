# Helpers the CLI test scripts source (not a test itself: no test_ prefix).
# check NAME EXPECTED_EXIT PATTERN -- COMMAND...: run COMMAND, require its
# exit status and (unless PATTERN is empty) a line of its stdout+stderr
# matching the extended regex PATTERN; the output stays in $out.
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
check() {
  local name=$1 want=$2 pattern=$3; shift 4
  local rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ]; then fail "$name: exit $rc, expected $want"; echo "$out" | head -5; return; fi
  if [ -n "$pattern" ] && ! grep -qE -- "$pattern" <<<"$out"; then
    fail "$name: output lacks /$pattern/"; echo "$out" | head -5; return
  fi
  echo "ok   $name"
}
# npy_header DESCR SHAPE: an NPY 1.0 header; the raw little-endian data follows.
npy_header() {
  local dict="{'descr': '$1', 'fortran_order': False, 'shape': ($2), }"
  local hl=$(( (10 + ${#dict} + 1 + 63) / 64 * 64 - 10 ))
  printf '\x93NUMPY\x01\x00'
  printf "\\x$(printf %02x $((hl & 255)))\\x$(printf %02x $((hl >> 8)))"
  printf '%s%*s\n' "$dict" $((hl - ${#dict} - 1)) ''
}
# need_fashion_mnist: skip (77) where Debian's dataset-fashion-mnist is absent.
need_fashion_mnist() {
  [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
    { echo "SKIP: dataset-fashion-mnist is not installed"; exit 77; }
}
