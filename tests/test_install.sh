#!/usr/bin/env bash
# foil installs and links like any C library (README "Use foil from C"):
# `cmake --install` into a temporary prefix, then, outside the source tree,
#   - the installed foil runs (--version), trains a digits MLP and predicts;
#   - examples/predict.c compiles with `pkg-config --cflags --libs foil`
#     (-lfoil and nothing else) against libfoil.so, runs, prints the
#     run-time version the headers promise and the classes `foil predict`
#     prints for the same input;
#   - the same with `pkg-config --static --libs` against libfoil.a;
#   - libfoil.so is libfoil.so.X.Y.Z with SONAME libfoil.so.X and exports
#     foil_* names only; the installed headers compile from the installed
#     include directory alone.
# In a sanitizer build foil.pc's Libs carry -fsanitize (the library needs its
# runtimes), so the example links with them as any consumer would.
set -uo pipefail
build=${FOIL_BUILD_DIR:?}
src=${FOIL_SOURCE_DIR:?}
cc=${FOIL_CC:-cc}
for tool in "$cc" pkg-config readelf nm "${FOIL_CMAKE:-cmake}"; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cli_helpers.sh"
prefix=$tmp/prefix

check "cmake --install" 0 "" -- "${FOIL_CMAKE:-cmake}" --install "$build" --prefix "$prefix"
pc=$(find "$prefix" -name foil.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || { fail "no foil.pc under $prefix"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
version=$(sed -n 's/^#define FOIL_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/foil/version.h")
[ -n "$version" ] || { fail "no FOIL_VERSION_STRING in the installed foil/version.h"; exit 1; }
echo "ok   installed $version: foil.pc in ${libdir#"$prefix"/}/pkgconfig"
export PKG_CONFIG_PATH=$libdir/pkgconfig
unset PKG_CONFIG_LIBDIR

# The files, and the shared library's name, SONAME and exports.
check_files() {
  local f before=$failures
  for f in bin/foil include/foil/model.h include/foil/version.h; do
    [ -f "$prefix/$f" ] || fail "$f is not installed"
  done
  for f in libfoil.so.$version libfoil.a libfoil_onnx.a; do
    [ -f "$libdir/$f" ] || fail "${libdir#"$prefix"/}/$f is not installed"
  done
  [ "$(readlink "$libdir/libfoil.so.${version%%.*}")" = "libfoil.so.$version" ] || fail "libfoil.so.${version%%.*} is not a link to libfoil.so.$version"
  [ "$(readlink "$libdir/libfoil.so")" = "libfoil.so.${version%%.*}" ] || fail "libfoil.so is not a link to libfoil.so.${version%%.*}"
  [ "$(pkg-config --modversion foil)" = "$version" ] || fail "pkg-config --modversion foil: $(pkg-config --modversion foil)"
  [ "$failures" != "$before" ] || echo "ok   the files, the library links, foil.pc's version"
}
check_exports() {
  local so=$libdir/libfoil.so.$version soname exported others before=$failures
  soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ "$soname" = "libfoil.so.${version%%.*}" ] || fail "SONAME is '$soname', expected libfoil.so.${version%%.*}"
  exported=$(nm -D --defined-only "$so" | awk '$2 != "A" {print $3}')
  others=$(grep -v '^foil_' <<<"$exported" | head -5)
  [ -z "$others" ] || fail "libfoil.so exports names other than foil_*:" $others
  grep -qx foil_version <<<"$exported" && grep -qx foil_model_load <<<"$exported" ||
    fail "libfoil.so does not export foil_version and foil_model_load"
  [ "$failures" != "$before" ] || echo "ok   libfoil.so.$version: SONAME $soname, exports $(grep -c . <<<"$exported") names, all foil_*"
}
# The man pages, where the build made them (help2man installed).
check_man() {
  [ -f "$build/man/foil.1" ] || { echo "skip the man pages: this build made none (help2man is not installed)"; return; }
  local page before=$failures
  for page in foil foil-attack foil-train foil-audit; do
    [ -f "$prefix/share/man/man1/$page.1" ] || fail "share/man/man1/$page.1 is not installed"
  done
  if command -v man >/dev/null; then
    man -l "$prefix/share/man/man1/foil-attack.1" 2>/dev/null | grep -q -- "--eps" ||
      fail "man -l foil-attack.1 does not show --eps"
  fi
  [ "$failures" != "$before" ] ||
    echo "ok   $(ls "$prefix/share/man/man1" | grep -c '\.1$') man pages, foil-attack.1 shows foil attack --help"
}
check_files
check_exports
check_man

# Every installed header, from the installed include path alone.
for h in "$prefix"/include/foil/*.h; do echo "#include \"foil/${h##*/}\""; done >"$tmp/headers.c"
check "the installed headers compile" 0 "" -- "$cc" -std=c17 -Wall -Wextra -Werror -fsyntax-only \
  $(pkg-config --cflags foil) "$tmp/headers.c"

# The installed command, away from the build tree: a model and foil predict's classes.
foil=$prefix/bin/foil
check "installed foil --version" 0 "^foil $version \(kernels: " -- "$foil" --version
# A digits MLP, and 40 of digits' images (8 x 8 pixels of 0..16, as foil
# reads them) as uint8 NPY.
digits=${FOIL_SKLEARN_DATA_DIR:-/usr/lib/python3/dist-packages/sklearn/datasets/data}/digits.csv.gz
[ -f "$digits" ] || { echo "SKIP (the rest): $digits is missing (python3-sklearn)"; [ "$failures" = 0 ] && exit 77
                     echo "$failures failure(s)"; exit 1; }
check "installed foil trains" 0 "" -- "$foil" train --arch mlp --data digits --epochs 2 --seed 1 --quiet \
  --output "$tmp/digits.onnx"
bytes=
while IFS=, read -ra row; do
  for v in "${row[@]:0:64}"; do printf -v byte '\\x%02x' "${v%%.*}"; bytes+=$byte; done
done < <(gzip -dc "$digits" | tail -n 40)
{ npy_header '|u1' '40, 64'; printf '%b' "$bytes"; } >"$tmp/x.npy"
expected=$("$foil" predict --model "$tmp/digits.onnx" --input "$tmp/x.npy" 2>"$tmp/predict.err") ||
  { fail "installed foil predict exited $?"; cat "$tmp/predict.err"; exit 1; }
[ "$(sort -u <<<"$expected" | grep -c .)" -ge 3 ] || fail "foil predict gives fewer than 3 classes: a weak comparison"

# run_example NAME: run $tmp/NAME on the model; its classes must be foil predict's.
run_example() {
  local name=$1 got; shift
  got=$("$@" "$tmp/$name" "$tmp/digits.onnx" "$tmp/x.npy" 2>&1) || { fail "$name exited $?"; echo "$got" | head -5; return; }
  [ "$(head -1 <<<"$got")" = "libfoil $version (compiled against $version)" ] ||
    { fail "$name's first line: '$(head -1 <<<"$got")'"; return; }
  [ "$(tail -n +2 <<<"$got")" = "$expected" ] ||
    { fail "$name's classes differ from foil predict's"; diff <(tail -n +2 <<<"$got") - <<<"$expected" | head -5; return; }
  echo "ok   $name: libfoil $version, the $(grep -c . <<<"$expected") classes foil predict prints ($(sort -u <<<"$expected" | paste -sd' '))"
}

# Shared: -lfoil alone; libfoil.so brings its own dependencies.
libs=$(pkg-config --libs foil)
[[ "$libs" =~ ^-L[^\ ]+\ -lfoil(\ -fsanitize=address,undefined)?\ *$ ]] ||
  fail "pkg-config --libs foil asks for more than -lfoil: $libs"
check "cc predict.c pkg-config --libs foil" 0 "" -- "$cc" -std=c17 -Wall -Wextra -Werror "$src/examples/predict.c" \
  -o "$tmp/predict-shared" $(pkg-config --cflags foil) $libs
readelf -d "$tmp/predict-shared" | grep -q "NEEDED.*\[libfoil.so.${version%%.*}\]" ||
  fail "predict-shared does not load libfoil.so.${version%%.*}"
run_example predict-shared env LD_LIBRARY_PATH="$libdir"

# Static: libfoil.a itself (-l:libfoil.a, since -lfoil takes the .so where both are).
static=()
for word in $(pkg-config --static --libs foil); do
  [ "$word" = -lfoil ] && word=-l:libfoil.a
  static+=("$word")
done
check "cc predict.c pkg-config --static --libs foil" 0 "" -- "$cc" -std=c17 -Wall -Wextra -Werror \
  "$src/examples/predict.c" -o "$tmp/predict-static" $(pkg-config --cflags foil) "${static[@]}"
! readelf -d "$tmp/predict-static" | grep -q 'NEEDED.*libfoil' || fail "predict-static loads libfoil.so"
run_example predict-static env

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
