#!/usr/bin/env python3
"""Issue 15's quorum figures, on real `sluice serve` processes on loopback
(the harness of tests/integration/cluster/cluster_harness.py):
  failover  kill -9 of the active controller of 3 combined nodes (default
            timeouts) -> a new leader named by DescribeQuorum, and -> a
            CreateTopics through the new leader succeeding (its commit);
            median and worst over --kills kills, the killed node restarted
            and caught up between kills;
  commit    CreateTopics of 1-partition topics, one at a time, p50/p99 over
            --topics, through the active controller of 3 combined nodes and
            of a lone default node (the client's round trip included);
  wide      one topic of 1,000 partitions on 3 combined nodes: CreateTopics
            answered, then all 1,000 partitions in every node's Metadata.
Usage: bench/quorum_failover.py --sluice build/sluice [--kills 20] [--topics 200]"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

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

    def stop_all(self):
        for b in self.made:
            b.stop()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def try_create(bootstrap, name, partitions=1, timeout_s=5):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                                  operation_timeout=timeout_s, request_timeout=timeout_s)
    try:
        futures[name].result(timeout=timeout_s + 1)
        return None
    except Exception as e:  # noqa: BLE001 - any failure means "not yet"
        return repr(e)


def bench_failover(root, kills):
    from cluster_harness import Cluster
    factory = Factory(root)
    cluster = Cluster(factory)
    elected, committed = [], []
    try:
        cluster.agreed_leader()
        cluster.wait_brokers_listed()
        for k in range(kills):
            leader, epoch = cluster.agreed_leader(timeout_s=60)
            killed_at = time.monotonic()
            cluster.node(leader).kill9()
            new_leader, _ = cluster.leader(timeout_s=60, exclude=(leader,))
            elected.append(time.monotonic() - killed_at)
            # The new leader's own CreateTopics (forwarding from another node
            # stays aimed at the dead leader: see tests' xfail).
            last = None
            while time.monotonic() - killed_at < 120:
                last = try_create(cluster.node(new_leader).bootstrap, f"after-kill-{k}")
                if last is None:
                    break
            else:
                raise RuntimeError(f"kill {k}: no commit within 120 s ({last})")
            committed.append(time.monotonic() - killed_at)
            print(f"kill {k + 1}: {leader} -> {new_leader}: elected {elected[-1]:.2f} s, "
                  f"committed {committed[-1]:.2f} s", flush=True)
            cluster.node(leader).start()
            cluster.agreed_leader(timeout_s=60)
    finally:
        factory.stop_all()
        cluster.close()
    return elected, committed


def bench_commits(root, topics, lone):
    from cluster_harness import Cluster
    factory = Factory(root)
    try:
        if lone:
            bootstrap = factory().bootstrap
        else:
            cluster = Cluster(factory)
            leader, _ = cluster.agreed_leader()
            cluster.wait_brokers_listed()
            bootstrap = cluster.node(leader).bootstrap
        admin = AdminClient({"bootstrap.servers": bootstrap})
        latencies = []
        for i in range(topics):
            name = f"commit-{i}"
            started = time.perf_counter()
            futures = admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)],
                                          operation_timeout=30, request_timeout=30)
            futures[name].result(timeout=40)
            latencies.append(time.perf_counter() - started)
        return latencies
    finally:
        factory.stop_all()


def bench_wide(root, partitions):
    from cluster_harness import Cluster
    factory = Factory(root)
    try:
        cluster = Cluster(factory)
        leader, _ = cluster.agreed_leader()
        cluster.wait_brokers_listed()
        admin = AdminClient({"bootstrap.servers": cluster.node(leader).bootstrap})
        started = time.perf_counter()
        futures = admin.create_topics([NewTopic("wide", num_partitions=partitions, replication_factor=1)],
                                      operation_timeout=120, request_timeout=120)
        futures["wide"].result(timeout=130)
        answered = time.perf_counter() - started
        for node in cluster.nodes:
            node_admin = AdminClient({"bootstrap.servers": node.bootstrap})
            while True:
                md = node_admin.list_topics(topic="wide", timeout=30)
                topic = md.topics.get("wide")
                if topic is not None and topic.error is None and len(topic.partitions) == partitions:
                    break
                time.sleep(0.05)
        everywhere = time.perf_counter() - started
        return answered, everywhere
    finally:
        factory.stop_all()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", default=os.path.join(HERE, "..", "build", "sluice"))
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--only", choices=["failover", "commit", "wide"])
    args = parser.parse_args()
    os.environ["SLUICE_BIN"] = os.path.abspath(args.sluice)
    root = tempfile.mkdtemp(prefix="quorum-bench-")
    try:
        print(f"load average at start: {os.getloadavg()}", flush=True)
        if args.only in (None, "failover"):
            elected, committed = bench_failover(os.path.join(root, "failover"), args.kills)
            print(f"failover over {len(committed)} kills: elected median {statistics.median(elected):.2f} s "
                  f"worst {max(elected):.2f} s; committed median {statistics.median(committed):.2f} s "
                  f"worst {max(committed):.2f} s", flush=True)
        if args.only in (None, "commit"):
            for lone in (False, True):
                lat = bench_commits(os.path.join(root, f"commit-{lone}"), args.topics, lone)
                print(f"CreateTopics, 1 partition, {'lone node' if lone else '3 nodes'}: "
                      f"p50 {percentile(lat, 50) * 1000:.1f} ms p99 {percentile(lat, 99) * 1000:.1f} ms "
                      f"max {max(lat) * 1000:.1f} ms over {len(lat)}", flush=True)
        if args.only in (None, "wide"):
            answered, everywhere = bench_wide(os.path.join(root, "wide"), args.partitions)
            print(f"{args.partitions} partitions on 3 nodes: CreateTopics answered in {answered:.2f} s, "
                  f"in every node's Metadata after {everywhere:.2f} s", flush=True)
        print(f"load average at end: {os.getloadavg()}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
