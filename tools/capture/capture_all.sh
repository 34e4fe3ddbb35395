#!/usr/bin/env bash
# Regenerates tests/fixtures/clients/*.bin: runs each real client (kcat,
# kafka-python, kafkajs) once per compression codec against fake_broker.py,
# which records every request frame, then writes manifest.json and checks
# every fixture with verify_fixtures.py.
#
# Needs: kcat, /usr/bin/python3 with python3-kafka (plus python3-snappy,
# python3-lz4, python3-zstandard for those codecs; missing ones are skipped
# and listed in manifest.json), node with tests/clients/js installed
# (scripts/install-deps runs npm ci there).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${CAPTURE_OUT:-$repo/tests/fixtures/clients}
python=${PYTHON:-/usr/bin/python3}
codecs=(none gzip snappy lz4 zstd)

work=$(mktemp -d)
broker_pid=
cleanup() {
  if [[ -n "$broker_pid" ]]; then kill "$broker_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$out"
rm -f "$out"/*.bin
: >"$work/skipped.tsv"

skip() {  # client codec reason
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$work/skipped.tsv"
  echo "capture: skip $1 $2: $3"
}

# run_capture CLIENT COMMAND...: starts a fake broker for CLIENT and runs
# COMMAND with every "@BOOTSTRAP@" replaced by the broker's host:port.
run_capture() {
  local client=$1; shift
  local port_file=$work/port
  rm -f "$port_file"
  "$python" "$here/fake_broker.py" --client "$client" --out "$out" \
    --port-file "$port_file" --max-seconds 60 2>>"$work/broker.log" &
  broker_pid=$!
  for _ in $(seq 100); do [[ -s "$port_file" ]] && break; sleep 0.05; done
  local bootstrap=127.0.0.1:$(cat "$port_file")
  local args=()
  for a in "$@"; do args+=("${a//@BOOTSTRAP@/$bootstrap}"); done
  local rc=0
  timeout 30 "${args[@]}" || rc=$?
  kill "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=
  return $rc
}

# kcat: headers are per run (-H), keys and values come from stdin as key:value
# lines; librdkafka sets timestamps itself.
kcat_input=$work/kcat-input.txt
kcat_headers=()
"$python" - "$here/golden_messages.json" "$kcat_input" >"$work/kcat-headers" <<'PY'
import json, sys
golden = json.load(open(sys.argv[1]))
headers = [r["headers"] for r in golden["records"]]
assert all(h == headers[0] for h in headers), "kcat sets the same headers on every record"
with open(sys.argv[2], "w") as f:
    for r in golden["records"]:
        f.write("%s:%s\n" % (r["key"], r["value"]))
for h in headers[0]:
    print("%s=%s" % (h["key"], h["value"]))
PY
while read -r h; do kcat_headers+=(-H "$h"); done <"$work/kcat-headers"
for codec in "${codecs[@]}"; do
  run_capture kcat sh -c 'exec kcat "$@" <"$0"' "$kcat_input" \
    -P -b @BOOTSTRAP@ -t golden -p 0 -K : -z "$codec" "${kcat_headers[@]}" \
    -X client.id=kcat -X linger.ms=100
done

# kafka-python: each codec needs its python module.
declare -A py_module=([none]=gzip [gzip]=gzip [snappy]=snappy [lz4]=lz4.frame [zstd]=zstandard)
for codec in "${codecs[@]}"; do
  if ! "$python" -c "import ${py_module[$codec]}" 2>/dev/null; then
    skip kafka-python "$codec" "python module ${py_module[$codec]} not installed"
    continue
  fi
  run_capture kafka-python "$python" "$here/produce_kafka_python.py" \
    --bootstrap @BOOTSTRAP@ --codec "$codec"
done

# kafkajs: gzip is built in, snappy/lz4 come from pure-JS packages; no
# pure-JS zstd codec exists for kafkajs (@kafkajs/zstd is a native addon).
if [[ ! -d "$repo/tests/clients/js/node_modules/kafkajs" ]]; then
  (cd "$repo/tests/clients/js" && npm ci --no-audit --no-fund)
fi
for codec in none gzip snappy lz4; do
  run_capture kafkajs node "$here/produce_kafkajs.js" @BOOTSTRAP@ "$codec"
done
skip kafkajs zstd "no pure-JS zstd codec for kafkajs; @kafkajs/zstd needs a native addon"

"$python" "$here/write_manifest.py" --fixtures "$out" --skipped "$work/skipped.tsv"
"$python" "$here/verify_fixtures.py" "$out"
