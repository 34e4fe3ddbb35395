#!/usr/bin/env python3
"""Issue 16's replication figures, on real `sluice serve` processes on loopback
(tests/integration/cluster/cluster_harness.py), 3 controllers + 3 brokers:
  failover  kill -9 of a partition's leader (a topic of 1 partition, replication
            factor 3, min.insync.replicas=2) while a confluent-kafka producer
            sends acks=all every 5 ms: the time from the kill to the first
            acknowledgement after it (the new leader's); median and worst over
            --kills kills, the killed broker restarted and back in the ISR between
            kills; once per --settings set (broker.session.timeout.ms /
            broker.heartbeat.interval.ms in ms, "default" = Kafka's 9000/2000);
  produce   `sluice bench produce --acks all` against a topic of replication
            factor 3 and one of factor 1 on the same three brokers (rounds
            alternated), throughput and ack latency of each.
Usage: bench/failover.py --sluice build/sluice [--only failover|produce] [--kills 20]
       [--settings default,3000/500,1000/250] [--duration 10] [--rounds 3] [--rate 0]
(--rate N paces the produce runs, for ack latency rather than throughput.)"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "cluster"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from confluent_kafka import Producer  # noqa: E402
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


def partition_state(node, topic):
    """(leader, sorted isr) of partition 0 in `node`'s Metadata, or None."""
    try:
        md = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(topic, timeout=3)
        p = md.topics[topic].partitions[0]
        return p.leader, sorted(p.isrs)
    except Exception:  # noqa: BLE001 - not answering
        return None


def wait(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} within {timeout_s} s")


def create_topic(cluster, topic, rf, partitions=1):
    admin = AdminClient({"bootstrap.servers": cluster.brokers[0].bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=rf,
                                  config={"min.insync.replicas": "2" if rf >= 2 else "1"})],
                        operation_timeout=20)[topic].result(timeout=40)


class AckClock:
    """A producer sending acks=all every `period_s`; keeps the monotonic time
    of each acknowledgement."""

    def __init__(self, bootstrap, topic, period_s=0.005):
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                                  "message.timeout.ms": 120000, "retry.backoff.ms": 50,
                                  "topic.metadata.refresh.fast.interval.ms": 50,
                                  "reconnect.backoff.max.ms": 200, "max.in.flight.requests.per.connection": 1,
                                  "log_level": 2})
        self.topic = topic
        self.period_s = period_s
        self.acks = []
        self.errors = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _delivered(self, err, _msg):
        if err is None:
            self.acks.append(time.monotonic())
        else:
            self.errors.append(err)

    def _run(self):
        while not self.stopping.is_set():
            self.producer.produce(self.topic, value=b"x" * 100, partition=0, on_delivery=self._delivered)
            self.producer.poll(self.period_s)
        self.producer.flush(60)

    def first_ack_after(self, t, timeout_s=120):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            later = [a for a in list(self.acks[-2000:]) if a > t]
            if later:
                return min(later)
            time.sleep(0.01)
        raise RuntimeError(f"no acknowledgement within {timeout_s} s of the kill")

    def stop(self):
        self.stopping.set()
        self.thread.join(90)


def bench_failover(root, kills, session_ms, heartbeat_ms):
    from cluster_harness import Cluster
    settings = {}
    if session_ms:
        settings = {"broker.session.timeout.ms": str(session_ms), "broker.heartbeat.interval.ms": str(heartbeat_ms)}
    factory = Factory(root)
    cluster = Cluster(factory, controllers=3, brokers=3, settings=settings)
    times = []
    try:
        cluster.leader()
        cluster.wait_brokers_listed()
        topic = "failover"
        create_topic(cluster, topic, rf=3)
        ids = sorted(n.id for n in cluster.brokers)
        witness = lambda: next(n for n in cluster.brokers if n.alive())  # noqa: E731
        wait(lambda: (partition_state(witness(), topic) or (0, []))[1] == ids, 30, "a full ISR")
        clock = AckClock(",".join(n.bootstrap for n in cluster.brokers), topic)
        try:
            wait(lambda: len(clock.acks) > 50, 30, "first acknowledgements")
            for k in range(kills):
                leader = cluster.node(partition_state(witness(), topic)[0])
                time.sleep(0.5)
                leader.kill9()
                killed_at = time.monotonic()
                acked_at = clock.first_ack_after(killed_at + 0.02)
                times.append(acked_at - killed_at)
                new_leader = partition_state(witness(), topic)
                print(f"  kill {k + 1}: leader {leader.id} -> {new_leader and new_leader[0]}: "
                      f"acks again after {times[-1]:.2f} s", flush=True)
                leader.start()
                wait(lambda: (partition_state(witness(), topic) or (0, []))[1] == ids, 60,
                     "the killed broker back in the ISR")
        finally:
            clock.stop()
        if clock.errors:
            print(f"  producer errors: {[str(e) for e in clock.errors[:5]]}")
    finally:
        factory.stop_all()
        cluster.close()
    return times


