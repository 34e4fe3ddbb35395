"""One admin request cannot stall the controller or take the broker down (issue 12,
finding 3). Kafka's answers: an operation of more than 10,000 metadata records
(QuorumController.MAX_RECORDS_PER_USER_OP) is refused with POLICY_VIOLATION, for every
topic of a CreateTopics request (validate-only too) and per topic in CreatePartitions;
absurd counts and assignments get INVALID_PARTITIONS / INVALID_REPLICA_ASSIGNMENT.
SIGTERM while the controller is busy stops the broker promptly (the bound asserted
is generous, 5 s: no timing figure is a test)."""

import os
import select
import signal
import time

import pytest

import hostile_wire as hw
import kafka_wire as kw

INT32_MAX = 2**31 - 1
STOP_BOUND_S = 5.0


@pytest.fixture
def b(module_broker):
    yield module_broker
    assert module_broker.alive(), "broker process died"


def errors(results):
    return [error for _name, error, _message in results]


def topics(port):
    return set(kw.metadata_v12(port, None, False)["topics"])


def test_create_topics_past_the_record_bound_is_a_policy_violation(b):
    for validate_only in (True, False):
        [(name, error, message)] = hw.create_topics_v4(b.port, [("huge", 100_000, 1, {})], validate_only)
        assert (name, error) == ("huge", hw.ERR_POLICY_VIOLATION), message
        assert message == "Unable to perform excessively large batch operation."
    # The bound is on the whole request: two topics that fit alone do not together.
    pair = [("half-a", 6000, 1, {}), ("half-b", 6000, 1, {})]
    assert errors(hw.create_topics_v4(b.port, pair)) == [hw.ERR_POLICY_VIOLATION] * 2
    assert errors(hw.create_topics_v4(b.port, [("absurd", INT32_MAX, 1, {})])) == [hw.ERR_POLICY_VIOLATION]
    # A TopicRecord and 9,999 PartitionRecords: exactly the bound.
    assert errors(hw.create_topics_v4(b.port, [("at-bound", 9999, 1, {})], validate_only=True)) == [0]
    assert not {"huge", "half-a", "half-b", "absurd", "at-bound"} & topics(b.port)


def test_bit_flipped_create_topics_is_answered(b):
    # What fuzzing a real client's request produced: 32,514 partitions, by count and
    # as a manual assignment; and assignments no cluster can satisfy.
    assert errors(hw.create_topics_v4(b.port, [("flipped", 32514, 1, {})])) == [hw.ERR_POLICY_VIOLATION]
    assignment = {p: [1] for p in range(32514)}
    assert errors(hw.create_topics_v4(b.port, [("flipped", -1, -1, assignment)])) == [hw.ERR_POLICY_VIOLATION]
    cases = [
        {0: [1], 1: [1, 1]},                       # duplicate replica
        {0: [1], 5: [1]},                          # not 0..n-1
        {0: [INT32_MAX]},                          # no such broker
        {0: list(range(-20000, 0))},               # 20,000 replicas, none registered
        {INT32_MAX: [1]},
        {0: []},
    ]
    for bad in cases:
        assert errors(hw.create_topics_v4(b.port, [("flipped", -1, -1, bad)])) == [hw.ERR_INVALID_REPLICA_ASSIGNMENT]
    assert errors(hw.create_topics_v4(b.port, [("flipped", -32514, 1, {})])) == [hw.ERR_INVALID_PARTITIONS]
    assert errors(hw.create_topics_v4(b.port, [("flipped", 1, -32514, {})])) == [hw.ERR_INVALID_REPLICATION_FACTOR]
    assert "flipped" not in topics(b.port)


