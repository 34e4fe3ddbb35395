#!/usr/bin/env bash
# Records whole client sessions against a real `sluice serve` into
# tests/fuzz/corpus/live/ (the seeds of tests/fuzz/live_broker_fuzz.py and of
# the fuzz_request libFuzzer target): record_proxy.py sits between each
# client and the broker, which advertises the proxy's address so that every
# connection goes through it. Clients: kcat (produce, a balanced consumer
# group, metadata), the sluice CLI (librdkafka admin calls), confluent-kafka
# and kafka-python (sessions_python.py), kafkajs (sessions_kafkajs.js).
#
# Usage: tools/capture/capture_sessions.sh [path/to/sluice]
# CAPTURE_OUT=dir records elsewhere. About 40 s.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
sluice=$(realpath "${1:-$repo/build/sluice}")
out=${CAPTURE_OUT:-$repo/tests/fuzz/corpus/live}
python=${PYTHON:-/usr/bin/python3}

free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

broker_port=$(free_port)
proxy_port=$(free_port)
bootstrap=127.0.0.1:$proxy_port
mkdir -p "$out"
rm -f "$out"/*.bin

"$sluice" serve --set "listeners=PLAINTEXT://127.0.0.1:$broker_port" \
  --set "advertised.listeners=PLAINTEXT://127.0.0.1:$proxy_port" \
  --set "log.dirs=$work/data" --set admin.listener= >"$work/broker.log" 2>&1 &
pids+=($!)
"$python" "$here/record_proxy.py" --listen-port "$proxy_port" --upstream "127.0.0.1:$broker_port" --out "$out" &
pids+=($!)
for _ in $(seq 100); do
  "$python" -c "import socket; socket.create_connection(('127.0.0.1', $proxy_port), 1)" 2>/dev/null && break
  sleep 0.1
done

run() { echo "capture: $*"; timeout 60 "$@" || echo "capture: '$1' exited with $?"; }

run "$sluice" topic create fz-cli -p 3 --config cleanup.policy=delete -b "$bootstrap"
run "$sluice" topic alter fz-cli --config retention.ms=100000 -b "$bootstrap"
run "$sluice" topic add-partitions fz-cli 1 -b "$bootstrap"
run "$sluice" config set --broker 1 --config log.retention.ms=3600000 -b "$bootstrap"
seq 1 50 | run "$sluice" produce fz-cli --compression zstd -b "$bootstrap"
run "$sluice" consume fz-cli -g fz-cli-group -n 50 -X auto.offset.reset=earliest -b "$bootstrap"
run "$sluice" group describe fz-cli-group -b "$bootstrap"
run "$sluice" group reset-offsets fz-cli-group --topic fz-cli --to-offset 3 -b "$bootstrap"
run "$sluice" records delete fz-cli:0:2 -b "$bootstrap"
run "$sluice" topic describe fz-cli -b "$bootstrap"
run "$sluice" cluster info -b "$bootstrap"
seq 1 20 | sed 's/^/k:/' | run kcat -P -b "$bootstrap" -t fz-kcat -K : -z snappy -X client.id=kcat
run kcat -b "$bootstrap" -G fz-kcat-group -X client.id=kcat -X auto.offset.reset=earliest -c 20 -e fz-kcat
run kcat -b "$bootstrap" -L -X client.id=kcat
run "$python" "$here/sessions_python.py" "$bootstrap"
run node "$here/sessions_kafkajs.js" "$bootstrap"
run "$sluice" group delete fz-cli-group -b "$bootstrap"
run "$sluice" topic delete fz-cli -b "$bootstrap"

echo "capture: $(ls "$out" | wc -l) frames in $out"
