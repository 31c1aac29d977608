#!/usr/bin/env bash
# The Debian package (cmake/package.cmake):
#   scripts/check-deb.sh BUILD_DIR [--install]
# builds foil_<version>_<arch>.deb from BUILD_DIR with cpack, then checks
#   - its files: /usr/bin/foil, libfoil.so.X.Y.Z and its links, libfoil.a,
#     the headers, foil.pc;
#   - its Depends: every shared library that foil and libfoil.so load is
#     owned (dpkg -S) by a package the .deb depends on, and the OpenBLAS is
#     the OpenMP one that foil is built for;
#   - the command from the unpacked files alone (dpkg-deb -x): --version,
#     training a model and attacking it.
# With --install (CI, on its fresh Debian machine; root), it also installs
# the .deb with apt-get, which must resolve the Depends from the archive,
# runs /usr/bin/foil the same way, builds examples/predict.c against the
# installed library with pkg-config, and removes the package again.
set -euo pipefail
build=${1:?usage: scripts/check-deb.sh BUILD_DIR [--install]}
install=${2:-}
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
for tool in cpack dpkg-deb dpkg-shlibdeps dpkg; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (dpkg-dev, cmake)"; exit 77; }
done
if grep -q '^FOIL_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "SKIP: $build is a sanitizer build; the package is built from a release build"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

(cd "$tmp" && cpack --config "$build/CPackConfig.cmake" -G DEB >"$tmp/cpack.log" 2>&1) ||
  { cat "$tmp/cpack.log"; echo "FAIL: cpack -G DEB"; exit 1; }
deb=$(ls "$tmp"/foil_*.deb)
version=$(dpkg-deb -f "$deb" Version)
echo "ok   $(basename "$deb"): $(du -k "$deb" | cut -f1) KiB, version $version"

# The files.
root=$tmp/root
dpkg-deb -x "$deb" "$root"
for f in usr/bin/foil usr/lib/libfoil.so.$version usr/lib/libfoil.so.${version%%.*} usr/lib/libfoil.so \
         usr/lib/libfoil.a usr/lib/libfoil_onnx.a usr/lib/pkgconfig/foil.pc usr/include/foil/model.h \
         usr/include/foil/version.h; do
  [ -e "$root/$f" ] || fail "/$f is not in the package"
done
if [ -f "$build/man/foil.1" ]; then
  [ -f "$root/usr/share/man/man1/foil-attack.1" ] || fail "the build's man pages are not in the package"
fi
[ "$failures" != 0 ] || echo "ok   the command, the libraries and their links, the headers, foil.pc, the man pages"

# Depends: package names, alternatives included, without versions.
depends=$(dpkg-deb -f "$deb" Depends | tr ',|' '\n\n' | sed 's/(.*//; s/ //g' | grep . | sort -u)
grep -qx libopenblas0-openmp <<<"$depends" || fail "Depends lacks libopenblas0-openmp: $(dpkg-deb -f "$deb" Depends)"
# Every library the binaries name (NEEDED; their own dependencies are their
# packages' business), as the loader finds it here, belongs to a package of
# Depends.
for bin in "$root/usr/bin/foil" "$root/usr/lib/libfoil.so.$version"; do
  found=$(ldd "$bin")
  for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    # "lib => /path (addr)", or "/path/lib (addr)" for the loader itself
    path=$(awk -v lib="$lib" '$1 == lib && $2 == "=>" && $3 ~ /^\// {print $3}
                              $1 ~ /^\// && substr($1, length($1) - length(lib)) == "/" lib {print $1}' <<<"$found")
    [ -n "$path" ] || { fail "$(basename "$bin") needs $lib, which this machine lacks"; continue; }
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1) ||
      pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1) || true
    [ -n "$pkg" ] || { fail "$path ($lib) belongs to no package"; continue; }
    grep -qx "$pkg" <<<"$depends" || fail "$(basename "$bin") loads $lib from $pkg, which Depends does not name"
  done
done
[ "$failures" != 0 ] || echo "ok   Depends names the package of every library foil and libfoil.so load: $(paste -sd' ' <<<"$depends")"

# run_foil FOIL: --version, train a breast-cancer MLP, attack it with PGD
# (writing the adversarial examples, $tmp/adv.npy).
run_foil() {
  local foil=$1 out
  out=$("$foil" --version) || { fail "$foil --version"; return; }
  [[ "$out" == "foil $version "* ]] || fail "$foil --version says: $out"
  "$foil" train --arch mlp --data breast-cancer --epochs 10 --seed 1 --quiet --output "$tmp/m.onnx" ||
    { fail "$foil train"; return; }
  out=$("$foil" attack --model "$tmp/m.onnx" --data breast-cancer --attack pgd --eps 0.1 --limit 40 --quiet \
        --out "$tmp/adv.npy" 2>&1) || { fail "$foil attack: $out"; return; }
  grep -q "^ *pgd  *0.1 " <<<"$out" && [ -s "$tmp/adv.npy" ] || { fail "$foil attack printed no pgd row: $out"; return; }
  echo "ok   $foil: --version, train, attack (pgd row: $(grep -m1 "^ *pgd " <<<"$out" | tr -s ' '))"
}
run_foil "$root/usr/bin/foil"

if [ "$install" = --install ]; then
  [ "$(id -u)" = 0 ] || { echo "FAIL: --install needs root"; exit 1; }
  if dpkg -s foil >/dev/null 2>&1; then
    echo "FAIL: a foil package is installed already; --install would replace it"
    exit 1
  fi
  apt-get install -y -q "$deb" >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get install $deb"; }
  trap 'apt-get purge -y -q foil >/dev/null 2>&1; rm -rf "$tmp"' EXIT
  run_foil /usr/bin/foil
  cc -std=c17 -Wall -Wextra -Werror "$src/examples/predict.c" -o "$tmp/predict" $(pkg-config --cflags --libs foil) ||
    fail "examples/predict.c against the installed package"
  out=$("$tmp/predict" "$tmp/m.onnx" "$tmp/adv.npy" 2>&1) || fail "examples/predict.c exited $?: $out"
  [ "$(head -1 <<<"$out")" = "libfoil $version (compiled against $version)" ] ||
    fail "examples/predict.c built against the package says: $(head -1 <<<"$out")"
  [ "$(tail -n +2 <<<"$out")" = "$(/usr/bin/foil predict --model "$tmp/m.onnx" --input "$tmp/adv.npy")" ] ||
    fail "examples/predict.c's classes differ from foil predict's"
  [ "$failures" != 0 ] || echo "ok   installed with apt-get; /usr/bin/foil runs; examples/predict.c links with pkg-config"
fi
[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
