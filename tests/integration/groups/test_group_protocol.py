"""The group coordinator through the broker with raw frames (group_wire.py): protocol
misuse gets Kafka's error codes, consumer lag computed as Kafka's tools do it
(OffsetFetch for the committed offset, ListOffsets latest for the log end offset), and a
session ending at its deadline."""

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import group_wire as gw
import kafka_wire
from conftest import unique_topic

# Sessions of a second keep the session-expiry test short.
BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0", "group.min.session.timeout.ms": "500"}
PARTITIONS = 3


@pytest.fixture
def sock(module_broker):
    # As a client does (and as Kafka needs): look the coordinator up first,
    # which has the broker create __consumer_offsets.
    assert kafka_wire.find_coordinator(module_broker.port, "proto")[0] == kafka_wire.ERR_NONE
    with kafka_wire.connect(module_broker.port, timeout_s=30) as s:
        yield s


def create_topic(broker, partitions=PARTITIONS):
    topic = unique_topic("proto")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=30)
    return topic


def stable_group(sock, topic):
    """One member, joined and synced, subscribed to `topic`: (group, member id, generation)."""
    group = unique_topic("proto-group")
    joined = gw.join_new_member(sock, group, topics=[topic])
    assert joined["error"] == gw.NONE, joined
    assert joined["leader"] == joined["member_id"]
    member, generation = joined["member_id"], joined["generation"]
    assignment = gw.consumer_assignment(topic, list(range(PARTITIONS)))
    error, got = gw.sync_group(sock, group, generation, member, [(member, assignment)])
    assert (error, got) == (gw.NONE, assignment)
    return group, member, generation


def test_empty_group_id_is_invalid(module_broker, sock):
    topic = create_topic(module_broker)  # a commit for an unknown topic never reaches the group checks
    assert gw.join_group(sock, "")["error"] == gw.INVALID_GROUP_ID
    assert gw.heartbeat(sock, "", 1, "m") == gw.INVALID_GROUP_ID
    assert gw.sync_group(sock, "", 1, "m")[0] == gw.INVALID_GROUP_ID
    assert gw.offset_commit(sock, "", {(topic, 0): 1}) == {(topic, 0): gw.INVALID_GROUP_ID}
    assert gw.offset_fetch(sock, "", "t", [0])[0] == gw.INVALID_GROUP_ID
    assert gw.delete_groups(sock, [""]) == {"": gw.INVALID_GROUP_ID}


def test_session_timeout_outside_the_brokers_bounds(sock):
    group = unique_topic("proto-group")
    assert gw.join_group(sock, group, session_timeout_ms=100)["error"] == gw.INVALID_SESSION_TIMEOUT
    assert gw.join_group(sock, group, session_timeout_ms=2_000_000)["error"] == gw.INVALID_SESSION_TIMEOUT


def test_sync_and_heartbeat_before_join_and_from_non_members(module_broker, sock):
    group = unique_topic("proto-group")
    # SyncGroup and Heartbeat for a group nobody joined: Kafka answers UNKNOWN_MEMBER_ID.
    assert gw.sync_group(sock, group, 0, "nobody")[0] == gw.UNKNOWN_MEMBER_ID
    assert gw.heartbeat(sock, group, 0, "nobody") == gw.UNKNOWN_MEMBER_ID
    # A member id the coordinator never handed out.
    assert gw.join_group(sock, group, member_id="made-up")["error"] == gw.UNKNOWN_MEMBER_ID

    topic = create_topic(module_broker)
    group, member, generation = stable_group(sock, topic)
    assert gw.heartbeat(sock, group, generation, member) == gw.NONE
    assert gw.heartbeat(sock, group, generation, "stranger") == gw.UNKNOWN_MEMBER_ID
    assert gw.sync_group(sock, group, generation, "stranger")[0] == gw.UNKNOWN_MEMBER_ID
    assert gw.join_group(sock, group, member_id="stranger", topics=[topic])["error"] == gw.UNKNOWN_MEMBER_ID
    assert gw.offset_commit(sock, group, {(topic, 0): 1}, generation, "stranger") == {(topic, 0): gw.UNKNOWN_MEMBER_ID}
    # A member id handed out by MEMBER_ID_REQUIRED but never used is not a member either.
    pending = gw.join_group(sock, group, topics=[topic])
    assert pending["error"] == gw.MEMBER_ID_REQUIRED
    assert gw.heartbeat(sock, group, generation, pending["member_id"]) == gw.UNKNOWN_MEMBER_ID
    assert gw.sync_group(sock, group, generation, pending["member_id"])[0] == gw.UNKNOWN_MEMBER_ID
    gw.leave_group(sock, group, [member])


def test_wrong_generation_is_illegal(module_broker, sock):
    topic = create_topic(module_broker)
    group, member, generation = stable_group(sock, topic)
    assert gw.heartbeat(sock, group, generation + 1, member) == gw.ILLEGAL_GENERATION
    assert gw.heartbeat(sock, group, generation - 1, member) == gw.ILLEGAL_GENERATION
    assert gw.sync_group(sock, group, generation + 1, member)[0] == gw.ILLEGAL_GENERATION
    assert gw.offset_commit(sock, group, {(topic, 0): 5}, generation + 1, member) == {(topic, 0): gw.ILLEGAL_GENERATION}
    assert gw.offset_commit(sock, group, {(topic, 0): 5}, generation, member) == {(topic, 0): gw.NONE}
    assert gw.offset_fetch(sock, group, topic, [0]) == (gw.NONE, {0: 5})
    # A simple (generation -1) commit into a group with members is refused.
    assert gw.offset_commit(sock, group, {(topic, 0): 9}) == {(topic, 0): gw.UNKNOWN_MEMBER_ID}
    assert gw.offset_fetch(sock, group, topic, [0]) == (gw.NONE, {0: 5})
    gw.leave_group(sock, group, [member])


