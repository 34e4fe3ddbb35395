#!/usr/bin/env python3
"""Many connections producing to one topic, with requests of a fixed shape,
so that the broker is the bound (issue 13, point 4's target: a
10,000-partition broker with 100 clients keeps its throughput within 10 % of
a 10-partition one).

`sluice bench produce --producers 100` drives 100 librdkafka producers: on a
2-core machine they, not the broker, run out of CPU first, and with 9,999
partitions each one's records spread over thousands of small batches, so a
ratio taken with them says more about the clients than about the broker.
Here every request has the same shape whatever the partition count: one
topic, `--batches` record batches of `--records` records of `--size` bytes,
each batch to the next partition of a cursor shared by all connections
(round-robin over the topic), so every partition gets the same share. The
batches are encoded once (only the partition index differs between
requests); the client's work per request is a join and a send, a few tens of
microseconds of Python against the broker's milliseconds.

Reports records/s acknowledged over `--duration` seconds after `--warmup`,
and, with `--pid`, the broker's CPU (utime+stime of /proc/<pid>/stat) per
million records. Figures: bench/RESULTS.md, "Point 4's target, measured".

  bench/produce_fanout.py --bootstrap 127.0.0.1:9092 --topic t --partitions 9999 \
      [--connections 100] [--batches 10] [--records 100] [--size 100] [--acks 1] \
      [--in-flight 2] [--duration 10] [--warmup 3] [--pid <broker pid>] [--json]
"""
import argparse
import json
import os
import random
import selectors
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "integration"))
from client_wire import crc32c, varint  # noqa: E402
from kafka_wire import Reader, Writer, request_header  # noqa: E402

API_PRODUCE = 0
PRODUCE_VERSION = 9  # the first flexible version, as librdkafka 2.x sends


def uvarint(value):
    return bytes(Writer().uvarint(value).buf)


def record_batch(records, size):
    """A record batch v2 of `records` keyless records of `size` random letters
    (no compression, no producer id). The broker assigns the offsets and the
    leader epoch, which the CRC does not cover, so one batch serves every
    partition and request."""
    now_ms = int(time.time() * 1000)
    body = bytearray()
    for delta in range(records):
        value = bytes(random.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(size))
        record = b"\x00" + varint(0) + varint(delta) + varint(-1) + varint(size) + value + varint(0)
        body += varint(len(record)) + record
    after_crc = struct.pack(">hiqqqhii", 0, records - 1, now_ms, now_ms, -1, -1, -1, records) + body
    tail = struct.pack(">ibI", -1, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(tail)) + tail


class RequestShape:
    """Produce v9 requests of `batches` partitions each, the partitions taken
    round-robin over the topic; only the header and partition indexes are
    encoded per request."""

    def __init__(self, topic, partitions, batches, batch, acks):
        self.partitions = partitions
        self.batches = min(batches, partitions)
        self.cursor = 0
        head = Writer()
        head.uvarint(0)  # transactional id: null
        head.i16(acks).i32(30000)
        head.uvarint(2)  # one topic
        head.compact_string(topic)
        head.uvarint(self.batches + 1)
        self.head = bytes(head.buf)
        self.entry_tail = uvarint(len(batch) + 1) + batch + b"\x00"  # records, no tags
        self.tail = b"\x00\x00"  # the topic's and the request's tags

    def next_request(self, correlation_id):
        parts = [request_header(API_PRODUCE, PRODUCE_VERSION, correlation_id, "fanout", True),
                 self.head]
        for _ in range(self.batches):
            parts.append(struct.pack(">i", self.cursor))
            parts.append(self.entry_tail)
            self.cursor = (self.cursor + 1) % self.partitions
        parts.append(self.tail)
        payload = b"".join(parts)
        return struct.pack(">i", len(payload)) + payload


def produce_errors(payload):
    """The partition error codes of a Produce v9 response that are not 0."""
    reader = Reader(payload)
    reader.i32()  # correlation id
    reader.skip_tags()
    errors = []
    for _ in range(reader.uvarint() - 1):
        reader.compact_string()
        for _ in range(reader.uvarint() - 1):
            reader.i32()
            error = reader.i16()
            reader.i64(), reader.i64(), reader.i64()
            for _ in range(reader.uvarint() - 1):  # record errors
                reader.i32(), reader.compact_string(), reader.skip_tags()
            reader.compact_string()
            reader.skip_tags()
            if error:
                errors.append(error)
        reader.skip_tags()
    return errors


