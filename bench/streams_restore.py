#!/usr/bin/python3
"""Restore time of a large persistent store (issue 20's benchmark) against a
fresh `sluice serve` started and stopped here:

  1. the changelog of Kafka's WordCountDemo store
     (`<application.id>-counts-store-changelog`, one partition) is filled with
     --gigabytes of distinct keys and --value-bytes values;
  2. streams-wordcount starts on an empty state.dir: it restores the whole
     changelog into RocksDB (full restore), then is stopped cleanly (which
     writes the task's .checkpoint);
  3. it starts again: the checkpoint says the store holds everything, so it
     restores nothing (restart with a checkpoint).

Times come from the runtime's "Finished restoring changelog ... in N ms" line
(restore alone) and from the process start to its "state RUNNING" line (the
whole start: topics, group, store open, restore).

    bench/streams_restore.py --sluice build/sluice \\
        --wordcount build/examples/wordcount/streams-wordcount [--gigabytes 1]

Figures go to stdout as a Markdown table for bench/RESULTS.md."""

import argparse
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

APP_ID = "restore-bench"
STORE = "counts-store"
RESTORED = re.compile(r"Finished restoring changelog \S+ to store " + STORE +
                      r" with a total number of (\d+) records \(from offset (\w+)\) in (\d+) ms")


def create_topics(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [NewTopic("restore-bench-input", 1, 1), NewTopic("restore-bench-output", 1, 1),
              NewTopic(f"{APP_ID}-{STORE}-changelog", 1, 1,
                       config={"cleanup.policy": "compact"})]
    for future in admin.create_topics(topics).values():
        future.result(timeout=60)


def fill_changelog(bootstrap, records, value_bytes):
    """Seconds to write `records` distinct keys into the store's changelog."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1 << 20,
                         "acks": "1", "queue.buffering.max.kbytes": 1 << 20})
    noise = os.urandom(value_bytes + 4096)
    topic = f"{APP_ID}-{STORE}-changelog"
    started = time.monotonic()
    for i in range(records):
        value = noise[i % 4096:i % 4096 + value_bytes]
        while True:
            try:
                producer.produce(topic, key=b"key-%012d" % i, value=value, partition=0)
                break
            except BufferError:
                producer.poll(0.05)
    left = producer.flush(300)
    if left:
        raise RuntimeError(f"{left} records not delivered")
    return time.monotonic() - started


class WordCount:
    def __init__(self, binary, bootstrap, state_dir, workdir, settings):
        self.cmd = [binary, "--bootstrap-server", bootstrap, "--application-id", APP_ID,
                    "--input", "restore-bench-input", "--output", "restore-bench-output",
                    "--set", f"state.dir={state_dir}"]
        for setting in settings:
            self.cmd += ["--set", setting]
        self.workdir = workdir
        self.runs = 0

    def run_until_running(self, timeout_s=1800):
        """(seconds to RUNNING, restored records, from offset, restore ms)."""
        self.runs += 1
        self.log_path = os.path.join(self.workdir, f"wordcount-{self.runs}.log")
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT)
        while time.monotonic() - started < timeout_s:
            text = open(self.log_path, errors="replace").read()
            if "state RUNNING" in text:
                elapsed = time.monotonic() - started
                with open(f"/proc/{self.proc.pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                self.cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                match = RESTORED.search(text)
                if not match:
                    raise RuntimeError(f"no restore line:\n{text[-3000:]}")
                return elapsed, int(match.group(1)), match.group(2), int(match.group(3))
            if self.proc.poll() is not None:
                raise RuntimeError(f"streams-wordcount exited:\n{text[-3000:]}")
            time.sleep(0.05)
        raise RuntimeError("streams-wordcount not RUNNING in time")

    def stop(self):
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=300)
        if code != 0:
            raise RuntimeError(f"streams-wordcount exited with {code}")
        return time.monotonic() - started


def du(path):
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(folder, name))
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    parser.add_argument("--wordcount",
                        default=os.path.join(ROOT, "build", "examples", "wordcount",
                                             "streams-wordcount"))
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--value-bytes", type=int, default=1000)
    parser.add_argument("--workdir", help="where the broker's log and the state go (a temp dir)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting of the streams application")
    args = parser.parse_args()
    os.environ["SLUICE_BIN"] = os.path.abspath(args.sluice)
    from conftest import Broker

    workdir = args.workdir or tempfile.mkdtemp(prefix="streams-restore-")
    records = int(args.gigabytes * 1e9 / (args.value_bytes + 16))
    broker = Broker(workdir, {"offsets.topic.replication.factor": "1",
                              "group.initial.rebalance.delay.ms": "0"}).start()
    try:
        create_topics(broker.bootstrap)
        fill_s = fill_changelog(broker.bootstrap, records, args.value_bytes)
        app = WordCount(os.path.abspath(args.wordcount), broker.bootstrap,
                        os.path.join(workdir, "state"), workdir, args.set)
        full = app.run_until_running() + (app.cpu_s,)
        full_stop = app.stop()
        store_bytes = du(os.path.join(workdir, "state", APP_ID, "1_0", "rocksdb", STORE))
        again = app.run_until_running() + (app.cpu_s,)
        app.stop()
    finally:
        broker.stop()
    data = records * (args.value_bytes + 16)
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"changelog: {records} records of {args.value_bytes}-byte values, "
          f"{data / 1e9:.2f} GB of keys and values, written in {fill_s:.1f} s")
    print(f"RocksDB store after the restore: {store_bytes / 1e9:.2f} GB on disk\n")
    print("| start | records restored | from offset | restore | start to RUNNING | CPU time to RUNNING |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, (to_running, count, start, restore_ms, cpu_s) in (
            ("empty state.dir (full restore)", full), ("after a clean stop (checkpoint)", again)):
        rate = f", {data / 1e6 / (restore_ms / 1000):.0f} MB/s" if count and restore_ms else ""
        print(f"| {name} | {count} | {start} | {restore_ms / 1000:.2f} s{rate} | {to_running:.2f} s "
              f"| {cpu_s:.2f} s |")
    print(f"\nclean stop after the full restore (commit, checkpoint, RocksDB close): {full_stop:.2f} s")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
