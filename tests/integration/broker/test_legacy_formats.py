"""Produce v0-2 and Fetch v0-3 with legacy message sets (magic 0 and 1), as Kafka 3.9
serves them: raw frames of every old version (legacy_wire.py encodes the message sets),
Kafka's up-conversion on write and down-conversion on read, its errors, the
message.downconversion.enable switch, and kafka-python forced to old api_versions."""

import time

import pytest

import legacy_wire as lw
from conftest import unique_topic

BROKER_OVERRIDES = {"auto.create.topics.enable": "true", "num.partitions": "1"}

ERR_CORRUPT_MESSAGE = 2
ERR_INVALID_TIMESTAMP = 32
ERR_UNSUPPORTED_VERSION = 35
ERR_INVALID_RECORD = 87
CODEC_MASK = 0x07
TS = 1_700_000_000_000


def records(n, with_keys=True):
    return [((f"k{i}".encode() if with_keys else None), f"value-{i}".encode(), TS + i) for i in range(n)]


@pytest.fixture
def topic(module_broker):
    name = unique_topic("legacy")
    lw.create_topic(module_broker.port, name)
    return name


def test_api_versions_advertise_produce_and_fetch_from_version_0(module_broker):
    from kafka_wire import api_versions
    error, versions = api_versions(module_broker.port)
    assert error == 0
    assert versions[0][0] == 0 and versions[0][1] >= 11, versions[0]
    assert versions[1][0] == 0 and versions[1][1] >= 12, versions[1]


@pytest.mark.parametrize("version,magic", [(0, 0), (1, 0), (2, 1), (2, 0)])
@pytest.mark.parametrize("codec", [lw.CODEC_NONE, lw.CODEC_GZIP])
def test_produce_old_versions_stores_record_batches(module_broker, topic, version, magic, codec):
    port = module_broker.port
    error, base, log_append_time, throttle = lw.produce(port, version, topic, 0,
                                                        lw.message_set(magic, records(3), codec))
    assert (error, base) == (0, 0)
    assert throttle == (None if version == 0 else 0)
    assert log_append_time == (None if version < 2 else -1)
    error, base, _, _ = lw.produce(port, version, topic, 0, lw.message_set(magic, records(2), codec))
    assert (error, base) == (0, 3)
    # Up-converted to record batch v2, one batch per request, the client's codec kept.
    batches = lw.stored_batches(port, topic, 0)
    assert [(b[0], b[1] & CODEC_MASK, b[2]) for b in batches] == [(0, codec, 3), (3, codec, 2)]
    # Read back with Fetch v3: down-converted to magic 1, the client's timestamps kept.
    error, hw, data = lw.fetch(port, 3, topic, 0, 0)
    assert (error, hw) == (0, 5)
    got = lw.deep_messages(data)
    assert [(o, k, v) for o, _, _, k, v in got] == [(i, r[0], r[1]) for i, r in enumerate(records(3) + records(2))]
    expected_ts = [-1] * 5 if magic == 0 else [r[2] for r in records(3) + records(2)]
    assert [ts for _, _, ts, _, _ in got] == expected_ts


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_fetch_old_versions_down_converts(module_broker, topic, version):
    port = module_broker.port
    assert lw.produce(port, 2, topic, 0, lw.message_set(1, records(4)))[0] == 0
    assert lw.produce(port, 2, topic, 0, lw.message_set(1, records(3), lw.CODEC_GZIP))[0] == 0
    error, hw, data = lw.fetch(port, version, topic, 0, 1)
    assert (error, hw) == (0, 7)
    magic = 0 if version <= 1 else 1
    shallow = lw.parse_message_set(data)
    assert {entry[1] for entry in shallow} == {magic}
    # Uncompressed: from the fetch offset on, one message each; compressed: one wrapper.
    assert [(entry[0], entry[2] & CODEC_MASK) for entry in shallow] == [(1, 0), (2, 0), (3, 0), (6, lw.CODEC_GZIP)]
    deep = lw.deep_messages(data)
    assert [o for o, *_ in deep] == [1, 2, 3, 4, 5, 6]
    assert [v for *_, v in deep] == [r[1] for r in records(4)[1:] + records(3)]
    expected_ts = [-1] * 6 if magic == 0 else [r[2] for r in records(4)[1:] + records(3)]
    assert [ts for _, _, ts, _, _ in deep] == expected_ts


def test_fetch_v3_respects_max_bytes_and_partition_max_bytes(module_broker, topic):
    port = module_broker.port
    assert lw.produce(port, 2, topic, 0, lw.message_set(1, records(20)))[0] == 0
    one = len(lw.message(0, 1, b"k0", b"value-0", TS))
    for partition_max, max_bytes in ((3 * one + 5, 1 << 20), (1 << 20, 3 * one + 5)):
        error, _, data = lw.fetch(port, 3, topic, 0, 0, partition_max_bytes=partition_max, max_bytes=max_bytes)
        assert error == 0
        assert [e[0] for e in lw.parse_message_set(data)] == [0, 1, 2]
    # Too small for one message: the first still comes whole, as KIP-74 wants.
    error, _, data = lw.fetch(port, 3, topic, 0, 5, partition_max_bytes=10)
    assert [e[0] for e in lw.parse_message_set(data)] == [5]


