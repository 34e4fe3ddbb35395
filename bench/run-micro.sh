#!/usr/bin/env bash
# Runs the micro-benchmarks of a build and prints their figures.
# Usage: bench/run-micro.sh <build dir>
set -euo pipefail
build_dir=${1:-build}
for bench in crc32c_bench record_bench protocol_bench storage_bench; do
  [[ -x "$build_dir/bench/$bench" ]] || continue
  echo "== $bench"
  "$build_dir/bench/$bench" --benchmark_min_time=0.5
done
