#!/usr/bin/python3
"""Consumer-group benchmarks against a fresh `sluice serve` (started and stopped here):

  rebalance   time for a group of 10 confluent-kafka consumers to be stable again after
              an 11th joins (median of --rounds), eager (range) and cooperative-sticky
  commits     OffsetCommit requests per second, raw frames: one connection waiting for
              each answer, and --connections connections each keeping 64 in flight
  memory      broker RSS before and after creating 10,000 groups of 1 member, then of
              10,000 groups of 5 members on another fresh broker: bytes per group and
              per member

    make bench-groups            (or: bench/group_bench.py --sluice build/sluice [which ...])

Figures go to stdout as a Markdown table; bench/RESULTS.md keeps them with the machine."""

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "tests", "integration", "groups"), os.path.join(ROOT, "tests", "integration")]
import group_wire as gw  # noqa: E402
import kafka_wire  # noqa: E402


class Broker:
    def __init__(self, binary, overrides):
        self.workdir = tempfile.mkdtemp(prefix="sluice-group-bench-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        settings = {"listeners": f"PLAINTEXT://127.0.0.1:{self.port}", "log.dirs": os.path.join(self.workdir, "data"),
                    "node.id": "1", "admin.listener": ""}
        settings.update(overrides)
        command = [binary, "serve"]
        for key, value in settings.items():
            command += ["--set", f"{key}={value}"]
        self.log = open(os.path.join(self.workdir, "broker.log"), "wb")
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                if kafka_wire.api_versions(self.port)[0] == 0:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"broker did not start; log in {self.workdir}")
            time.sleep(0.05)
        # Raw group requests follow a coordinator lookup, as clients' do: it
        # has the broker create __consumer_offsets.
        if kafka_wire.find_coordinator(self.port, "bench")[0] != 0:
            raise RuntimeError(f"no group coordinator; log in {self.workdir}")

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def create_topic(broker, topic, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=30)


# ---- rebalance ----

class PollingConsumer(threading.Thread):
    def __init__(self, broker, group, topic, assignor):
        from confluent_kafka import Consumer
        super().__init__(daemon=True)
        self.consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                                  "partition.assignment.strategy": assignor, "session.timeout.ms": 10000,
                                  "heartbeat.interval.ms": 500, "enable.auto.commit": False})
        self.topic = topic
        self.owned = set()
        self.changed_at = 0.0
        self.stop_event = threading.Event()
        self.lock = threading.Lock()

    def on_assign(self, _c, partitions):
        with self.lock:
            self.owned |= {p.partition for p in partitions}
            self.changed_at = time.monotonic()

    def on_revoke(self, _c, partitions):
        with self.lock:
            self.owned -= {p.partition for p in partitions}
            self.changed_at = time.monotonic()

    def run(self):
        self.consumer.subscribe([self.topic], on_assign=self.on_assign, on_revoke=self.on_revoke)
        while not self.stop_event.is_set():
            self.consumer.poll(0.05)
        self.consumer.close()


def balanced(members, partitions):
    owned = [m.owned for m in members]
    return all(owned) and sum(len(o) for o in owned) == partitions and \
        set().union(*owned) == set(range(partitions))


def wait(predicate, timeout_s=120):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.005)


def rebalance_once(broker, topic, partitions, assignor):
    group = f"rebalance-{assignor}-{time.monotonic_ns()}"
    members = [PollingConsumer(broker, group, topic, assignor) for _ in range(10)]
    for m in members:
        m.start()
    try:
        wait(lambda: balanced(members, partitions))
        time.sleep(1)  # the ten are settled
        joiner = PollingConsumer(broker, group, topic, assignor)
        started = time.monotonic()
        joiner.start()
        members.append(joiner)
        wait(lambda: balanced(members, partitions))
        return max(m.changed_at for m in members) - started
    finally:
        for m in members:
            m.stop_event.set()
        for m in members:
            m.join(30)


def bench_rebalance(broker, rounds):
    partitions = 22  # two per member after the 11th joins
    topic = "rebalance-bench"
    create_topic(broker, topic, partitions)
    rows = []
    for assignor in ("range", "cooperative-sticky"):
        times = [rebalance_once(broker, topic, partitions, assignor) for _ in range(rounds)]
        rows.append((f"10 consumers stable again after an 11th joins ({assignor}, heartbeat.interval.ms=500)",
                     f"{statistics.median(times) * 1000:.0f} ms median of {rounds} "
                     f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})"))
    return rows


# ---- commits ----

COMMIT_TOPIC = "commit-bench"  # Kafka answers commits for an unknown topic UNKNOWN_TOPIC_OR_PARTITION


