#!/usr/bin/env bash
# foil verify --vnnlib on the VNN-COMP 2021 instances of
# ../shared/data/onnx_vnncomp2021/instances.csv (mnistfc, verivital,
# oval21, cifar10_resnet): per instance a line in the results file, per
# benchmark a table row (verified, falsified, unknown, errors, seconds);
# every "falsified" counterexample is checked again without foil
# (bench/vnncomp_check_ce.py: onnxruntime and its own VNN-LIB reader).
#
#   bench/vnncomp2021.sh [--benchmark NAME[,NAME]] [--timeout-scale F] [--timeout S]
#                        [--limit N] [--shard K/N] [--results FILE] [--foil BIN] [--python PY]
#
# --shard K/N runs every N-th selected instance from the K-th (0-based), so
# that N copies (OMP_NUM_THREADS=1 each, one per core) share the list;
# bench/vnncomp2021_table.sh sums their results files into one table.
#
# Timeouts are the competition's (120 s mnistfc, 300/420 s verivital,
# 720 s oval21, 300 s cifar10_resnet) times --timeout-scale, or --timeout S
# for all. The whole list at full timeouts takes hours: run it in the
# background (nohup ... &).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=${FOIL_SHARED_DATA:-$here/../shared/data}/onnx_vnncomp2021
foil=$here/build/foil python=/work/venv/bin/python3
benchmarks="" scale=1 fixed="" limit=0 results=vnncomp2021-results.txt shard_k=0 shard_n=1
while (($#)); do
  case $1 in
    --benchmark) benchmarks=$2; shift 2 ;;
    --timeout-scale) scale=$2; shift 2 ;;
    --timeout) fixed=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --shard) shard_k=${2%/*} shard_n=${2#*/}; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --foil) foil=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "vnncomp2021.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$data/instances.csv" ] || { echo "vnncomp2021.sh: $data/instances.csv is missing" >&2; exit 77; }
[ -x "$foil" ] || { echo "vnncomp2021.sh: $foil is not built" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$results"
n=0
while IFS=, read -r bench net prop tmo; do
  [ "$bench" = benchmark ] && continue
  if [ -n "$benchmarks" ] && [[ ",$benchmarks," != *",$bench,"* ]]; then continue; fi
  ((limit > 0 && n >= limit)) && break
  n=$((n + 1))
  (((n - 1) % shard_n == shard_k)) || continue
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
  printf '%s\t%s\t%s\t%s\t%ss\t%s\n' "$bench" "$net" "$prop" "$answer" "$el" "$note" >>"$results"
done <"$data/instances.csv"
echo "per instance: $results"
"$here/bench/vnncomp2021_table.sh" "$results"
