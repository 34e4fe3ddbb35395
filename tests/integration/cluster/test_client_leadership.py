"""What clients get from replicated partitions, between real processes
(issue 16, point 2): 3 combined nodes; a topic of replication factor 3 and
one of factor 1. Kafka's error codes where Kafka answers them (Produce,
Fetch, ListOffsets, OffsetForLeaderEpoch, DeleteRecords on a follower and on
a broker that is no replica; fenced and unknown leader epochs; a consumer's
Fetch v11+ served by a follower up to its high watermark, out of range past
its log end), decoded from raw answers (client_wire.py)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cluster_harness import Cluster, wait_for  # noqa: E402

import client_wire as wire  # noqa: E402
import kafka_wire  # noqa: E402
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
    leader.start()
