"""Consumer groups with real clients (confluent-kafka-python / librdkafka, kafka-python's
admin client) against sluice serve: assignors, a killed member, static membership,
committed offsets across restarts and kill -9, and the admin group APIs."""

import signal
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import unique_topic

# No initial rebalance delay: groups form at once (the tests measure behaviour, not delay).
OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
PARTITIONS = 6
TIMEOUT_S = 60


def create_topic(broker, partitions=PARTITIONS):
    topic = unique_topic("g")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})  # kept alive until the result
    futures = admin.create_topics([NewTopic(topic, partitions, 1)])
    futures[topic].result(timeout=30)
    return topic


def produce(broker, topic, count):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(count):
        producer.produce(topic, key=str(i).encode(), value=f"v{i}".encode(), partition=i % PARTITIONS)
    assert producer.flush(60) == 0


def consumer(broker, group, **extra):
    conf = {"bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "enable.auto.commit": True,
            "auto.commit.interval.ms": 200}
    conf.update(extra)
    return Consumer(conf)


class Member(threading.Thread):
    """A consumer polling in its own thread, recording what it gets and owns."""

    def __init__(self, broker, group, topic, **extra):
        super().__init__(daemon=True)
        self.consumer = consumer(broker, group, **extra)
        self.cooperative = extra.get("partition.assignment.strategy") == "cooperative-sticky"
        self.topic = topic
        self.keys = []
        self.owned = set()
        self.assignments = 0
        self.revocations = 0
        self.stop_event = threading.Event()
        self.errors = []

    def on_assign(self, c, partitions):
        self.assignments += 1
        self.owned |= {p.partition for p in partitions}

    def on_revoke(self, c, partitions):
        self.revocations += 1
        self.owned -= {p.partition for p in partitions}

    def run(self):
        self.consumer.subscribe([self.topic], on_assign=self.on_assign, on_revoke=self.on_revoke)
        while not self.stop_event.is_set():
            msg = self.consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    self.errors.append(msg.error())
                continue
            self.keys.append(int(msg.key()))

    def stop(self, close=True):
        self.stop_event.set()
        self.join(30)
        if close:
            self.consumer.close()


