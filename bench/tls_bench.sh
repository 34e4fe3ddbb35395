#!/usr/bin/env bash
# TLS against plaintext (issue 18): one `sluice serve` with a PLAINTEXT and an
# SSL listener (certificates made here with the openssl CLI), and the same
# `sluice bench` workloads over each: produce 1 KiB acks=1, consume 1 KiB from
# the beginning (the Fetch path: sendfile in plaintext, SSL_sendfile with kTLS,
# else pread + user-space encryption), e2e 1 KiB at 20,000 msg/s.
# Prints a markdown table; the figures are recorded in bench/RESULTS.md.
#
#   bench/tls_bench.sh [--build DIR] [--seconds N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=build
seconds=10
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
sluice="$root/$build/sluice"
work=$(mktemp -d)
broker_pid=""
cleanup() {
  [[ -n "$broker_pid" ]] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/ca.key" -out "$work/ca.pem" -days 2 -subj "/CN=bench-ca" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$work/server.key" -out "$work/server.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost' > "$work/san.cnf"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -out "$work/server.crt" -days 2 -extfile "$work/san.cnf" 2>/dev/null
cat "$work/server.key" "$work/server.crt" > "$work/keystore.pem"

plain=$(free_port)
tls=$(free_port)
"$sluice" serve --set "listeners=PLAINTEXT://127.0.0.1:$plain,SSL://127.0.0.1:$tls" \
  --set "log.dirs=$work/data" --set "admin.listener=" \
  --set "ssl.keystore.type=PEM" --set "ssl.keystore.location=$work/keystore.pem" >"$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do grep -q "started in" "$work/broker.log" && break; sleep 0.1; done

ktls=no
if grep -qw tls /proc/modules 2>/dev/null; then ktls=yes; fi
echo "kernel tls module loaded: $ktls (without it Fetch over TLS reads with pread and encrypts in user space)"
echo
echo "| workload | listener | records/s | MB/s | p50 ms | p99 ms | p99.9 ms |"
echo "|---|---|---:|---:|---:|---:|---:|"
run() {  # name listener-args... -- bench-args...
  local name=$1 label=$2; shift 2
  local json
  json=$("$sluice" bench "$@" --json --no-progress 2>/dev/null | tail -1)
  python3 - "$name" "$label" "$json" <<'PY'
import json, sys
name, label, text = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.loads(text)
def f(key):
    v = r.get(key)
    return "—" if v is None else f"{v:,.2f}"
print(f"| {name} | {label} | {r.get('records_per_sec', 0):,.0f} | {r.get('mb_per_sec', 0):,.1f} | "
      f"{f('p50_ms')} | {f('p99_ms')} | {f('p999_ms')} |")
PY
}
ssl=(-X security.protocol=ssl -X "ssl.ca.location=$work/ca.pem")
for listener in plain tls; do
  if [[ $listener == plain ]]; then args=(-b "127.0.0.1:$plain"); label=PLAINTEXT; else args=(-b "127.0.0.1:$tls" "${ssl[@]}"); label=SSL; fi
  run "produce 1 KiB, acks=1" "$label" produce "${args[@]}" --topic "p-$listener" --duration "$seconds" --size 1024 --acks 1
  run "consume 1 KiB from the beginning" "$label" consume "${args[@]}" --topic "p-$listener" --size 1024 --idle-timeout 3
  run "e2e 1 KiB at 20,000 msg/s" "$label" e2e "${args[@]}" --topic "e2e-$listener" --duration "$seconds" --size 1024 --rate 20000 --acks 1
done
