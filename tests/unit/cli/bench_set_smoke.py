#!/usr/bin/env python3
"""Runs bench/run.sh at a tenth of its counts, once, against the fresh broker
it starts itself, and checks the table it prints: every workload of the
standard set measured with no failed run, beside the mock, and the machine
ceilings before and after it. No thresholds: this keeps the script from rotting.

Usage: bench_set_smoke.py <repository root> <build dir>
"""
import subprocess
import sys

WORKLOADS = 11  # bench/run.sh: 8 of issue 6, 3 of issue 13 (many partitions, connections)
CEILINGS = 9


def table_rows(text: str, header_start: str) -> list[list[str]]:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(header_start):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append([cell.strip() for cell in row.strip("|").split("|")])
            return rows
    return []


def main() -> int:
    root, build = sys.argv[1:]
    done = subprocess.run([f"{root}/bench/run.sh", "--build", build, "--quick", "--runs", "1",
                           "--no-write", "--warm-mib", "16", "--rounds", "2"],
                          capture_output=True, text=True, timeout=400)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr[-4000:])
    if done.returncode != 0:
        print(f"bench/run.sh: exit code {done.returncode}")
        return 1
    problems = []
    workloads = table_rows(done.stdout, "| workload |")
    if len(workloads) != WORKLOADS:
        problems.append(f"{len(workloads)} workload rows, expected {WORKLOADS}")
    for row in workloads:
        name, records_per_sec, mock, failed = row[0], row[1], row[7], row[-1]
        if failed != "0/1":
            problems.append(f"{name}: failed runs {failed}")
        if records_per_sec in ("—", "0") or mock in ("—", "0"):
            problems.append(f"{name}: no figure ({records_per_sec}, mock {mock})")
    ceilings = table_rows(done.stdout, "| path |")
    if len(ceilings) != CEILINGS:
        problems.append(f"{len(ceilings)} machine ceiling rows, expected {CEILINGS}")
    for path, *rates in ceilings:  # before and after the set
        if len(rates) != 2 or any(rate == "—" or float(rate.replace(",", "")) <= 0 for rate in rates):
            problems.append(f"ceiling '{path}': {rates}")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
