"""Old Produce (v0-2) and Fetch (v0-3) requests as raw frames, with legacy message sets
(magic 0 and 1) encoded and decoded here from Kafka's documentation ("Message sets",
LegacyRecord), independently of the broker's C++; plus Fetch v4 to read the record
batches a partition stores (their attributes: codec, timestamp type)."""

import gzip
import struct
import zlib

import kafka_wire
import stored_batches as stored

API_FETCH = 1
CODEC_NONE, CODEC_GZIP = 0, 1
TIMESTAMP_TYPE_BIT = 0x08


def message(offset, magic, key, value, timestamp=-1, attributes=0):
    """One message-set entry: offset, size, crc (CRC32 of the rest), magic, attributes,
    [timestamp], key, value."""
    body = struct.pack(">bb", magic, attributes)
    if magic == 1:
        body += struct.pack(">q", timestamp)
    for field in (key, value):
        body += struct.pack(">i", -1) if field is None else struct.pack(">i", len(field)) + field
    crc = zlib.crc32(body) & 0xFFFFFFFF
    record = struct.pack(">I", crc) + body
    return struct.pack(">qi", offset, len(record)) + record


def message_set(magic, records, codec=CODEC_NONE, log_append_time=False):
    """records: [(key, value, timestamp)]. Uncompressed: one entry each; gzip: one wrapper
    whose inner offsets are relative for magic 1 (as Kafka's producer writes them)."""
    ts_bit = TIMESTAMP_TYPE_BIT if (magic == 1 and log_append_time) else 0
    entries = b"".join(message(i, magic, k, v, ts, ts_bit) for i, (k, v, ts) in enumerate(records))
    if codec == CODEC_NONE:
        return entries
    assert codec == CODEC_GZIP
    max_ts = max(ts for _, _, ts in records)
    return message(len(records) - 1, magic, None, gzip.compress(entries), max_ts, codec | ts_bit)


def parse_message_set(data):
    """Shallow entries [(offset, magic, attributes, timestamp, key, value)]; a partial
    trailing entry (a fetch cut at its byte limit) is left out."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        offset, size = struct.unpack_from(">qi", data, pos)
        if pos + 12 + size > len(data):
            break
        record = data[pos + 12:pos + 12 + size]
        crc, magic, attributes = struct.unpack_from(">Ibb", record, 0)
        assert zlib.crc32(record[4:]) & 0xFFFFFFFF == crc, f"bad CRC at offset {offset}"
        at, timestamp = 6, -1
        if magic == 1:
            (timestamp,) = struct.unpack_from(">q", record, at)
            at += 8
        fields = []
        for _ in range(2):
            (n,) = struct.unpack_from(">i", record, at)
            at += 4
            fields.append(None if n < 0 else record[at:at + n])
            at += max(n, 0)
        out.append((offset, magic, attributes, timestamp, fields[0], fields[1]))
        pos += 12 + size
    return out


def deep_messages(data):
    """Entries with gzip wrappers opened: [(offset, magic, timestamp, key, value)]."""
    out = []
    for offset, magic, attributes, timestamp, key, value in parse_message_set(data):
        codec = attributes & 0x07
        if codec == CODEC_NONE:
            out.append((offset, magic, timestamp, key, value))
            continue
        assert codec == CODEC_GZIP, f"test decodes gzip wrappers only, got codec {codec}"
        inner = parse_message_set(gzip.decompress(value))
        base = offset - inner[-1][0] if magic == 1 else 0
        lat = attributes & TIMESTAMP_TYPE_BIT
        for i_offset, i_magic, _, i_ts, i_key, i_value in inner:
            out.append((base + i_offset, i_magic, timestamp if lat else i_ts, i_key, i_value))
    return out


def produce(port, version, topic, partition, records, acks=1):
    """Produce v0-2 with one partition's raw `records`; returns (error, base_offset,
    log_append_time or None, throttle_ms or None)."""
    def part(w, _):
        w.i32(partition).i32(len(records)).raw(records)

    def topic_entry(w, _):
        w.string(topic).array([None], part)

    body = kafka_wire.Writer().i16(acks).i32(10000).array([None], topic_entry)
    with kafka_wire.connect(port) as sock:
        r = kafka_wire.call(sock, kafka_wire.API_PRODUCE, version, bytes(body.buf), 21)
        topics = r.array(lambda t: (t.string(), t.array(lambda p: (
            p.i32(), p.i16(), p.i64(), p.i64() if version >= 2 else None))))
        throttle = r.i32() if version >= 1 else None
        assert r.remaining() == 0, f"{r.remaining()} bytes after the Produce v{version} response"
        (_, parts), = topics
        (_, error, base_offset, log_append_time), = parts
        return error, base_offset, log_append_time, throttle


def fetch(port, version, topic, partition, offset, partition_max_bytes=1 << 20, max_bytes=1 << 20):
    """Fetch v0-3 of one partition; returns (error, high_watermark, records bytes)."""
    def part(w, _):
        w.i32(partition).i64(offset).i32(partition_max_bytes)

    def topic_entry(w, _):
        w.string(topic).array([None], part)

    w = kafka_wire.Writer().i32(-1).i32(100).i32(1)
    if version >= 3:
        w.i32(max_bytes)
    w.array([None], topic_entry)
    with kafka_wire.connect(port) as sock:
        r = kafka_wire.call(sock, API_FETCH, version, bytes(w.buf), 22)
        if version >= 1:
            r.i32()  # throttle
        topics = r.array(lambda t: (t.string(), t.array(lambda p: (
            p.i32(), p.i16(), p.i64(), p._take(max(p.i32(), 0))))))
        assert r.remaining() == 0
        (_, parts), = topics
        (_, error, high_watermark, records), = parts
        return error, high_watermark, records


def stored_batches(port, topic, partition, offset=0):
    """One Fetch v4 from `offset` (record batches as stored, ../stored_batches.py);
    returns [(base_offset, attributes, record_count)] of its magic 2 batches."""
    error, _high_watermark, records = stored.fetch_v4(port, topic, partition, offset)
    assert error == 0, f"Fetch v4 error {error}"
    batches = stored.parse_batches(records)
    for batch in batches:
        assert batch.magic == 2, f"stored batch of magic {batch.magic}"
    return [(batch.base_offset, batch.attributes, batch.records) for batch in batches]


def create_topic(port, topic, configs=None):
    """Creates `topic` (one partition) through Metadata auto-creation, then sets topic
    configs with IncrementalAlterConfigs; waits until the partition has a leader."""
    import time
    deadline = time.monotonic() + 15
    while True:
        md = kafka_wire.metadata_v12(port, [topic], allow_auto_create=True)
        t = md["topics"].get(topic)
        if t and t["error"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"].values()):
            break
        assert time.monotonic() < deadline, f"topic {topic} not ready: {t}"
        time.sleep(0.05)
    if configs:
        ops = [(k, kafka_wire.OP_SET, v) for k, v in configs.items()]
        error, msg = kafka_wire.incremental_alter_configs(port, kafka_wire.RESOURCE_TOPIC, topic, ops)
        assert error == 0, f"IncrementalAlterConfigs {configs}: {error} {msg}"