def test_record_batch_in_old_produce_version_is_accepted_as_kafka_does(module_broker, topic):
    """Kafka checks the magic of Produce records only from v3: a v2 batch sent with v0-2
    is appended (librdkafka-era clients mixing versions rely on it)."""
    port = module_broker.port
    assert lw.produce(port, 0, topic, 0, lw.message_set(0, records(1)))[0] == 0
    batch = lw.stored_batches(port, topic, 0)
    assert len(batch) == 1
    # Take the stored v2 batch back out and produce it again with Produce v2.
    import kafka_wire
    body = kafka_wire.Writer().i32(-1).i32(100).i32(1).i32(1 << 20).i8(0)
    body.array([None], lambda w, _: w.string(topic).array([None], lambda ww, __: ww.i32(0).i64(0).i32(1 << 20)))
    with kafka_wire.connect(port) as sock:
        r = kafka_wire.call(sock, lw.API_FETCH, 4, bytes(body.buf), 5)
        r.i32()
        r.i32()
        r.string()
        r.i32()
        r.i32(), r.i16(), r.i64(), r.i64()
        r.array(lambda a: (a.i64(), a.i64()))
        v2_batch = r._take(r.i32())
    error, base, _, _ = lw.produce(port, 2, topic, 0, v2_batch)
    assert (error, base) == (0, 1)


def test_bad_message_sets_get_kafkas_errors(module_broker, topic):
    port = module_broker.port
    good = bytearray(lw.message_set(0, records(2)))
    bad_crc = bytearray(good)
    bad_crc[30] ^= 0xFF
    assert lw.produce(port, 0, topic, 0, bytes(bad_crc))[0] == ERR_CORRUPT_MESSAGE
    assert lw.produce(port, 1, topic, 0, bytes(good[:-3]))[0] == ERR_CORRUPT_MESSAGE  # truncated
    # A compressed wrapper inside a wrapper, and two magics in one set.
    nested = lw.message(0, 1, None, __import__("gzip").compress(lw.message_set(1, records(2), lw.CODEC_GZIP)),
                        TS, lw.CODEC_GZIP)
    assert lw.produce(port, 2, topic, 0, nested)[0] == ERR_INVALID_RECORD
    mixed = lw.message_set(0, records(1)) + lw.message_set(1, records(1))
    assert lw.produce(port, 2, topic, 0, mixed)[0] == ERR_INVALID_RECORD
    # A message set sent with Produce v3 (magic 2 only there).
    assert produce_v3_error(port, topic, lw.message_set(1, records(1))) == ERR_INVALID_RECORD
    # A client may not mark its messages LogAppendTime when they have no timestamp.
    lat = lw.message_set(1, [(b"k", b"v", -1)], log_append_time=True)
    assert lw.produce(port, 2, topic, 0, lat)[0] == ERR_INVALID_TIMESTAMP
    # Nothing of the above was appended; the broker still serves the partition.
    assert lw.produce(port, 0, topic, 0, bytes(good))[:2] == (0, 0)


def produce_v3_error(port, topic, records_bytes):
    import kafka_wire

    def part(w, _):
        w.i32(0).i32(len(records_bytes)).raw(records_bytes)

    body = kafka_wire.Writer().string(None).i16(1).i32(10000)
    body.array([None], lambda w, _: w.string(topic).array([None], part))
    with kafka_wire.connect(port) as sock:
        r = kafka_wire.call(sock, kafka_wire.API_PRODUCE, 3, bytes(body.buf), 3)
        (_, ((_, error, _, _),)), = r.array(lambda t: (t.string(), t.array(
            lambda p: (p.i32(), p.i16(), p.i64(), p.i64()))))
        return error


def test_topic_compression_type_applies_to_up_converted_sets(module_broker):
    port = module_broker.port
    name = unique_topic("legacy-lz4")
    lw.create_topic(port, name, {"compression.type": "lz4"})
    deadline = time.monotonic() + 10
    offset = 0
    while True:  # the setting reaches the partition with the next metadata image
        assert lw.produce(port, 1, name, 0, lw.message_set(0, records(2), lw.CODEC_GZIP))[0] == 0
        batches = lw.stored_batches(port, name, 0, offset)
        offset += 2
        if batches[-1][1] & CODEC_MASK == 3:
            break
        assert time.monotonic() < deadline, f"stored codecs {batches}"
        time.sleep(0.1)


def test_log_append_time_topic_stamps_up_converted_messages(module_broker):
    port = module_broker.port
    name = unique_topic("legacy-lat")
    lw.create_topic(port, name, {"message.timestamp.type": "LogAppendTime"})
    deadline = time.monotonic() + 10
    while True:
        before = int(time.time() * 1000)
        error, base, log_append_time, _ = lw.produce(port, 2, name, 0, lw.message_set(1, records(2)))
        assert error == 0
        if log_append_time != -1:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert log_append_time >= before - 1000
    _, _, data = lw.fetch(port, 2, name, 0, base)
    shallow = lw.parse_message_set(data)
    assert all(e[2] & lw.TIMESTAMP_TYPE_BIT and e[3] == log_append_time for e in shallow), shallow


