#!/usr/bin/env python3
"""Consume from a follower vs from the leader (KIP-392, issue 16 point 2).

3 combined `sluice serve` nodes on loopback, racks a, b, c, with
replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector;
one topic of 1 partition, replicas [1, 2, 3] (led by node 1, rack a). After
`sluice bench produce`, `sluice bench consume` runs alternately with
-X client.rack=a (the leader serves) and -X client.rack=b (the follower on
rack b serves, after the leader's PreferredReadReplica answer), and the
nodes' sluice_topic_bytes_out_total says who served.

Usage: bench/follower_fetch.py --sluice build/sluice [--count 200000] [--size 1024] [--rounds 3]"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "cluster"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "follower-fetch"


def bytes_out(admin_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    found = re.search(r'^sluice_topic_bytes_out_total\{topic="%s"\} (\S+)$' % TOPIC, text, re.M)
    return float(found.group(1)) if found else 0.0


def bench(sluice, args, *extra):
    out = subprocess.run([sluice, "bench", *args, "--json", *extra], check=True,
                         capture_output=True, timeout=600).stdout.decode()
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", default=os.path.join(HERE, "..", "build", "sluice"))
    parser.add_argument("--count", type=int, default=200000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sluice = os.path.abspath(args.sluice)
    os.environ["SLUICE_BIN"] = sluice
    from cluster_harness import Cluster, wait_for  # noqa: E402
    from conftest import free_port  # noqa: E402
    from quorum_failover import Factory  # noqa: E402
    import client_wire as wire  # noqa: E402

    root = tempfile.mkdtemp(prefix="follower-fetch-")
    factory = Factory(root)
    admin_ports = {i: free_port() for i in (1, 2, 3)}
    node_settings = {i: {"broker.rack": rack, "admin.listener": f"127.0.0.1:{admin_ports[i]}"}
                     for i, rack in zip((1, 2, 3), "abc")}
    settings = {"replica.selector.class": "org.apache.kafka.common.replica.RackAwareReplicaSelector"}
    try:
        cluster = Cluster(factory, combined=3, settings=settings, node_settings=node_settings)
        cluster.leader()
        cluster.wait_brokers_listed()
        leader, follower = cluster.node(1), cluster.node(2)
        admin = AdminClient({"bootstrap.servers": leader.bootstrap})  # alive until answered
        admin.create_topics([NewTopic(TOPIC, num_partitions=1, replica_assignment=[[1, 2, 3]])],
                            operation_timeout=20)[TOPIC].result(timeout=40)
        produced = bench(sluice, ["produce", "-b", leader.bootstrap, "--topic", TOPIC,
                                  "--count", str(args.count), "--size", str(args.size), "--acks", "all"])
        print("produce:", produced)
        wait_for(lambda: wire.fetch(follower.port, TOPIC, 0, 0)["high_watermark"] >= args.count, 60,
                 "the follower at the high watermark")
        results = {"a": [], "b": []}
        for _ in range(args.rounds):
            for rack in ("a", "b"):
                before = {i: bytes_out(p) for i, p in admin_ports.items()}
                got = bench(sluice, ["consume", "-b", leader.bootstrap, "--topic", TOPIC,
                                     "--count", str(args.count), "-X", f"client.rack={rack}"])
                served = {i: bytes_out(p) - before[i] for i, p in admin_ports.items()}
                print(f"client.rack={rack}: {got} bytes out by node {served}")
                results[rack].append(got)
        for rack, runs in results.items():
            keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float))]
            print(rack, {k: statistics.median(r[k] for r in runs) for k in keys})
    finally:
        factory.stop_all()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
