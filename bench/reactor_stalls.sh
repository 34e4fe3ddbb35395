#!/usr/bin/env bash
# Does a reactor thread wait on a disk? Starts a fresh `sluice serve`, runs
# a few `sluice bench` workloads against it under `perf trace -s` (syscalls
# counted per thread; the threads are named reactor-N, append-N (Produce's
# appends), fetch-read-N, flusher, scheduler, cleaner-N, delayed-ops), then prints the reactors' callback-duration
# histogram from /metrics and each thread's file-system syscalls.
#
#   bench/reactor_stalls.sh [path/to/sluice] [output dir]
#
# TRACE=0 skips perf trace (it slows the broker several times over): the
# callback histogram and the bench's own figures are then those of an
# untraced broker. ONLY="p1k consume" runs only those workloads (names:
# p1000 p1k consume e2e; consume reads what p1k wrote). SERVE_ARGS adds
# broker settings, e.g. small segments and retention so that rolls and
# segment deletions happen under load:
# EVICT=1 drops the logs' pages from the page cache (fdatasync, then
# fadvise DONTNEED) before the consume, so that it reads from the disk.
#   SERVE_ARGS="--set log.segment.bytes=1048576 --set log.preallocate=true
#     --set log.retention.bytes=33554432 --set log.retention.check.interval.ms=1000
#     --set log.segment.delete.delay.ms=0" ONLY="p1k e2e"
set -euo pipefail
sluice=${1:-build/src/cli/sluice}
out=${2:-$(mktemp -d)}
port=$((20000 + RANDOM % 20000))
admin=$((port + 1))
mkdir -p "$out/data"
"$sluice" serve --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "admin.listener=127.0.0.1:$admin" \
  --set "log.dirs=$out/data" ${SERVE_ARGS:-} >"$out/broker.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT
for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
tracer=
if [[ ${TRACE:-1} != 0 ]]; then
  perf trace -s -p "$broker" -o "$out/perf-trace.txt" &
  tracer=$!
  sleep 1
fi
b=(-b "127.0.0.1:$port")
: >"$out/bench.txt"
run() {  # run <name> <bench args...>: skipped unless ONLY (a list of names) is unset or names it
  local name=$1
  shift
  [[ -z ${ONLY:-} || " $ONLY " == *" $name "* ]] || return 0
  "${BENCH:-$sluice}" bench "$@" "${b[@]}" >>"$out/bench.txt" 2>&1
}
run p1000 produce --topic p1000 --partitions 1000 --producers 4 --count 1000000 --size 100 --acks 1
run p1k produce --topic p1k --count 200000 --size 1024 --acks all
if [[ ${EVICT:-0} != 0 ]]; then  # consume from the disk: the logs' pages dropped from the page cache
  /usr/bin/python3 - "$out/data" <<'PY'
import os, sys
for root, _, names in os.walk(sys.argv[1]):
    for name in names:
        if name.endswith(".log"):
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            os.fdatasync(fd)  # dirty pages stay cached
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
PY
fi
run consume consume --topic p1k --count 200000 --size 1024
run e2e e2e --topic e2e --count 100000 --size 1024 --rate 20000 --acks 1
if [[ -n $tracer ]]; then kill -INT $tracer; wait $tracer || true; fi
curl -s "http://127.0.0.1:$admin/metrics" >"$out/metrics.txt"
echo "== reactor callbacks (/metrics)"
awk -F'[{}" ]+' '
  /^sluice_reactor_callback_duration_seconds_bucket/ { if ($5 == "0.001") le1[$3] = $NF; if ($5 == "0.01") le10[$3] = $NF }
  /^sluice_reactor_callback_duration_seconds_count/ { count[$3] = $NF }
  /^sluice_reactor_callback_max_seconds/ { max[$3] = $NF }
  END { for (r in count) printf "%s: callbacks %d, over 1 ms %d, over 10 ms %d, longest %.1f ms\n",
                                 r, count[r], count[r] - le1[r], count[r] - le10[r], max[r] * 1000 }' "$out/metrics.txt"
echo "== fetch steps handed to the fetch-read threads"
grep '^sluice_fetch_reads_offloaded_total' "$out/metrics.txt" || echo "(none, or not exported by this binary)"
echo "== segment rolls (where the new segment's files came from)"
grep '^sluice_log_segment_rolls_total' "$out/metrics.txt" || echo "(not exported by this binary)"
echo "== bench"
grep -E 'records/s|latency' "$out/bench.txt"
[[ -n $tracer ]] || exit 0
echo "== file-system syscalls per thread (perf trace -s)"
awk '/^ [^ ].*\([0-9]+\), [0-9]+ events/ { thread = $1 }
     /^ +(fsync|fdatasync|pread64|preadv2|pwrite64|write|sendfile64|openat|rename|renameat|renameat2|fallocate|ftruncate|unlink|unlinkat|futex|cachestat) / {
       printf "%-14s %-11s calls %8s  total ms %10s  max ms %9s\n", thread, $1, $2, $4, $7 }' "$out/perf-trace.txt"
echo "(full output in $out)"
