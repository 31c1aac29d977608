#!/usr/bin/env bash
# One model attacked four ways: the ONNX file directly, as --black-box,
# behind an HTTP endpoint (tests/remote_server.c serving the same ONNX model
# through libfoil, on 127.0.0.1) and behind a --command. Square (score-based)
# and HopSkipJump (decision-based) must give byte-identical adversarial
# examples and identical robust accuracy, queries per example and model
# queries all four ways; the server must have evaluated exactly the inputs
# foil counted (plus the one example that tells the client the number of
# classes); a white-box attack on the endpoint is refused before any query.
set -u
: "${FOIL_BIN:?run through ctest}" "${FOIL_ATTACK_MODEL:?run through ctest}" "${FOIL_REMOTE_SERVER:?run through ctest}"
. "$(dirname "$0")/cli_helpers.sh"
dir=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"; }

"$FOIL_REMOTE_SERVER" --model "$FOIL_ATTACK_MODEL" --features 784 --count "$dir/served" >"$dir/port" 2>"$dir/server.err" &
server_pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
port=$(head -1 "$dir/port")
[ -n "$port" ] || { echo "FAIL: the test server did not start: $(cat "$dir/server.err")"; exit 1; }
url="http://127.0.0.1:$port/predict"
cmd="$FOIL_REMOTE_SERVER --stdin --model $FOIL_ATTACK_MODEL --features 784"

attack() { "$FOIL_BIN" attack --data fashion-mnist --limit 30 --quiet --json "$@"; }
run_four() { # NAME ARGS...: the attack through each model; JSON and examples in $dir/NAME-WAY.*
  local name=$1; shift
  attack --model "$FOIL_ATTACK_MODEL" "$@" --out "$dir/$name-direct.npy" >"$dir/$name-direct.json" 2>&1 || fail "$name direct: $(cat "$dir/$name-direct.json")"
  attack --model "$FOIL_ATTACK_MODEL" --black-box "$@" --out "$dir/$name-bb.npy" >"$dir/$name-bb.json" 2>&1 || fail "$name black box: $(cat "$dir/$name-bb.json")"
  attack --endpoint "$url" --input-shape 1,28,28 "$@" --out "$dir/$name-http.npy" >"$dir/$name-http.json" 2>&1 || fail "$name endpoint: $(cat "$dir/$name-http.json")"
  attack --command "$cmd" --input-shape 1,28,28 "$@" --out "$dir/$name-cmd.npy" >"$dir/$name-cmd.json" 2>&1 || fail "$name command: $(cat "$dir/$name-cmd.json")"
  for way in bb http cmd; do
    cmp -s "$dir/$name-direct.npy" "$dir/$name-$way.npy" && echo "ok   $name: $way examples identical to direct" ||
      fail "$name: $way adversarial examples differ from direct"
    for key in robust_accuracy mean_queries model_queries; do
      a=$(field $key "$dir/$name-direct.json"); b=$(field $key "$dir/$name-$way.json")
      [ -n "$a" ] && [ "$a" = "$b" ] || fail "$name $way: $key $b, directly $a"
    done
  done
  echo "     $name: robust $(field robust_accuracy "$dir/$name-direct.json"), queries/example $(field mean_queries "$dir/$name-direct.json"), model queries $(field model_queries "$dir/$name-direct.json")"
}
run_four square --attack square --eps 0.1 --queries 100
run_four hsj --attack hsj --norm l2 --eps 0 --queries 150 --steps 3
grep -q '"model_kind":"remote"' "$dir/square-http.json" && echo "ok   model_kind remote" || fail "model_kind: $(cat "$dir/square-http.json")"

check "pgd refused on an endpoint" 1 "pgd needs input gradients.*remote" -- \
  attack --endpoint "$url" --input-shape 1,28,28 --attack pgd --eps 0.1
check "two model sources" 2 "exactly one of --model" -- attack --model "$FOIL_ATTACK_MODEL" --endpoint "$url" --attack square --eps 0.1
check "remote option on an ONNX model" 2 "are for --endpoint or --command" -- attack --model "$FOIL_ATTACK_MODEL" --timeout 5 --attack square --eps 0.1
check "bad input shape" 2 "input-shape expects" -- attack --endpoint "$url" --input-shape 1,x --attack square --eps 0.1
check "nothing listening" 1 "127.0.0.1:9/predict" -- attack --endpoint http://127.0.0.1:9/predict --input-shape 1,28,28 --retries 0 --attack square --eps 0.1

# eval and predict take the same model sources: the same accuracy and
# calibration through the endpoint (NPY bodies) as from the file (to float
# rounding: the server runs the last 16 of 10,000 examples as a batch of
# 16, foil pads them to its chunk of 256, and GEMM rounds by shape).
"$FOIL_BIN" eval --model "$FOIL_ATTACK_MODEL" --data fashion-mnist --json >"$dir/eval-file.json" 2>&1 || fail "eval: $(cat "$dir/eval-file.json")"
"$FOIL_BIN" eval --endpoint "$url" --remote-format npy --data fashion-mnist --json >"$dir/eval-http.json" 2>&1 || fail "eval endpoint: $(cat "$dir/eval-http.json")"
for key in accuracy ece mean_confidence; do
  a=$(field $key "$dir/eval-file.json"); b=$(field $key "$dir/eval-http.json")
  [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }' &&
    echo "ok   eval $key $a from the file, $b from the endpoint" || fail "eval $key: file $a, endpoint $b"
done
check "predict usage names the sources" 2 "exactly one of --model" -- "$FOIL_BIN" predict --input /dev/null
eval_examples=$(field examples "$dir/eval-file.json")

# The server evaluated what foil counted for the endpoint runs, plus one
# example per run to learn the number of classes.
kill "$server_pid"; wait "$server_pid" 2>/dev/null; server_pid=
served=$(sed -n 's/.*examples \([0-9]*\).*/\1/p' "$dir/served")
counted=$(( $(field model_queries "$dir/square-http.json") + $(field model_queries "$dir/hsj-http.json") + 2 + eval_examples ))
[ "$served" = "$counted" ] && echo "ok   the server evaluated $served inputs, as counted" ||
  fail "the server evaluated $served inputs, foil counted $counted"
exit $((failures > 0))
