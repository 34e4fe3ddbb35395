#!/usr/bin/env python3
"""A tiny single-node fake Kafka broker that records request frames.

It exists only to capture golden request bytes from real clients (kcat,
kafka-python, kafkajs) for tests/fixtures/clients/. It answers just enough for
a producer to get from connect to Produce: ApiVersions, Metadata, Produce and
InitProducerId. Every other request is logged and left unanswered.

Each request frame is written as received, without the 4-byte size prefix, to
<out>/<client>-<api>-v<version>[-<codec>].bin. The first frame of each name
wins, so a capture session can run one client several times (once per codec)
and keep the ApiVersions/Metadata frames of the first run.

Python standard library only, so it runs anywhere python3 does.
"""

import argparse
import os
import socketserver
import struct
import sys
import threading
import time

API_NAMES = {
    0: "produce", 1: "fetch", 2: "listoffsets", 3: "metadata",
    8: "offsetcommit", 9: "offsetfetch", 10: "findcoordinator",
    11: "joingroup", 12: "heartbeat", 13: "leavegroup", 14: "syncgroup",
    15: "describegroups", 16: "listgroups", 17: "saslhandshake",
    18: "apiversions", 19: "createtopics", 20: "deletetopics",
    22: "initproducerid", 29: "describeacls", 32: "describeconfigs",
    36: "saslauthenticate", 60: "describecluster",
}

# (api_key, min, max) advertised in ApiVersions. Produce/Metadata/ApiVersions
# go as high as the schemas in /work/shared/kafka-protocol allow for the
# versions our encoders below handle, so each client picks its own highest.
# The other keys make kafka-python infer a modern broker (it guesses the
# broker version from which APIs exist: DescribeAcls v2 means >= 2.5).
ADVERTISED = [
    (0, 0, 9), (1, 0, 12), (2, 0, 7), (3, 0, 12), (8, 0, 8), (9, 0, 8),
    (10, 0, 4), (11, 0, 9), (12, 0, 4), (13, 0, 5), (14, 0, 5), (15, 0, 5),
    (16, 0, 4), (17, 0, 1), (18, 0, 3), (19, 0, 7), (20, 0, 6), (22, 0, 4),
    (29, 0, 2), (32, 0, 4), (36, 0, 2),
]

# Request versions at and above which the body (and header v2) is flexible.
FLEXIBLE_FROM = {0: 9, 3: 9, 18: 3, 22: 2}

CODEC_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}

NODE_ID = 0
TOPIC_ID = bytes(range(1, 17))  # any non-zero uuid; clients only echo it


def is_flexible(api_key, version):
    return version >= FLEXIBLE_FROM.get(api_key, 1 << 16)


class Writer:
    """Big-endian encoder for response bodies; `flex` picks compact forms."""

    def __init__(self, flex):
        self.flex = flex
        self.out = bytearray()

    def i8(self, v):
        self.out += struct.pack(">b", v)

    def i16(self, v):
        self.out += struct.pack(">h", v)

    def i32(self, v):
        self.out += struct.pack(">i", v)

    def i64(self, v):
        self.out += struct.pack(">q", v)

    def uvarint(self, v):
        while v >= 0x80:
            self.out.append((v & 0x7F) | 0x80)
            v >>= 7
        self.out.append(v)

    def string(self, s):
        """Nullable string: None encodes as length -1 (or 0 when compact)."""
        if s is None:
            if self.flex:
                self.uvarint(0)
            else:
                self.i16(-1)
            return
        data = s.encode()
        if self.flex:
            self.uvarint(len(data) + 1)
        else:
            self.i16(len(data))
        self.out += data

    def array(self, items, write_item):
        if self.flex:
            self.uvarint(len(items) + 1)
        else:
            self.i32(len(items))
        for item in items:
            write_item(item)

    def tags(self):
        """An empty tagged-field section, present only in flexible structs."""
        if self.flex:
            self.uvarint(0)


