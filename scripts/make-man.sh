#!/usr/bin/env bash
# Man pages from foil's own --help, by help2man: foil.1, and foil-COMMAND.1
# for every command `foil --help` lists (its one-line description as the
# page's NAME).   scripts/make-man.sh FOIL OUTDIR
# The build runs it (CMakeLists.txt, target man) where help2man is installed.
set -euo pipefail
foil=${1:?usage: scripts/make-man.sh FOIL OUTDIR}
out=${2:?usage: scripts/make-man.sh FOIL OUTDIR}
mkdir -p "$out"
rm -f "$out"/foil*.1
version=$("$foil" --version | awk '{print $2}')
page() { # NAME DESCRIPTION COMMAND...
  local name=$1 what=$2
  shift 2
  help2man --no-info --no-discard-stderr --version-string "$version" --name "$what" --output "$out/$name.1" "$*"
}
page foil "attack, harden and audit machine-learning models given as ONNX" "$foil"
# The command list: the lines after "commands:" up to the first empty one.
"$foil" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\)  *\(.*\)$/\1\t\2/p' |
  while IFS=$'\t' read -r cmd what; do
    page "foil-$cmd" "$what" "$foil" "$cmd"
  done
