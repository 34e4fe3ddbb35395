"""Consumer groups of kafkajs, kafka-python and confluent-kafka members (each a process):
kafkajs with eachMessage and eachBatch, kafka commits automatic and manual; kafka-python
and confluent-kafka sharing range and roundrobin groups; all three clients in one
roundrobin group. Nobody dies, so each member consumes exactly its share: partitions
disjoint, their union all of them, every message exactly once, and the group's committed
offsets are the partitions' ends once everyone has left."""

from collections import Counter

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import unique_topic
from members import confluent_member, kafka_python_member, kafkajs_member, wait_for

OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
PARTITIONS = 6
COUNT = 1200


def create_topic(broker):
    topic = unique_topic("clients")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(timeout=30)
    return topic


def produce(broker, topic, count):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(count):
        producer.produce(topic, key=str(i).encode(), value=b"v%d" % i, partition=i % PARTITIONS)
    assert producer.flush(60) == 0


def shared_exactly(members):
    owned = [m.journal.owned for m in members]
    return all(owned) and sum(len(o) for o in owned) == PARTITIONS and set().union(*owned) == set(range(PARTITIONS))


def committed_offsets(broker, group):
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        return {tp.partition: meta.offset for tp, meta in admin.list_consumer_group_offsets(group).items()}
    finally:
        admin.close()


def run_group(broker, tmp_path, make_members):
    """Starts the members, waits for them to share the partitions, produces COUNT
    messages, and checks each member consumed exactly its share."""
    topic = create_topic(broker)
    group = unique_topic("clients-group")
    members = []
    try:
        for make in make_members:
            members.append(make(group, topic, str(tmp_path), f"m{len(members)}"))
        wait_for(lambda: shared_exactly(members), "the members sharing every partition", members=members)
        shares = [set(m.journal.owned) for m in members]
        produce(broker, topic, COUNT)
        counts = Counter()
        wait_for(lambda: len({x for m in members for x in m.journal.processed}) == COUNT,
                 f"all {COUNT} messages consumed", members=members)
        for m, share in zip(members, shares):
            assert m.journal.owned == share, f"{m.name}'s partitions moved: {share} -> {m.journal.owned}"
        for m in members:
            m.stop()  # the others take over the leaver's partitions, with nothing left to consume
        for m, share in zip(members, shares):
            m.journal.refresh()
            assert m.journal.left, m.name
            assert not m.journal.errors, (m.name, m.journal.errors[:3])
            got = {p for p, _ in m.journal.processed}
            assert got == share, f"{m.name} consumed partitions {got}, owns {share}"
            counts.update(m.journal.processed)
        size = Counter(i % PARTITIONS for i in range(COUNT))
        assert set(counts) == {(p, o) for p in range(PARTITIONS) for o in range(size[p])}
        assert max(counts.values()) == 1, [k for k, n in counts.items() if n > 1][:10]
        assert committed_offsets(broker, group) == dict(size)
        return members
    finally:
        for m in members:
            m.ensure_dead()


def test_kafkajs_each_message_and_each_batch_with_auto_and_manual_commits(broker_factory, tmp_path):
    broker = broker_factory(OVERRIDES)
    kinds = [("eachMessage", "auto"), ("eachMessage", "manual"), ("eachBatch", "auto"), ("eachBatch", "manual")]
    makers = [lambda g, t, w, n, mode=mode, commit=commit: kafkajs_member(broker, g, t, mode, commit, "kafkajs", w, n)
              for mode, commit in kinds]
    members = run_group(broker, tmp_path, makers)
    for m, (_mode, commit) in zip(members, kinds):
        if commit == "manual":  # commitOffsets was called, and acknowledged, up to each partition's end
            last = {}
            for p, o in m.journal.commits:
                last[p] = o
            ends = {p: o + 1 for p, o in m.journal.processed}
            assert last == ends, m.name


@pytest.mark.parametrize("assignor", ["range", "roundrobin"])
def test_kafka_python_and_confluent_kafka_share_a_group(broker_factory, tmp_path, assignor):
    broker = broker_factory(OVERRIDES)
    makers = [lambda g, t, w, n: kafka_python_member(broker, g, t, assignor, w, n),
              lambda g, t, w, n: confluent_member(broker, g, t, assignor, w, n),
              lambda g, t, w, n: kafka_python_member(broker, g, t, assignor, w, n)]
    run_group(broker, tmp_path, makers)


def test_kafkajs_kafka_python_and_confluent_kafka_in_one_roundrobin_group(broker_factory, tmp_path):
    broker = broker_factory(OVERRIDES)
    makers = [lambda g, t, w, n: kafkajs_member(broker, g, t, "eachBatch", "manual", "roundrobin", w, n),
              lambda g, t, w, n: kafka_python_member(broker, g, t, "roundrobin", w, n),
              lambda g, t, w, n: confluent_member(broker, g, t, "roundrobin", w, n)]
    run_group(broker, tmp_path, makers)
