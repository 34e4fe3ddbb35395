"""sarama 1.22 (Debian's golang-github-shopify-sarama-dev) against Sluice, as
its users run it: tests/clients/go/sarama built in GOPATH mode.

With sarama's default Config.Version (V0_8_2_0) it speaks Produce v0 (magic 0
messages), Fetch v0, Metadata v0, ListOffsets v0, FindCoordinator v0,
OffsetCommit v1 and OffsetFetch v1; its ConsumerGroup needs at least
V0_10_2_0, where it speaks Produce v2, Fetch v3, JoinGroup v1, SyncGroup v0,
OffsetCommit v1 and OffsetFetch v1. Each test produces, consumes every message
exactly once with a group, and proves the commits persisted: a second
consumer of the group resumes after them, and librdkafka's OffsetFetch (`sluice
group describe`) reads the same offsets.
"""

from collections import Counter

from conftest import run, unique_topic
from programs import committed_offsets, consumed_lines, create_topic, go_client

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
PARTITIONS = 3
FIRST, SECOND = 30, 12
TIMEOUT_S = 60


def sarama(command, broker, topic, count, *extra):
    return run([go_client("sarama-client"), command, "-brokers", broker.bootstrap, "-topic", topic,
                "-count", str(count), "-timeout", "30s", *extra], timeout_s=TIMEOUT_S)


def assert_exactly_once(rows, prefix, count):
    values = Counter(value for _, _, value in rows)
    expected = {f"{prefix}-{i}" for i in range(count)}
    assert set(values) == expected, f"missing {sorted(expected - set(values))}, unexpected {sorted(set(values) - expected)}"
    assert all(n == 1 for n in values.values()), f"consumed twice: {[v for v, n in values.items() if n > 1]}"


def end_offsets(rows):
    """{partition: offset after the last consumed message}."""
    ends = {}
    for partition, offset, _ in rows:
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends


def check_produce_consume_commit(broker, consume_command, *version):
    topic = unique_topic("sarama")
    group = unique_topic("sarama-group")
    create_topic(broker, topic, PARTITIONS)

    sarama("produce", broker, topic, FIRST, "-prefix", "first", *version)
    first = consumed_lines(sarama(consume_command, broker, topic, FIRST, "-group", group, *version).stdout)
    assert_exactly_once(first, "first", FIRST)
    assert committed_offsets(broker, group, topic) == end_offsets(first)

    # A new consumer of the group starts after the committed offsets: it gets
    # only what was produced since (waiting for more would time it out).
    sarama("produce", broker, topic, SECOND, "-prefix", "second", *version)
    second = consumed_lines(sarama(consume_command, broker, topic, SECOND, "-group", group, *version).stdout)
    assert_exactly_once(second, "second", SECOND)
    assert committed_offsets(broker, group, topic) == end_offsets(first + second)
    assert sum(end_offsets(first + second).values()) == FIRST + SECOND


def test_default_version_producer_consumer_and_offset_manager(module_broker):
    """sarama.NewConfig() untouched: Produce v0, Fetch v0, OffsetCommit v1."""
    check_produce_consume_commit(module_broker, "consume")


def test_consumer_group_at_its_lowest_version(module_broker):
    """ConsumerGroup with Version 0.10.2.0, the lowest it accepts."""
    check_produce_consume_commit(module_broker, "group", "-version", "0.10.2.0")


def test_consumer_group_at_kafka_2_version(module_broker):
    """ConsumerGroup with the newest Version sarama 1.22 knows (2.1.0): Produce v3
    and Fetch v4 with record batches."""
    check_produce_consume_commit(module_broker, "group", "-version", "2.1.0")
