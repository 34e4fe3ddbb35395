#!/usr/bin/env bash
# The website activity demo in one command (`make demo` runs it): a broker,
# the topics, a Connect worker whose datagen sources write page views to
# `clicks` and users to `users`, and the clickstream Streams application,
# whose page shows the results live. Ctrl-C stops everything.
#
#   examples/clickstream/run-demo.sh [BUILD_DIR]
#
# Settings (environment): DEMO_DIR (default: a new /tmp/sluice-demo.XXXXXX;
# the broker's data, logs and the Connect offsets go there), DEMO_HTTP_PORT
# (8088, or a free port when 8088 is taken), DEMO_KAFKA_PORT (a free port),
# DEMO_PARTITIONS (3), DEMO_SECONDS (run this long, then stop; default: until
# Ctrl-C); SLUICE_BIN and STREAMS_CLICKSTREAM_BIN name the binaries (default:
# in BUILD_DIR).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
sluice=${SLUICE_BIN:-$build/sluice}
app=${STREAMS_CLICKSTREAM_BIN:-$build/examples/clickstream/streams-clickstream}
for binary in "$sluice" "$app"; do
  [ -x "$binary" ] || { echo "run-demo: $binary is not built (make demo builds it)" >&2; exit 1; }
done

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_taken() {
  /usr/bin/python3 -c 'import socket, sys; s = socket.socket(); sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' "$1"
}

dir=${DEMO_DIR:-$(mktemp -d /tmp/sluice-demo.XXXXXX)}
mkdir -p "$dir"
kafka_port=${DEMO_KAFKA_PORT:-$(free_port)}
http_port=${DEMO_HTTP_PORT:-8088}
if [ -z "${DEMO_HTTP_PORT:-}" ] && port_taken "$http_port"; then http_port=$(free_port); fi
partitions=${DEMO_PARTITIONS:-3}
bootstrap=127.0.0.1:$kafka_port

# Each child runs in a session of its own, so Ctrl-C reaches this script
# only and the children stop in order: the application and the worker
# first (they commit to the broker), the broker last.
names=()
pids=()
start() {
  local name=$1; shift
  setsid "$@" >"$dir/$name.log" 2>&1 </dev/null &
  names+=("$name")
  pids+=($!)
}
stopping=0
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap - INT TERM
  echo
  echo "stopping (logs and data stay in $dir)"
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    local pid=${pids[$i]}
    kill -TERM "$pid" 2>/dev/null || continue
    local waited=0
    while kill -0 "$pid" 2>/dev/null && [ $waited -lt 150 ]; do sleep 0.1; waited=$((waited + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

# Waits up to $2 seconds for the command after it to succeed.
wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "run-demo: $what did not happen within $seconds s; see $dir" >&2
      exit 1
    fi
    sleep 0.2
  done
}
check_alive() {
  local i
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "run-demo: ${names[$i]} stopped; the end of $dir/${names[$i]}.log:" >&2
      tail -n 20 "$dir/${names[$i]}.log" >&2
      return 1
    fi
  done
}

echo "demo directory: $dir"
start broker "$sluice" serve --set "listeners=PLAINTEXT://$bootstrap" --set "log.dirs=$dir/data" \
  --set node.id=1 --set admin.listener= --set group.initial.rebalance.delay.ms=0
wait_for "the broker's start" 30 "$sluice" topic list -b "$bootstrap" --timeout 1
echo "broker on $bootstrap"
for topic in clicks users; do
  "$sluice" topic create "$topic" -b "$bootstrap" --partitions "$partitions" --replication-factor 1 >/dev/null
done

sed -e "s|@BOOTSTRAP@|$bootstrap|" -e "s|@DIR@|$dir|" "$here/connect/worker.properties.in" \
  >"$dir/worker.properties"
start connect "$sluice" connect standalone "$dir/worker.properties" \
  "$here/connect/clicks.properties" "$here/connect/users.properties"
start clickstream "$app" --bootstrap-server "$bootstrap" --http "127.0.0.1:$http_port" \
  --set "state.dir=$dir/state"
wait_for "the page's start" 30 grep -q '^serving http' "$dir/clickstream.log"
check_alive
url=$(grep -m1 '^serving http' "$dir/clickstream.log" | cut -d' ' -f2)

cat <<EOF

  The clickstream demo is running. Open $url
  (JSON: ${url}api/stats). Datagen writes page views to 'clicks' and users to
  'users' through Connect; the Streams application writes
  'pageviews-per-minute', 'unique-users-5m' and 'clicks-enriched'. Try:
    $sluice consume clicks-enriched -b $bootstrap
  Ctrl-C stops everything.

EOF

end=$((SECONDS + ${DEMO_SECONDS:-0}))
while check_alive; do
  if [ -n "${DEMO_SECONDS:-}" ] && [ $SECONDS -ge $end ]; then exit 0; fi
  sleep 1
done
exit 1