class Reader:
    """Just enough decoding to read request headers and routing fields."""

    def __init__(self, data, flex=False):
        self.data = data
        self.pos = 0
        self.flex = flex

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated request")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self):
        shift = value = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7

    def string(self):
        n = self.uvarint() - 1 if self.flex else self.i16()
        return None if n < 0 else self.take(n).decode()

    def bytes_(self):
        n = self.uvarint() - 1 if self.flex else self.i32()
        return None if n < 0 else self.take(n)

    def array_len(self):
        return self.uvarint() - 1 if self.flex else self.i32()

    def skip_tags(self):
        if not self.flex:
            return
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def parse_header(frame):
    r = Reader(frame)
    api_key, version, correlation_id = r.i16(), r.i16(), r.i32()
    client_id = r.string()  # client_id is never compact, even in header v2
    r.flex = is_flexible(api_key, version)
    r.skip_tags()
    return api_key, version, correlation_id, client_id, r


def metadata_topics(r, version):
    """Topic names asked for; None means all topics."""
    n = r.array_len()
    if n < 0:
        return None
    names = []
    for _ in range(n):
        if version >= 10:
            r.take(16)  # topic id
        names.append(r.string())
        r.skip_tags()
    if version == 0 and not names:
        return None  # v0 has no null array: empty means all
    return names


def produce_topics(r, version):
    """[(topic, [(partition, records_bytes)])], plus acks."""
    if version >= 3:
        r.string()  # transactional id
    acks = r.i16()
    r.i32()  # timeout
    topics = []
    for _ in range(r.array_len()):
        name = r.string()
        parts = []
        for _ in range(r.array_len()):
            index = r.i32()
            parts.append((index, r.bytes_()))
            r.skip_tags()
        r.skip_tags()
        topics.append((name, parts))
    return acks, topics


def batch_codec(records):
    """Codec name from the first record batch's attributes (magic 2 only)."""
    if not records or len(records) < 23:
        return None
    magic = records[16]
    if magic != 2:
        return "magic%d" % magic
    attributes = struct.unpack(">h", records[21:23])[0]
    return CODEC_NAMES.get(attributes & 0x7, "codec%d" % (attributes & 0x7))


def api_versions_response(version):
    flex = version >= 3
    w = Writer(flex)
    w.i16(0)

    def entry(e):
        w.i16(e[0])
        w.i16(e[1])
        w.i16(e[2])
        w.tags()
    w.array(ADVERTISED, entry)
    if version >= 1:
        w.i32(0)  # throttle
    w.tags()
    return w.out


def metadata_response(version, topics, host, port):
    w = Writer(version >= 9)
    if version >= 3:
        w.i32(0)  # throttle

    def broker(_):
        w.i32(NODE_ID)
        w.string(host)
        w.i32(port)
        if version >= 1:
            w.string(None)  # rack
        w.tags()
    w.array([NODE_ID], broker)
    if version >= 2:
        w.string("sluice-fake-cluster")
    if version >= 1:
        w.i32(NODE_ID)  # controller

    def int32_list(values):
        w.array(values, w.i32)

    def partition(_):
        w.i16(0)
        w.i32(0)  # partition index
        w.i32(NODE_ID)  # leader
        if version >= 7:
            w.i32(0)  # leader epoch
        int32_list([NODE_ID])  # replicas
        int32_list([NODE_ID])  # isr
        if version >= 5:
            int32_list([])  # offline replicas
        w.tags()

    def topic(name):
        w.i16(0)
        w.string(name)
        if version >= 10:
            w.out += TOPIC_ID
        if version >= 1:
            w.i8(0)  # is_internal
        w.array([0], partition)
        if version >= 8:
            w.i32(-2147483648)  # topic authorized operations: not asked
        w.tags()
    w.array(topics, topic)
    if 8 <= version <= 10:
        w.i32(-2147483648)  # cluster authorized operations
    w.tags()
    return w.out


