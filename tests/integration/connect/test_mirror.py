"""MirrorSourceConnector (MirrorMaker 2) between two `sluice serve` brokers: a
source cluster (alias `src`) and a target cluster on which a standalone
worker runs. Records produced to the source (keys, null keys and values,
headers, timestamps, several partitions) arrive in `src.<topic>` on the
target with the same partition, key, value, headers and timestamp; a topic
created after the start is picked up; topics.exclude, internal topics and
topics mirrored from the target itself (cycles) are not mirrored; a worker
stopped with SIGTERM, or killed with -9 while records flow, resumes with no
loss, and duplicates only after the last committed source offset."""

import json
import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import unique_topic  # noqa: E402
from connect_harness import (consume_all, create_topic, wait_for, wait_state,  # noqa: E402,F401
                             worker_factory, write_properties)

MIRROR = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"
# MirrorMaker's records are bytes: every converter passes them through.
BYTE_WORKER = {"key.converter": BYTES, "value.converter": BYTES, "header.converter": BYTES}


def mirror_config(source, target, **extra):
    config = {
        "name": "mirror",
        "connector.class": MIRROR,
        "source.cluster.alias": "src",
        "target.cluster.alias": "tgt",
        "source.cluster.bootstrap.servers": source.bootstrap,
        "target.cluster.bootstrap.servers": target.bootstrap,
        "replication.factor": "1",
        "offset-syncs.topic.replication.factor": "1",
        "refresh.topics.interval.seconds": "1",
        "tasks.max": "2",
    }
    config.update(extra)
    return config


def topic_names(bootstrap):
    from confluent_kafka.admin import AdminClient
    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)


def partition_count(bootstrap, topic):
    from confluent_kafka.admin import AdminClient
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10).topics.get(topic)
    return len(md.partitions) if md is not None and md.error is None else 0


def produce_records(bootstrap, topic, records):
    """records: (partition, key, value, headers, timestamp ms)."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for partition, key, value, headers, timestamp in records:
        p.produce(topic, key=key, value=value, partition=partition, headers=headers,
                  timestamp=timestamp or 0)
    assert p.flush(30) == 0, "records not delivered"


def as_tuples(messages):
    """(partition, offset-free content) per record, in (partition, offset) order."""
    return [(m.partition(), m.key(), m.value(), m.headers() or [], m.timestamp()[1])
            for m in messages]


def by_partition(messages):
    out = {}
    for m in messages:
        out.setdefault(m.partition(), []).append(m.value())
    return out


def offset_syncs(bootstrap, topic):
    """Kafka's OffsetSync records: {(topic, partition): [(upstream, downstream), ...]}."""
    out = {}
    for m in consume_all(bootstrap, topic, 1):
        key, value = m.key(), m.value()
        length = struct.unpack(">h", key[:2])[0]
        name = key[2:2 + length].decode()
        (partition,) = struct.unpack(">i", key[2 + length:])
        out.setdefault((name, partition), []).append(struct.unpack(">qq", value))
    return out


def committed_offsets(worker, topic):
    """partition -> the source offset the worker committed (the last record's)."""
    out = {}
    for entry in (worker.offsets() or {}).get("offsets", []):
        key = json.loads(entry["key"])
        if key[0] == "mirror" and key[1].get("topic") == topic:
            out[key[1]["partition"]] = json.loads(entry["value"])["offset"]
    return out


