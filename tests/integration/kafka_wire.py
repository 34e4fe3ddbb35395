"""A minimal Kafka wire client for the tests, written from the protocol schemas.

It covers only what the installed clients cannot send: the readiness probe
(ApiVersions v0), malformed frames for the bad-input tests, and the admin calls
that confluent-kafka 1.7 lacks (DeleteRecords v0, IncrementalAlterConfigs v0,
ListOffsets v7 for the max-timestamp query, Describe/AlterUserScramCredentials),
and SASL frames (SaslHandshake, SaslAuthenticate) for the security tests. Every
version used here is inside Kafka 4.0's baseline (KIP-896).
"""

import socket
import struct
import time

API_PRODUCE = 0
API_LIST_OFFSETS = 2
API_METADATA = 3
API_API_VERSIONS = 18
API_DELETE_RECORDS = 21
API_SASL_HANDSHAKE = 17
API_SASL_AUTHENTICATE = 36
API_INCREMENTAL_ALTER_CONFIGS = 44
API_DESCRIBE_USER_SCRAM_CREDENTIALS = 50
API_ALTER_USER_SCRAM_CREDENTIALS = 51

ERR_NONE = 0
ERR_UNSUPPORTED_VERSION = 35
ERR_ILLEGAL_SASL_STATE = 34
ERR_UNSUPPORTED_SASL_MECHANISM = 33
ERR_SASL_AUTHENTICATION_FAILED = 58
ERR_RESOURCE_NOT_FOUND = 91

SCRAM_SHA_256 = 1  # ScramMechanism ids of DescribeUserScramCredentials / AlterUserScramCredentials
SCRAM_SHA_512 = 2

RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4
OP_SET = 0
OP_DELETE = 1

TS_LATEST = -1
TS_EARLIEST = -2
TS_MAX_TIMESTAMP = -3


class Writer:
    def __init__(self):
        self.buf = bytearray()

    def i8(self, v):
        self.buf += struct.pack(">b", v)
        return self

    def i16(self, v):
        self.buf += struct.pack(">h", v)
        return self

    def i32(self, v):
        self.buf += struct.pack(">i", v)
        return self

    def i64(self, v):
        self.buf += struct.pack(">q", v)
        return self

    def uvarint(self, v):
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                self.buf.append(b | 0x80)
            else:
                self.buf.append(b)
                return self

    def string(self, s):
        if s is None:
            return self.i16(-1)
        data = s.encode()
        return self.i16(len(data)).raw(data)

    def compact_string(self, s):
        if s is None:
            return self.uvarint(0)
        data = s.encode()
        return self.uvarint(len(data) + 1).raw(data)

    def array(self, items, write_item):
        self.i32(len(items))
        for item in items:
            write_item(self, item)
        return self

    def compact_array(self, items, write_item):
        self.uvarint(len(items) + 1)
        for item in items:
            write_item(self, item)
        return self

    def compact_bytes(self, data):
        if data is None:
            return self.uvarint(0)
        return self.uvarint(len(data) + 1).raw(data)

    def bytes_(self, data):
        if data is None:
            return self.i32(-1)
        return self.i32(len(data)).raw(data)

    def no_tags(self):
        return self.uvarint(0)

    def raw(self, data):
        self.buf += data
        return self


