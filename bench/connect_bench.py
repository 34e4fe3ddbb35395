#!/usr/bin/python3
"""Connect throughput against a fresh `sluice serve` (both started and stopped here):

  file->topic   FileStreamSource reading --records lines of --size bytes into a topic
                (StringConverter): records/s from the worker's start until the topic's
                end offset holds them all
  topic->file   FileStreamSink writing that topic back out to a file: records/s until
                the file has every line
  topic->HTTP   HttpSink POSTing that topic to an HTTP receiver in this process
                (http.server, keep-alive, answering 200 to each request) in batches of
                --http-batch records (each size given is one run): records/s until the
                receiver has them all
  topic->mirror MirrorSourceConnector copying that topic from the broker (alias `src`) to a
                second fresh `sluice serve` (ByteArrayConverter; the worker produces to the
                second): records/s from the worker's start until `src.connect-bench` on the
                second broker holds them all

    make bench-connect        (or: bench/connect_bench.py --sluice build/sluice)

Figures go to stdout as a Markdown table; bench/RESULTS.md keeps them with the machine."""

import argparse
import http.server
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from confluent_kafka import Consumer, TopicPartition


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command, log_path):
    log = open(log_path, "wb")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit(f"connect bench: {what} did not happen within {timeout_s} s")


def end_offset(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "connect-bench-probe", "log_level": 0})
    try:
        metadata = consumer.list_topics(topic, timeout=5)
        if topic not in metadata.topics or metadata.topics[topic].error is not None:
            return 0
        total = 0
        for partition in metadata.topics[topic].partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5)
            total += high
        return total
    finally:
        consumer.close()


def line_count(path):
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


class Receiver:
    """An HTTP server on a free loopback port counting the values of each POST body
    (`[v,v,...]`: the HTTP sink's default framing; the bench's values hold no comma)."""

    def __init__(self):
        self.records = 0
        self.requests = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the sink's client asks

            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                count = body.count(b",") + 1 if len(body) > 2 else 0
                with receiver.lock:
                    receiver.records += count
                    receiver.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self):
        with self.lock:
            return self.records

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def write_properties(path, settings):
    with open(path, "w") as f:
        for key, value in settings.items():
            f.write(f"{key}={value}\n")


def run_connector(args, workdir, bootstrap, name, connector, done, timeout_s,
                  converter="org.apache.kafka.connect.storage.StringConverter"):
    """Starts a worker with one connector; seconds until done() holds."""
    worker = os.path.join(workdir, f"{name}-worker.properties")
    write_properties(worker, {
        "bootstrap.servers": bootstrap,
        "key.converter": converter,
        "value.converter": converter,
        "header.converter": converter if "ByteArray" in converter
        else "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        "offset.storage.file.filename": os.path.join(workdir, f"{name}.offsets"),
        "offset.flush.interval.ms": "1000",
        "listeners": f"http://127.0.0.1:{free_port()}",
    })
    config = os.path.join(workdir, f"{name}.properties")
    write_properties(config, dict(connector, name=name))
    began = time.monotonic()
    proc = start([args.sluice, "connect", "standalone", worker, config],
                 os.path.join(workdir, f"{name}.log"))
    try:
        finished = wait_for(done, timeout_s, f"{name} moving {args.records} records")
    finally:
        stop(proc)
    return finished - began


def start_broker(args, workdir, bootstrap, data):
    return start([args.sluice, "serve", "--set", f"listeners=PLAINTEXT://{bootstrap}",
                  "--set", f"log.dirs={os.path.join(workdir, data)}", "--set", "admin.listener="],
                 os.path.join(workdir, f"{data}-broker.log"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sluice", default="build/sluice")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--size", type=int, default=100, help="bytes per line, newline included")
    parser.add_argument("--http-batch", default="500",
                        help="batch.max.size of the topic->HTTP runs, comma-separated (one run each)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    args.sluice = os.path.abspath(args.sluice)

    workdir = tempfile.mkdtemp(prefix="sluice-connect-bench-")
    bootstrap = f"127.0.0.1:{free_port()}"
    broker = start_broker(args, workdir, bootstrap, "data")
    target = None
    try:
        wait_for(lambda: end_offset(bootstrap, "__probe") == 0, 30, "the broker starting")
        source_file = os.path.join(workdir, "input.txt")
        line = b"x" * (args.size - 1) + b"\n"
        with open(source_file, "wb") as f:
            for _ in range(args.records):
                f.write(line)
        topic = "connect-bench"
        source_s = run_connector(args, workdir, bootstrap, "bench-file-source",
                                 {"connector.class": "FileStreamSource", "file": source_file, "topic": topic},
                                 lambda: end_offset(bootstrap, topic) >= args.records, 600)
        sink_file = os.path.join(workdir, "output.txt")
        sink_s = run_connector(args, workdir, bootstrap, "bench-file-sink",
                               {"connector.class": "FileStreamSink", "file": sink_file, "topics": topic},
                               lambda: line_count(sink_file) >= args.records, 600)
        http_runs = []
        for batch in [int(b) for b in args.http_batch.split(",") if b]:
            receiver = Receiver()
            try:
                seconds = run_connector(
                    args, workdir, bootstrap, f"bench-http-sink-{batch}",
                    {"connector.class": "HttpSink", "topics": topic, "batch.max.size": str(batch),
                     "http.api.url": f"http://127.0.0.1:{receiver.port}/ingest"},
                    lambda: receiver.count() >= args.records, 600)
                http_runs.append((batch, seconds, receiver.requests))
            finally:
                receiver.close()
        target_bootstrap = f"127.0.0.1:{free_port()}"
        target = start_broker(args, workdir, target_bootstrap, "target-data")
        wait_for(lambda: end_offset(target_bootstrap, "__probe") == 0, 30, "the target broker starting")
        mirror_s = run_connector(args, workdir, target_bootstrap, "bench-mirror", {
            "connector.class": "MirrorSourceConnector", "source.cluster.alias": "src",
            "source.cluster.bootstrap.servers": bootstrap,
            "target.cluster.bootstrap.servers": target_bootstrap,
            "topics": topic, "replication.factor": "1", "offset-syncs.topic.replication.factor": "1"},
            lambda: end_offset(target_bootstrap, "src." + topic) >= args.records, 600,
            converter="org.apache.kafka.connect.converters.ByteArrayConverter")
    finally:
        if target is not None:
            stop(target)
        stop(broker)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    mb = args.records * args.size / 1e6
    print(f"machine: {platform.node()}, {os.cpu_count()} vCPUs; {args.records} records of {args.size} B")
    print("| path | records/s | MB/s | seconds |")
    print("| --- | --- | --- | --- |")
    rows = [("file -> topic (FileStreamSource)", source_s), ("topic -> file (FileStreamSink)", sink_s)]
    rows += [(f"topic -> HTTP (HttpSink, batch.max.size={batch}, {requests:,} requests)", seconds)
             for batch, seconds, requests in http_runs]
    rows.append(("topic -> mirrored topic on a second broker (MirrorSourceConnector)", mirror_s))
    for path, seconds in rows:
        print(f"| {path} | {args.records / seconds:,.0f} | {mb / seconds:.1f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
