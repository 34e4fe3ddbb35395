"""kafka-go 0.2 (Debian's golang-github-segmentio-kafka-go-dev) against Sluice
with its defaults: tests/clients/go/kafkago built in GOPATH mode.

kafka-go 0.2 sends fixed versions: Produce v2 (magic 1 messages), Fetch v2,
ListOffsets v1, Metadata v1, FindCoordinator v0, JoinGroup v1, SyncGroup v0,
Heartbeat v0, OffsetCommit v2 and OffsetFetch v1. A Writer produces, a group
Reader consumes every message exactly once committing each, and a second
Reader of the group resumes after the commits, which librdkafka's OffsetFetch
(`sluice group describe`) reads too. A relay in front of the broker
(programs.RequestRecorder) checks that kafka-go sent the versions named here.

Two Reader settings shorten what kafka-go 0.2 itself makes slow, against
Kafka as here: its fetches ask for 1 MB (MinBytes defaults to MaxBytes), so
each waits MaxWait (10 s by default, 1 s here); and Close never leaves the group,
so the next Reader's JoinGroup waits for the previous one's session to expire
(30 s by default, 6 s here: Kafka's group.min.session.timeout.ms).
"""

from conftest import run, unique_topic
from programs import (assert_exactly_once, committed_offsets, consumed_lines, create_topic,  # noqa: F401
                      end_offsets, go_client, recorded_broker)

PARTITIONS = 3
FIRST, SECOND = 30, 12
TIMEOUT_S = 90


def kafka_go(command, recorder, topic, count, *extra):
    return run([go_client("kafka-go-client"), command, "-brokers", recorder.address, "-topic", topic,
                "-count", str(count), "-timeout", "45s", *extra], timeout_s=TIMEOUT_S)


READER_TUNING = ("-max-wait", "1s", "-session-timeout", "6s")


def test_writer_and_group_reader_with_commits(recorded_broker):
    broker, recorder = recorded_broker
    topic = unique_topic("kafka-go")
    group = unique_topic("kafka-go-group")
    create_topic(broker, topic, PARTITIONS)
    recorder.clear()

    kafka_go("produce", recorder, topic, FIRST, "-prefix", "first")
    first = consumed_lines(kafka_go("consume", recorder, topic, FIRST, "-group", group, *READER_TUNING).stdout)
    assert_exactly_once(first, "first", FIRST)
    assert len(end_offsets(first)) == PARTITIONS, "the round-robin writer left a partition empty"
    sent = recorder.versions()
    assert {api: sent.get(api) for api in ["Produce", "Fetch", "ListOffsets", "OffsetCommit", "OffsetFetch",
                                           "JoinGroup", "SyncGroup"]} == {
        "Produce": [2], "Fetch": [2], "ListOffsets": [1], "OffsetCommit": [2], "OffsetFetch": [1],
        "JoinGroup": [1], "SyncGroup": [0]}, sent
    assert committed_offsets(broker, group, topic) == end_offsets(first)

    kafka_go("produce", recorder, topic, SECOND, "-prefix", "second")
    second = consumed_lines(kafka_go("consume", recorder, topic, SECOND, "-group", group, *READER_TUNING).stdout)
    assert_exactly_once(second, "second", SECOND)
    assert committed_offsets(broker, group, topic) == end_offsets(first + second)