def test_mirrors_partitions_keys_headers_timestamps_and_new_topics(broker_factory, worker_factory,
                                                                    tmp_path):
    source = broker_factory()
    target = broker_factory()
    topic = unique_topic("orders")
    create_topic(source.bootstrap, topic, partitions=3)
    from confluent_kafka.admin import AdminClient, ConfigResource
    source_admin = AdminClient({"bootstrap.servers": source.bootstrap})
    source_admin.alter_configs([ConfigResource("topic", topic, {"retention.ms": "86400123"})])[
        ConfigResource("topic", topic)].result(30)
    # Topics that must not be mirrored: excluded by topics.exclude, by
    # Kafka's default exclusions (internal), and one that came from the
    # target itself (tgt.*: mirroring it back would be a cycle).
    excluded = unique_topic("skipme")
    internal = unique_topic("app") + ".internal"
    cycle = "tgt." + unique_topic("back")
    for name in (excluded, internal, cycle):
        create_topic(source.bootstrap, name)
        produce_records(source.bootstrap, name, [(0, b"k", b"v", None, None)])

    now = int(time.time() * 1000)
    records = []
    for i in range(300):
        partition = i % 3
        key = None if i % 50 == 0 else f"key-{i}".encode()
        value = None if i % 77 == 0 else f"value-{i}".encode()
        headers = [("h1", f"one-{i}".encode()), ("h2", b"\x00\xff binary"), ("h1", b"again")]
        if i % 10 == 0:
            headers = None
        records.append((partition, key, value, headers, now - 100000 + i))
    produce_records(source.bootstrap, topic, records)

    worker = worker_factory(target.bootstrap, BYTE_WORKER)
    connector = write_properties(str(tmp_path / "mirror.properties"), mirror_config(
        source, target, **{"topics.exclude": ".*[\\-\\.]internal, __.*, skipme-.*"}))
    worker.start([connector])
    wait_state(worker.port, "mirror", "RUNNING", ["RUNNING", "RUNNING"])

    remote = "src." + topic
    mirrored = consume_all(target.bootstrap, remote, len(records))
    assert partition_count(target.bootstrap, remote) == 3
    source_side = consume_all(source.bootstrap, topic, len(records))
    assert as_tuples(mirrored) == as_tuples(source_side)
    assert len(mirrored) == len(records)

    # The source topic's own config came along (sync.topic.configs.enabled).
    target_admin = AdminClient({"bootstrap.servers": target.bootstrap})
    described = target_admin.describe_configs([ConfigResource("topic", remote)])
    entries = list(described.values())[0].result(30)
    assert entries["retention.ms"].value == "86400123"

    # A topic created after the start is found at the next refresh (1 s).
    late = unique_topic("late")
    create_topic(source.bootstrap, late, partitions=2)
    produce_records(source.bootstrap, late, [(i % 2, b"k%d" % i, b"late-%d" % i, None, now + i)
                                             for i in range(40)])
    late_mirrored = consume_all(target.bootstrap, "src." + late, 40)
    assert sorted(m.value() for m in late_mirrored) == sorted(b"late-%d" % i for i in range(40))
    assert partition_count(target.bootstrap, "src." + late) == 2

    # A partition added to a mirrored topic: the target topic grows, and the
    # records of the new partition land in the same partition there.
    from confluent_kafka.admin import NewPartitions
    source_admin.create_partitions([NewPartitions(late, 3)])[late].result(30)
    wait_for(lambda: partition_count(source.bootstrap, late) == 3, "the third source partition")
    produce_records(source.bootstrap, late, [(2, b"k", b"third-%d" % i, None, now + i)
                                             for i in range(10)])
    wait_for(lambda: partition_count(target.bootstrap, "src." + late) == 3,
             "the third partition of the mirrored topic")
    grown = consume_all(target.bootstrap, "src." + late, 50)
    assert [m.value() for m in grown if m.partition() == 2] == [b"third-%d" % i for i in range(10)]

    # By now every refresh saw the excluded topics: none was mirrored.
    names = topic_names(target.bootstrap)
    for name in (excluded, internal, cycle):
        assert "src." + name not in names, f"{name} was mirrored"
    assert not any(n.startswith("src.__") for n in names), names

    # Offset syncs (Kafka's format) on the source: each maps an upstream
    # offset to the downstream offset of the same record.
    syncs = offset_syncs(source.bootstrap, "mm2-offset-syncs.tgt.internal")
    mirrored_at = {(m.partition(), m.offset()): m.value() for m in mirrored}
    source_at = {(m.partition(), m.offset()): m.value() for m in source_side}
    for partition in range(3):
        pairs = syncs.get((topic, partition))
        assert pairs and pairs[0] == (0, 0), (partition, pairs)
        for upstream, downstream in pairs:
            assert source_at[(partition, upstream)] == mirrored_at[(partition, downstream)]

    # Kafka's source partition and offset, as the offsets file stores them.
    stored = worker.offsets()["offsets"]
    keys = [json.loads(e["key"]) for e in stored]
    assert ["mirror", {"cluster": "src", "partition": 0, "topic": topic}] in keys
    wait_for(lambda: committed_offsets(worker, topic) == {0: 99, 1: 99, 2: 99},
             "the last offsets committed")
    worker.clean_stop()


