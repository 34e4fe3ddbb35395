#!/usr/bin/python3
"""sluice-streams throughput against a fresh `sluice serve` (started and stopped here),
each case under at_least_once and exactly_once_v2:

  wordcount   examples/wordcount (Kafka's WordCountDemo): --lines lines of --words words
              (from a vocabulary of --vocabulary) pre-loaded into the input topic; the
              application then reads them all, re-keys every word through the repartition
              topic, counts it (store + changelog) and writes every new count
  pageviews   examples/clickstream with --parts pageviews: --clicks datagen-shaped JSON
              clicks (10 pages, 40 users, timestamps 5 ms apart) pre-loaded; the clicks are
              re-keyed by page through the repartition topic and counted per page per
              1-minute tumbling window (window store + changelog); every update is written

Each run: a new topic (--partitions), the records produced before the application starts,
then the application started with a new application.id (its defaults: commit.interval.ms
30000 under at_least_once, 100 under exactly_once_v2) and its output read (read_committed
under exactly_once_v2) until it holds one record per word or click. Timed: from the
application's start (process start, internal topics, group join included) and from its
first "state RUNNING" (tasks assigned: processing alone, within the 50 ms the reader polls)
to the last output record read. records/s = input records / seconds.

    make bench-streams        (or: bench/streams_bench.py --build build)
    make bench-streams STREAMS_BENCH_ARGS="--lines 50000 --app-set commit.interval.ms=1000"

Figures go to stdout as a Markdown table; bench/RESULTS.md keeps them with the machine."""

import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

GUARANTEES = ("at_least_once", "exactly_once_v2")
PAGES = ["/index.html", "/site/login.html", "/site/user_status.html", "/site/products.html",
         "/site/cart.html", "/site/checkout.html", "/images/logo.png", "/images/track.png",
         "/site/article.html", "/site/search.html"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc, timeout_s=60):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Broker:
    def __init__(self, sluice, workdir):
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        data = os.path.join(workdir, "data")
        self.log = open(os.path.join(workdir, "broker.log"), "wb")
        self.proc = subprocess.Popen(
            [sluice, "serve", "--set", f"listeners=PLAINTEXT://{self.bootstrap}", "--set",
             f"log.dirs={data}", "--set", "node.id=1", "--set", "admin.listener=", "--set",
             "group.initial.rebalance.delay.ms=0"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("streams bench: the broker exited at start (see broker.log)")
            try:
                AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0}).list_topics(timeout=1)
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.2)
        raise SystemExit("streams bench: the broker did not start within 30 s")

    def close(self):
        stop(self.proc)
        self.log.close()


def create_topics(bootstrap, names, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(n, partitions, 1) for n in names]).values():
        future.result(timeout=30)


def preload(bootstrap, topic, records):
    """records: (key bytes, value bytes, timestamp or None). Returns seconds taken."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50,
                         "batch.num.messages": 10000, "queue.buffering.max.messages": 1000000})
    started = time.monotonic()
    for key, value, timestamp in records:
        while True:
            try:
                if timestamp is None:
                    producer.produce(topic, key=key, value=value)
                else:
                    producer.produce(topic, key=key, value=value, timestamp=timestamp)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush()
    return time.monotonic() - started


def wordcount_input(lines, words, vocabulary):
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(vocabulary)]
    return [(str(i).encode(), " ".join(rng.choice(vocab) for _ in range(words)).encode(), None)
            for i in range(lines)]


def clicks_input(count):
    rng = random.Random(2)
    base = (int(time.time() * 1000) // 60000) * 60000 - count * 5 - 60000
    records = []
    for i in range(count):
        user = rng.randint(1, 40)
        ts = base + i * 5
        value = {"ip": f"111.152.45.{rng.randint(1, 254)}", "userid": user, "remote_user": "-",
                 "time": "-", "_time": ts, "request": f"GET {rng.choice(PAGES)} HTTP/1.1",
                 "status": "200", "bytes": str(rng.randint(100, 14000)), "referrer": "-",
                 "agent": "Mozilla/5.0 (X11; Linux x86_64)"}
        records.append((str(user).encode(), json.dumps(value).encode(), ts))
    return records


def read_output(bootstrap, topic, expected, isolation, app, log_path, timeout_s):
    """(when the application said RUNNING, when the last of `expected`
    output records was read)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{topic}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": isolation, "fetch.max.bytes": 52428800})
    consumer.subscribe([topic])
    seen, running, last = 0, None, None
    deadline = time.monotonic() + timeout_s
    try:
        while seen < expected:
            if time.monotonic() > deadline:
                raise SystemExit(f"streams bench: {seen} of {expected} output records within {timeout_s} s")
            if app.poll() is not None:
                raise SystemExit(f"streams bench: the application exited ({app.returncode})")
            messages = consumer.consume(num_messages=10000, timeout=0.05)
            now = time.monotonic()
            if running is None:
                with open(log_path, "rb") as log:
                    if b"state RUNNING" in log.read():
                        running = now
            seen += sum(1 for message in messages if message.error() is None)
            if messages:
                last = now
    finally:
        consumer.close()
    return running if running is not None else last, last


