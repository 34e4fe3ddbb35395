"""Producer ids for idempotent producers (issue 17, KIP-730): InitProducerId
without a transactional id answers a new id with epoch 0, from blocks the
active controller allocates through the metadata log, unique across the
brokers of a cluster, across a restart and across a kill -9 of the active
controller; librdkafka's idempotent producer (confluent-kafka,
enable.idempotence) produces through it. kafka-python 2.0.2 (Debian's) has
no idempotent producer (enable_idempotence came in 2.1): not tested here."""

import os
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
import kafka_wire  # noqa: E402
from cluster_harness import make_cluster, wait_for  # noqa: E402,F401
from producer_ids import INVALID_REQUEST, init_producer_id, new_producer_ids  # noqa: E402

from confluent_kafka import Consumer, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

QUIET = 3  # librdkafka log level: errors only


def produce_idempotent(bootstrap, topic, count):
    """`count` records through librdkafka's idempotent producer (acks=all);
    returns how many were acknowledged and the errors."""
    delivered, errors = [], []

    def on_delivery(err, msg):
        (errors if err else delivered).append(err or msg.offset())

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5, "message.timeout.ms": 60000, "log_level": QUIET})
    for i in range(count):
        producer.produce(topic, key=str(i % 7).encode(), value=f"v{i}".encode(), on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(60) == 0
    return delivered, errors


def read_all(bootstrap, topic, expected, timeout_s=60):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False, "log_level": QUIET})
    consumer.subscribe([topic])
    values = []
    try:
        wait_for(lambda: values.extend(m.value() for m in consumer.consume(500, 0.5) if not m.error())
                 or len(values) >= expected, timeout_s, f"{expected} records of {topic}")
    finally:
        consumer.close()
    return values


def test_single_node_ids_unique_and_after_a_restart(broker):
    first = new_producer_ids(broker.port, 50)
    assert len(set(first)) == 50
    assert first == sorted(first), "one broker hands its ids out in order"
    sock = kafka_wire.connect(broker.port)
    try:
        # Kafka's KafkaApis: an id without an epoch, or an epoch without an id.
        assert init_producer_id(sock, 1, producer_id=5)[0] == INVALID_REQUEST
        assert init_producer_id(sock, 2, producer_epoch=3)[0] == INVALID_REQUEST
        # KIP-360: an idempotent producer giving its id and epoch gets a new id, epoch 0.
        error, pid, epoch = init_producer_id(sock, 3, producer_id=first[-1], producer_epoch=0)
        assert (error, epoch) == (0, 0)
        assert pid > first[-1]
    finally:
        sock.close()
    broker.crash_restart()
    again = new_producer_ids(broker.port, 10)
    assert min(again) > max(first) + 1, "a restart never hands out an id of an allocated block"


def test_confluent_kafka_idempotent_producer_single_node(broker):
    topic = f"idem-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
    delivered, errors = produce_idempotent(broker.bootstrap, topic, 2000)
    assert errors == []
    assert len(delivered) == 2000
    values = read_all(broker.bootstrap, topic, 2000)
    assert sorted(values) == sorted(f"v{i}".encode() for i in range(2000))


def test_cluster_ids_unique_across_brokers_and_a_controller_failover(make_cluster):
    cluster = make_cluster(combined=3)
    cluster.wait_brokers_listed()
    seen = {}
    for node in cluster.brokers:
        seen[node.id] = new_producer_ids(node.port, 20)
    all_ids = [pid for ids in seen.values() for pid in ids]
    assert len(set(all_ids)) == len(all_ids), f"ids handed out twice: {seen}"

    topic = f"idem-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": cluster.brokers[0].bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=3)])[topic].result(30)
    bootstrap = ",".join(n.bootstrap for n in cluster.brokers)
    delivered, errors = produce_idempotent(bootstrap, topic, 1000)
    assert errors == [] and len(delivered) == 1000

    leader, _ = cluster.leader()
    cluster.node(leader).kill9()
    cluster.leader(exclude=(leader,))
    before = max(all_ids)
    for node in cluster.brokers:
        if node.id == leader:
            continue
        # More than a block: this broker needs a block from the new controller.
        ids = new_producer_ids(node.port, 1001, timeout_s=60)
        assert ids == sorted(ids)
        assert not set(ids) & set(all_ids), "an id handed out before the failover came again"
        assert max(ids) > before
        all_ids += ids
    assert len(set(all_ids)) == len(all_ids)
    values = read_all(bootstrap, topic, 1000)
    assert len(values) >= 1000
