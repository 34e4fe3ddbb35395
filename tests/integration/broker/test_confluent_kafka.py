"""confluent-kafka-python (librdkafka) against Sluice: acks=all producer with delivery
reports, consumer assign/seek, and the AdminClient calls (topics, partitions, configs),
plus DeleteRecords, IncrementalAlterConfigs and ListOffsets(max timestamp), which
confluent-kafka 1.7 cannot send, through tests/integration/kafka_wire.py."""

import time

import pytest
from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import (AdminClient, ConfigResource, ConfigSource, NewPartitions,
                                   NewTopic)

import kafka_wire
from conftest import unique_topic

MESSAGE_MAX_BYTES = "2000000"
BROKER_OVERRIDES = {"message.max.bytes": MESSAGE_MAX_BYTES}
TIMEOUT_S = 30


# One AdminClient per broker address, kept alive for the module: a client
# destroyed while its futures are pending fails them with _DESTROY ("Handle
# is terminating"), which is what `admin(broker).create_topics(...)[t].result()`
# did when the temporary client was collected.
_admin_clients = {}


def admin(broker):
    if broker.bootstrap not in _admin_clients:
        _admin_clients[broker.bootstrap] = AdminClient({"bootstrap.servers": broker.bootstrap})
    return _admin_clients[broker.bootstrap]


def producer(broker, **extra):
    conf = {"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5,
            "message.timeout.ms": 30000}
    conf.update(extra)
    return Producer(conf)


def consumer(broker):
    # group.id is required by the client; nothing is committed (no group needed).
    return Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "sluice-it-assign",
                     "enable.auto.commit": False, "enable.partition.eof": True,
                     "auto.offset.reset": "error"})


def error_code(future):
    """Result of an admin future as a Kafka error code (0 when it succeeded)."""
    try:
        future.result(timeout=TIMEOUT_S)
        return 0
    except KafkaException as e:
        return e.args[0].code()


def create_topic(broker, name, partitions=1, config=None):
    fs = admin(broker).create_topics([NewTopic(name, partitions, 1, config=config or {})],
                                     operation_timeout=10)
    assert error_code(fs[name]) == 0
    wait_for_partitions(broker, name, partitions)


def partition_count(broker, name):
    md = admin(broker).list_topics(timeout=10)
    t = md.topics.get(name)
    if t is None or t.error is not None:
        return None
    return len(t.partitions)


