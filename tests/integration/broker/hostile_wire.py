"""Raw frames a hostile or broken client may send, beyond what kafka_wire.py has:
Produce v3 of any batch (control bit included), CreateTopics v4, CreatePartitions v1
and DeleteTopics v3 with any counts and assignments; record batches and
__consumer_offsets records built byte by byte (kafka-python's batch builder and CRC32C)."""

import struct

from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.util import calc_crc32c

import kafka_wire as kw

API_CREATE_TOPICS = 19
API_DELETE_TOPICS = 20
API_CREATE_PARTITIONS = 37

ERR_INVALID_TOPIC_EXCEPTION = 17
ERR_INVALID_PARTITIONS = 37
ERR_INVALID_REPLICATION_FACTOR = 38
ERR_INVALID_REPLICA_ASSIGNMENT = 39
ERR_POLICY_VIOLATION = 44
ERR_INVALID_RECORD = 87

BATCH_ATTRIBUTES_AT = 21  # int16 after baseOffset, length, epoch, magic, crc
CONTROL_BIT = 0x20


def record_batch(records, base_offset=0, control=False):
    """A magic-2 batch of (key, value) records; `control` sets the control bit and
    fixes the CRC, as a client forging a transaction marker would."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=0,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=1 << 20)
    for i, (key, value) in enumerate(records):
        builder.append(i, timestamp=1_700_000_000_000 + i, key=key, value=value, headers=[])
    batch = bytearray(builder.build())
    struct.pack_into(">q", batch, 0, base_offset)
    if control:
        attributes = struct.unpack_from(">h", batch, BATCH_ATTRIBUTES_AT)[0] | CONTROL_BIT
        struct.pack_into(">h", batch, BATCH_ATTRIBUTES_AT, attributes)
        struct.pack_into(">I", batch, 17, calc_crc32c(bytes(batch[BATCH_ATTRIBUTES_AT:])))
    return bytes(batch)


def produce_v3(port, topic, partition, batch, acks=-1):
    """Produce v3 of one batch; returns (error_code, base_offset)."""
    def partition_entry(w, _):
        w.i32(partition).i32(len(batch)).raw(batch)

    def topic_entry(w, _):
        w.string(topic).array([None], partition_entry)

    body = kw.Writer().string(None).i16(acks).i32(10000).array([None], topic_entry)
    with kw.connect(port) as sock:
        r = kw.call(sock, 0, 3, bytes(body.buf), 3)
        (_, [(_, error, base_offset, _)]), = r.array(
            lambda t: (t.string(), t.array(lambda p: (p.i32(), p.i16(), p.i64(), p.i64()))))
        return error, base_offset


def create_topics_v4(port, topics, validate_only=False, timeout_s=60.0):
    """topics: [(name, num_partitions, replication_factor, {partition: [brokers]})].
    Returns [(name, error_code, error_message)] in request order."""
    def assignment(w, item):
        w.i32(item[0]).array(item[1], lambda ww, b: ww.i32(b))

    def topic_entry(w, t):
        name, partitions, replication, assignments = t
        w.string(name).i32(partitions).i16(replication)
        w.array(sorted(assignments.items()), assignment).array([], None)

    body = kw.Writer().array(topics, topic_entry).i32(30000).i8(1 if validate_only else 0)
    with kw.connect(port, timeout_s) as sock:
        r = kw.call(sock, API_CREATE_TOPICS, 4, bytes(body.buf), 19)
        r.i32()  # throttle
        return r.array(lambda t: (t.string(), t.i16(), t.string()))


def create_partitions_v1(port, topics, validate_only=False, timeout_s=60.0):
    """topics: [(name, count, assignments or None)], assignments a list of broker
    lists. Returns [(name, error_code, error_message)]."""
    def topic_entry(w, t):
        name, count, assignments = t
        w.string(name).i32(count)
        if assignments is None:
            w.i32(-1)
        else:
            w.array(assignments, lambda ww, brokers: ww.array(brokers, lambda www, b: www.i32(b)))

    body = kw.Writer().array(topics, topic_entry).i32(30000).i8(1 if validate_only else 0)
    with kw.connect(port, timeout_s) as sock:
        r = kw.call(sock, API_CREATE_PARTITIONS, 1, bytes(body.buf), 37)
        r.i32()  # throttle
        return r.array(lambda t: (t.string(), t.i16(), t.string()))


def delete_topics_v3(port, names):
    """Returns {name: error_code}."""
    body = kw.Writer().array(names, lambda w, n: w.string(n)).i32(30000)
    with kw.connect(port) as sock:
        r = kw.call(sock, API_DELETE_TOPICS, 3, bytes(body.buf), 20)
        r.i32()  # throttle
        return dict(r.array(lambda t: (t.string(), t.i16())))


def offset_commit_key(group, topic, partition):
    """OffsetCommitKey v1 (coordinator-records): int16 version, then its fields."""
    return bytes(kw.Writer().i16(1).string(group).string(topic).i32(partition).buf)


def offset_commit_value(offset, commit_timestamp_ms=1_700_000_000_000):
    """OffsetCommitValue v3: offset, leader epoch, metadata, commit timestamp."""
    return bytes(kw.Writer().i16(3).i64(offset).i32(-1).string("").i64(commit_timestamp_ms).buf)