def wait_for(predicate, timeout_s=TIMEOUT_S, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("assignor", ["range", "roundrobin", "cooperative-sticky"])
def test_three_consumers_share_six_partitions(broker_factory, assignor):
    broker = broker_factory(OVERRIDES)
    topic = create_topic(broker)
    count = 3000
    produce(broker, topic, count)
    group = unique_topic("group")
    members = [Member(broker, group, topic, **{"partition.assignment.strategy": assignor}) for _ in range(3)]
    for m in members:
        m.start()
    try:
        wait_for(lambda: len(set().union(*[set(m.keys) for m in members])) == count,
                 what=f"all {count} messages with {assignor}")
        wait_for(lambda: sum(len(m.owned) for m in members) == PARTITIONS and all(m.owned for m in members),
                 what="every member owning partitions")
        owned = [m.owned for m in members]
        assert set().union(*owned) == set(range(PARTITIONS))
        assert sum(len(o) for o in owned) == PARTITIONS, f"partitions owned twice: {owned}"
        assert all(len(o) == 2 for o in owned), owned
        assert not any(m.errors for m in members), [m.errors for m in members]
    finally:
        for m in members:
            m.stop()


KILLABLE_CONSUMER = r"""
import sys
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], "auto.offset.reset": "earliest",
              "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
def assigned(consumer, partitions):
    print("assigned", len(partitions), flush=True)
c.subscribe([sys.argv[3]], on_assign=assigned)
while True:
    c.poll(0.2)
"""


def test_killed_member_partitions_move_after_session_timeout(broker_factory):
    broker = broker_factory(OVERRIDES)
    topic = create_topic(broker)
    group = unique_topic("group")
    victim = subprocess.Popen([sys.executable, "-c", KILLABLE_CONSUMER, broker.bootstrap, group, topic],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert victim.stdout.readline().startswith("assigned")
        survivor = Member(broker, group, topic)
        survivor.start()
        wait_for(lambda: 0 < len(survivor.owned) < PARTITIONS, what="the group shared by two members")
        victim.send_signal(signal.SIGKILL)  # no LeaveGroup: the session must time out
        victim.wait()
        killed_at = time.monotonic()
        wait_for(lambda: len(survivor.owned) == PARTITIONS, what="the survivor taking every partition")
        assert time.monotonic() - killed_at >= 3, "partitions moved before the session could time out"
        produce(broker, topic, 600)
        wait_for(lambda: len(set(survivor.keys)) == 600, what="the survivor consuming everything")
        survivor.stop()
    finally:
        if victim.poll() is None:
            victim.kill()


def test_static_member_restart_keeps_partitions_without_rebalance(broker_factory):
    broker = broker_factory(OVERRIDES)
    topic = create_topic(broker)
    group = unique_topic("group")
    a = Member(broker, group, topic, **{"group.instance.id": "a", "session.timeout.ms": 20000})
    b = Member(broker, group, topic, **{"group.instance.id": "b", "session.timeout.ms": 20000})
    a.start()
    b.start()
    wait_for(lambda: len(a.owned) + len(b.owned) == PARTITIONS and a.owned and b.owned, what="two static members")
    time.sleep(2)
    a_owned, b_owned, b_revocations, b_assignments = set(a.owned), set(b.owned), b.revocations, b.assignments
    a.stop()  # a static member's close sends no LeaveGroup
    a2 = Member(broker, group, topic, **{"group.instance.id": "a", "session.timeout.ms": 20000})
    a2.start()
    wait_for(lambda: a2.owned, what="the restarted static member's assignment")
    time.sleep(2)
    assert a2.owned == a_owned
    assert b.revocations == b_revocations, "the other member rebalanced (revoke)"
    assert b.assignments == b_assignments, "the other member rebalanced (assign)"
    assert b.owned == b_owned
    a2.stop()
    b.stop()


def committed(broker, group, topic, partition=0):
    c = consumer(broker, group)
    try:
        return c.committed([TopicPartition(topic, partition)], timeout=30)[0].offset
    finally:
        c.close()


def test_committed_offsets_survive_restart_and_kill9(broker_factory):
    broker = broker_factory(OVERRIDES)
    topic = create_topic(broker)
    group = unique_topic("group")
    c = consumer(broker, group, **{"enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 42), TopicPartition(topic, 3, 7)], asynchronous=False)
    c.close()
    assert committed(broker, group, topic) == 42
    broker.restart()
    assert committed(broker, group, topic) == 42
    assert committed(broker, group, topic, 3) == 7
    c = consumer(broker, group, **{"enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 43)], asynchronous=False)
    c.close()
    broker.crash_restart()  # kill -9: the acknowledged commit must be on disk
    assert committed(broker, group, topic) == 43
    assert committed(broker, group, topic, 3) == 7

    # A consumer of the group resumes from the committed offsets.
    produce(broker, topic, 60)  # 10 per partition
    c = consumer(broker, group, **{"enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 4)], asynchronous=False)
    c.assign([TopicPartition(topic, 0)])
    first = None
    deadline = time.monotonic() + TIMEOUT_S
    while first is None and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and not msg.error():
            first = msg.offset()
    c.close()
    assert first == 4


def test_group_resumes_from_committed_offsets_after_restart_and_kill9(broker_factory):
    """A subscribed group member commits what it consumed; after a clean restart and
    then a kill -9, the group's next member starts each partition at the committed offset."""
    broker = broker_factory(OVERRIDES)
    topic = create_topic(broker)
    group = unique_topic("group")

    def consume_in_group(count):
        c = consumer(broker, group, **{"enable.auto.commit": False})
        c.subscribe([topic])
        first, got = {}, 0
        deadline = time.monotonic() + TIMEOUT_S
        try:
            while got < count and time.monotonic() < deadline:
                msg = c.poll(0.5)
                if msg is None or msg.error():
                    continue
                first.setdefault(msg.partition(), msg.offset())
                got += 1
            assert got == count, f"consumed {got} of {count}"
            c.commit(asynchronous=False)
        finally:
            c.close()
        return first

    produce(broker, topic, 60)  # 10 per partition
    assert consume_in_group(60) == {p: 0 for p in range(PARTITIONS)}
    broker.restart()
    produce(broker, topic, 60)
    assert consume_in_group(60) == {p: 10 for p in range(PARTITIONS)}
    broker.crash_restart()
    produce(broker, topic, 60)
    assert consume_in_group(60) == {p: 20 for p in range(PARTITIONS)}


def test_admin_lists_describes_and_deletes_groups(broker_factory):
    from kafka.admin import KafkaAdminClient

    broker = broker_factory(OVERRIDES)
    topic = create_topic(broker)
    produce(broker, topic, 60)
    group = unique_topic("group")
    member = Member(broker, group, topic)
    member.start()
    wait_for(lambda: len(member.owned) == PARTITIONS and len(member.keys) == 60, what="the member's messages")

    groups = AdminClient({"bootstrap.servers": broker.bootstrap}).list_groups(timeout=30)
    listed = {g.id: g for g in groups}
    assert group in listed
    assert listed[group].state == "Stable"
    assert listed[group].protocol_type == "consumer"
    assert len(listed[group].members) == 1

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        [described] = admin.describe_consumer_groups([group])
        assert described.state == "Stable"
        assert len(described.members) == 1
        assert (group, "consumer") in admin.list_consumer_groups()

        [(name, error)] = admin.delete_consumer_groups([group])
        assert error.errno == 68, error  # NON_EMPTY_GROUP
        member.stop()
        wait_for(lambda: admin.describe_consumer_groups([group])[0].state == "Empty", what="an empty group")
        offsets = admin.list_consumer_group_offsets(group)
        assert sum(o.offset for o in offsets.values()) == 60, offsets  # auto-commit on close
        [(name, error)] = admin.delete_consumer_groups([group])
        assert error.errno == 0, error
        assert group not in {g for g, _ in admin.list_consumer_groups()}
        [(name, error)] = admin.delete_consumer_groups([group])
        assert error.errno == 69, error  # GROUP_ID_NOT_FOUND
    finally:
        admin.close()