class Connection:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.outgoing = bytearray()
        self.incoming = bytearray()
        self.in_flight = 0

    def responses(self):
        """Whole response payloads received so far."""
        while len(self.incoming) >= 4:
            size = struct.unpack_from(">i", self.incoming)[0]
            if len(self.incoming) < 4 + size:
                return
            payload = bytes(self.incoming[4:4 + size])
            del self.incoming[:4 + size]
            yield payload


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(args):
    host, port = args.bootstrap.rsplit(":", 1)
    batch = record_batch(args.records, args.size)
    shape = RequestShape(args.topic, args.partitions, args.batches, batch, args.acks)
    records_per_request = shape.batches * args.records
    selector = selectors.DefaultSelector()
    connections = [Connection(host, int(port)) for _ in range(args.connections)]
    correlation = 0

    def fill(conn):
        nonlocal correlation
        while conn.in_flight < args.in_flight:
            correlation += 1
            conn.outgoing += shape.next_request(correlation)
            conn.in_flight += 1

    for conn in connections:
        fill(conn)
        selector.register(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    start = time.monotonic()
    measure_from = start + args.warmup
    measure_to = measure_from + args.duration
    acked = 0
    errors = {}
    measuring = False
    cpu_before = None
    while True:
        now = time.monotonic()
        if not measuring and now >= measure_from:
            measuring, acked, measure_from = True, 0, now
            measure_to = now + args.duration
            cpu_before = cpu_seconds(args.pid) if args.pid else None
        if measuring and now >= measure_to:
            break
        for key, events in selector.select(timeout=0.5):
            conn = key.data
            if events & selectors.EVENT_WRITE and conn.outgoing:
                sent = conn.sock.send(conn.outgoing)
                del conn.outgoing[:sent]
            if events & selectors.EVENT_READ:
                data = conn.sock.recv(1 << 20)
                if not data:
                    raise SystemExit("the broker closed a connection")
                conn.incoming += data
                for payload in conn.responses():
                    conn.in_flight -= 1
                    failed = produce_errors(payload)
                    for code in failed:
                        errors[code] = errors.get(code, 0) + 1
                    acked += records_per_request - len(failed) * args.records
                fill(conn)
            wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outgoing else 0)
            if key.events != wanted:
                selector.modify(conn.sock, wanted, conn)
    elapsed = time.monotonic() - measure_from
    cpu = cpu_seconds(args.pid) - cpu_before if args.pid else None
    for conn in connections:
        conn.sock.close()
    return {
        "partitions": args.partitions,
        "connections": args.connections,
        "records": acked,
        "seconds": round(elapsed, 3),
        "records_per_sec": round(acked / elapsed),
        "mb_per_sec": round(acked * args.size / elapsed / 1e6, 1),
        "broker_cpu_s": None if cpu is None else round(cpu, 2),
        "broker_cpu_s_per_million": None if cpu is None or not acked else round(cpu * 1e6 / acked, 3),
        "errors": errors,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="host:port")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True, help="the topic's partition count")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--batches", type=int, default=10, help="record batches (partitions) per request")
    parser.add_argument("--records", type=int, default=100, help="records per batch")
    parser.add_argument("--size", type=int, default=100, help="value bytes per record")
    parser.add_argument("--acks", type=int, default=1)
    parser.add_argument("--in-flight", type=int, default=2, help="requests in flight per connection")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--pid", type=int, help="the broker's pid, for its CPU time")
    parser.add_argument("--json", action="store_true", help="one JSON line instead of text")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    cpu = "" if result["broker_cpu_s"] is None else (
        f", broker {result['broker_cpu_s']} CPU-s ({result['broker_cpu_s_per_million']} per million)")
    print(f"{result['partitions']} partitions, {result['connections']} connections: "
          f"{result['records_per_sec']:,} records/s ({result['mb_per_sec']} MB/s) over "
          f"{result['seconds']} s{cpu}; errors {result['errors'] or 'none'}")


if __name__ == "__main__":
    main()
