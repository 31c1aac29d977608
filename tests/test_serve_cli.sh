#!/usr/bin/env bash
# foil serve end to end (docs/serve-api.md), on 127.0.0.1 and a free port:
# predictions in JSON and NPY agree with foil predict on the same inputs;
# foil attack --endpoint gives what the ONNX file gives; refusals are clean
# 4xx JSON answers (401, 400, 413, 429, 404, 405) and the server stays up;
# partial headers held open (slowloris) do not block other clients and are
# closed at the timeout; /v1/metrics is Prometheus text; after kill -9 in
# the middle of a load, the audit log holds a 200 row for every answer a
# client got, and at most one more per client that was mid-request.
set -u
: "${FOIL_BIN:?run through ctest}" "${FOIL_ATTACK_MODEL:?run through ctest}"
. "$(dirname "$0")/cli_helpers.sh"
need_fashion_mnist
"$FOIL_BIN" serve --help >/dev/null 2>&1 && ! "$FOIL_BIN" serve --model x --no-auth 2>&1 | grep -q "built without" ||
  { echo "SKIP: foil was built without foil serve"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
M=$FOIL_ATTACK_MODEL

start_server() { # NAME OPTIONS...: $port, $url, $server_pid
  local name=$1; shift
  "$FOIL_BIN" serve --model "$M" --port 0 "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
  server_pid=$!; pids+=("$server_pid")
  for _ in $(seq 300); do [ -s "$dir/$name.out" ] && break; sleep 0.1; done
  port=$(sed -n 's/.*:\([0-9]*\)\/v1\/predict$/\1/p' "$dir/$name.out")
  [ -n "$port" ] || { echo "FAIL: the server did not start: $(cat "$dir/$name.err")"; exit 1; }
  url="http://127.0.0.1:$port/v1/predict"
}
# status KEY DATA-FILE [CONTENT-TYPE]: the HTTP status of a predict request; body in $dir/body
status() {
  local auth=(); [ -n "$1" ] && auth=(-H "Authorization: Bearer $1")
  curl -s -o "$dir/body" -w '%{http_code}' --max-time 20 "${auth[@]}" -H "Content-Type: ${3:-application/json}" \
    --data-binary "@$2" "$url"
}
expect() { # NAME WANT GOT [BODY-PATTERN]
  if [ "$3" != "$2" ]; then fail "$1: HTTP $3, expected $2: $(head -c 300 "$dir/body")"; return; fi
  if [ -n "${4:-}" ] && ! grep -qE -- "$4" "$dir/body"; then fail "$1: body lacks /$4/: $(head -c 300 "$dir/body")"; return; fi
  echo "ok   $1"
}

# keys: alice (no limits), bob (a budget of 3 examples), carol (1 request/s)
for k in alice bob carol; do "$FOIL_BIN" serve --keys "$dir/keys" --add-key $k >"$dir/$k.key" 2>/dev/null || fail "add-key $k"; done
check "add-key twice" 2 "exists already" -- "$FOIL_BIN" serve --keys "$dir/keys" --add-key alice
grep -q "$(cat "$dir/alice.key")" "$dir/keys" && fail "the keys file holds a key in clear" || echo "ok   keys file holds hashes only"
sed -i -e 's/^\(bob .*\)$/\1 budget=3/' -e 's/^\(carol .*\)$/\1 requests-per-s=1/' "$dir/keys"
alice=$(cat "$dir/alice.key") bob=$(cat "$dir/bob.key") carol=$(cat "$dir/carol.key")
check "no keys, no --no-auth" 2 "give API keys" -- "$FOIL_BIN" serve --model "$M" --port 0

start_server main --keys "$dir/keys" --audit "$dir/audit.db" --max-body 200000 --max-examples 16 --timeout 2
main_pid=$server_pid

# ---- predictions agree with foil predict ----
"$FOIL_BIN" attack --model "$M" --data fashion-mnist --limit 6 --attack fgsm --eps 0.05 --out "$dir/x.npy" --quiet >/dev/null 2>&1 ||
  fail "making inputs"
"$FOIL_BIN" predict --model "$M" --input "$dir/x.npy" --json >"$dir/direct.json" 2>&1 || fail "predict: $(cat "$dir/direct.json")"
FOIL_API_KEY=$alice "$FOIL_BIN" predict --endpoint "$url" --input "$dir/x.npy" --json >"$dir/json.json" 2>&1
cmp -s "$dir/direct.json" "$dir/json.json" && echo "ok   JSON predictions = foil predict" || fail "JSON: $(cat "$dir/json.json") vs $(cat "$dir/direct.json")"
printf '%s\n' "$bob" >"$dir/bob-keyfile"
FOIL_API_KEY_FILE=$dir/bob-keyfile "$FOIL_BIN" predict --endpoint "$url" --remote-format npy --input "$dir/x.npy" --json >"$dir/npy.json" 2>&1
grep -q "HTTP status 429" "$dir/npy.json" && echo "ok   bob's budget of 3 refuses 6 examples (429)" || fail "budget: $(cat "$dir/npy.json")"
FOIL_API_KEY=$alice "$FOIL_BIN" predict --endpoint "$url" --remote-format npy --input "$dir/x.npy" --json >"$dir/npy.json" 2>&1
cmp -s "$dir/direct.json" "$dir/npy.json" && echo "ok   NPY predictions = foil predict" || fail "NPY: $(cat "$dir/npy.json")"
FOIL_API_KEY=$alice "$FOIL_BIN" predict --endpoint "$url" --remote-format npy --input "$dir/x.npy" --output "$dir/served.npy" >/dev/null 2>&1
"$FOIL_BIN" predict --model "$M" --input "$dir/x.npy" --output "$dir/direct.npy" 2>/dev/null
[ "$(stat -c %s "$dir/served.npy")" = "$(stat -c %s "$dir/direct.npy")" ] && echo "ok   NPY logits have foil predict's shape" || fail "NPY logits' size"

# ---- foil attack --endpoint ----
attack() { "$FOIL_BIN" attack --data fashion-mnist --limit 10 --quiet --json --attack square --eps 0.1 --queries 50 "$@"; }
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"; }
attack --model "$M" >"$dir/a-direct.json" 2>&1
FOIL_API_KEY=$alice attack --endpoint "$url" --input-shape 1,28,28 >"$dir/a-http.json" 2>&1
for key in robust_accuracy mean_queries; do
  a=$(field $key "$dir/a-direct.json"); b=$(field $key "$dir/a-http.json")
  [ -n "$a" ] && [ "$a" = "$b" ] && echo "ok   attack --endpoint: $key $b as direct" || fail "attack --endpoint: $key $b, directly $a: $(head -c 300 "$dir/a-http.json")"
done

# ---- refusals ----
awk 'BEGIN { printf "{\"shape\":[1,1,28,28],\"inputs\":["; for (i = 0; i < 784; i++) printf "%s0.5", i ? "," : ""; printf "]}" }' >"$dir/one.json"
printf '{"shape": [1, 1, 28' >"$dir/broken.json"
printf '{"shape": [1, 3], "inputs": [1, 2, 3]}' >"$dir/shape.json"
printf '{"shape": [17, 1, 1, 1], "inputs": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]}' >"$dir/many.json"
awk 'BEGIN { printf "{\"shape\":[4,1,28,28],\"inputs\":["; for (i = 0; i < 4 * 784; i++) printf "%s0.25", i ? "," : ""; printf "]}" }' >"$dir/four.json"
sed 's/0\.5\]}/"x"]}/' "$dir/one.json" >"$dir/nan.json"
{ npy_header '<f4' '1, 784,'; head -c 100 /dev/zero; } >"$dir/short.npy"
{ npy_header '<f8' '1, 784,'; head -c 6272 /dev/zero; } >"$dir/f64.npy"
head -c 300000 /dev/zero | tr '\0' ' ' >"$dir/big.json"
expect "one example" 200 "$(status "$alice" "$dir/one.json")" '"outputs":\[\[.*"request_id":[0-9]+'
expect "no key: 401" 401 "$(status "" "$dir/one.json")" "API key is required"
expect "bad key: 401" 401 "$(status "foil_not-a-key" "$dir/one.json")" "not valid"
expect "malformed JSON: 400" 400 "$(status "$alice" "$dir/broken.json")" "not a JSON object"
expect "wrong shape: 400" 400 "$(status "$alice" "$dir/shape.json")" "784 values"
expect "a string among the inputs: 400" 400 "$(status "$alice" "$dir/nan.json")" "input 783 is not a number"
expect "truncated NPY: 400" 400 "$(status "$alice" "$dir/short.npy" application/x-npy)" "error"
expect "float64 NPY: 400" 400 "$(status "$alice" "$dir/f64.npy" application/x-npy)" "float32"
expect "oversized body: 413" 413 "$(status "$alice" "$dir/big.json")" "at most 200000"
expect "too many examples: 413" 413 "$(status "$alice" "$dir/many.json")" "at most 16"
expect "carol's first request" 200 "$(status "$carol" "$dir/one.json")"
expect "carol's second within 1 s: 429" 429 "$(status "$carol" "$dir/one.json")" "rate limit"
expect "bob over budget: 429" 429 "$(status "$bob" "$dir/four.json")" "budget is spent"
expect "bob within budget" 200 "$(status "$bob" "$dir/one.json")"
code=$(curl -s -o "$dir/body" -w '%{http_code}' "http://127.0.0.1:$port/v1/nothing"); expect "unknown path: 404" 404 "$code"
code=$(curl -s -o "$dir/body" -w '%{http_code}' "$url"); expect "GET predict: 405" 405 "$code"
code=$(curl -s -o "$dir/body" -w '%{http_code}' "http://127.0.0.1:$port/v1/health"); expect "health" 200 "$code" '"classes":10'

# ---- slowloris: 20 connections with partial headers, held open ----
for i in $(seq 3 22); do
  eval "exec $i<>/dev/tcp/127.0.0.1/$port" && printf 'POST /v1/predict HTTP/1.1\r\nHost: x\r\nX-Slow: ' >&"$i"
done
t0=$(date +%s.%N)
expect "a client beside 20 slowloris connections" 200 "$(status "$alice" "$dir/one.json")"
awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { exit !(t1 - t0 < 2) }' && echo "ok   ... answered at once" || fail "slowloris delayed a client"
sleep 3.5 # past --timeout 2: the server has closed them
closed=0
for i in $(seq 3 22); do timeout 2 cat <&"$i" >/dev/null 2>&1 && closed=$((closed + 1)); eval "exec $i<&-"; done
[ "$closed" = 20 ] && echo "ok   the 20 slowloris connections were closed at the timeout" || fail "slowloris: $closed of 20 closed"
kill -0 "$main_pid" 2>/dev/null && echo "ok   server up" || fail "the server died"

# ---- metrics ----
curl -s -H "Authorization: Bearer $alice" "http://127.0.0.1:$port/v1/metrics" >"$dir/metrics"
bad=$(grep -vcE '^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? [-+0-9.eInf]+)$' "$dir/metrics")
[ "$bad" = 0 ] && [ -s "$dir/metrics" ] && echo "ok   metrics parse as Prometheus text" || fail "metrics: $bad lines do not parse"
for want in 'requests_total\{key="alice",status="200"\}' 'requests_total\{key="-",status="401"\} 2' \
            'requests_total\{key="carol",status="429"\} 1' 'request_duration_seconds_bucket\{le="\+Inf"\}' \
            'batch_size_count' 'examples_total\{key="alice"\}'; do
  grep -qE "foil_serve_$want" "$dir/metrics" && echo "ok   metrics: $want" || fail "metrics lack $want"
done
code=$(curl -s -o "$dir/body" -w '%{http_code}' "http://127.0.0.1:$port/v1/metrics"); expect "metrics without a key: 401" 401 "$code"

# ---- TLS: --tls-cert/--tls-key serve HTTPS; foil's client trusts a self-signed certificate with --ca-cert ----
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$dir/tls.key" -out "$dir/tls.crt" >/dev/null 2>&1 || fail "openssl: making a certificate"
  check "--tls-cert without --tls-key" 2 "tls-key" -- "$FOIL_BIN" serve --model "$M" --no-auth --port 0 --tls-cert "$dir/tls.crt"
  check "a missing certificate file" 1 "$dir/none.crt" -- "$FOIL_BIN" serve --model "$M" --no-auth --port 0 \
    --tls-cert "$dir/none.crt" --tls-key "$dir/tls.key"
  http_url=$url
  start_server tls --keys "$dir/keys" --tls-cert "$dir/tls.crt" --tls-key "$dir/tls.key"
  tls_pid=$server_pid
  grep -q "https://127.0.0.1:$port/v1/predict" "$dir/tls.out" && echo "ok   TLS: the server says https" ||
    fail "TLS: $(cat "$dir/tls.out")"
  url="https://127.0.0.1:$port/v1/predict"
  code=$(curl -s -o "$dir/body" -w '%{http_code}' --cacert "$dir/tls.crt" "https://127.0.0.1:$port/v1/health")
  expect "TLS: health over https" 200 "$code" '"classes":10'
  code=$(curl -s -o "$dir/body" -w '%{http_code}' --cacert "$dir/tls.crt" -H "Authorization: Bearer $alice" \
    -H "Content-Type: application/json" --data-binary "@$dir/one.json" "$url")
  expect "TLS: one example over https" 200 "$code" '"outputs":\[\['
  curl -s -o /dev/null --max-time 5 "https://127.0.0.1:$port/v1/health" && fail "TLS: curl trusted an unknown CA" ||
    echo "ok   TLS: an untrusted certificate is refused by the client"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/v1/health")
  [ "$code" != 200 ] && echo "ok   TLS: plain HTTP to the HTTPS port gets no answer ($code)" || fail "TLS: plain HTTP answered"
  FOIL_API_KEY=$alice "$FOIL_BIN" predict --endpoint "$url" --ca-cert "$dir/tls.crt" --input "$dir/x.npy" --json \
    >"$dir/tls.json" 2>&1
  cmp -s "$dir/direct.json" "$dir/tls.json" && echo "ok   TLS: foil predict --endpoint https --ca-cert = foil predict" ||
    fail "TLS predict: $(cat "$dir/tls.json")"
  check "TLS: foil's client without --ca-cert refuses the certificate" 1 "certificate|SSL" -- env FOIL_API_KEY=$alice \
    "$FOIL_BIN" predict --endpoint "$url" --input "$dir/x.npy" --retries 0
  check "--ca-cert on an http endpoint" 2 "https" -- "$FOIL_BIN" predict --endpoint "$http_url" --ca-cert "$dir/tls.crt" \
    --input "$dir/x.npy"
  kill -TERM "$tls_pid"; wait "$tls_pid" 2>/dev/null
  url=$http_url
else
  echo "SKIP TLS checks: the openssl command is not installed"
fi

# ---- graceful stop: every answer above has its row ----
kill -TERM "$main_pid"; wait "$main_pid"; rc=$?
[ "$rc" = 0 ] && echo "ok   SIGTERM: exit 0" || fail "SIGTERM: exit $rc: $(tail -5 "$dir/main.err")"
if command -v sqlite3 >/dev/null; then
  rows=$(sqlite3 "$dir/audit.db" "select count(*) from requests where key='alice' and status=200 and examples>0 and length(input_sha256)=64 and argmax is not null and length(scores)=examples*40")
  [ "$rows" -ge 6 ] && echo "ok   audit: $rows complete rows for alice's answers" || fail "audit: $rows rows for alice"
  [ "$(sqlite3 "$dir/audit.db" 'pragma journal_mode')" = wal ] && echo "ok   audit log in WAL mode" || fail "not WAL"

  # ---- kill -9 mid-load: nothing acknowledged is lost ----
  start_server crash --no-auth --audit "$dir/crash.db" --max-wait 1
  for c in 1 2 3 4; do
    ( while id=$(curl -s --max-time 5 -D - -o /dev/null --data-binary "@$dir/one.json" "$url" | tr -d '\r' |
                 sed -n 's/^X-Request-Id: //ip'); [ -n "$id" ]; do echo "$id"; done >"$dir/seen.$c" ) &
  done
  sleep 2
  kill -9 "$server_pid"
  wait 2>/dev/null
  cat "$dir"/seen.* | sort -n >"$dir/seen"
  sqlite3 "$dir/crash.db" "select id from requests where status=200 order by id" >"$dir/rows"
  seen=$(wc -l <"$dir/seen") rows=$(wc -l <"$dir/rows")
  missing=$(comm -23 "$dir/seen" "$dir/rows" | wc -l)
  [ "$seen" -gt 20 ] && [ "$missing" = 0 ] && [ "$rows" -le $((seen + 4)) ] &&
    echo "ok   kill -9: every one of $seen answers has its row ($rows rows; at most 4 more, answers in flight)" ||
    fail "kill -9: $seen answers seen, $rows rows, $missing answers without a row"
else
  echo "SKIP audit checks: the sqlite3 command is not installed"
fi

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all passed"
