#!/usr/bin/python3
"""Word count's throughput (issue 20): Kafka's WordCountDemo on sluice-streams
(examples/wordcount) against a fresh `sluice serve` started and stopped here.

--lines lines of 1-9 words (a vocabulary of --vocabulary words) are written to a
3-partition input topic first; then streams-wordcount starts and the clock runs
from its RUNNING until the application's group has committed the input topic's
and the repartition topic's end offsets (every line and every word processed,
every count produced and acknowledged). Figures: input lines/s and words/s
(a word crosses the repartition topic and is counted once).

    bench/streams_wordcount_bench.py --sluice build/sluice \\
        --wordcount build/examples/wordcount/streams-wordcount [--runs 3] [--set name=value]...

Figures go to stdout as a Markdown table for bench/RESULTS.md."""

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "tests", "integration")]

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PARTITIONS = 3


def make_lines(count, vocabulary, seed=7):
    rng = random.Random(seed)
    words = [f"word{i}" for i in range(vocabulary)]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 9))) for _ in range(count)]


def produce(bootstrap, topic, lines):
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "log_level": 3,
                         "queue.buffering.max.messages": 1000000})
    for i, line in enumerate(lines):
        while True:
            try:
                producer.produce(topic, key=str(i).encode(), value=line.encode())
                break
            except BufferError:
                producer.poll(0.01)
    left = producer.flush(120)
    if left:
        raise RuntimeError(f"{left} lines not delivered")


def end_offsets(consumer, topic):
    ends = []
    for partition in range(PARTITIONS):
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        ends.append(high)
    return ends


def committed(consumer, topic):
    parts = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
    return [max(tp.offset, 0) for tp in parts]


def run_once(args, bootstrap, run, settings):
    app_id = f"wc-bench-{run}-{int(time.time() * 1000)}"
    source, sink = f"{app_id}-lines", f"{app_id}-counts"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for topic in (source, sink):
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(timeout=30)
    lines = make_lines(args.lines, args.vocabulary, seed=run)
    words = sum(len(line.split()) for line in lines)
    produce(bootstrap, source, lines)
    cmd = [args.wordcount, "--bootstrap-server", bootstrap, "--application-id", app_id,
           "--input", source, "--output", sink, "--set", "commit.interval.ms=500"]
    for setting in settings:
        cmd += ["--set", setting]
    log = open(os.path.join(args.workdir, f"{app_id}.log"), "wb")
    app = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    watcher = Consumer({"bootstrap.servers": bootstrap, "group.id": app_id, "log_level": 3,
                        "enable.auto.commit": False})
    try:
        deadline = time.monotonic() + 60
        while b"state RUNNING" not in open(log.name, "rb").read():
            if app.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streams-wordcount did not run: see {log.name}")
            time.sleep(0.02)
        started = time.monotonic()
        repartition = f"{app_id}-counts-store-repartition"
        input_end = end_offsets(watcher, source)
        while True:
            if time.monotonic() - started > 600:
                raise RuntimeError(f"not done within 600 s: see {log.name}")
            if committed(watcher, source) == input_end:
                repartition_end = end_offsets(watcher, repartition)
                if committed(watcher, repartition) == repartition_end:
                    break
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        watcher.close()
        app.terminate()
        app.wait(timeout=60)
        log.close()
    return elapsed, len(lines), words


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sluice", required=True)
    parser.add_argument("--wordcount", required=True)
    parser.add_argument("--lines", type=int, default=200000)
    parser.add_argument("--vocabulary", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], help="a streams setting, name=value")
    args = parser.parse_args()
    os.environ["SLUICE_BIN"] = os.path.abspath(args.sluice)
    from conftest import Broker
    args.workdir = tempfile.mkdtemp(prefix="wc-bench-")
    broker = Broker(args.workdir, {"group.initial.rebalance.delay.ms": "0"}).start()
    try:
        print(f"word count: {args.lines} lines, {args.runs} runs; {platform.node()}, {os.cpu_count()} CPUs; "
              f"{args.wordcount} {' '.join(args.set)}")
        results = [run_once(args, broker.bootstrap, run, args.set) for run in range(args.runs)]
        for elapsed, lines, words in results:
            print(f"  run: {elapsed:.2f} s, {lines / elapsed:,.0f} lines/s, {words / elapsed:,.0f} words/s")
        elapsed = statistics.median(r[0] for r in results)
        lines, words = results[0][1], results[0][2]
        print("| lines | words | median s | lines/s | words/s |")
        print("| --- | --- | --- | --- | --- |")
        print(f"| {lines:,} | {words:,} | {elapsed:.2f} | {lines / elapsed:,.0f} | {words / elapsed:,.0f} |")
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
