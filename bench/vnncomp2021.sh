#!/usr/bin/env bash
# foil verify --vnnlib on the VNN-COMP 2021 instances of
# ../shared/data/onnx_vnncomp2021/instances.csv (mnistfc, verivital,
# oval21, cifar10_resnet): per instance a line in the results file, per
# benchmark a table row (verified, falsified, unknown, errors, seconds);
# every "falsified" counterexample is checked again without foil
# (bench/vnncomp_check_ce.py: onnxruntime and its own VNN-LIB reader).
#
#   bench/vnncomp2021.sh [--benchmark NAME[,NAME]] [--timeout-scale F] [--timeout S]
#                        [--limit N] [--results FILE] [--foil BIN] [--python PY]
#
# Timeouts are the competition's (120 s mnistfc, 300/420 s verivital,
# 720 s oval21, 300 s cifar10_resnet) times --timeout-scale, or --timeout S
# for all. The whole list at full timeouts takes hours: run it in the
# background (nohup ... &).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=${FOIL_SHARED_DATA:-$here/../shared/data}/onnx_vnncomp2021
foil=$here/build/foil python=/work/venv/bin/python3
benchmarks="" scale=1 fixed="" limit=0 results=vnncomp2021-results.txt
while (($#)); do
  case $1 in
    --benchmark) benchmarks=$2; shift 2 ;;
    --timeout-scale) scale=$2; shift 2 ;;
    --timeout) fixed=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --foil) foil=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "vnncomp2021.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$data/instances.csv" ] || { echo "vnncomp2021.sh: $data/instances.csv is missing" >&2; exit 77; }
[ -x "$foil" ] || { echo "vnncomp2021.sh: $foil is not built" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$results"
declare -A ver fal unk err secs
n=0
while IFS=, read -r bench net prop tmo; do
  [ "$bench" = benchmark ] && continue
  if [ -n "$benchmarks" ] && [[ ",$benchmarks," != *",$bench,"* ]]; then continue; fi
  ((limit > 0 && n >= limit)) && break
  n=$((n + 1))
  t=${fixed:-$(awk -v a="$tmo" -v b="$scale" 'BEGIN{printf "%g", a*b}')}
  start=$(date +%s.%N)
  out=$("$foil" verify --model "$data/$net" --vnnlib "$data/$prop" --timeout "$t" --json --quiet \
          --output "$work/result.txt" --counterexample "$work/ce.npy" 2>"$work/err")
  rc=$?
  el=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
  answer=error note=""
  if ((rc == 0)); then
    answer=$(sed -E 's/.*"result":"([a-z]+)".*/\1/' <<<"$out")
    if [ "$answer" = falsified ]; then
      note=$("$python" "$here/bench/vnncomp_check_ce.py" "$data/$net" "$data/$prop" "$work/ce.npy" 2>&1 | tail -1)
      [[ $note == ok* ]] || answer=error
    elif [ "$answer" = unknown ]; then
      note=$(sed -E 's/.*"why":"([^"]*)".*/\1/' <<<"$out")
    fi
  else
    note=$(tail -1 "$work/err")
  fi
  rm -f "$work/ce.npy"
  case $answer in
    verified) ver[$bench]=$((${ver[$bench]:-0} + 1)) ;;
    falsified) fal[$bench]=$((${fal[$bench]:-0} + 1)) ;;
    unknown) unk[$bench]=$((${unk[$bench]:-0} + 1)) ;;
    *) err[$bench]=$((${err[$bench]:-0} + 1)) ;;
  esac
  secs[$bench]=$(awk -v a="${secs[$bench]:-0}" -v b="$el" 'BEGIN{printf "%.2f", a+b}')
  printf '%s\t%s\t%s\t%s\t%ss\t%s\n' "$bench" "$net" "$prop" "$answer" "$el" "$note" >>"$results"
done <"$data/instances.csv"
printf '%-16s %9s %9s %8s %7s %9s\n' benchmark verified falsified unknown errors seconds
tv=0 tf=0 tu=0 te=0
for b in mnistfc verivital oval21 cifar10_resnet; do
  [ -n "${secs[$b]:-}" ] || continue
  printf '%-16s %9d %9d %8d %7d %9.1f\n' "$b" "${ver[$b]:-0}" "${fal[$b]:-0}" "${unk[$b]:-0}" "${err[$b]:-0}" "${secs[$b]}"
  tv=$((tv + ${ver[$b]:-0})) tf=$((tf + ${fal[$b]:-0})) tu=$((tu + ${unk[$b]:-0})) te=$((te + ${err[$b]:-0}))
done
printf '%-16s %9d %9d %8d %7d   (solved %d of %d; per instance: %s)\n' total $tv $tf $tu $te $((tv + tf)) $n "$results"