def stream(bootstrap, topic, stop, sent, partitions=2):
    """Produces value-<n> round-robin over the partitions until stop is set."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2})
    n = len(sent)
    while not stop.is_set():
        value = f"value-{n:06d}".encode()
        p.produce(topic, key=b"k", value=value, partition=n % partitions)
        sent.append(value)
        n += 1
        if n % 50 == 0:
            p.flush(30)
            time.sleep(0.005)
    assert p.flush(30) == 0


def check_resumed(mirrored, source_records, committed_at_kill):
    """Per partition: the mirror is source[:m] + source[c+1:] with m >= c+1
    (c the committed offset at the kill): nothing lost, duplicates only
    after the last committed record. The duplicate count."""
    duplicates = 0
    for partition, original in source_records.items():
        got = mirrored.get(partition, [])
        resume = committed_at_kill.get(partition, -1) + 1
        tail = original[resume:]
        k = len(got) - len(tail)
        assert k >= resume and got[:k] == original[:k] and got[k:] == tail, (
            f"partition {partition}: {len(got)} mirrored, {len(original)} at the source, "
            f"committed {resume - 1} at the kill")
        duplicates += k - resume
    return duplicates


def test_restart_after_sigterm_and_kill_9_loses_nothing(broker_factory, worker_factory, tmp_path):
    source = broker_factory()
    target = broker_factory()
    topic = unique_topic("stream")
    remote = "src." + topic
    create_topic(source.bootstrap, topic, partitions=2)
    worker = worker_factory(target.bootstrap, BYTE_WORKER)
    connector = write_properties(str(tmp_path / "mirror.properties"), mirror_config(
        source, target, topics=topic))
    worker.start([connector])
    wait_state(worker.port, "mirror", "RUNNING", ["RUNNING", "RUNNING"])

    sent = []
    stop = threading.Event()
    producer = threading.Thread(target=stream, args=(source.bootstrap, topic, stop, sent))
    producer.start()
    try:
        wait_for(lambda: len(sent) > 1000 and committed_offsets(worker, topic),
                 "records mirrored and committed")
        # SIGTERM: the worker commits what Kafka acknowledged before it exits.
        worker.clean_stop()
        time.sleep(0.3)  # records produced while the worker is down
        worker.start([connector])
        wait_state(worker.port, "mirror", "RUNNING", ["RUNNING", "RUNNING"])
        # Both partitions past what was sent before the restart: mirroring
        # at full speed when the kill comes.
        before = len(sent) // 2
        wait_for(lambda: all(committed_offsets(worker, topic).get(p, 0) > before + 200
                             for p in (0, 1)),
                 "the restarted worker mirroring and committing", timeout_s=30)
        # kill -9 mid-stream: what was committed is what the offsets file holds now.
        worker.kill9()
        committed_at_kill = committed_offsets(worker, topic)
        time.sleep(0.3)
        worker.start([connector])
        wait_state(worker.port, "mirror", "RUNNING", ["RUNNING", "RUNNING"])
        time.sleep(1.0)
    finally:
        stop.set()
        producer.join()

    source_records = by_partition(consume_all(source.bootstrap, topic, len(sent)))
    total = len(sent)

    def mirrored_enough():
        counts = by_partition(consume_all(target.bootstrap, remote, 1, timeout_s=10))
        return all(len(counts.get(p, [])) >= len(v) for p, v in source_records.items())

    wait_for(mirrored_enough, "every source record mirrored", timeout_s=40, interval_s=1.0)
    mirrored = by_partition(consume_all(target.bootstrap, remote, total))
    duplicates = check_resumed(mirrored, source_records, committed_at_kill)
    print(f"\nmirror restart: {total} records, committed at the kill {committed_at_kill}, "
          f"{duplicates} duplicates after it (SIGTERM restart: none allowed before it)")
    worker.clean_stop()


def test_identity_policy_and_config_validation(broker_factory, worker_factory):
    from connect_harness import expect
    source = broker_factory()
    target = broker_factory()
    topic = unique_topic("same")
    create_topic(source.bootstrap, topic, partitions=2)
    produce_records(source.bootstrap, topic, [(i % 2, b"k%d" % i, b"v%d" % i, [("h", b"x")], 0)
                                              for i in range(20)])
    worker = worker_factory(target.bootstrap, BYTE_WORKER).start()

    # Kafka's messages for what cannot work, through the REST validate call.
    infos = expect(worker.port, "PUT", "/connector-plugins/MirrorSourceConnector/config/validate", 200,
                   {"connector.class": MIRROR, "name": "v",
                    "source.cluster.bootstrap.servers": source.bootstrap,
                    "replication.policy.class": "com.example.NoSuchPolicy"})
    errors = {c["value"]["name"]: c["value"]["errors"] for c in infos["configs"]}
    assert errors["target.cluster.bootstrap.servers"] == [
        'Missing required configuration "target.cluster.bootstrap.servers" which has no default value.']
    assert errors["replication.policy.class"] == [
        "Invalid value com.example.NoSuchPolicy for configuration replication.policy.class: "
        "Class com.example.NoSuchPolicy could not be found."]
    assert infos["error_count"] == 2, infos

    # IdentityReplicationPolicy keeps the topic's name.
    config = mirror_config(source, target, topics=topic, **{
        "replication.policy.class": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"})
    name = config.pop("name")
    expect(worker.port, "POST", "/connectors", 201, {"name": name, "config": config})
    wait_state(worker.port, "mirror", "RUNNING", ["RUNNING", "RUNNING"])
    mirrored = consume_all(target.bootstrap, topic, 20)
    assert as_tuples(mirrored) == as_tuples(consume_all(source.bootstrap, topic, 20))
    assert "src." + topic not in topic_names(target.bootstrap)
    worker.clean_stop()
