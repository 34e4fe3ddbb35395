#!/usr/bin/env python3
"""Issue 16's follower-fetch figure: `sluice bench produce` with acks=all to a
topic of replication factor 3 on 3 combined nodes (real `sluice serve`
processes on loopback, the harness of tests/integration/cluster/), so every
byte produced is fetched by two followers. Reports each round's records/s,
MB/s and p99, and the CPU the three brokers spent (utime + stime from
/proc/<pid>/stat, in clock ticks) per 100 MB produced: the leader's share of
the follower fetches is what the zero-copy path changes.
Usage: bench/replica_fetch_bench.py --sluice build/sluice [--rounds 3]
       [--count 200000] [--size 1024] [--partitions 6]"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "cluster"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


class Factory:
    """broker_factory without pytest: conftest.Broker processes under one temp dir."""

    def __init__(self, root):
        from conftest import Broker
        self.Broker = Broker
        self.root = root
        self.made = []

    def __call__(self, overrides=None, start=True):
        b = self.Broker(os.path.join(self.root, f"b{len(self.made)}"), overrides)
        self.made.append(b)
        return b.start() if start else b


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=200000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    os.environ["SLUICE_BIN"] = os.path.abspath(args.sluice)
    from cluster_harness import Cluster, wait_for

    root = tempfile.mkdtemp(prefix="replica-fetch-bench-")
    cluster = Cluster(Factory(root), combined=3)
    try:
        cluster.leader()
        cluster.wait_brokers_listed()
        bootstrap = ",".join(n.bootstrap for n in cluster.nodes)
        rows = []
        for round_index in range(args.rounds):
            topic = f"rf3-{round_index}"
            admin = AdminClient({"bootstrap.servers": bootstrap})
            admin.create_topics([NewTopic(topic, num_partitions=args.partitions, replication_factor=3,
                                          config={"min.insync.replicas": "2"})],
                                operation_timeout=30)[topic].result(timeout=40)

            def full_isr():
                md = admin.list_topics(topic, timeout=5).topics[topic]
                return len(md.partitions) == args.partitions and all(
                    len(p.isrs) == 3 for p in md.partitions.values())
            wait_for(full_isr, 30, "every ISR of three")
            before = {n.id: cpu_ticks(n.process.proc.pid) for n in cluster.nodes}
            out = subprocess.run([args.sluice, "bench", "produce", "-b", bootstrap, "--topic", topic,
                                  "--acks", "all", "--count", str(args.count), "--size", str(args.size),
                                  "--json", "--no-progress"], capture_output=True, text=True, check=True)
            after = {n.id: cpu_ticks(n.process.proc.pid) for n in cluster.nodes}
            result = json.loads(out.stdout.strip().splitlines()[-1])
            mb = result["bytes"] / 1e6
            ticks = sum(after[i] - before[i] for i in after)
            rows.append((result["records_per_sec"], result["mb_per_sec"], result["p99_ms"],
                         ticks * 100 / mb))
            print(f"round {round_index + 1}: {result['records_per_sec']:,.0f} records/s, "
                  f"{result['mb_per_sec']:.1f} MB/s, p99 {result['p99_ms']:.1f} ms, "
                  f"broker CPU {ticks} ticks = {ticks * 100 / mb:.0f} ticks per 100 MB", flush=True)
        median = sorted(rows)[len(rows) // 2]
        print(f"median round (by records/s): {median[0]:,.0f} records/s, {median[1]:.1f} MB/s, "
              f"p99 {median[2]:.1f} ms; CPU per 100 MB over the rounds: "
              f"{statistics.median(r[3] for r in rows):.0f} ticks (median)")
    finally:
        cluster.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
