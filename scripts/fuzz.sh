#!/usr/bin/env bash
# Fuzz foil's parsers of untrusted files with libFuzzer, ASan and UBSan:
# builds tests/fuzz with clang into build-fuzz, runs each target for SECONDS
# (default 60) from its seed corpus (tests/fuzz/corpus/NAME, read only; what
# a run discovers stays in build-fuzz/corpus/NAME for the next run), and
# fails on any finding (crash, leak, undefined behaviour, timeout, runaway
# memory), printing the reproducer and the command that replays it.
#
#   scripts/fuzz.sh            every target, 60 s each (CI)
#   scripts/fuzz.sh 600 onnx   one target, ten minutes
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true

# Each target with the largest input worth mutating: ONNX models and NPY
# files need room for a header and a few tensors, the text formats less.
declare -A max_len=([onnx]=4096 [npy]=1024 [idx]=512 [csv]=1024 [constraints]=512 [vnnlib]=2048 [pgm]=1024 [manifest]=2048
                  [tokenizer]=2048)
targets=("$@")
((${#targets[@]})) || targets=(onnx npy idx csv constraints vnnlib pgm manifest tokenizer)

scripts/install-deps.sh --fuzz
CC=clang-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DFOIL_FUZZ=ON -DFOIL_NATIVE=OFF -DFOIL_BUILD_TESTS=OFF \
  >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

export OMP_NUM_THREADS=1
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
for t in "${targets[@]}"; do
  [[ -n "${max_len[$t]:-}" ]] || { echo "fuzz.sh: unknown target '$t'" >&2; exit 2; }
  work=build-fuzz/corpus/$t findings=build-fuzz/findings/$t log=build-fuzz/fuzz-$t.log
  mkdir -p "$work" "$findings"
  rm -f "$findings"/*
  echo "fuzz_$t: ${seconds}s"
  if build-fuzz/tests/fuzz/fuzz_$t -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" "$work" "tests/fuzz/corpus/$t" \
       >"$log" 2>&1; then
    # the last status line holds the coverage reached: "#RUNS ... cov: N ft: N corp: N/Nb ..."
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 || true)
    rate=$(grep -oE 'average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
    echo "  ok: $cov, $rate exec/s"
  else
    failed+=("$t")
    echo "  FINDING in fuzz_$t (log: $log):"
    grep -E 'ERROR:|SUMMARY:|runtime error|^    #[0-9]' "$log" | head -25 | sed 's/^/    /'
    for f in "$findings"/*; do
      [[ -f "$f" ]] || continue
      echo "  reproducer $f ($(stat -c %s "$f") bytes), replay: build-fuzz/tests/fuzz/fuzz_$t $f"
      od -A d -t x1 -v "$f" | head -8 | sed 's/^/    /'
    done
  fi
done
if ((${#failed[@]})); then
  echo "fuzz.sh: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: no findings (${#targets[@]} targets, ${seconds}s each)"