def produce_response(version, topics):
    w = Writer(version >= 9)

    def partition(index):
        w.i32(index)
        w.i16(0)
        w.i64(0)  # base offset
        if version >= 2:
            w.i64(-1)  # log append time: CreateTime topic
        if version >= 5:
            w.i64(0)  # log start offset
        if version >= 8:
            w.array([], None)  # record errors
            w.string(None)  # error message
        w.tags()

    def topic(t):
        w.string(t[0])
        w.array(t[1], partition)
        w.tags()
    w.array(topics, topic)
    if version >= 1:
        w.i32(0)  # throttle
    w.tags()
    return w.out


def init_producer_id_response(version):
    w = Writer(version >= 2)
    w.i32(0)  # throttle
    w.i16(0)
    w.i64(1000)  # producer id
    w.i16(0)  # epoch
    w.tags()
    return w.out


class Broker(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, client, out_dir):
        super().__init__(("127.0.0.1", 0), Handler)
        self.client = client
        self.out_dir = out_dir
        self.lock = threading.Lock()
        self.produce_count = 0

    def record(self, name, frame):
        path = os.path.join(self.out_dir, name + ".bin")
        with self.lock:
            if os.path.exists(path):
                log("  (kept earlier %s)" % os.path.basename(path))
                return
            with open(path, "wb") as f:
                f.write(frame)
            log("  wrote %s (%d bytes)" % (path, len(frame)))


def log(msg):
    print("fake_broker: " + msg, file=sys.stderr, flush=True)


class Handler(socketserver.BaseRequestHandler):
    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def handle(self):
        while True:
            size = self.recv_exact(4)
            if size is None:
                return
            frame = self.recv_exact(struct.unpack(">i", size)[0])
            if frame is None:
                return
            response = self.answer(frame)
            if response is not None:
                self.request.sendall(struct.pack(">i", len(response)) + response)

    def answer(self, frame):
        server = self.server
        api_key, version, corr, client_id, r = parse_header(frame)
        api = API_NAMES.get(api_key, "api%d" % api_key)
        log("%s v%d corr=%d client_id=%r" % (api, version, corr, client_id))
        name = "%s-%s-v%d" % (server.client, api, version)
        flex = is_flexible(api_key, version)
        # Response header v1 (tagged fields) for flexible responses, except
        # ApiVersions, whose response header is always v0.
        header = struct.pack(">i", corr)
        if flex and api_key != 18:
            header += b"\x00"

        if api_key == 18:
            server.record(name, frame)
            if version > 3:
                # Like Kafka: UNSUPPORTED_VERSION in a v0 body, so the client
                # retries with a version we list.
                return header + b"\x00\x23" + api_versions_response(0)[2:]
            return header + api_versions_response(version)
        if api_key == 3:
            server.record(name, frame)
            topics = metadata_topics(r, version)
            if topics is None:
                topics = ["golden"]
            host, port = server.server_address
            return header + metadata_response(version, topics, host, port)
        if api_key == 0:
            acks, topics = produce_topics(r, version)
            codec = None
            for _, parts in topics:
                for _, records in parts:
                    codec = codec or batch_codec(records)
            server.record("%s-%s" % (name, codec), frame)
            with server.lock:
                server.produce_count += 1
            if acks == 0:
                return None
            return header + produce_response(
                version, [(t, [p for p, _ in parts]) for t, parts in topics])
        if api_key == 22:
            server.record(name, frame)
            return header + init_producer_id_response(version)
        server.record(name, frame)
        log("  no answer for %s v%d" % (api, version))
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--client", required=True,
                        help="file name prefix, e.g. kcat")
    parser.add_argument("--out", required=True, help="fixture directory")
    parser.add_argument("--port-file", required=True,
                        help="the chosen port is written here once listening")
    parser.add_argument("--max-seconds", type=float, default=60,
                        help="exit after this long even if nobody stops us")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    server = Broker(args.client, args.out)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, args.port_file)
    log("listening on 127.0.0.1:%d for %s" % (port, args.client))
    deadline = time.monotonic() + args.max_seconds
    try:
        while time.monotonic() < deadline:
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
