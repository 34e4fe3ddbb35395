"""Raw requests for what clients see from replicated partitions (issue 16,
point 2), written from Kafka's schemas on top of kafka_wire: Produce v9-11
and Fetch v11-17 (flexible) with their tagged fields decoded (KIP-951's
CurrentLeader and NodeEndpoints, KIP-392's PreferredReadReplica and RackId),
ListOffsets v7 and OffsetForLeaderEpoch v3 with a current leader epoch, and
a one-record batch v2 (CRC32C computed here: no Python package for it on
Debian 12)."""

import struct
import time

from kafka_wire import Reader, Writer, call, connect

API_PRODUCE = 0
API_FETCH = 1
API_LIST_OFFSETS = 2
API_OFFSET_FOR_LEADER_EPOCH = 23

NONE = 0
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
LEADER_NOT_AVAILABLE = 5
NOT_LEADER_OR_FOLLOWER = 6
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75
OFFSET_NOT_AVAILABLE = 78

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(v):
    v = (v << 1) ^ (v >> 63)  # zigzag
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def record_batch(value, timestamp_ms=None):
    """One record (no key) in a record batch v2, base offset 0."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    body = b"\x00" + varint(0) + varint(0) + varint(-1) + varint(len(value)) + value + varint(0)
    record = varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, 0, ts, ts, -1, -1, -1, 1) + record
    crc = crc32c(after_crc)
    tail = struct.pack(">ibI", -1, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(tail)) + tail


def _compact_bytes(w, data):
    if data is None:
        w.uvarint(0)
    else:
        w.uvarint(len(data) + 1).raw(data)


def _read_tags(r, readers):
    """Tagged fields: {tag: value} for the tags in `readers`, others skipped."""
    out = {}
    for _ in range(r.uvarint()):
        tag, size = r.uvarint(), r.uvarint()
        start = r.pos
        if tag in readers:
            out[tag] = readers[tag](r)
        r.pos = start + size
    return out


def _leader_id_and_epoch(r):
    out = (r.i32(), r.i32())
    r.skip_tags()
    return out


def _node_endpoints(r):
    def endpoint(e):
        out = {"id": e.i32(), "host": e.compact_string(), "port": e.i32(), "rack": e.compact_string()}
        e.skip_tags()
        return out
    return {e["id"]: e for e in r.compact_array(endpoint)}


def produce(port, topic, partition, value, version=11, acks=-1, batch=None, transactional_id=None,
            sock=None):
    """Produce v9-12 of one record (or of the record batch bytes `batch`, e.g.
    an idempotent producer's; `transactional_id` for a transactional one), on
    `sock` when given, else on a connection of its own.
    Returns {"error", "base_offset",
    "log_start_offset", "error_message", "leader": (id, epoch) or None,
    "endpoints": {id: {...}}, "throttle_ms"}."""
    def partition_entry(w, _):
        w.i32(partition)
        _compact_bytes(w, batch if batch is not None else record_batch(value))
        w.no_tags()

    def topic_entry(w, _):
        w.compact_string(topic).compact_array([partition], partition_entry).no_tags()

    w = Writer()
    if transactional_id is None:
        w.uvarint(0)  # a null compact string
    else:
        w.compact_string(transactional_id)
    w.i16(acks).i32(10000).compact_array([topic], topic_entry).no_tags()
    if sock is None:
        with connect(port, 15) as own:
            return _produce_answer(call(own, API_PRODUCE, version, bytes(w.buf), 21, flexible=True))
    return _produce_answer(call(sock, API_PRODUCE, version, bytes(w.buf), 21, flexible=True))


def _produce_answer(r):
    def read_partition(p):
        out = {"index": p.i32(), "error": p.i16(), "base_offset": p.i64()}
        p.i64()  # log append time
        out["log_start_offset"] = p.i64()

        def record_error(e):
            e.i32()
            e.compact_string()
            e.skip_tags()
        p.compact_array(record_error)
        out["error_message"] = p.compact_string()
        tags = _read_tags(p, {0: _leader_id_and_epoch})
        out["leader"] = tags.get(0)
        return out

    def read_topic(t):
        t.compact_string()
        parts = t.compact_array(read_partition)
        t.skip_tags()
        return parts

    parts = r.compact_array(read_topic)[0]
    throttle_ms = r.i32()
    tags = _read_tags(r, {0: _node_endpoints})
    out = parts[0]
    out["endpoints"] = tags.get(0, {})
    out["throttle_ms"] = throttle_ms
    return out


def fetch(port, topic, partition, offset, version=12, topic_id=None, current_leader_epoch=-1,
          rack_id="", max_wait_ms=0):
    """A consumer's Fetch v11-17 of one partition (no session). `topic_id`
    (bytes) is needed from v13. Returns {"error", "high_watermark",
    "log_start_offset", "preferred_read_replica", "records" (bytes),
    "leader": (id, epoch) or None, "endpoints": {...}, "top_error", "throttle_ms"};
    a throttled answer has no partition ("error" None)."""
    w = Writer()
    if version <= 14:
        w.i32(-1)
    w.i32(max_wait_ms).i32(1).i32(1 << 20).i8(0).i32(0).i32(-1)

    def partition_entry(pw, _):
        pw.i32(partition).i32(current_leader_epoch).i64(offset).i32(-1).i64(-1).i32(1 << 20).no_tags()

    def topic_entry(tw, _):
        if version >= 13:
            tw.raw(topic_id)
        else:
            tw.compact_string(topic)
        tw.compact_array([partition], partition_entry).no_tags()

    w.compact_array([topic], topic_entry)
    w.compact_array([], None)  # forgotten topics
    w.compact_string(rack_id)
    w.no_tags()
    with connect(port, 15) as sock:
        r = call(sock, API_FETCH, version, bytes(w.buf), 22, flexible=True)
        throttle_ms = r.i32()
        top_error = r.i16()
        r.i32()  # session

        def read_partition(p):
            out = {"index": p.i32(), "error": p.i16(), "high_watermark": p.i64()}
            out["last_stable_offset"] = p.i64()
            out["log_start_offset"] = p.i64()

            def aborted(a):
                a.i64()
                a.i64()
                a.skip_tags()
            p.compact_array(aborted)
            out["preferred_read_replica"] = p.i32()
            n = p.uvarint()
            out["records"] = b"" if n == 0 else p._take(n - 1)
            tags = _read_tags(p, {1: _leader_id_and_epoch})
            out["leader"] = tags.get(1)
            return out

        def read_topic(t):
            if version >= 13:
                t._take(16)
            else:
                t.compact_string()
            parts = t.compact_array(read_partition)
            t.skip_tags()
            return parts

        topics = r.compact_array(read_topic)
        tags = _read_tags(r, {0: _node_endpoints})
        out = topics[0][0] if topics else {"error": None}
        out["top_error"] = top_error
        out["endpoints"] = tags.get(0, {})
        out["throttle_ms"] = throttle_ms
        return out


def list_offsets(port, topic, partition, timestamp, current_leader_epoch=-1, replica_id=-1,
                 version=7, isolation_level=0):
    """ListOffsets v6-8 (flexible) of one partition: (error, offset, leader_epoch).
    isolation_level 1 (read_committed) makes the latest offset the last stable one."""
    def partition_entry(w, _):
        w.i32(partition).i32(current_leader_epoch).i64(timestamp).no_tags()

    def topic_entry(w, _):
        w.compact_string(topic).compact_array([partition], partition_entry).no_tags()

    body = Writer().i32(replica_id).i8(isolation_level).compact_array([topic], topic_entry).no_tags()
    with connect(port) as sock:
        r = call(sock, API_LIST_OFFSETS, version, bytes(body.buf), 23, flexible=True)
        r.i32()

        def read_partition(p):
            out = (p.i32(), p.i16(), p.i64(), p.i64(), p.i32())
            p.skip_tags()
            return out

        def read_topic(t):
            t.compact_string()
            parts = t.compact_array(read_partition)
            t.skip_tags()
            return parts

        _index, error, _ts, offset, epoch = r.compact_array(read_topic)[0][0]
        return error, offset, epoch


def offset_for_leader_epoch(port, topic, partition, leader_epoch, current_leader_epoch=-1):
    """OffsetForLeaderEpoch v3 (a consumer: replica id -1): (error, leader_epoch, end_offset)."""
    def partition_entry(w, _):
        w.i32(partition).i32(current_leader_epoch).i32(leader_epoch)

    def topic_entry(w, _):
        w.string(topic).array([partition], partition_entry)

    body = Writer().i32(-1).array([topic], topic_entry)
    with connect(port) as sock:
        r = call(sock, API_OFFSET_FOR_LEADER_EPOCH, 3, bytes(body.buf), 24)
        r.i32()

        def read_partition(p):
            return p.i16(), p.i32(), p.i32(), p.i64()

        def read_topic(t):
            t.string()
            return t.array(read_partition)

        error, _index, epoch, end = r.array(read_topic)[0][0]
        return error, epoch, end