def test_session_ends_at_its_deadline(module_broker, sock):
    """Kafka's DelayedHeartbeat expires a member at its session deadline; a fixed 100 ms
    sweep left a static member in the group for up to 100 ms more, and a DeleteGroups
    just after the deadline got NON_EMPTY_GROUP. Three rounds, each deadline at another
    point of any such sweep: a sweep passes all three only by chance (main's binary
    failed 10 of 10 runs)."""
    topic = create_topic(module_broker)
    session_s = 0.5
    for round_index in range(3):
        group = unique_topic("proto-group")
        instance = f"static-{round_index}"
        joined = gw.join_group(sock, group, topics=[topic], instance_id=instance,
                               session_timeout_ms=int(session_s * 1000))
        assert joined["error"] == gw.NONE, joined
        member, generation = joined["member_id"], joined["generation"]
        assert gw.sync_group(sock, group, generation, member, [(member, b"")], instance_id=instance)[0] == gw.NONE
        assert gw.heartbeat(sock, group, generation, member, instance_id=instance) == gw.NONE
        last_heard = time.monotonic()  # the broker's deadline is at most a session after this
        assert gw.delete_groups(sock, [group]) == {group: gw.NON_EMPTY_GROUP}
        time.sleep(max(0.0, last_heard + session_s + 0.010 - time.monotonic()))
        assert gw.delete_groups(sock, [group]) == {group: gw.NONE}, f"round {round_index}"


def test_delete_groups_and_offsets_of_an_active_group(module_broker, sock):
    topic = create_topic(module_broker)
    other = create_topic(module_broker)
    group, member, generation = stable_group(sock, topic)
    assert gw.offset_commit(sock, group, {(topic, 0): 3, (other, 0): 4}, generation, member) == \
        {(topic, 0): gw.NONE, (other, 0): gw.NONE}
    assert gw.delete_groups(sock, [group]) == {group: gw.NON_EMPTY_GROUP}
    # The topic the member subscribes to keeps its offsets; the other one's go.
    assert gw.offset_delete(sock, group, topic, [0]) == (gw.NONE, {0: gw.GROUP_SUBSCRIBED_TO_TOPIC})
    assert gw.offset_delete(sock, group, other, [0]) == (gw.NONE, {0: gw.NONE})
    assert gw.offset_fetch(sock, group, topic, [0]) == (gw.NONE, {0: 3})
    assert gw.offset_fetch(sock, group, other, [0]) == (gw.NONE, {0: -1})

    assert gw.leave_group(sock, group, [member]) == (gw.NONE, [(member, None, gw.NONE)])
    assert gw.offset_delete(sock, group, topic, [0]) == (gw.NONE, {0: gw.NONE})  # empty group: allowed
    assert gw.delete_groups(sock, [group]) == {group: gw.NONE}
    assert gw.delete_groups(sock, [group]) == {group: gw.GROUP_ID_NOT_FOUND}
    assert gw.offset_delete(sock, group, topic, [0])[0] == gw.GROUP_ID_NOT_FOUND


def test_lag_is_log_end_offset_minus_committed_offset(module_broker, sock):
    """Per partition: produce a known count, a group consumes and commits part of it;
    OffsetFetch + ListOffsets(latest) give Kafka's lag, and a kafka-python admin's
    view (what kafka-consumer-groups.sh shows) agrees."""
    topic = create_topic(module_broker)
    produced = {0: 50, 1: 30, 2: 0}
    consumed = {0: 20, 1: 30, 2: 0}
    producer = Producer({"bootstrap.servers": module_broker.bootstrap, "acks": "all"})
    for partition, count in produced.items():
        for i in range(count):
            producer.produce(topic, value=b"x%d" % i, partition=partition)
    assert producer.flush(30) == 0

    group = unique_topic("lag-group")
    consumer = Consumer({"bootstrap.servers": module_broker.bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        wanted = {p: n for p, n in consumed.items() if n}
        consumer.assign([TopicPartition(topic, p, 0) for p in wanted])
        seen = {p: 0 for p in wanted}
        while any(seen[p] < wanted[p] for p in wanted):
            msg = consumer.poll(10)
            assert msg is not None and not msg.error(), msg and msg.error()
            if seen[msg.partition()] < wanted[msg.partition()]:
                seen[msg.partition()] += 1
        consumer.commit(offsets=[TopicPartition(topic, p, n) for p, n in wanted.items()], asynchronous=False)
    finally:
        consumer.close()

    error, committed = gw.offset_fetch(sock, group, topic, range(PARTITIONS))
    assert error == gw.NONE
    ends = kafka_wire.list_offsets_v7(module_broker.port, topic, {p: kafka_wire.TS_LATEST for p in range(PARTITIONS)})
    log_end = {p: ends[p][2] for p in range(PARTITIONS)}
    assert log_end == produced
    assert committed == {0: 20, 1: 30, 2: -1}
    # Kafka's tools: no committed offset means no lag figure ("-"), else end - committed.
    lag = {p: log_end[p] - committed[p] for p in range(PARTITIONS) if committed[p] >= 0}
    assert lag == {0: 30, 1: 0}

    from kafka import KafkaConsumer
    from kafka.admin import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=module_broker.bootstrap)
    reader = KafkaConsumer(bootstrap_servers=module_broker.bootstrap)
    try:
        offsets = admin.list_consumer_group_offsets(group)
        ends = reader.end_offsets(list(offsets))
        assert {tp.partition: ends[tp] - meta.offset for tp, meta in offsets.items()} == lag
    finally:
        reader.close()
        admin.close()