def test_create_partitions_with_absurd_counts_and_assignments(b):
    assert errors(hw.create_topics_v4(b.port, [("grow", 1, 1, {})])) == [0]
    cases = [
        (("grow", INT32_MAX, None), hw.ERR_INVALID_PARTITIONS),
        (("grow", 1_000_001, None), hw.ERR_INVALID_PARTITIONS),
        (("grow", 50_000, None), hw.ERR_POLICY_VIOLATION),
        (("grow", 20_001, [[1]] * 20_000), hw.ERR_POLICY_VIOLATION),
        (("grow", 3, [[1], [INT32_MAX]]), hw.ERR_INVALID_REPLICA_ASSIGNMENT),
        (("grow", 3, [[1], [1, 1]]), hw.ERR_INVALID_REPLICA_ASSIGNMENT),
        (("grow", 3, [[1]]), hw.ERR_INVALID_REPLICA_ASSIGNMENT),
        (("grow", -5, None), hw.ERR_INVALID_PARTITIONS),
    ]
    for topic, expected in cases:
        for validate_only in (True, False):
            assert errors(hw.create_partitions_v1(b.port, [topic], validate_only)) == [expected], topic
    # Per topic, as Kafka: the first fits the bound, the second does not.
    assert errors(hw.create_topics_v4(b.port, [("grow-2", 1, 1, {})])) == [0]
    both = [("grow", 9000, None), ("grow-2", 9000, None)]
    assert errors(hw.create_partitions_v1(b.port, both, validate_only=True)) == [0, hw.ERR_POLICY_VIOLATION]
    md = kw.metadata_v12(b.port, ["grow", "grow-2"], False)["topics"]
    assert len(md["grow"]["partitions"]) == 1 and len(md["grow-2"]["partitions"]) == 1


def sigterm_and_time_the_exit(broker):
    started = time.monotonic()
    broker.proc.send_signal(signal.SIGTERM)
    broker.stopped_on_purpose = True
    try:
        code = broker.proc.wait(timeout=60)
    except Exception:
        broker.kill9()
        raise
    return code, time.monotonic() - started


def test_sigterm_while_a_queue_of_big_requests_waits(broker_factory):
    broker = broker_factory()
    # 500 requests of 9,999 partitions each (validate-only: the controller's own
    # work, no logs) queued behind each other, pipelined on 4 connections.
    body = kw.Writer().array([("q", 9999, 1)], lambda w, t: w.string(t[0]).i32(t[1]).i16(t[2])
                             .array([], None).array([], None)).i32(30000).i8(1)
    socks = [kw.connect(broker.port) for _ in range(4)]
    try:
        for sock in socks:
            sock.sendall(b"".join(kw.frame(kw.request_header(hw.API_CREATE_TOPICS, 4, i) + bytes(body.buf))
                                  for i in range(125)))
        # The controller is at work once any connection has its first answer
        # (which one depends on how the reactors interleaved the queues).
        readable, _, _ = select.select(socks, [], [], 60)
        assert readable and kw.read_frame(readable[0]) is not None
        code, took_s = sigterm_and_time_the_exit(broker)
    finally:
        for sock in socks:
            sock.close()
    assert code == 0
    assert took_s < STOP_BOUND_S, f"stopped {took_s:.1f} s after SIGTERM"


def test_sigterm_while_thousands_of_partition_logs_are_created(broker_factory):
    # Creating a partition log costs a few fsyncs: 2,000 of them keep the controller's
    # listener busy for ~10 s. The logs not created yet are left to the next start
    # (tests/unit/cluster/replica_manager_test.cc checks that they are created then).
    broker = broker_factory()
    sock = kw.connect(broker.port)
    try:
        body = kw.Writer().array([("wide", 2000, 1)], lambda w, t: w.string(t[0]).i32(t[1]).i16(t[2])
                                 .array([], None).array([], None)).i32(30000).i8(0)
        sock.sendall(kw.frame(kw.request_header(hw.API_CREATE_TOPICS, 4, 1) + bytes(body.buf)))
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(broker.data_dir, "wide-0")):
            assert time.monotonic() < deadline, "the topic's logs were never created"
            time.sleep(0.01)
        code, took_s = sigterm_and_time_the_exit(broker)
    finally:
        sock.close()
    assert code == 0
    assert took_s < STOP_BOUND_S, f"stopped {took_s:.1f} s after SIGTERM"
