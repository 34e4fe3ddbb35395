"""kafka-python 2.0.2 against Sluice: producer, consumer with manual assignment, admin
create/describe (it picks its request versions from Sluice's ApiVersions answer)."""

import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import InvalidPartitionsError, TopicAlreadyExistsError

from conftest import unique_topic

TIMEOUT_S = 30
CODECS = [None, "gzip", "snappy", "lz4", "zstd"]


def admin(broker):
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="sluice-it-kp",
                            request_timeout_ms=15000)


def create(broker, name, partitions):
    a = admin(broker)
    try:
        a.create_topics([NewTopic(name, partitions, 1)], timeout_ms=10000)
    finally:
        a.close()


def consume_all(broker, tps, count, timeout_s=TIMEOUT_S):
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", request_timeout_ms=15000)
    try:
        c.assign(tps)
        c.seek_to_beginning()
        out = []
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            for records in c.poll(timeout_ms=500).values():
                out.extend(records)
        assert len(out) == count, f"consumed {len(out)} of {count}"
        return out
    finally:
        c.close()


@pytest.mark.parametrize("codec", CODECS)
def test_produce_and_consume_with_manual_assignment(module_broker, codec):
    topic = unique_topic(f"kp-{codec or 'none'}")
    create(module_broker, topic, 2)
    p = KafkaProducer(bootstrap_servers=module_broker.bootstrap, acks="all", linger_ms=5,
                      compression_type=codec, request_timeout_ms=15000)
    n = 2000
    sent = []
    try:
        futures = [p.send(topic, key=f"k{i % 37}".encode(), value=f"value-{i}".encode() * (1 + i % 5),
                          headers=[("i", str(i).encode())], partition=i % 2) for i in range(n)]
        p.flush(timeout=TIMEOUT_S)
        for i, f in enumerate(futures):
            md = f.get(timeout=TIMEOUT_S)
            assert md.partition == i % 2
            sent.append((md.partition, md.offset, i))
    finally:
        p.close(timeout=10)
    for part in (0, 1):
        offsets = [o for pp, o, _ in sent if pp == part]
        assert offsets == list(range(n // 2)), f"partition {part}: offsets not contiguous in send order"

    records = consume_all(module_broker, [TopicPartition(topic, 0), TopicPartition(topic, 1)], n)
    expected = {(part, off): i for part, off, i in sent}
    for r in records:
        i = expected[(r.partition, r.offset)]
        assert r.key == f"k{i % 37}".encode()
        assert r.value == f"value-{i}".encode() * (1 + i % 5)
        assert list(r.headers) == [("i", str(i).encode())]
    for part in (0, 1):
        offs = [r.offset for r in records if r.partition == part]
        assert offs == sorted(offs) == list(range(n // 2)), f"partition {part} out of order"


def test_consumer_seek(module_broker):
    topic = unique_topic("kp-seek")
    create(module_broker, topic, 1)
    p = KafkaProducer(bootstrap_servers=module_broker.bootstrap, acks=1)
    for i in range(100):
        p.send(topic, value=f"s{i}".encode(), partition=0)
    p.flush(timeout=TIMEOUT_S)
    p.close(timeout=10)

    tp = TopicPartition(topic, 0)
    c = KafkaConsumer(bootstrap_servers=module_broker.bootstrap, group_id=None, enable_auto_commit=False)
    try:
        c.assign([tp])
        c.seek(tp, 60)
        got = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(got) < 40 and time.monotonic() < deadline:
            for records in c.poll(timeout_ms=500).values():
                got.extend(records)
        assert [(r.offset, r.value) for r in got] == [(i, f"s{i}".encode()) for i in range(60, 100)]
        assert c.end_offsets([tp]) == {tp: 100}
        assert c.beginning_offsets([tp]) == {tp: 0}
    finally:
        c.close()


def test_admin_create_and_describe(module_broker):
    a = admin(module_broker)
    try:
        name = unique_topic("kp-admin")
        a.create_topics([NewTopic(name, 3, 1, topic_configs={"retention.ms": "3600000"})], timeout_ms=10000)
        with pytest.raises(TopicAlreadyExistsError):
            a.create_topics([NewTopic(name, 3, 1)], timeout_ms=10000)
        with pytest.raises(InvalidPartitionsError):
            a.create_topics([NewTopic(unique_topic("kp-zero"), 0, 1)], timeout_ms=10000)

        deadline = time.monotonic() + 10
        while name not in a.list_topics() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert name in a.list_topics()

        (topic,) = a.describe_topics([name])
        assert topic["error_code"] == 0 and topic["topic"] == name
        parts = sorted(topic["partitions"], key=lambda p: p["partition"])
        assert [p["partition"] for p in parts] == [0, 1, 2]
        assert all(p["leader"] == 1 and p["replicas"] == [1] and p["isr"] == [1] for p in parts), parts

        (response,) = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        (resource,) = response.to_object()["resources"]
        assert resource["error_code"] == 0
        entries = {e["config_names"]: e for e in resource["config_entries"]}
        assert entries["retention.ms"]["config_value"] == "3600000"
        assert entries["cleanup.policy"]["config_value"] == "delete"

        (response,) = a.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
        (resource,) = response.to_object()["resources"]
        assert resource["error_code"] == 0
        entries = {e["config_names"]: e["config_value"] for e in resource["config_entries"]}
        assert entries["num.partitions"] == "1"
        assert entries["auto.create.topics.enable"] == "true"
    finally:
        a.close()
