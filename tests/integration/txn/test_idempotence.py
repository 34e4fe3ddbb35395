"""Idempotent producers through lost acknowledgements (issue 17): the
broker's listener is a LinkProxy (cluster_harness.py) that every few seconds
swallows the broker's answers for a while (requests still arrive and are
appended) and then cuts the connections, so the producer resends batches it
cannot know were stored. confluent-kafka's idempotent producer
(enable.idempotence, acks=all) sends a numbered sequence per partition; a
reader then checks, per partition: no duplicates, no gaps, the order sent,
and every acknowledged record present.

kafka-python 2.0.2 (Debian's) has no idempotent producer (enable_idempotence
came in kafka-python 2.1), so only librdkafka runs here.

The partitions check producer sequences (storage/producer_state.h): a
resent batch is answered as a duplicate, not stored twice."""

import os
import sys
import threading
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from cluster_harness import LinkProxy, wait_for  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

QUIET = 3
PARTITIONS = 3
RUN_S = 20
HOLD_S = 1.5       # answers swallowed this long, then the link is cut
FAULT_EVERY_S = 3


def check_partition(partition, read_seqs, acked_seqs, sent_count):
    """The problems of one partition's log (a list of strings)."""
    problems = []
    seen = set()
    last = -1
    for seq in read_seqs:
        if seq in seen:
            problems.append(f"partition {partition}: duplicate of record {seq}")
        elif seq < last:
            problems.append(f"partition {partition}: record {seq} after {last} (order)")
        seen.add(seq)
        last = max(last, seq)
    if seen:
        missing = sorted(set(range(max(seen) + 1)) - seen)
        if missing:
            problems.append(f"partition {partition}: gap, records {missing[:10]} missing "
                            f"({len(missing)} in all) below {max(seen)}")
    lost = sorted(set(acked_seqs) - seen)
    if lost:
        problems.append(f"partition {partition}: acknowledged records lost: {lost[:10]} ({len(lost)})")
    return problems


def read_partitions(bootstrap, topic, ends):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "log_level": QUIET})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    seqs = {p: [] for p in range(PARTITIONS)}
    counts = {p: 0 for p in range(PARTITIONS)}

    def drained():
        for m in consumer.consume(1000, 0.5):
            if m.error():
                continue
            counts[m.partition()] = m.offset() + 1
            seqs[m.partition()].append(int(m.value().decode().split("-")[1]))
        return all(counts[p] >= ends[p] for p in range(PARTITIONS))

    try:
        wait_for(drained, 60, f"reading {topic} to its ends {ends}")
    finally:
        consumer.close()
    return seqs


def test_idempotent_producer_through_swallowed_answers(broker_factory):
    broker = broker_factory(start=False)
    proxy = LinkProxy(broker.port)
    broker.overrides["advertised.listeners"] = f"PLAINTEXT://127.0.0.1:{proxy.port}"
    broker.start()
    bootstrap = f"127.0.0.1:{proxy.port}"
    topic = f"idem-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])[topic].result(30)

    acked = {p: [] for p in range(PARTITIONS)}
    failed = []

    def on_delivery(err, msg):
        if err:
            failed.append(str(err))
        else:
            acked[msg.partition()].append(int(msg.value().decode().split("-")[1]))

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 2, "message.timeout.ms": 120000, "request.timeout.ms": 5000,
                         "retry.backoff.ms": 50, "log_level": QUIET})
    stop = threading.Event()

    def faults():
        while not stop.wait(FAULT_EVERY_S):
            proxy.swallow_answers(HOLD_S)

    fault_thread = threading.Thread(target=faults, daemon=True)
    fault_thread.start()
    sent = {p: 0 for p in range(PARTITIONS)}
    deadline = time.monotonic() + RUN_S
    try:
        while time.monotonic() < deadline:
            for p in range(PARTITIONS):
                producer.produce(topic, partition=p, value=f"{p}-{sent[p]}".encode(), on_delivery=on_delivery)
                sent[p] += 1
            producer.poll(0.002)
    finally:
        stop.set()
        fault_thread.join()
    assert producer.flush(120) == 0, "records still unacknowledged"
    assert proxy.swallowed_bytes > 0, "no answer was swallowed: the fault did not happen"
    assert failed == [], f"sends failed: {failed[:5]}"

    admin_ends = Consumer({"bootstrap.servers": bootstrap, "group.id": "ends", "log_level": QUIET})
    ends = {p: admin_ends.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(PARTITIONS)}
    admin_ends.close()
    seqs = read_partitions(bootstrap, topic, ends)
    problems = []
    for p in range(PARTITIONS):
        problems += check_partition(p, seqs[p], acked[p], sent[p])
    stored = sum(len(s) for s in seqs.values())
    assert not problems, (f"{len(problems)} problems in {stored} records stored for "
                          f"{sum(sent.values())} sent:\n" + "\n".join(problems[:20]))
    proxy.close()


def test_the_checker_finds_duplicates_gaps_reorders_and_losses():
    assert check_partition(0, [0, 1, 2], [0, 1, 2], 3) == []
    assert "duplicate" in check_partition(0, [0, 1, 1, 2], [0, 1, 2], 3)[0]
    assert "gap" in check_partition(0, [0, 2], [0, 2], 3)[0]
    assert "order" in check_partition(0, [0, 2, 1], [], 3)[0]
    assert "lost" in check_partition(0, [0, 1], [0, 1, 2], 3)[0]
