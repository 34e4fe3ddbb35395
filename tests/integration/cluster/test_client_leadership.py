"""What clients get from replicated partitions, between real processes
(issue 16, point 2): 3 combined nodes; a topic of replication factor 3 and
one of factor 1. Kafka's error codes where Kafka answers them (Produce,
Fetch, ListOffsets, OffsetForLeaderEpoch, DeleteRecords on a follower and on
a broker that is no replica; fenced and unknown leader epochs; a consumer's
Fetch v11+ served by a follower up to its high watermark, out of range past
its log end), decoded from raw answers (client_wire.py). KIP-951: Produce
v10+ and Fetch v16+ answers name the current leader and its endpoint; a
librdkafka producer and consumer carry on across a leader move."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cluster_harness import Cluster, wait_for  # noqa: E402

import client_wire as wire  # noqa: E402
import kafka_wire  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "led"
SINGLE = "single"


def partition_view(node, topic):
    """(leader, leader_epoch, isr, topic id bytes) from `node`'s Metadata v12, or None."""
    try:
        answer = kafka_wire.metadata_v12(node.port, [topic], False)
    except (OSError, ValueError, ConnectionError):
        return None
    known = answer["topics"].get(topic)
    if not known or known["error"] or 0 not in known["partitions"]:
        return None
    p = known["partitions"][0]
    return p["leader"], p["leader_epoch"], sorted(p["isr"]), bytes.fromhex(known["id"])


def start_cluster(broker_factory):
    cluster = Cluster(broker_factory, combined=3)
    cluster.leader()
    cluster.wait_brokers_listed()
    first, second, third = cluster.brokers
    admin = AdminClient({"bootstrap.servers": first.bootstrap})
    topics = [NewTopic(TOPIC, num_partitions=1, replica_assignment=[[first.id, second.id, third.id]]),
              NewTopic(SINGLE, num_partitions=1, replica_assignment=[[first.id]])]
    for future in admin.create_topics(topics, operation_timeout=20).values():
        future.result(timeout=40)
    ids = sorted(n.id for n in cluster.brokers)
    for node in cluster.brokers:
        wait_for(lambda: (partition_view(node, TOPIC) or (0, 0, []))[2] == ids, 30,
                 f"node {node.id} sees an ISR of all three")
    return cluster