def commits_for(broker, seconds, in_flight, group):
    sock = kafka_wire.connect(broker.port, timeout_s=30)
    count, offset = 0, 0
    deadline = time.monotonic() + seconds
    with sock:
        while time.monotonic() < deadline:
            bodies = []
            for _ in range(in_flight):
                offset += 1
                bodies.append(gw.offset_commit_body(group, {(COMMIT_TOPIC, 0): offset}))
            for answer in gw.pipeline(sock, gw.API_OFFSET_COMMIT, 7, bodies, gw.parse_offset_commit):
                assert answer == {(COMMIT_TOPIC, 0): 0}, answer
            count += in_flight
    return count


def bench_commits(broker, seconds, connections):
    create_topic(broker, COMMIT_TOPIC, 1)
    rows = []
    start = time.monotonic()
    n = commits_for(broker, seconds, 1, "commit-bench-serial")
    rows.append(("offset commits/s, 1 connection, one at a time (each fsynced before its answer)",
                 f"{n / (time.monotonic() - start):,.0f}"))
    results = [0] * connections
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(
        i, commits_for(broker, seconds, 64, f"commit-bench-{i}"))) for i in range(connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows.append((f"offset commits/s, {connections} connections x 64 in flight (one group each)",
                 f"{sum(results) / (time.monotonic() - start):,.0f}"))
    return rows


# ---- memory ----

def create_groups(broker, groups, members_per_group, connections=10):
    """groups x members_per_group members (JoinGroup v3: no KIP-394 round trip), all
    joined in one generation (group.initial.rebalance.delay.ms holds the first
    rebalance open), then synced by their leader."""
    topic_names = ["orders"]
    per_connection = [list(range(i, groups, connections)) for i in range(connections)]
    errors = []

    def work(group_numbers):
        try:
            with kafka_wire.connect(broker.port, timeout_s=120) as sock:
                for start in range(0, len(group_numbers), 200):
                    chunk = group_numbers[start:start + 200]
                    bodies = [gw.join_group_body(f"g{g}", topics=topic_names, version=3, session_timeout_ms=600000,
                                                 rebalance_timeout_ms=600000)
                              for g in chunk for _ in range(members_per_group)]
                    joins = gw.pipeline(sock, gw.API_JOIN_GROUP, 3, bodies, lambda r: gw.parse_join_group(r, 3))
                    syncs = []
                    for i, g in enumerate(chunk):
                        answers = joins[i * members_per_group:(i + 1) * members_per_group]
                        assert all(a["error"] == 0 for a in answers), answers
                        leader = answers[0]["leader"]
                        generation = answers[0]["generation"]
                        assignment = [(a["member_id"], gw.consumer_assignment("orders", [k]))
                                      for k, a in enumerate(answers)]
                        syncs += [gw.sync_group_body(f"g{g}", generation, a["member_id"],
                                                     assignment if a["member_id"] == leader else [])
                                  for a in answers]
                    for error, _ in gw.pipeline(sock, gw.API_SYNC_GROUP, 3, syncs, gw.parse_sync_group):
                        assert error == 0, error
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(numbers,)) for numbers in per_connection]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def bench_memory(binary, groups):
    measured = {}
    for members in (1, 5):
        # Heartbeats are not sent here: session timeouts far longer than the measurement.
        broker = Broker(binary, {"group.initial.rebalance.delay.ms": "1000",
                                 "group.max.session.timeout.ms": "1800000"})
        try:
            time.sleep(1)
            before = broker.rss_bytes()
            started = time.monotonic()
            create_groups(broker, groups, members)
            elapsed = time.monotonic() - started
            time.sleep(1)
            measured[members] = (before, broker.rss_bytes(), elapsed)
        finally:
            broker.stop()
    (b1, a1, t1), (b5, a5, t5) = measured[1], measured[5]
    per_group = (a1 - b1) / groups
    per_member = ((a5 - b5) - (a1 - b1)) / (4 * groups)
    return [
        (f"broker RSS: {groups:,} groups of 1 member", f"{b1 / 2**20:.1f} MiB -> {a1 / 2**20:.1f} MiB ({t1:.1f} s to create)"),
        (f"broker RSS: {groups:,} groups of 5 members", f"{b5 / 2**20:.1f} MiB -> {a5 / 2**20:.1f} MiB ({t5:.1f} s to create)"),
        ("memory per group (with its one member)", f"{per_group:,.0f} bytes"),
        ("memory per additional member", f"{per_member:,.0f} bytes"),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--groups", type=int, default=10000)
    parser.add_argument("which", nargs="*", default=["rebalance", "commits", "memory"])
    args = parser.parse_args()
    rows = []
    if "rebalance" in args.which or "commits" in args.which:
        broker = Broker(args.sluice, {"group.initial.rebalance.delay.ms": "0"})
        try:
            if "rebalance" in args.which:
                rows += bench_rebalance(broker, args.rounds)
            if "commits" in args.which:
                rows += bench_commits(broker, args.seconds, args.connections)
        finally:
            broker.stop()
    if "memory" in args.which:
        rows += bench_memory(args.sluice, args.groups)
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    print("| measure | figure |\n| --- | --- |")
    for name, figure in rows:
        print(f"| {name} | {figure} |")


if __name__ == "__main__":
    main()
