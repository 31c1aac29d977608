#!/usr/bin/env bash
# The per-benchmark table of one or more results files of
# bench/vnncomp2021.sh (lines: benchmark, network, property, result,
# seconds, note; tab-separated), e.g. the shards of one run:
#
#   bench/vnncomp2021_table.sh r0.txt r1.txt
set -euo pipefail
(($#)) || { sed -n '2,7p' "$0"; exit 2; }
awk -F'\t' '
  { n[$1]++; t = $5; sub(/s$/, "", t); secs[$1] += t
    if ($4 == "verified") v[$1]++; else if ($4 == "falsified") f[$1]++
    else if ($4 == "unknown") u[$1]++; else e[$1]++ }
  END {
    printf "%-16s %9s %9s %8s %7s %9s\n", "benchmark", "verified", "falsified", "unknown", "errors", "seconds"
    split("mnistfc verivital oval21 cifar10_resnet", order, " ")
    for (i = 1; i <= 4; i++) {
      b = order[i]; if (!(b in n)) continue
      printf "%-16s %9d %9d %8d %7d %9.1f\n", b, v[b], f[b], u[b], e[b], secs[b]
      tv += v[b]; tf += f[b]; tu += u[b]; te += e[b]; tn += n[b]
    }
    printf "%-16s %9d %9d %8d %7d   (solved %d of %d run)\n", "total", tv, tf, tu, te, tv + tf, tn
  }' "$@"