def run_case(args, broker, workdir, case, guarantee, records, expected, run):
    tag = f"{case}-{guarantee.replace('_', '')}-{run}"
    source, sink, app_id = f"in-{tag}", f"out-{tag}", f"bench-{tag}"
    create_topics(broker.bootstrap, [source, sink], args.partitions)
    preload_s = preload(broker.bootstrap, source, records)
    settings = ["--set", f"processing.guarantee={guarantee}",
                "--set", f"state.dir={os.path.join(workdir, 'state-' + tag)}"]
    for setting in args.app_set:
        settings += ["--set", setting]
    if case == "wordcount":
        command = [args.wordcount, "--bootstrap-server", broker.bootstrap, "--application-id", app_id,
                   "--input", source, "--output", sink, *settings]
    else:
        commit_ms = "100" if guarantee == "exactly_once_v2" else "30000"  # Kafka's defaults
        command = [args.clickstream, "--bootstrap-server", broker.bootstrap, "--application-id", app_id,
                   "--clicks", source, "--pageviews-output", sink, "--parts", "pageviews",
                   "--http", "none", "--set", f"commit.interval.ms={commit_ms}", *settings]
    load_before = os.getloadavg()[0]
    log_path = os.path.join(workdir, f"{tag}.log")
    with open(log_path, "wb") as log:
        started = time.monotonic()
        app = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            isolation = "read_committed" if guarantee == "exactly_once_v2" else "read_uncommitted"
            first, last = read_output(broker.bootstrap, sink, expected, isolation, app, log_path,
                                      args.timeout)
        finally:
            stop(app)
    load_after = os.getloadavg()[0]
    total_s, processing_s = last - started, last - first
    return {"case": case, "guarantee": guarantee, "records": len(records), "output": expected,
            "preload_s": preload_s, "total_s": total_s, "processing_s": processing_s,
            "rate_total": len(records) / total_s, "rate_processing": len(records) / max(processing_s, 1e-3),
            "load": (load_before, load_after)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build", help="the build directory (default: build)")
    parser.add_argument("--sluice")
    parser.add_argument("--wordcount")
    parser.add_argument("--clickstream")
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--words", type=int, default=5, help="words per line")
    parser.add_argument("--vocabulary", type=int, default=10_000)
    parser.add_argument("--clicks", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", choices=["wordcount", "pageviews"])
    parser.add_argument("--guarantee", choices=GUARANTEES)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--app-set", action="append", default=[], metavar="NAME=VALUE",
                        help="a Streams setting for the applications (repeatable), e.g. "
                             "commit.interval.ms=1000")
    args = parser.parse_args()
    args.sluice = args.sluice or os.path.join(args.build, "sluice")
    args.wordcount = args.wordcount or os.path.join(args.build, "examples", "wordcount", "streams-wordcount")
    args.clickstream = args.clickstream or os.path.join(args.build, "examples", "clickstream",
                                                        "streams-clickstream")
    for binary in (args.sluice, args.wordcount, args.clickstream):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"streams bench: {binary} is not built")

    cases = []
    if args.only in (None, "wordcount"):
        lines = wordcount_input(args.lines, args.words, args.vocabulary)
        cases.append(("wordcount", lines, args.lines * args.words))
    if args.only in (None, "pageviews"):
        cases.append(("pageviews", clicks_input(args.clicks), args.clicks))
    guarantees = [args.guarantee] if args.guarantee else list(GUARANTEES)

    print(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"Linux {platform.release()}; load average at start {os.getloadavg()}", flush=True)
    results = []
    workdir = tempfile.mkdtemp(prefix="streams-bench-")
    try:
        for case, records, expected in cases:
            for guarantee in guarantees:
                for run in range(1, args.runs + 1):
                    broker = Broker(args.sluice, tempfile.mkdtemp(dir=workdir))
                    try:
                        result = run_case(args, broker, workdir, case, guarantee, records, expected, run)
                    finally:
                        broker.close()
                    results.append(result)
                    print(f"{case} {guarantee} run {run}: {result['rate_processing']:,.0f} records/s processing "
                          f"({result['processing_s']:.2f} s), {result['rate_total']:,.0f} records/s from start "
                          f"({result['total_s']:.2f} s), load {result['load'][0]:.1f}->{result['load'][1]:.1f}",
                          flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print("| case | guarantee | input records | output records | records/s (RUNNING -> last output) "
          "| records/s (start -> last) | seconds | load average |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        print(f"| {r['case']} | {r['guarantee']} | {r['records']:,} | {r['output']:,} | "
              f"{r['rate_processing']:,.0f} | {r['rate_total']:,.0f} | {r['total_s']:.2f} | "
              f"{r['load'][0]:.1f} -> {r['load'][1]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