def wait_for_partitions(broker, name, expected, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if partition_count(broker, name) == expected:
            return
        time.sleep(0.1)
    assert partition_count(broker, name) == expected


def consume_range(c, count, timeout_s=TIMEOUT_S):
    """Polls until count messages arrived; fails on any error other than partition EOF."""
    out = []
    deadline = time.monotonic() + timeout_s
    while len(out) < count and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise AssertionError(f"consumer error: {m.error()}")
        out.append(m)
    assert len(out) == count, f"got {len(out)} of {count} messages in {timeout_s} s"
    return out


def produce_and_flush(p, topic, values, partition=0, **kw):
    for v in values:
        p.produce(topic, value=v, partition=partition, **kw)
    assert p.flush(TIMEOUT_S) == 0, "messages left undelivered"


def describe(broker, resource_type, name):
    res = ConfigResource(resource_type, name)
    fs = admin(broker).describe_configs([res])
    return fs[res].result(timeout=TIMEOUT_S)


def source_of(entry):
    return ConfigSource(int(getattr(entry.source, "value", entry.source)))


# --- producer and consumer ---------------------------------------------------

def test_producer_acks_all_delivery_reports(module_broker):
    topic = unique_topic("acks-all")
    create_topic(module_broker, topic, partitions=3)
    reports = []

    def on_delivery(err, msg):
        reports.append((err, msg.partition(), msg.offset(), msg.key(), msg.value()))

    p = producer(module_broker)
    n = 6000
    for i in range(n):
        p.produce(topic, key=f"k{i % 101}".encode(), value=f"value-{i}".encode(), on_delivery=on_delivery)
        if i % 1000 == 0:
            p.poll(0)
    assert p.flush(TIMEOUT_S) == 0
    assert len(reports) == n
    errors = [r for r in reports if r[0] is not None]
    assert not errors, f"{len(errors)} delivery errors, first: {errors[0]}"

    by_partition = {}
    for _, part, offset, key, value in reports:
        by_partition.setdefault(part, []).append((offset, key, value))
    for part, entries in by_partition.items():
        offsets = sorted(o for o, _, _ in entries)
        assert offsets == list(range(len(entries))), f"partition {part}: offsets not contiguous from 0"

    c = consumer(module_broker)
    try:
        c.assign([TopicPartition(topic, part, OFFSET_BEGINNING) for part in range(3)])
        got = {(m.partition(), m.offset()): (m.key(), m.value()) for m in consume_range(c, n)}
    finally:
        c.close()
    for part, entries in by_partition.items():
        for offset, key, value in entries:
            assert got[(part, offset)] == (key, value), f"partition {part} offset {offset}"


def test_consumer_assign_and_seek(module_broker):
    topic = unique_topic("seek")
    create_topic(module_broker, topic)
    p = producer(module_broker)
    produce_and_flush(p, topic, [f"m{i}".encode() for i in range(1000)])

    c = consumer(module_broker)
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        first = consume_range(c, 10)
        assert [m.offset() for m in first] == list(range(10))
        assert [m.value() for m in first] == [f"m{i}".encode() for i in range(10)]

        c.seek(TopicPartition(topic, 0, 500))
        after_seek = consume_range(c, 3)
        assert [(m.offset(), m.value()) for m in after_seek] == [(500 + i, f"m{500 + i}".encode()) for i in range(3)]

        c.seek(TopicPartition(topic, 0, 0))
        assert consume_range(c, 1)[0].offset() == 0

        c.assign([TopicPartition(topic, 0, 990)])
        tail = consume_range(c, 10)
        assert [m.offset() for m in tail] == list(range(990, 1000))
        assert c.position([TopicPartition(topic, 0)])[0].offset == 1000
    finally:
        c.close()


def test_consumer_offset_out_of_range_is_reported(module_broker):
    topic = unique_topic("oor")
    create_topic(module_broker, topic)
    produce_and_flush(producer(module_broker), topic, [b"a", b"b"])
    c = consumer(module_broker)  # auto.offset.reset=error: the error reaches the app
    try:
        c.assign([TopicPartition(topic, 0, 50)])
        deadline = time.monotonic() + TIMEOUT_S
        err = None
        while err is None and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() and m.error().code() != KafkaError._PARTITION_EOF:
                err = m.error()
            elif m is not None and not m.error():
                raise AssertionError(f"message at offset {m.offset()} past the log end")
        assert err is not None, "no error for a fetch past the log end"
        assert err.code() in (KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE), err
    finally:
        c.close()


# --- topics and partitions ------------------------------------------------------

def test_create_topics_and_errors(module_broker):
    a = admin(module_broker)
    name = unique_topic("create")
    fs = a.create_topics([NewTopic(name, 3, 1)], operation_timeout=10)
    assert error_code(fs[name]) == 0
    wait_for_partitions(module_broker, name, 3)

    fs = a.create_topics([NewTopic(name, 3, 1)])
    assert error_code(fs[name]) == KafkaError.TOPIC_ALREADY_EXISTS

    zero = unique_topic("zero")
    fs = a.create_topics([NewTopic(zero, 0, 1)])
    assert error_code(fs[zero]) == KafkaError.INVALID_PARTITIONS

    for bad in ["bad name!", "..", "x" * 250]:
        fs = a.create_topics([NewTopic(bad, 1, 1)])
        assert error_code(fs[bad]) == KafkaError.TOPIC_EXCEPTION, bad  # INVALID_TOPIC_EXCEPTION (17)

    two_replicas = unique_topic("rf2")
    fs = a.create_topics([NewTopic(two_replicas, 1, 2)])
    assert error_code(fs[two_replicas]) == KafkaError.INVALID_REPLICATION_FACTOR

    dry = unique_topic("dry")
    fs = a.create_topics([NewTopic(dry, 2, 1)], validate_only=True)
    assert error_code(fs[dry]) == 0
    time.sleep(0.5)
    assert partition_count(module_broker, dry) is None, "validate_only created the topic"


def test_create_partitions(module_broker):
    a = admin(module_broker)
    name = unique_topic("grow")
    create_topic(module_broker, name, partitions=1)

    fs = a.create_partitions([NewPartitions(name, 4)], validate_only=True)
    assert error_code(fs[name]) == 0
    assert partition_count(module_broker, name) == 1, "validate_only added partitions"

    fs = a.create_partitions([NewPartitions(name, 4)])
    assert error_code(fs[name]) == 0
    wait_for_partitions(module_broker, name, 4)

    fs = a.create_partitions([NewPartitions(name, 2)])
    assert error_code(fs[name]) == KafkaError.INVALID_PARTITIONS

    missing = unique_topic("missing")
    fs = a.create_partitions([NewPartitions(missing, 2)])
    assert error_code(fs[missing]) == KafkaError.UNKNOWN_TOPIC_OR_PART

    # The new partition takes writes.
    produce_and_flush(producer(module_broker), name, [b"into-3"], partition=3)
    c = consumer(module_broker)
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(name, 3), timeout=10)
        assert (lo, hi) == (0, 1)
    finally:
        c.close()