def bench_produce(root, sluice, duration, rounds, size, partitions, rate=0):
    from cluster_harness import Cluster
    factory = Factory(root)
    cluster = Cluster(factory, controllers=3, brokers=3)
    results = {1: [], 3: []}
    try:
        cluster.leader()
        cluster.wait_brokers_listed()
        for rf in (1, 3):
            create_topic(cluster, f"bench-rf{rf}", rf=rf, partitions=partitions)
        time.sleep(2)
        bootstrap = cluster.brokers[0].bootstrap
        for r in range(rounds):
            for rf in (3, 1) if r % 2 else (1, 3):
                command = [sluice, "bench", "produce", "-b", bootstrap, "--topic", f"bench-rf{rf}",
                           "--acks", "all", "--size", str(size), "--duration", str(duration),
                           "--rate", str(rate), "--no-progress", "--json"]
                done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120)
                if done.returncode != 0:
                    raise RuntimeError(f"{' '.join(command)}: {done.stderr[-2000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                results[rf].append(result)
                print(f"  round {r + 1} rf={rf}: {json.dumps(result)}", flush=True)
        print(f"  command: {' '.join(command)}")
    finally:
        factory.stop_all()
        cluster.close()
    return results


def summarize(name, times):
    return (f"{name}: over {len(times)} kills, acks again after median {statistics.median(times):.2f} s, "
            f"worst {max(times):.2f} s, best {min(times):.2f} s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", default=os.path.join(HERE, "..", "build", "sluice"))
    parser.add_argument("--only", choices=["failover", "produce"])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--settings", default="default,3000/500,1000/250",
                        help="comma separated session/heartbeat ms pairs; default = Kafka's defaults")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rate", type=float, default=0, help="produce: msgs/s over all producers (0: unpaced)")
    args = parser.parse_args()
    sluice = os.path.abspath(args.sluice)
    os.environ["SLUICE_BIN"] = sluice
    root = tempfile.mkdtemp(prefix="failover-bench-")
    lines = []
    try:
        print(f"load average at start: {os.getloadavg()}", flush=True)
        if args.only in (None, "failover"):
            for i, spec in enumerate(args.settings.split(",")):
                session_ms, heartbeat_ms = (0, 0) if spec == "default" else map(int, spec.split("/"))
                name = ("defaults (broker.session.timeout.ms 9000, broker.heartbeat.interval.ms 2000)"
                        if not session_ms else
                        f"broker.session.timeout.ms {session_ms}, broker.heartbeat.interval.ms {heartbeat_ms}")
                print(name, flush=True)
                times = bench_failover(os.path.join(root, f"failover-{i}"), args.kills, session_ms, heartbeat_ms)
                lines.append(summarize(name, times))
                print(lines[-1], flush=True)
        if args.only in (None, "produce"):
            results = bench_produce(os.path.join(root, "produce"), sluice, args.duration, args.rounds, args.size,
                                    args.partitions, args.rate)
            for rf, runs in results.items():
                per_s = statistics.median(r["records_per_sec"] for r in runs)
                p50 = statistics.median(r["p50_ms"] for r in runs)
                p99 = statistics.median(r["p99_ms"] for r in runs)
                lines.append(f"produce acks=all rf={rf} (--rate {args.rate}): median of {len(runs)} rounds "
                             f"{per_s:,.0f} records/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        print(f"load average at end: {os.getloadavg()}", flush=True)
        print("\n".join(lines))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
