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
  table->topic  JdbcSourceConnector (incrementing, JsonConverter with schemas) reading
                --pg-records rows of a PostgreSQL table (a private server started here,
                tests/integration/connect/postgres_harness.py) into a topic
  topic->table  JdbcSinkConnector (insert, auto.create) writing that topic into another
                table: records/s until the table holds every row (--skip-pg: neither)

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
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition


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


def wait_for(predicate, timeout_s, what, interval_s=0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(interval_s)
    raise SystemExit(f"connect bench: {what} did not happen within {timeout_s} s")


def end_offset(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "connect-bench-probe", "log_level": 0})
    try:
        metadata = consumer.list_topics(topic, timeout=5)
        if topic not in metadata.topics or metadata.topics[topic].error is not None:
            return 0
        total = 0
        for partition in metadata.topics[topic].partitions:
            try:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5)
            except KafkaException:  # a topic just created: its partitions not led yet
                return 0
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
                  converter="org.apache.kafka.connect.storage.StringConverter", interval_s=0.05):
    """Starts a worker with one connector; seconds until done() holds
    (checked every interval_s)."""
    records = connector.pop("_records", args.records)
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
        finished = wait_for(done, timeout_s, f"{name} moving {records} records", interval_s)
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
    parser.add_argument("--pg-records", type=int, default=200_000, help="rows for table->topic->table")
    parser.add_argument("--pg-batch-rows", type=int, default=100,
                        help="the source's batch.max.rows (Confluent's default 100)")
    parser.add_argument("--skip-pg", action="store_true", help="no PostgreSQL figures")
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
        pg_figures = None if args.skip_pg else run_postgres(args, workdir, bootstrap)
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
    if pg_figures:
        rows, record_bytes, table_s, sink_pg_s = pg_figures
        pg_mb = rows * record_bytes / 1e6
        for path, seconds in ((f"table -> topic (JdbcSource, batch.max.rows={args.pg_batch_rows})", table_s),
                              ("topic -> table (JdbcSink, insert, batch.size=3000)", sink_pg_s)):
            print(f"| {path} | {rows / seconds:,.0f} | {pg_mb / seconds:.1f} | {seconds:.2f} |")
        print(f"PostgreSQL rows: {rows}, {record_bytes} B per record in the topic (JsonConverter envelope)")


def run_postgres(args, workdir, bootstrap):
    """table -> topic (JdbcSource) then topic -> another table (JdbcSink), on a
    private PostgreSQL server: (rows, bytes per record, seconds, seconds)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                    "integration", "connect"))
    from postgres_harness import PostgresServer, postgres_bin_dir
    if postgres_bin_dir() is None:
        print("connect bench: no PostgreSQL server binaries; table figures skipped", file=sys.stderr)
        return None
    pg = PostgresServer().start()
    try:
        rows = args.pg_records
        pg.sql("CREATE TABLE bench (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, amount NUMERIC(12,2), "
               "at TIMESTAMP(3) NOT NULL, flag BOOLEAN);"
               f"INSERT INTO bench (name, amount, at, flag) SELECT 'name ' || i, i / 100.0, "
               f"TIMESTAMP '2024-01-01' + i * INTERVAL '1 second', i % 2 = 0 FROM generate_series(1, {rows}) i")
        topic = "connect-bench-pg-"
        json = {"value.converter": "org.apache.kafka.connect.json.JsonConverter"}
        table_s = run_connector(args, workdir, bootstrap, "bench-jdbc-source", dict(
            json, **{"connector.class": "JdbcSource", "connection.url": pg.jdbc_url(),
                     "connection.user": "postgres", "mode": "incrementing",
                     "incrementing.column.name": "id", "table.whitelist": "bench", "topic.prefix": topic,
                     "batch.max.rows": str(args.pg_batch_rows), "_records": rows}),
            lambda: end_offset(bootstrap, topic + "bench") >= rows, 900)
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "connect-bench-size", "log_level": 0})
        consumer.assign([TopicPartition(topic + "bench", 0, 0)])
        first = consumer.poll(10)
        record_bytes = len(first.value()) if first is not None and first.value() else 0
        consumer.close()

        def copied():
            try:
                return int(pg.sql("SELECT count(*) FROM copy")[0][0]) >= rows
            except RuntimeError:
                return False
        sink_s = run_connector(args, workdir, bootstrap, "bench-jdbc-sink", dict(
            json, **{"connector.class": "JdbcSink", "connection.url": pg.uri(), "topics": topic + "bench",
                     "table.name.format": "copy", "auto.create": "true", "_records": rows}),
            copied, 900, interval_s=0.25)  # each check is a psql process: not too often
        return rows, record_bytes, table_s, sink_s
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
