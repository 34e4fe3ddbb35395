"""What a partition holds, batch by batch, read with raw Fetch v4 frames
(kafka_wire.py): the magic, compression codec and record count of each batch or
legacy message, so a test can prove a client's data was stored compressed.

Fetch v4 is inside Kafka 4.0's baseline (KIP-896) and, unlike a client
library, hands back the stored batches without decompressing them.
"""

import struct
from dataclasses import dataclass

import kafka_wire

API_FETCH = 1
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
CODEC_MASK = 0x07


@dataclass
class StoredBatch:
    base_offset: int
    last_offset: int
    magic: int
    codec: str
    records: int
    attributes: int  # the batch's (magic 2) or the legacy message's attribute bits


def fetch_v4(port, topic, partition, offset, max_bytes=1 << 20):
    """One Fetch v4: (error_code, high_watermark, records bytes)."""
    def partition_entry(w, _):
        w.i32(partition).i64(offset).i32(max_bytes)

    def topic_entry(w, _):
        w.string(topic).array([partition], partition_entry)

    body = kafka_wire.Writer().i32(-1).i32(100).i32(1).i32(max_bytes).i8(0).array([topic], topic_entry)
    with kafka_wire.connect(port) as sock:
        r = kafka_wire.call(sock, API_FETCH, 4, bytes(body.buf), 21)
    r.i32()  # throttle
    topics = r.array(lambda t: (t.string(), t.array(_read_partition)))
    for name, partitions in topics:
        for index, error, high_watermark, records in partitions:
            if name == topic and index == partition:
                return error, high_watermark, records
    raise ValueError(f"Fetch v4 answered no {topic}-{partition}: {topics}")


def _read_partition(p):
    index, error, high_watermark = p.i32(), p.i16(), p.i64()
    p.i64()  # last stable offset
    p.array(lambda a: (a.i64(), a.i64()))  # aborted transactions
    size = p.i32()
    records = b"" if size < 0 else p._take(size)
    return index, error, high_watermark, records


def parse_batches(data):
    """The complete batches (magic 2) and legacy messages (magic 0/1, wrapper
    messages of compressed sets included) in a Fetch answer's records bytes; a
    partial one at the end, as a size-limited fetch may return, is dropped."""
    out = []
    pos = 0
    while pos + 17 <= len(data):
        base_offset, size = struct.unpack_from(">qi", data, pos)
        if pos + 12 + size > len(data):
            break
        magic = data[pos + 16]
        if magic == 2:
            attributes, last_delta = struct.unpack_from(">hi", data, pos + 21)
            (count,) = struct.unpack_from(">i", data, pos + 57)
            out.append(StoredBatch(base_offset, base_offset + last_delta, 2,
                                   CODECS.get(attributes & CODEC_MASK, f"codec {attributes & CODEC_MASK}"),
                                   count, attributes))
        else:
            # A legacy message: offset, size, crc, magic, attributes. A compressed
            # one wraps a message set whose count this helper does not unpack.
            attributes = data[pos + 17]
            codec = CODECS.get(attributes & CODEC_MASK, f"codec {attributes & CODEC_MASK}")
            out.append(StoredBatch(base_offset, base_offset, magic, codec, 1 if codec == "none" else -1,
                                   attributes))
        pos += 12 + size
    return out


def stored_batches(port, topic, partition, timeout_fetches=1000):
    """Every batch of a partition from offset 0 to its high watermark."""
    batches = []
    offset = 0
    for _ in range(timeout_fetches):
        error, high_watermark, records = fetch_v4(port, topic, partition, offset)
        if error != kafka_wire.ERR_NONE:
            raise AssertionError(f"Fetch v4 {topic}-{partition} at {offset}: error {error}")
        if offset >= high_watermark:
            return batches
        got = parse_batches(records)
        if not got:
            raise AssertionError(f"Fetch v4 {topic}-{partition} at {offset} (high watermark "
                                 f"{high_watermark}) returned no complete batch ({len(records)} bytes)")
        batches += got
        offset = got[-1].last_offset + 1
    raise AssertionError(f"{topic}-{partition}: still below the high watermark after {timeout_fetches} fetches")
