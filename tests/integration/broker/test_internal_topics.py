"""Internal topics belong to the coordinators (issue 12, finding 2). Kafka's answers:
- Produce to an internal topic: INVALID_TOPIC_EXCEPTION (ReplicaManager.appendToLocalLog);
- DeleteRecords on one: INVALID_TOPIC_EXCEPTION;
- a client batch with the control bit: INVALID_RECORD ("Clients are not allowed to
  write control records", LogValidator);
- DeleteTopics of __consumer_offsets: refused (INVALID_TOPIC_EXCEPTION), the topic stays;
- the first FindCoordinator: COORDINATOR_NOT_AVAILABLE while __consumer_offsets is
  created on the controller thread (never on the reactor that got the lookup), then
  this broker (issue 13, point 1).
And a record in __consumer_offsets that does not decode (written before these checks
existed, or by a future version) is logged and skipped at start: the broker starts and
every other record, of the same batch too, is loaded."""

import glob
import os
import struct

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import hostile_wire as hw
import kafka_wire as kw

OFFSETS = "__consumer_offsets"


def create_topic(bootstrap, name, partitions=1):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=30)


def commit(bootstrap, group, topic, offset):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        c.close()


def committed(bootstrap, group, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return c.committed([TopicPartition(topic, 0)], timeout=30)[0].offset
    finally:
        c.close()


def test_first_lookup_answers_coordinator_not_available_until_the_topic_exists(broker):
    with kw.connect(broker.port) as sock:
        r = kw.call(sock, 10, 0, bytes(kw.Writer().string("first").buf), 1)
        assert r.i16() == 15  # COORDINATOR_NOT_AVAILABLE: creation handed off, not awaited
    assert kw.find_coordinator(broker.port, "first")[0] == kw.ERR_NONE  # retried until it exists


def test_clients_cannot_write_into_internal_topics(broker):
    assert kw.find_coordinator(broker.port, "g")[0] == kw.ERR_NONE  # creates __consumer_offsets
    forged = hw.record_batch([(hw.offset_commit_key("g", "t", 0), b"\x00\x03garbage")])
    for partition in (0, 7):
        error, base_offset = hw.produce_v3(broker.port, OFFSETS, partition, forged)
        assert (error, base_offset) == (hw.ERR_INVALID_TOPIC_EXCEPTION, -1)
    assert kw.delete_records(broker.port, OFFSETS, {0: -1}) == {0: (hw.ERR_INVALID_TOPIC_EXCEPTION, -1)}
    assert hw.delete_topics_v3(broker.port, [OFFSETS]) == {OFFSETS: hw.ERR_INVALID_TOPIC_EXCEPTION}
    assert kw.metadata_v12(broker.port, [OFFSETS], False)["topics"][OFFSETS]["error"] == kw.ERR_NONE
    # Nothing was written: the coordinator partitions are empty and a restart is clean.
    broker.restart()
    create_topic(broker.bootstrap, "t")  # Kafka refuses commits for unknown topics
    commit(broker.bootstrap, "g", "t", 5)
    assert committed(broker.bootstrap, "g", "t") == 5


def test_client_control_batches_are_refused(broker):
    create_topic(broker.bootstrap, "plain")
    commit_marker = hw.record_batch([(b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x00")], control=True)
    assert hw.produce_v3(broker.port, "plain", 0, commit_marker) == (hw.ERR_INVALID_RECORD, -1)
    # Nothing was appended: the next batch gets offset 0.
    assert hw.produce_v3(broker.port, "plain", 0, hw.record_batch([(b"k", b"v")])) == (kw.ERR_NONE, 0)


def log_end(segment_path):
    """The offset after the last batch of a segment file (v2 batches)."""
    with open(segment_path, "rb") as f:
        data = f.read()
    position, end = 0, None
    while position + 27 <= len(data):
        base_offset, length = struct.unpack_from(">qi", data, position)
        if length <= 0:
            break
        last_offset_delta = struct.unpack_from(">i", data, position + 23)[0]
        end = base_offset + last_offset_delta + 1
        position += 12 + length
    return end


def append_as_written_before_the_checks(data_dir, batch_records):
    """Appends a batch to __consumer_offsets-0 the way a Produce before the fix left
    it (a valid batch at the log end), and drops the clean-shutdown marker so the
    start scans it like any tail written before a crash."""
    segment = sorted(glob.glob(os.path.join(data_dir, OFFSETS + "-0", "*.log")))[-1]
    end = log_end(segment)
    assert end is not None, "the offsets partition holds no batch"
    with open(segment, "ab") as f:
        f.write(hw.record_batch(batch_records, base_offset=end))
    marker = os.path.join(data_dir, ".kafka_cleanshutdown")
    if os.path.exists(marker):
        os.remove(marker)


def test_a_bad_offsets_record_is_skipped_at_start(broker_factory):
    b = broker_factory({"offsets.topic.num.partitions": "1"})
    create_topic(b.bootstrap, "t")
    commit(b.bootstrap, "good", "t", 42)
    assert b.stop() == 0
    append_as_written_before_the_checks(b.data_dir, [
        (b"\x00\x01\x7f\xff", b"x"),  # an OffsetCommitKey v1 cut short
        (hw.offset_commit_key("good", "t", 0), b"\x00\x03\x01"),  # a value cut short
        (hw.offset_commit_key("other", "t", 0), hw.offset_commit_value(7)),  # fine
    ])
    b.start()  # before the fix: exits during start-up (the replay fails)
    assert committed(b.bootstrap, "good", "t") == 42
    assert committed(b.bootstrap, "other", "t") == 7
    with open(b.log_path, errors="replace") as f:
        log = f.read()
    assert "skipping a record that does not decode" in log, log[-3000:]
    # Records after the bad ones load too.
    commit(b.bootstrap, "good", "t", 43)
    b.restart()
    assert committed(b.bootstrap, "good", "t") == 43
