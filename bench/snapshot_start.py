#!/usr/bin/env python3
"""Issue 15's metadata snapshot figure: the start-up time of a lone default
node with a long metadata history, replaying the whole log versus loading a
snapshot and replaying only the log after it.

History: --topics topics of --partitions partitions created, then deleted
and created again --rounds times (so the log holds rounds x the records the
final image needs), each CreateTopics/DeleteTopics of --per-request topics.
Then three starts on the same data dir:
  1. metadata.log.max.record.bytes.between.snapshots at its maximum: no
     snapshot, the whole log replayed (the figure "without");
  2. with a 1 MiB threshold: the start replays the log and takes a snapshot;
  3. the same: the snapshot loaded, the log after it replayed ("with").
Each start's time is the process start to ApiVersions answering (the data
path serves), and the node's own "start-up load" line (snapshot, records
replayed after it, ms). Usage:
  bench/snapshot_start.py --sluice build/sluice [--topics 2000] [--rounds 5]"""

import argparse
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

LOAD_LINE = re.compile(r"start-up load: (.*) in (\d+) ms")
STARTED_LINE = re.compile(r"started in (\d+) ms")


def wait_all(futures, timeout_s=120):
    for future in futures.values():
        future.result(timeout=timeout_s)


def build_history(bootstrap, topics, partitions, rounds, per_request):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [f"history-{i}" for i in range(topics)]
    chunks = [names[i:i + per_request] for i in range(0, len(names), per_request)]
    for round_index in range(rounds):
        for chunk in chunks:
            wait_all(admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1)
                                          for n in chunk], operation_timeout=60, request_timeout=90))
        if round_index + 1 < rounds:
            for chunk in chunks:
                wait_all(admin.delete_topics(chunk, operation_timeout=60, request_timeout=90))


def timed_start(broker, threshold):
    broker.overrides["metadata.log.max.record.bytes.between.snapshots"] = str(threshold)
    began = time.monotonic()
    broker.start()
    ready_s = time.monotonic() - began
    with open(broker.log_path, errors="replace") as f:
        text = f.read()
    m = LOAD_LINE.search(text)
    line = f"{m.group(1)} in {m.group(2)} ms" if m else "(no start-up line)"
    started = STARTED_LINE.search(text)
    line += f"; the broker says started in {started.group(1)} ms" if started else ""
    broker.stop()
    return ready_s, line


def metadata_bytes(data_dir):
    path = os.path.join(data_dir, "__cluster_metadata-0")
    return {name: os.path.getsize(os.path.join(path, name)) for name in sorted(os.listdir(path))
            if name.endswith(".log") or name.endswith(".checkpoint")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", required=True)
    parser.add_argument("--topics", type=int, default=2000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-request", type=int, default=200)
    args = parser.parse_args()
    os.environ["SLUICE_BIN"] = os.path.abspath(args.sluice)
    from conftest import Broker

    root = tempfile.mkdtemp(prefix="sluice-snapshot-bench-")
    try:
        broker = Broker(os.path.join(root, "node"), {
            "metadata.log.max.record.bytes.between.snapshots": str(2**62)})
        broker.start()
        began = time.monotonic()
        build_history(broker.bootstrap, args.topics, args.partitions, args.rounds, args.per_request)
        print(f"history: {args.rounds} rounds of {args.topics} topics x {args.partitions} partitions "
              f"in {time.monotonic() - began:.1f} s")
        broker.stop()
        print(f"metadata dir: {metadata_bytes(broker.data_dir)}")
        for label, threshold in (("without snapshot", 2**62), ("taking a snapshot", 1 << 20),
                                 ("with snapshot", 1 << 20)):
            ready_s, line = timed_start(broker, threshold)
            print(f"{label:18s} ready in {ready_s:.2f} s; {line}")
        print(f"metadata dir: {metadata_bytes(broker.data_dir)}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
