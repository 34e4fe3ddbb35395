#!/usr/bin/env bash
# Issue 13, point 4's target: does a broker holding many partitions keep the
# produce throughput of one holding few, with the same 100 clients? Starts a
# fresh `sluice serve`, creates a 10-partition topic and a many-partition one,
# then alternates bench/produce_fanout.py runs against the two (a `sync`
# before each, so that one run's writeback does not fall on the next) and
# prints each run and the median ratio many/few. produce_fanout.py's requests
# have the same shape for both topics (see its header): what differs is only
# how many partitions the broker spreads them over.
#
#   bench/partition_scaling.sh [--build DIR] [--rounds N] [--partitions N] [--quick] [--drop-caches]
#                              [--fresh-broker] [-- fanout args...]
#
#   --build DIR       where the sluice binary is (default: build)
#   --rounds N        pairs of runs (default 5)
#   --partitions N    the many-partition topic's count (default 9999, the most one CreateTopics adds)
#   --quick           1 s runs, 500 partitions, 10 connections, 1 round (a check of the scripts)
#   --drop-caches     before each run also drop the clean page cache (root): each run then
#                     starts with free memory, not reclaiming the pages earlier runs filled
#   --fresh-broker    each round on a new broker with an empty data dir (for a data dir on tmpfs,
#                     TMPDIR=/dev/shm, where nothing can drop the earlier rounds' data)
#   after --: passed to produce_fanout.py (e.g. --records 20 --size 50)
# Figures: bench/RESULTS.md, "Point 4's target, measured".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
rounds=5
many=9999
drop_caches=0
fresh_broker=0
fanout_args=(--duration 8 --warmup 2)
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --partitions) many=$2; shift 2 ;;
    --drop-caches) drop_caches=1; shift ;;
    --fresh-broker) fresh_broker=1; shift ;;
    --quick) rounds=1; many=500; fanout_args=(--duration 1 --warmup 0.5 --connections 10); shift ;;
    --) shift; fanout_args+=("$@"); break ;;
    *) echo "usage: $0 [--build DIR] [--rounds N] [--partitions N] [--quick] [--drop-caches] [--fresh-broker] [-- fanout args...]" >&2; exit 2 ;;
  esac
done
sluice=$build/sluice
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-scaling.XXXXXX")
broker_pid=""
stop_broker() {
  [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  broker_pid=""
}
cleanup() {
  stop_broker || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Below the ephemeral range (conftest.free_port): ctest runs this beside
# other tests whose clients take kernel-picked source ports.
port=$(/usr/bin/python3 -c "import sys; sys.path.insert(0, '$root/tests/integration')
from conftest import free_port; print(free_port())")
bootstrap=127.0.0.1:$port

# Waits until `topic` is described with `count` partitions (creating 9,999
# logs takes the broker several seconds after CreateTopics has answered).
wait_for_topic() {
  local topic=$1 count=$2
  for _ in $(seq 180); do
    # Not piped into grep -q: with pipefail, grep's early exit fails the describe.
    local described
    described=$("$sluice" topic describe -b "$bootstrap" "$topic" 2>/dev/null || true)
    grep -q "^$((count - 1)) " <<<"$described" && return 0
    sleep 1
  done
  echo "topic $topic never showed $count partitions" >&2
  cat "$work/broker.log" >&2
  return 1
}
# A broker on an empty data dir with the two topics.
start_broker() {
  rm -rf "$work/data"
  "$sluice" serve --set "listeners=PLAINTEXT://$bootstrap" --set "log.dirs=$work/data" >"$work/broker.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 100); do "$sluice" topic list -b "$bootstrap" >/dev/null 2>&1 && break; sleep 0.1; done
  "$sluice" topic create -b "$bootstrap" -p 10 -r 1 few >/dev/null
  # The create may time out on the client side while the logs are made: the
  # describe loop below is what waits.
  "$sluice" topic create -b "$bootstrap" -p "$many" -r 1 many >/dev/null 2>&1 || true
  wait_for_topic few 10
  wait_for_topic many "$many"
  sleep 2  # the last logs' directories and segments settle
}
start_broker

results=$work/results.jsonl
for round in $(seq "$rounds"); do
  if [[ $fresh_broker -eq 1 && $round -gt 1 ]]; then stop_broker; start_broker; fi
  # Which topic goes first alternates: the second run finds the first's data.
  order=("few 10" "many $many")
  if (( round % 2 == 0 )); then order=("many $many" "few 10"); fi
  for pair in "${order[@]}"; do
    read -r topic count <<<"$pair"
    sync
    if [[ $drop_caches -eq 1 ]]; then echo 1 >/proc/sys/vm/drop_caches; fi
    line=$(/usr/bin/python3 "$root/bench/produce_fanout.py" --bootstrap "$bootstrap" --topic "$topic" \
             --partitions "$count" --pid "$broker_pid" --json "${fanout_args[@]}")
    echo "$line" >>"$results"
    echo "round $round/$rounds, load $(cut -d' ' -f1 /proc/loadavg): $line"
  done
done

/usr/bin/python3 - "$results" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
few = [r for r in runs if r["partitions"] == 10]
many = [r for r in runs if r["partitions"] != 10]
errors = sum(sum(r["errors"].values()) for r in runs)
ratios = [m["records_per_sec"] / f["records_per_sec"] for f, m in zip(few, many) if f["records_per_sec"]]
cpu_ratios = [m["broker_cpu_s_per_million"] / f["broker_cpu_s_per_million"]
              for f, m in zip(few, many) if f["broker_cpu_s_per_million"]]
print(f"10 partitions: median {statistics.median(r['records_per_sec'] for r in few):,.0f} records/s, "
      f"{statistics.median(r['broker_cpu_s_per_million'] for r in few):.3f} broker CPU-s per million")
print(f"{many[0]['partitions']:,} partitions: median {statistics.median(r['records_per_sec'] for r in many):,.0f} "
      f"records/s, {statistics.median(r['broker_cpu_s_per_million'] for r in many):.3f} broker CPU-s per million")
print(f"ratio many/few, records/s: median {statistics.median(ratios):.2f} "
      f"(pairs: {', '.join(f'{x:.2f}' for x in ratios)}); broker CPU per record: median "
      f"{statistics.median(cpu_ratios):.2f}; errors {errors}")
sys.exit(1 if errors or not all(r["records"] for r in runs) else 0)
PY
