"""sarama 1.22 (Debian's golang-github-shopify-sarama-dev) against Sluice, as
its users run it: tests/clients/go/sarama built in GOPATH mode.

With sarama's default Config.Version (V0_8_2_0) it speaks Produce v0 (magic 0
messages), Fetch v0, Metadata v0, ListOffsets v0, FindCoordinator v0,
OffsetCommit v1 and OffsetFetch v1; its ConsumerGroup needs at least
V0_10_2_0, where it speaks Produce v2, Fetch v3, JoinGroup v1, SyncGroup v0,
OffsetCommit v1 and OffsetFetch v1. Each test produces, consumes every message
exactly once with a group, and proves the commits persisted: a second
consumer of the group resumes after them, and librdkafka's OffsetFetch (`sluice
group describe`) reads the same offsets. A relay in front of the broker
(programs.RequestRecorder) checks that sarama sent the versions named here.
"""

import pytest

from conftest import run, unique_topic
from programs import (assert_exactly_once, committed_offsets, consumed_lines, create_topic,  # noqa: F401
                      end_offsets, go_client, recorded_broker)

PARTITIONS = 3
FIRST, SECOND = 30, 12
TIMEOUT_S = 60


def sarama(command, recorder, topic, count, *extra):
    return run([go_client("sarama-client"), command, "-brokers", recorder.address, "-topic", topic,
                "-count", str(count), "-timeout", "30s", *extra], timeout_s=TIMEOUT_S)


def check_produce_consume_commit(broker, recorder, consume_command, *version):
    """Returns the request versions sarama sent, {api name: [versions]}."""
    topic = unique_topic("sarama")
    group = unique_topic("sarama-group")
    create_topic(broker, topic, PARTITIONS)
    recorder.clear()

    sarama("produce", recorder, topic, FIRST, "-prefix", "first", *version)
    first = consumed_lines(sarama(consume_command, recorder, topic, FIRST, "-group", group, *version).stdout)
    assert_exactly_once(first, "first", FIRST)
    sent = recorder.versions()
    assert committed_offsets(broker, group, topic) == end_offsets(first)

    # A new consumer of the group starts after the committed offsets: it gets
    # only what was produced since (waiting for more would time it out).
    sarama("produce", recorder, topic, SECOND, "-prefix", "second", *version)
    second = consumed_lines(sarama(consume_command, recorder, topic, SECOND, "-group", group, *version).stdout)
    assert_exactly_once(second, "second", SECOND)
    assert committed_offsets(broker, group, topic) == end_offsets(first + second)
    assert sum(end_offsets(first + second).values()) == FIRST + SECOND
    return sent


def sent_versions(sent, apis):
    return {api: sent.get(api) for api in apis}


def test_default_version_producer_consumer_and_offset_manager(recorded_broker):
    """sarama.NewConfig() untouched."""
    sent = check_produce_consume_commit(*recorded_broker, "consume")
    assert sent_versions(sent, ["Produce", "Fetch", "ListOffsets", "Metadata", "OffsetCommit", "OffsetFetch"]) == {
        "Produce": [0], "Fetch": [0], "ListOffsets": [0], "Metadata": [0], "OffsetCommit": [1],
        "OffsetFetch": [1]}, sent


@pytest.mark.parametrize("version, produce, fetch", [("0.10.2.0", 2, 3), ("2.1.0", 3, 4)])
def test_consumer_group(recorded_broker, version, produce, fetch):
    """ConsumerGroup at 0.10.2.0, the lowest Version it accepts, and at 2.1.0,
    the newest sarama 1.22 knows."""
    sent = check_produce_consume_commit(*recorded_broker, "group", "-version", version)
    assert sent_versions(sent, ["Produce", "Fetch", "JoinGroup", "SyncGroup", "OffsetCommit"]) == {
        "Produce": [produce], "Fetch": [fetch], "JoinGroup": [1], "SyncGroup": [0], "OffsetCommit": [1]}, sent