def test_error_codes_where_kafka_answers_them(broker_factory):
    cluster = start_cluster(broker_factory)
    leader_id, epoch, _isr, topic_id = partition_view(cluster.brokers[0], TOPIC)
    leader = cluster.node(leader_id)
    follower = next(n for n in cluster.brokers if n.id != leader_id)
    outsider = next(n for n in cluster.brokers if n.id != 1)  # SINGLE lives on node 1 only

    # Produce: the leader appends, a follower refuses.
    for i in range(3):
        assert wire.produce(leader.port, TOPIC, 0, b"v%d" % i, version=9)["error"] == wire.NONE
    assert wire.produce(follower.port, TOPIC, 0, b"x", version=9)["error"] == wire.NOT_LEADER_OR_FOLLOWER
    # A broker that is no replica of a partition the cluster knows: NOT_LEADER_OR_FOLLOWER
    # (Kafka's getPartitionOrError); a partition nobody knows: UNKNOWN_TOPIC_OR_PARTITION.
    assert wire.produce(outsider.port, SINGLE, 0, b"x", version=9)["error"] == wire.NOT_LEADER_OR_FOLLOWER
    assert wire.produce(outsider.port, SINGLE, 5, b"x", version=9)["error"] == \
        wire.UNKNOWN_TOPIC_OR_PARTITION

    # A consumer's Fetch v11+ (KIP-392 client metadata) is served by a follower,
    # up to its own high watermark; past its log end: OFFSET_OUT_OF_RANGE.
    wait_for(lambda: wire.fetch(follower.port, TOPIC, 0, 0)["high_watermark"] == 3, 15,
             "the follower's high watermark reaches 3")
    served = wire.fetch(follower.port, TOPIC, 0, 0, current_leader_epoch=epoch)
    assert served["error"] == wire.NONE and len(served["records"]) > 0, served
    assert wire.fetch(follower.port, TOPIC, 0, 3)["error"] == wire.NONE
    assert wire.fetch(follower.port, TOPIC, 0, 4)["error"] == wire.OFFSET_OUT_OF_RANGE
    assert wire.fetch(leader.port, TOPIC, 0, 4)["error"] == wire.OFFSET_OUT_OF_RANGE
    # A newer epoch than the broker's is unknown to it, leader or follower.
    for node in (leader, follower):
        assert wire.fetch(node.port, TOPIC, 0, 0, current_leader_epoch=epoch + 1)["error"] == \
            wire.UNKNOWN_LEADER_EPOCH
    assert wire.fetch(outsider.port, SINGLE, 0, 0)["error"] == wire.NOT_LEADER_OR_FOLLOWER

    # ListOffsets goes to the leader, except for the debugging replica id (-2).
    assert wire.list_offsets(leader.port, TOPIC, 0, -1, epoch) == (wire.NONE, 3, epoch)
    assert wire.list_offsets(follower.port, TOPIC, 0, -1)[0] == wire.NOT_LEADER_OR_FOLLOWER
    assert wire.list_offsets(follower.port, TOPIC, 0, -1, epoch + 1)[0] == wire.UNKNOWN_LEADER_EPOCH
    assert wire.list_offsets(follower.port, TOPIC, 0, -1, replica_id=-2)[:2] == (wire.NONE, 3)
    assert wire.list_offsets(outsider.port, SINGLE, 0, -1)[0] == wire.NOT_LEADER_OR_FOLLOWER

    # OffsetForLeaderEpoch and DeleteRecords need the leader too.
    assert wire.offset_for_leader_epoch(leader.port, TOPIC, 0, epoch, epoch)[0] == wire.NONE
    assert wire.offset_for_leader_epoch(follower.port, TOPIC, 0, epoch)[0] == wire.NOT_LEADER_OR_FOLLOWER
    assert wire.offset_for_leader_epoch(outsider.port, SINGLE, 0, 0)[0] == wire.NOT_LEADER_OR_FOLLOWER
    assert kafka_wire.delete_records(follower.port, TOPIC, {0: 1})[0][0] == wire.NOT_LEADER_OR_FOLLOWER
    assert kafka_wire.delete_records(outsider.port, SINGLE, {0: 0})[0][0] == wire.NOT_LEADER_OR_FOLLOWER
    assert kafka_wire.delete_records(leader.port, TOPIC, {0: 1})[0] == (wire.NONE, 1)

    # KIP-951: Produce v10+ names the current leader and its endpoint; v9 does not.
    hinted = wire.produce(follower.port, TOPIC, 0, b"x", version=10)
    assert hinted["error"] == wire.NOT_LEADER_OR_FOLLOWER
    assert hinted["leader"] == (leader_id, epoch), hinted
    assert hinted["endpoints"][leader_id]["port"] == leader.port, hinted
    assert hinted["endpoints"][leader_id]["host"] == "127.0.0.1"
    assert wire.produce(follower.port, TOPIC, 0, b"x", version=9)["leader"] is None
    single_id = partition_view(cluster.brokers[0], SINGLE)[3]
    hinted = wire.fetch(outsider.port, SINGLE, 0, 0, version=16, topic_id=single_id)
    assert hinted["error"] == wire.NOT_LEADER_OR_FOLLOWER and hinted["leader"] == (1, 0), hinted
    assert list(hinted["endpoints"]) == [1] and hinted["endpoints"][1]["port"] == cluster.node(1).port
    assert wire.fetch(outsider.port, SINGLE, 0, 0, version=15, topic_id=single_id)["leader"] is None

    # librdkafka clients that live across the leader move below.
    servers = ",".join(n.bootstrap for n in cluster.brokers)
    acked = []
    producer = Producer({"bootstrap.servers": servers, "acks": "all", "linger.ms": 5,
                         "message.timeout.ms": 60000, "retry.backoff.ms": 100})

    def send(values):
        for v in values:
            producer.produce(TOPIC, value=b"c%d" % v, partition=0,
                             on_delivery=lambda err, msg: err is None and acked.append(msg.value()))
        assert producer.flush(60) == 0

    consumer = Consumer({"bootstrap.servers": servers, "group.id": "mover",
                         "enable.auto.commit": False, "topic.metadata.refresh.interval.ms": 60000})
    consumer.assign([TopicPartition(TOPIC, 0, 1)])  # records from 1 (DeleteRecords above)
    seen = []

    def consume_until(count, timeout_s):
        deadline = time.monotonic() + timeout_s
        while len(seen) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                seen.append(msg.value())

    send(range(50))
    consume_until(52, 20)  # v1, v2 and the 50
    assert len(seen) == 52, len(seen)

    # Leadership moves (controlled shutdown of the leader): the old epoch is
    # fenced everywhere, checked before leadership (Kafka's getLocalLog).
    leader.stop()
    others = [n for n in cluster.brokers if n.id != leader_id]
    wait_for(lambda: all((partition_view(n, TOPIC) or (leader_id,))[0] not in (leader_id, -1)
                         for n in others), 30, "a new leader seen by both others")
    new_leader_id, new_epoch, _, _ = partition_view(others[0], TOPIC)
    assert new_epoch > epoch
    new_leader = cluster.node(new_leader_id)
    other = next(n for n in others if n.id != new_leader_id)
    wait_for(lambda: (partition_view(other, TOPIC) or (0, 0))[1] == new_epoch, 15,
             "the follower on the new epoch")
    for node in (new_leader, other):
        assert wire.fetch(node.port, TOPIC, 0, 0, current_leader_epoch=epoch)["error"] == \
            wire.FENCED_LEADER_EPOCH
        assert wire.list_offsets(node.port, TOPIC, 0, -1, epoch)[0] == wire.FENCED_LEADER_EPOCH
        assert wire.offset_for_leader_epoch(node.port, TOPIC, 0, epoch, epoch)[0] == \
            wire.FENCED_LEADER_EPOCH
    assert wire.fetch(new_leader.port, TOPIC, 0, 0, current_leader_epoch=new_epoch)["error"] == \
        wire.NONE
    # A new leader answers a consumer's ListOffsets (latest) once its high
    # watermark has reached the start of its epoch (OFFSET_NOT_AVAILABLE before).
    wait_for(lambda: wire.list_offsets(new_leader.port, TOPIC, 0, -1, new_epoch)[0] == wire.NONE,
             15, "the new leader's high watermark past its epoch start")
    # A follower on the new epoch names the new leader to a Fetch v16+ with the old epoch.
    hinted = wire.fetch(other.port, TOPIC, 0, 0, version=16, topic_id=topic_id,
                        current_leader_epoch=epoch)
    assert hinted["error"] == wire.FENCED_LEADER_EPOCH
    assert hinted["leader"] == (new_leader_id, new_epoch), hinted
    assert list(hinted["endpoints"]) == [new_leader_id]
    hinted = wire.produce(other.port, TOPIC, 0, b"x", version=11)
    assert hinted["leader"] == (new_leader_id, new_epoch), hinted

    # The librdkafka producer and consumer carry on with the new leader.
    send(range(50, 100))
    consume_until(102, 30)
    assert len(acked) == 100, len(acked)
    assert seen[2:] == [b"c%d" % v for v in range(100)], seen[:5]
    consumer.close()
    leader.start()
