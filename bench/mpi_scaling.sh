#!/usr/bin/env bash
# MPI scaling of foil certify and foil attack: wall time of the same run as
# 1 rank x 1 thread, 2 ranks x 1 thread and (for comparison) 1 rank x 2
# threads; median of --repeats runs each, and the speed-ups over 1 x 1.
# Also checks that every configuration prints the same results.
#
#   bench/mpi_scaling.sh MODEL.onnx [--foil BIN] [--limit N] [--n N] [--repeats R]
#
# MODEL: a Fashion-MNIST classifier (certify's --sigma 0.25; a noise-trained
# one is the realistic case, any works for timing). Runs mpirun as root
# where it must (OMPI_ALLOW_RUN_AS_ROOT).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
model=${1:?usage: bench/mpi_scaling.sh MODEL.onnx [--foil BIN] [--limit N] [--n N] [--repeats R]}
shift
foil=$here/build/foil limit=40 n=10000 repeats=3
while (($#)); do
  case $1 in
    --foil) foil=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --n) n=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    *) echo "mpi_scaling.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v mpirun >/dev/null || { echo "mpi_scaling.sh: mpirun is not installed" >&2; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A cmd
cmd[certify]="certify --model $model --data fashion-mnist --sigma 0.25 --n0 100 --n $n --limit $limit --json --quiet"
cmd[attack]="attack --model $model --data fashion-mnist --attack pgd --eps 0.1 --limit $((limit * 25)) --json --quiet"
# one run: wall seconds on stdout, the JSON (less its timings) in $tmp/$name.$config
run() {
  local name=$1 ranks=$2 threads=$3 start end
  start=$(date +%s.%N)
  if ((ranks == 1)); then
    OMP_NUM_THREADS=$threads "$foil" ${cmd[$name]} --threads "$threads" >"$tmp/out"
  else
    mpirun --oversubscribe -np "$ranks" -x OMP_NUM_THREADS="$threads" "$foil" ${cmd[$name]} --threads "$threads" >"$tmp/out"
  fi
  end=$(date +%s.%N)
  tail -1 "$tmp/out" | sed -E 's/"[a-z_]*(seconds|second|time)":[0-9.e+-]+//g' >"$tmp/$name.$ranks.$threads"
  awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}'
}
median() { tr ' ' '\n' | sort -g | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
printf '# %s, %s; median of %d runs\n' "$(lscpu | sed -n 's/^Model name: *//p')" "$(nproc) cores" "$repeats"
printf '%-8s %-16s %10s %8s  %s\n' command "ranks x threads" seconds speedup "same results as 1 x 1"
for name in certify attack; do
  base=""
  for config in "1 1" "2 1" "1 2"; do
    set -- $config
    times=""
    for ((i = 0; i < repeats; i++)); do times="$times $(run "$name" "$1" "$2")"; done
    med=$(echo $times | median)
    [ -n "$base" ] || base=$med
    same=-  # other thread counts may round differently
    if (($2 == 1)); then same=yes; cmp -s "$tmp/$name.1.1" "$tmp/$name.$1.$2" || same=NO; fi
    printf '%-8s %-16s %10.2f %7.2fx  %s\n' "$name" "$1 x $2" "$med" "$(awk -v a="$base" -v b="$med" 'BEGIN{print a/b}')" "$same"
  done
done
