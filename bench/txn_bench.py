#!/usr/bin/python3
"""Exactly-once benchmarks (issue 17) against a fresh `sluice serve` started and
stopped here, all in one run so the figures compare:

  produce   confluent-kafka (librdkafka) writing --records records of --value-bytes:
            idempotent (enable.idempotence, acks=all) against transactional, in
            transactions of 100 and of 10,000 records (begin, produce, commit)
  consume   the topic the 100-record transactions wrote (a commit marker after every
            100 records) read from the beginning with isolation.level read_committed
            against read_uncommitted

    make bench-txn            (or: bench/txn_bench.py --sluice build/sluice [produce] [consume])

Figures go to stdout as a Markdown table for bench/RESULTS.md. When the broker does
not serve transactions (or idempotent producers), nothing is measured: the script
says what is missing and exits 0."""

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "tests", "integration", "txn"), os.path.join(ROOT, "tests", "integration")]

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

PARTITIONS = 3
SETTINGS = {"transaction.state.log.replication.factor": "1", "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4", "offsets.topic.replication.factor": "1"}


def produce_all(producer, topic, records, value, per_txn=None):
    """Seconds to write `records` records (in transactions of per_txn when given)."""
    started = time.monotonic()
    sent = 0
    while sent < records:
        n = min(per_txn or records, records - sent)
        if per_txn:
            producer.begin_transaction()
        for i in range(n):
            while True:
                try:
                    producer.produce(topic, value=value, partition=(sent + i) % PARTITIONS)
                    break
                except BufferError:
                    producer.poll(0.01)
        sent += n
        if per_txn:
            producer.commit_transaction(60)
    if not per_txn:
        left = producer.flush(120)
        if left:
            raise RuntimeError(f"{left} records not delivered")
    return time.monotonic() - started


def bench_produce(eos, broker, records, value_bytes, runs):
    """[(label, topic, seconds per run)] for idempotent and both transaction sizes."""
    value = b"x" * value_bytes
    cases = [("idempotent (enable.idempotence, acks=all)", None),
             ("transactional, 100 records per transaction", 100),
             ("transactional, 10,000 records per transaction", 10000)]
    out = []
    for label, per_txn in cases:
        times = []
        for run in range(runs):
            topic = f"txn-bench-{per_txn or 'idem'}-{run}"
            eos.create_topic(broker.bootstrap, topic, PARTITIONS)
            config = {"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "log_level": 3,
                      "queue.buffering.max.messages": 1000000}
            if per_txn:
                config["transactional.id"] = f"bench-{topic}"
            else:
                config.update({"enable.idempotence": True, "acks": "all"})
            producer = Producer(config)
            if per_txn:
                producer.init_transactions(30)
            times.append(produce_all(producer, topic, records, value, per_txn))
        out.append((label, f"txn-bench-{per_txn or 'idem'}-0", times))
    return out


def consume_all(bootstrap, topic, records, isolation):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"txn-bench-{time.monotonic_ns()}",
                         "enable.auto.commit": False, "isolation.level": isolation, "log_level": 3,
                         "fetch.max.bytes": 52428800})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    got = 0
    started = time.monotonic()
    deadline = started + 300
    while got < records:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{isolation}: {got} of {records} records in 300 s")
        got += sum(1 for m in consumer.consume(10000, 0.5) if m.error() is None)
    elapsed = time.monotonic() - started
    consumer.close()
    return elapsed


def row(label, records, value_bytes, times):
    best, median = min(times), statistics.median(times)
    return (label, f"{records / median:,.0f} records/s ({records * value_bytes / median / 1e6:.1f} MB/s) "
                   f"median of {len(times)}, best {records / best:,.0f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    parser.add_argument("--records", type=int, default=200000)
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a broker setting for this run (e.g. sluice.produce.fsync=false)")
    parser.add_argument("which", nargs="*", default=["produce", "consume"])
    args = parser.parse_args()
    os.environ["SLUICE_BIN"] = os.path.abspath(args.sluice)
    import eos
    from conftest import Broker

    workdir = tempfile.mkdtemp(prefix="sluice-txn-bench-")
    settings = dict(SETTINGS, **dict(pair.split("=", 1) for pair in args.set))
    broker = Broker(workdir, settings).start()
    try:
        missing = eos.missing_apis(broker.port)
        if missing:
            print(f"txn_bench: the broker does not serve {', '.join(missing)} (issue 17): nothing measured")
            return 0
        print(f"txn_bench: {args.records:,} records of {args.value_bytes} bytes, {PARTITIONS} partitions, "
              f"{args.runs} runs each; {platform.node()}, {os.cpu_count()} CPUs; broker {args.sluice}")
        rows = []
        produced = bench_produce(eos, broker, args.records, args.value_bytes, args.runs)
        if "produce" in args.which:
            rows += [row(f"produce, {label}", args.records, args.value_bytes, times)
                     for label, _topic, times in produced]
        if "consume" in args.which:
            topic = produced[1][1]  # 100-record transactions: a marker every 100 records
            for isolation in ("read_uncommitted", "read_committed"):
                times = [consume_all(broker.bootstrap, topic, args.records, isolation) for _ in range(args.runs)]
                rows.append(row(f"consume {isolation}, the topic of 100-record transactions", args.records,
                                args.value_bytes, times))
        print("\n| measure | figure |\n| --- | --- |")
        for label, figure in rows:
            print(f"| {label} | {figure} |")
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