class Reader:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def _take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError(f"response truncated: need {n} bytes at {self.pos}, have {len(self.data)}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def i8(self):
        return struct.unpack(">b", self._take(1))[0]

    def i16(self):
        return struct.unpack(">h", self._take(2))[0]

    def i32(self):
        return struct.unpack(">i", self._take(4))[0]

    def i64(self):
        return struct.unpack(">q", self._take(8))[0]

    def uvarint(self):
        shift = 0
        value = 0
        while True:
            b = self._take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    def string(self):
        n = self.i16()
        return None if n < 0 else self._take(n).decode()

    def compact_string(self):
        n = self.uvarint()
        return None if n == 0 else self._take(n - 1).decode()

    def bytes_(self):
        n = self.i32()
        return None if n < 0 else self._take(n)

    def compact_bytes(self):
        n = self.uvarint()
        return None if n == 0 else self._take(n - 1)

    def array(self, read_item):
        n = self.i32()
        return [] if n < 0 else [read_item(self) for _ in range(n)]

    def compact_array(self, read_item):
        n = self.uvarint()
        return [] if n == 0 else [read_item(self) for _ in range(n - 1)]

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self._take(self.uvarint())

    def remaining(self):
        return len(self.data) - self.pos


def request_header(api_key, version, correlation_id, client_id="sluice-it", flexible=False):
    """Request header v1 (v2 when the request version is flexible)."""
    w = Writer().i16(api_key).i16(version).i32(correlation_id).string(client_id)
    if flexible:
        w.no_tags()
    return bytes(w.buf)


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def recv_exact(sock, n):
    """Reads n bytes; returns fewer only if the peer closed the connection."""
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def read_frame(sock):
    """Returns one response payload, or None if the connection was closed first."""
    head = recv_exact(sock, 4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack(">i", head)
    if size < 0:
        raise ValueError(f"negative response size {size}")
    body = recv_exact(sock, size)
    if len(body) < size:
        return None
    return body


def connection_closed(sock, timeout_s=5.0):
    """True when the peer closes (EOF or reset) within timeout_s and sends nothing."""
    sock.settimeout(timeout_s)
    try:
        data = sock.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return data == b""


def closes_after_answers(sock, timeout_s=5.0):
    """True when the peer closes the connection within timeout_s, whatever it sent
    first (Kafka may answer a request with an error before closing)."""
    sock.settimeout(timeout_s)
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return True


def connect(port, timeout_s=5.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def call(sock, api_key, version, body, correlation_id, flexible=False, response_header_flexible=None):
    """Sends one request and returns a Reader positioned after the response header."""
    if response_header_flexible is None:
        response_header_flexible = flexible and api_key != API_API_VERSIONS
    sock.sendall(frame(request_header(api_key, version, correlation_id, flexible=flexible) + body))
    payload = read_frame(sock)
    if payload is None:
        raise ConnectionError(f"connection closed before the answer to api {api_key} v{version}")
    r = Reader(payload)
    got = r.i32()
    if got != correlation_id:
        raise ValueError(f"correlation id {got}, expected {correlation_id}")
    if response_header_flexible:
        r.skip_tags()
    return r


def find_coordinator(port, group, timeout_s=15.0):
    """FindCoordinator v0 for a group: (error_code, node_id). The first lookup makes
    the broker create __consumer_offsets, as Kafka does, answering
    COORDINATOR_NOT_AVAILABLE (15) until it exists: retried, as clients do."""
    deadline = time.monotonic() + timeout_s
    while True:
        with connect(port) as sock:
            r = call(sock, 10, 0, bytes(Writer().string(group).buf), 1)
            error, node_id = r.i16(), r.i32()
        if error != 15 or time.monotonic() > deadline:
            return error, node_id
        time.sleep(0.05)


def parse_api_versions_v0(r):
    """ApiVersions response v0 body: (error_code, {api_key: (min, max)})."""
    error = r.i16()
    keys = r.array(lambda rr: (rr.i16(), rr.i16(), rr.i16()))
    return error, {k: (lo, hi) for k, lo, hi in keys}


def api_versions(port, timeout_s=5.0):
    with connect(port, timeout_s) as sock:
        return parse_api_versions_v0(call(sock, API_API_VERSIONS, 0, b"", 1))


def update_features(port, updates, version=1, validate_only=False):
    """UpdateFeatures (KIP-584) of {name: (level, upgrade type 1 upgrade, 2 safe
    downgrade, 3 unsafe)}: (error, message, {name: error} for v0-1)."""
    w = Writer().i32(30000)
    w.compact_array(sorted(updates.items()), lambda w, u: (
        w.compact_string(u[0]).i16(u[1][0]),
        w.i8(u[1][1]) if version >= 1 else w.i8(1 if u[1][1] > 1 else 0),
        w.no_tags()))
    if version >= 1:
        w.i8(1 if validate_only else 0)
    w.no_tags()
    with connect(port, timeout_s=30) as sock:
        r = call(sock, 57, version, bytes(w.buf), 1, flexible=True)
    r.i32()  # throttle
    error, message = r.i16(), r.compact_string()
    results = {}
    if version <= 1:
        def result(x):
            name, code = x.compact_string(), x.i16()
            x.compact_string()
            x.skip_tags()
            return name, code
        results = dict(r.compact_array(result))
    return error, message, results


def api_versions_features(port, version=4):
    """ApiVersions v3/v4's feature flags (KIP-584, tagged fields): {"error",
    "supported": {name: (min, max)}, "finalized": {name: (min, max)}, "epoch"}."""
    body = Writer().compact_string("sluice-it").compact_string("1.0").no_tags()
    with connect(port) as sock:
        r = call(sock, API_API_VERSIONS, version, bytes(body.buf), 1, flexible=True,
                 response_header_flexible=False)
    out = {"error": r.i16(), "supported": {}, "finalized": {}, "epoch": -1}

    def skip_key(k):
        k.i16(), k.i16(), k.i16()
        k.skip_tags()

    def feature(f):
        name, first, second = f.compact_string(), f.i16(), f.i16()
        f.skip_tags()
        return name, (first, second)

    r.compact_array(skip_key)
    r.i32()  # throttle
    for _ in range(r.uvarint()):
        tag, field = r.uvarint(), Reader(r._take(r.uvarint()))
        if tag == 0:
            out["supported"] = dict(field.compact_array(feature))
        elif tag == 1:
            out["epoch"] = field.i64()
        elif tag == 2:  # MaxVersionLevel first, then MinVersionLevel
            out["finalized"] = {name: (low, high) for name, (high, low) in field.compact_array(feature)}
    return out


def delete_records(port, topic, offsets_by_partition, timeout_ms=10000):
    """DeleteRecords v0; returns {partition: (error_code, low_watermark)}."""
    def partition(w, item):
        w.i32(item[0]).i64(item[1])

    def topic_entry(w, _):
        w.string(topic).array(sorted(offsets_by_partition.items()), partition)

    body = Writer().array([topic], topic_entry).i32(timeout_ms)
    with connect(port) as sock:
        r = call(sock, API_DELETE_RECORDS, 0, bytes(body.buf), 7)
        r.i32()  # throttle
        out = {}
        for _name, parts in r.array(lambda rr: (rr.string(), rr.array(lambda p: (p.i32(), p.i64(), p.i16())))):
            for index, low, error in parts:
                out[index] = (error, low)
        return out


def incremental_alter_configs(port, resource_type, resource_name, ops, validate_only=False):
    """IncrementalAlterConfigs v0 with ops [(name, op, value)]; returns (error_code, message)."""
    def config(w, op):
        w.string(op[0]).i8(op[1]).string(op[2])

    def resource(w, _):
        w.i8(resource_type).string(resource_name).array(ops, config)

    body = Writer().array([None], resource).i8(1 if validate_only else 0)
    with connect(port) as sock:
        r = call(sock, API_INCREMENTAL_ALTER_CONFIGS, 0, bytes(body.buf), 9)
        r.i32()  # throttle
        results = r.array(lambda rr: (rr.i16(), rr.string(), rr.i8(), rr.string()))
        if len(results) != 1:
            raise ValueError(f"expected one resource result, got {results}")
        return results[0][0], results[0][1]


def list_offsets_v7(port, topic, timestamps_by_partition):
    """ListOffsets v7 (flexible); returns {partition: (error_code, timestamp, offset, leader_epoch)}."""
    def partition(w, item):
        w.i32(item[0]).i32(-1).i64(item[1]).no_tags()

    def topic_entry(w, _):
        w.compact_string(topic).compact_array(sorted(timestamps_by_partition.items()), partition).no_tags()

    body = Writer().i32(-1).i8(0).compact_array([topic], topic_entry).no_tags()
    with connect(port) as sock:
        r = call(sock, API_LIST_OFFSETS, 7, bytes(body.buf), 11, flexible=True)
        r.i32()  # throttle

        def read_partition(p):
            out = (p.i32(), p.i16(), p.i64(), p.i64(), p.i32())
            p.skip_tags()
            return out

        def read_topic(t):
            name = t.compact_string()
            parts = t.compact_array(read_partition)
            t.skip_tags()
            return name, parts

        result = {}
        for _name, parts in r.compact_array(read_topic):
            for index, error, ts, offset, epoch in parts:
                result[index] = (error, ts, offset, epoch)
        return result


def metadata_v12(port, topics, allow_auto_create):
    """Metadata v12 (flexible). topics None = all topics. Returns a dict:
    {"brokers": [(id, host, port)], "cluster_id", "controller_id",
     "topics": {name: {"error", "id" (hex), "internal", "partitions": {index: {...}}}}}."""
    def topic_entry(w, name):
        w.raw(b"\x00" * 16).compact_string(name).no_tags()

    w = Writer()
    if topics is None:
        w.uvarint(0)  # null array: every topic
    else:
        w.compact_array(topics, topic_entry)
    w.i8(1 if allow_auto_create else 0).i8(0).no_tags()
    with connect(port) as sock:
        r = call(sock, API_METADATA, 12, bytes(w.buf), 13, flexible=True)
        r.i32()  # throttle

        def broker(b):
            out = (b.i32(), b.compact_string(), b.i32())
            b.compact_string()  # rack
            b.skip_tags()
            return out

        def int_array(a):
            return a.compact_array(lambda x: x.i32())

        def partition(p):
            out = {"error": p.i16(), "index": p.i32(), "leader": p.i32(), "leader_epoch": p.i32(),
                   "replicas": int_array(p), "isr": int_array(p), "offline": int_array(p)}
            p.skip_tags()
            return out

        def topic(t):
            out = {"error": t.i16(), "name": t.compact_string(), "id": t._take(16).hex(),
                   "internal": t.i8() != 0}
            out["partitions"] = {p["index"]: p for p in t.compact_array(partition)}
            t.i32()  # authorized operations
            t.skip_tags()
            return out

        brokers = r.compact_array(broker)
        cluster_id = r.compact_string()
        controller_id = r.i32()
        topic_list = r.compact_array(topic)
        r.skip_tags()
        return {"brokers": brokers, "cluster_id": cluster_id, "controller_id": controller_id,
                "topics": {t["name"]: t for t in topic_list}}


def sasl_handshake(sock, mechanism, version=1, correlation_id=101):
    """SaslHandshake v0/v1 on an open connection: (error_code, [enabled mechanisms])."""
    r = call(sock, API_SASL_HANDSHAKE, version, bytes(Writer().string(mechanism).buf), correlation_id)
    return r.i16(), r.array(lambda rr: rr.string())


def sasl_authenticate(sock, token, version=1, correlation_id=102):
    """SaslAuthenticate v0-v2 (v2 flexible): {"error", "message", "token", "session_lifetime_ms"}."""
    flexible = version >= 2
    w = Writer()
    if flexible:
        w.compact_bytes(token).no_tags()
    else:
        w.bytes_(token)
    r = call(sock, API_SASL_AUTHENTICATE, version, bytes(w.buf), correlation_id, flexible=flexible)
    out = {"error": r.i16()}
    out["message"] = r.compact_string() if flexible else r.string()
    out["token"] = r.compact_bytes() if flexible else r.bytes_()
    out["session_lifetime_ms"] = r.i64() if version >= 1 else 0
    return out


def send_raw_token(sock, token):
    """After a SaslHandshake v0: the token as a bare size-prefixed frame (no Kafka header)."""
    sock.sendall(frame(token))


def alter_user_scram_credentials(sock, upsertions=(), deletions=(), correlation_id=51):
    """AlterUserScramCredentials v0 on an open connection. upsertions: [(user, mechanism id,
    iterations, salt bytes, salted password bytes)]; deletions: [(user, mechanism id)].
    Returns {user: (error_code, message)}."""
    w = Writer()
    w.compact_array(list(deletions), lambda w, d: w.compact_string(d[0]).i8(d[1]).no_tags())
    w.compact_array(list(upsertions), lambda w, u: (
        w.compact_string(u[0]).i8(u[1]).i32(u[2]).compact_bytes(u[3]).compact_bytes(u[4]).no_tags()))
    w.no_tags()
    r = call(sock, API_ALTER_USER_SCRAM_CREDENTIALS, 0, bytes(w.buf), correlation_id, flexible=True)
    r.i32()  # throttle

    def result(x):
        user, code, message = x.compact_string(), x.i16(), x.compact_string()
        x.skip_tags()
        return user, (code, message)

    return dict(r.compact_array(result))


def describe_user_scram_credentials(sock, users=None, correlation_id=50):
    """DescribeUserScramCredentials v0 (users None = all). Returns (error_code,
    {user: (error_code, [(mechanism id, iterations)])})."""
    w = Writer()
    if users is None:
        w.uvarint(0)
    else:
        w.compact_array(list(users), lambda w, name: w.compact_string(name).no_tags())
    w.no_tags()
    r = call(sock, API_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, bytes(w.buf), correlation_id, flexible=True)
    r.i32()  # throttle
    error = r.i16()
    r.compact_string()

    def info(x):
        out = (x.i8(), x.i32())
        x.skip_tags()
        return out

    def result(x):
        user, code = x.compact_string(), x.i16()
        x.compact_string()
        infos = x.compact_array(info)
        x.skip_tags()
        return user, (code, infos)

    return error, dict(r.compact_array(result))