def test_delete_topics(module_broker):
    a = admin(module_broker)
    name = unique_topic("gone")
    create_topic(module_broker, name, partitions=2)
    produce_and_flush(producer(module_broker), name, [b"x"])

    fs = a.delete_topics([name], operation_timeout=10)
    assert error_code(fs[name]) == 0
    deadline = time.monotonic() + 10
    while partition_count(module_broker, name) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert partition_count(module_broker, name) is None, "topic still listed after delete"

    fs = a.delete_topics([name])
    assert error_code(fs[name]) == KafkaError.UNKNOWN_TOPIC_OR_PART

    # The name can be used again, and the new topic starts empty.
    create_topic(module_broker, name, partitions=1)
    c = consumer(module_broker)
    try:
        assert c.get_watermark_offsets(TopicPartition(name, 0), timeout=10) == (0, 0)
    finally:
        c.close()


# --- configs ------------------------------------------------------------------------

def test_describe_topic_config_defaults(module_broker):
    name = unique_topic("cfg")
    create_topic(module_broker, name, config={"cleanup.policy": "compact"})
    configs = describe(module_broker, ConfigResource.Type.TOPIC, name)
    retention = configs["retention.ms"]
    assert retention.value == "604800000"
    assert source_of(retention) == ConfigSource.DEFAULT_CONFIG
    policy = configs["cleanup.policy"]
    assert (policy.value, source_of(policy)) == ("compact", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    # A topic's max.message.bytes defaults to the broker's message.max.bytes (set statically here).
    mmb = configs["max.message.bytes"]
    assert (mmb.value, source_of(mmb)) == (MESSAGE_MAX_BYTES, ConfigSource.STATIC_BROKER_CONFIG)


def test_describe_broker_config(module_broker):
    configs = describe(module_broker, ConfigResource.Type.BROKER, "1")
    mmb = configs["message.max.bytes"]
    assert (mmb.value, source_of(mmb)) == (MESSAGE_MAX_BYTES, ConfigSource.STATIC_BROKER_CONFIG)
    parts = configs["num.partitions"]
    assert (parts.value, source_of(parts)) == ("1", ConfigSource.DEFAULT_CONFIG)
    assert configs["node.id"].value == "1"


def test_describe_configs_of_unknown_topic(module_broker):
    with pytest.raises(KafkaException) as info:
        describe(module_broker, ConfigResource.Type.TOPIC, unique_topic("nope"))
    assert info.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_alter_configs_replaces_topic_overrides(module_broker):
    a = admin(module_broker)
    name = unique_topic("alter")
    create_topic(module_broker, name, config={"cleanup.policy": "compact"})
    res = ConfigResource(ConfigResource.Type.TOPIC, name, set_config={"retention.ms": "1000000"})
    fs = a.alter_configs([res])
    assert error_code(fs[res]) == 0
    configs = describe(module_broker, ConfigResource.Type.TOPIC, name)
    assert (configs["retention.ms"].value, source_of(configs["retention.ms"])) == \
        ("1000000", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    # AlterConfigs is not incremental: the override left out goes back to its default.
    assert (configs["cleanup.policy"].value, source_of(configs["cleanup.policy"])) == \
        ("delete", ConfigSource.DEFAULT_CONFIG)

    bad = ConfigResource(ConfigResource.Type.TOPIC, name, set_config={"retention.ms": "not-a-number"})
    fs = a.alter_configs([bad])
    assert error_code(fs[bad]) == KafkaError.INVALID_CONFIG


def test_incremental_alter_configs(module_broker):
    name = unique_topic("incr")
    create_topic(module_broker, name, config={"cleanup.policy": "compact"})
    port = module_broker.port
    err, msg = kafka_wire.incremental_alter_configs(
        port, kafka_wire.RESOURCE_TOPIC, name, [("retention.ms", kafka_wire.OP_SET, "2000000")])
    assert err == 0, msg
    configs = describe(module_broker, ConfigResource.Type.TOPIC, name)
    assert (configs["retention.ms"].value, source_of(configs["retention.ms"])) == \
        ("2000000", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    # Incremental: the other override stays.
    assert configs["cleanup.policy"].value == "compact"

    err, msg = kafka_wire.incremental_alter_configs(
        port, kafka_wire.RESOURCE_TOPIC, name, [("retention.ms", kafka_wire.OP_DELETE, None)])
    assert err == 0, msg
    configs = describe(module_broker, ConfigResource.Type.TOPIC, name)
    assert (configs["retention.ms"].value, source_of(configs["retention.ms"])) == \
        ("604800000", ConfigSource.DEFAULT_CONFIG)

    err, _ = kafka_wire.incremental_alter_configs(
        port, kafka_wire.RESOURCE_TOPIC, name, [("no.such.config", kafka_wire.OP_SET, "1")])
    assert err == 40, "unknown topic config name: INVALID_CONFIG"
    err, _ = kafka_wire.incremental_alter_configs(
        port, kafka_wire.RESOURCE_TOPIC, unique_topic("absent"), [("retention.ms", kafka_wire.OP_SET, "1")])
    assert err == 3, "unknown topic: UNKNOWN_TOPIC_OR_PARTITION"


def test_altered_topic_config_takes_effect_on_produce(module_broker):
    """Topic settings are resolved into each partition's typed policy when the
    metadata image changes (not looked up per request): an altered
    max.message.bytes must reach the next produce, and its removal too."""
    name = unique_topic("policy")
    create_topic(module_broker, name)
    port = module_broker.port
    value = b"v" * 2000
    p = producer(module_broker, retries=0)
    produce_and_flush(p, name, [value])

    def produce_error():
        errors = []
        p.produce(name, value=value, partition=0, on_delivery=lambda err, _msg: errors.append(err))
        assert p.flush(TIMEOUT_S) == 0
        return errors[0]

    err, msg = kafka_wire.incremental_alter_configs(
        port, kafka_wire.RESOURCE_TOPIC, name, [("max.message.bytes", kafka_wire.OP_SET, "1000")])
    assert err == 0, msg
    refused = produce_error()
    assert refused is not None and refused.code() == KafkaError.MSG_SIZE_TOO_LARGE, refused
    err, msg = kafka_wire.incremental_alter_configs(
        port, kafka_wire.RESOURCE_TOPIC, name, [("max.message.bytes", kafka_wire.OP_DELETE, None)])
    assert err == 0, msg
    assert produce_error() is None, "the default is back"


# --- records and offsets ---------------------------------------------------------

def test_delete_records_moves_low_watermark(module_broker):
    name = unique_topic("delrec")
    create_topic(module_broker, name)
    produce_and_flush(producer(module_broker), name, [f"r{i}".encode() for i in range(100)])
    result = kafka_wire.delete_records(module_broker.port, name, {0: 40})
    assert result == {0: (0, 40)}

    c = consumer(module_broker)
    try:
        assert c.get_watermark_offsets(TopicPartition(name, 0), timeout=10) == (40, 100)
        c.assign([TopicPartition(name, 0, OFFSET_BEGINNING)])
        first = consume_range(c, 1)[0]
        assert (first.offset(), first.value()) == (40, b"r40")
    finally:
        c.close()

    assert kafka_wire.delete_records(module_broker.port, name, {0: 101})[0][0] == 1, \
        "beyond the high watermark: OFFSET_OUT_OF_RANGE"
    assert kafka_wire.delete_records(module_broker.port, name, {0: -1}) == {0: (0, 100)}, \
        "-1 deletes up to the high watermark"


def test_list_offsets(module_broker):
    name = unique_topic("listoff")
    create_topic(module_broker, name)
    base = int(time.time() * 1000) - 3_600_000
    deltas = [5, 1, 9, 3, 9, 2, 7, 4, 8, 6]  # seconds; the first of the two 9 s is at offset 2
    p = producer(module_broker, **{"linger.ms": 200})
    for i, d in enumerate(deltas):
        p.produce(name, value=f"t{i}".encode(), partition=0, timestamp=base + d * 1000)
    assert p.flush(TIMEOUT_S) == 0

    c = consumer(module_broker)
    try:
        assert c.get_watermark_offsets(TopicPartition(name, 0), timeout=10) == (0, 10)
        for d in [0, 1, 2, 5, 6, 9]:
            found = c.offsets_for_times([TopicPartition(name, 0, base + d * 1000)], timeout=10)[0]
            expected = next(i for i, x in enumerate(deltas) if x >= d)
            assert found.offset == expected, f"first offset with timestamp >= base+{d}s"
        late = c.offsets_for_times([TopicPartition(name, 0, base + 10_000)], timeout=10)[0]
        assert late.offset == -1, "no record at or after the timestamp: offset -1"
    finally:
        c.close()

    res = kafka_wire.list_offsets_v7(module_broker.port, name, {0: kafka_wire.TS_EARLIEST})
    assert res[0][0] == 0 and res[0][2] == 0
    res = kafka_wire.list_offsets_v7(module_broker.port, name, {0: kafka_wire.TS_LATEST})
    assert res[0][0] == 0 and res[0][2] == 10
    res = kafka_wire.list_offsets_v7(module_broker.port, name, {0: kafka_wire.TS_MAX_TIMESTAMP})
    error, ts, offset, _epoch = res[0]
    assert (error, ts, offset) == (0, base + 9000, 2), "max timestamp: the first record holding it"
