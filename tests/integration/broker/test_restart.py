"""Restarts: topics, configs and data survive a clean stop; after a kill -9 of the broker
(and of an acks=all producer mid-stream) every acknowledged message is there once, in order."""

import os
import signal
import subprocess
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic

import kafka_wire
from acked_writes import check_acked_writes, read_acks
from conftest import unique_topic

HERE = os.path.dirname(os.path.abspath(__file__))
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


def topic_partitions(broker):
    md = admin(broker).list_topics(timeout=10)
    return {name: len(t.partitions) for name, t in md.topics.items() if t.error is None}


def produce(broker, topic, values_by_partition):
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for part, values in values_by_partition.items():
        for v in values:
            p.produce(topic, value=v, partition=part)
    assert p.flush(TIMEOUT_S) == 0


def read_partition(broker, topic, part):
    """Every message of a partition from its log start to its high watermark."""
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "sluice-it-restart",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)
        if hi == lo:
            return lo, []
        c.assign([TopicPartition(topic, part, OFFSET_BEGINNING)])
        out = []
        deadline = time.monotonic() + TIMEOUT_S
        while (not out or out[-1][0] < hi - 1) and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or (m.error() and m.error().code() == KafkaError._PARTITION_EOF):
                continue
            assert not m.error(), f"consumer error: {m.error()}"
            out.append((m.offset(), m.value()))
        assert out and out[-1][0] == hi - 1, f"partition {part}: read up to {out[-1][0] if out else None}, hw {hi}"
        return lo, out
    finally:
        c.close()


def describe_topic(broker, topic):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return admin(broker).describe_configs([res])[res].result(timeout=TIMEOUT_S)


def test_clean_restart_keeps_topics_configs_and_data(broker):
    kept, dropped = unique_topic("kept"), unique_topic("dropped")
    fs = admin(broker).create_topics([NewTopic(kept, 3, 1, config={"retention.ms": "7200000"}),
                                      NewTopic(dropped, 1, 1)], operation_timeout=10)
    for f in fs.values():
        f.result(timeout=TIMEOUT_S)
    values = {p: [f"p{p}-m{i}".encode() for i in range(300 + p)] for p in range(3)}
    produce(broker, kept, values)
    assert kafka_wire.delete_records(broker.port, kept, {1: 10}) == {1: (0, 10)}
    admin(broker).delete_topics([dropped], operation_timeout=10)[dropped].result(timeout=TIMEOUT_S)
    deadline = time.monotonic() + 10
    while dropped in topic_partitions(broker) and time.monotonic() < deadline:
        time.sleep(0.1)

    broker.restart()

    topics = topic_partitions(broker)
    assert topics.get(kept) == 3, topics
    assert dropped not in topics, "a deleted topic came back after restart"
    retention = describe_topic(broker, kept)["retention.ms"]
    assert retention.value == "7200000"
    assert ConfigSource(int(getattr(retention.source, "value", retention.source))) == \
        ConfigSource.DYNAMIC_TOPIC_CONFIG
    for p in range(3):
        lo, got = read_partition(broker, kept, p)
        start = 10 if p == 1 else 0
        assert lo == start, f"partition {p}: log start offset {lo} after restart"
        assert got == list(enumerate(values[p]))[start:], f"partition {p}: data differs after restart"

    # Appends continue after the last offset, and a second restart keeps them too.
    produce(broker, kept, {0: [b"after-restart"]})
    broker.restart()
    _, got = read_partition(broker, kept, 0)
    assert got[-1] == (300, b"after-restart") and len(got) == 301


def test_kill_9_keeps_every_acknowledged_message_once_in_order(broker, tmp_path):
    topic = unique_topic("crash")
    partitions = 3
    admin(broker).create_topics([NewTopic(topic, partitions, 1)], operation_timeout=10)[topic].result(TIMEOUT_S)
    ack_file = tmp_path / "acks.txt"
    producer = subprocess.Popen([sys.executable, os.path.join(HERE, "crash_producer.py"), broker.bootstrap,
                                 topic, str(partitions), str(ack_file)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and producer.poll() is None:
            if ack_file.exists() and sum(1 for _ in open(ack_file)) >= 5000:
                break
            time.sleep(0.1)
        assert producer.poll() is None, f"producer died: {producer.stderr.read().decode(errors='replace')}"
        acked_before_kill = sum(1 for _ in open(ack_file)) if ack_file.exists() else 0
        assert acked_before_kill >= 5000, f"only {acked_before_kill} acks in 30 s"
        # Mid-stream: the broker first, so acks may be in flight when it dies.
        broker.kill9()
        producer.send_signal(signal.SIGKILL)
    finally:
        if producer.poll() is None:
            producer.kill()
        producer.wait()

    acked = read_acks(ack_file)

    broker.start()
    assert topic_partitions(broker).get(topic) == partitions

    log = {}
    for p in range(partitions):
        lo, got = read_partition(broker, topic, p)
        assert lo == 0
        log[p] = [(offset, value.decode()) for offset, value in got]
    check_acked_writes(log, acked, partitions)

    # The recovered broker takes new writes after the recovered log end.
    produce(broker, topic, {0: [b"post-crash"]})
    _, got = read_partition(broker, topic, 0)
    assert got[-1] == (len(log[0]), b"post-crash")
