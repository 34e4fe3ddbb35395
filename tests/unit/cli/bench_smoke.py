#!/usr/bin/env python3
"""Runs `sluice bench <mode> <args...>` and checks its last line of output.

Usage: bench_smoke.py <sluice binary> <mode> <args...>
The last line must be one JSON object with the fields bench/run.sh reads,
holding the number of records the run was asked for.
"""
import json
import subprocess
import sys

REQUIRED = ["records_per_sec", "mb_per_sec", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms",
            "records", "bytes", "seconds"]


def main() -> int:
    binary, mode, *args = sys.argv[1:]
    done = subprocess.run([binary, "bench", mode, *args], capture_output=True, text=True,
                          timeout=100)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        print(f"exit code {done.returncode}")
        return 1
    report = json.loads(done.stdout.strip().splitlines()[-1])
    missing = [key for key in REQUIRED if key not in report]
    if missing:
        print(f"missing fields: {missing}")
        return 1
    expected = int(args[args.index("--count") + 1])
    size = int(args[args.index("--size") + 1])
    problems = []
    if report["records"] != expected:
        problems.append(f"records {report['records']} != {expected}")
    if report["bytes"] != expected * size:
        problems.append(f"bytes {report['bytes']} != {expected * size}")
    if not report["records_per_sec"] > 0 or not report["seconds"] > 0:
        problems.append("no throughput measured")
    if mode != "consume" and not 0 < report["p50_ms"] <= report["p99_ms"] <= report["max_ms"]:
        problems.append("latency percentiles out of order")
    if mode == "consume" and report["p50_ms"] is not None:
        problems.append("consume reported a latency it does not measure")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