def test_downconversion_disabled_answers_unsupported_version(module_broker):
    port = module_broker.port
    name = unique_topic("legacy-nodown")
    lw.create_topic(port, name, {"message.downconversion.enable": "false"})
    assert lw.produce(port, 2, name, 0, lw.message_set(1, records(2)))[0] == 0
    deadline = time.monotonic() + 10
    while lw.fetch(port, 3, name, 0, 0)[0] != ERR_UNSUPPORTED_VERSION:
        assert time.monotonic() < deadline, "message.downconversion.enable=false not applied"
        time.sleep(0.1)
    for version in (0, 1, 2):
        assert lw.fetch(port, version, name, 0, 0)[0] == ERR_UNSUPPORTED_VERSION
    assert len(lw.stored_batches(port, name, 0)) == 1  # v4+ reads batches as stored


KAFKA_PYTHON_VERSIONS = [(0, 8, 2), (0, 9), (0, 10)]


@pytest.mark.parametrize("api_version", KAFKA_PYTHON_VERSIONS, ids=lambda v: ".".join(map(str, v)))
@pytest.mark.parametrize("codec", [None, "gzip", "snappy", "lz4"])
def test_kafka_python_with_old_api_version_produces_and_consumes(module_broker, api_version, codec):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    if api_version < (0, 10) and codec == "lz4":
        # Magic 0 lz4 (KAFKA-3160's framing) is covered with kcat in test_old_clients_compress.py.
        pytest.skip("kafka-python writes magic 0 lz4 only with the xxhash module, not installed")
    name = unique_topic("legacy-kp")
    lw.create_topic(module_broker.port, name)
    producer = KafkaProducer(bootstrap_servers=module_broker.bootstrap, api_version=api_version,
                             compression_type=codec, acks=1, linger_ms=20)
    try:
        futures = [producer.send(name, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=0)
                   for i in range(50)]
        producer.flush(30)
        offsets = [f.get(timeout=30).offset for f in futures]
    finally:
        producer.close(10)
    assert sorted(offsets) == list(range(50))
    batches = lw.stored_batches(module_broker.port, name, 0)
    expected_codec = {None: 0, "gzip": 1, "snappy": 2, "lz4": 3}[codec]
    assert {b[1] & CODEC_MASK for b in batches} == {expected_codec}
    consumer = KafkaConsumer(bootstrap_servers=module_broker.bootstrap, api_version=api_version,
                             group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                             consumer_timeout_ms=15000)
    try:
        consumer.assign([TopicPartition(name, 0)])
        consumer.seek(TopicPartition(name, 0), 0)
        got = []
        for msg in consumer:
            got.append((msg.offset, msg.key, msg.value))
            if len(got) == 50:
                break
    finally:
        consumer.close()
    assert got == [(i, f"k{i}".encode(), f"v{i}".encode()) for i in range(50)]


ERR_UNSUPPORTED_COMPRESSION_TYPE = 76


def test_zstd_cannot_be_down_converted(module_broker):
    """zstd exists only from magic 2: a zstd topic, or a zstd batch in a `producer`
    topic, answers Fetch v0-3 with UNSUPPORTED_COMPRESSION_TYPE (Kafka 3.9)."""
    from conftest import kcat_bin, run
    port = module_broker.port
    name = unique_topic("legacy-zstd-topic")
    lw.create_topic(port, name, {"compression.type": "zstd"})
    deadline = time.monotonic() + 10
    while lw.fetch(port, 3, name, 0, 0)[0] != ERR_UNSUPPORTED_COMPRESSION_TYPE:
        assert time.monotonic() < deadline, "compression.type=zstd not applied"
        time.sleep(0.1)
    # Up-conversion recompresses to the topic's zstd; v4+ readers get it.
    assert lw.produce(port, 1, name, 0, lw.message_set(0, records(2)))[0] == 0
    stored = lw.stored_batches(port, name, 0)
    # (base offset, codec, records) in full: a second batch once showed up in CI.
    assert [(b[0], b[1] & CODEC_MASK, b[2]) for b in stored] == [(0, 4, 2)], stored

    name = unique_topic("legacy-zstd-batch")
    lw.create_topic(port, name)
    # Compressible values: librdkafka sends a batch uncompressed when zstd would not shrink it.
    run([kcat_bin(), "-P", "-b", module_broker.bootstrap, "-t", name, "-p", "0", "-z", "zstd"],
        input_bytes=b"".join(b"compressible value %d " % i + b"x" * 100 + b"\n" for i in range(20)), timeout_s=30)
    # librdkafka may send the 20 lines as one batch or, on a loaded machine
    # (linger.ms passing between stdin reads), as several: each must be zstd.
    codecs = [b[1] & CODEC_MASK for b in lw.stored_batches(port, name, 0)]
    assert codecs and set(codecs) == {4}, codecs
    for version in (0, 2, 3):
        assert lw.fetch(port, version, name, 0, 0)[0] == ERR_UNSUPPORTED_COMPRESSION_TYPE
