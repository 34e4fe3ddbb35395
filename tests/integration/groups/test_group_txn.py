"""The group side of transactions with raw frames (group_wire.py): TxnOffsetCommit
(API 28) answers Kafka's error codes (unknown partitions, the group checks of
KIP-447 as Streams sends its member, offset.metadata.max.bytes), its offsets stay
pending for the producer (invisible to OffsetFetch, UNSTABLE_OFFSET_COMMIT to a
require_stable fetch), also after a restart reloads them from __consumer_offsets
without a marker. A producer id need not come from InitProducerId, as in Kafka
with transaction.partition.verification.enable=false (KIP-890's verification of
TxnOffsetCommit is tests/integration/txn/test_txn_verification.py's)."""

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

import group_wire as gw
import kafka_wire
from conftest import unique_topic

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0",
                    "transaction.partition.verification.enable": "false"}
PARTITIONS = 2


def create_topic(broker):
    topic = unique_topic("txn")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(timeout=30)
    return topic


def connect(broker):
    assert kafka_wire.find_coordinator(broker.port, "txn")[0] == kafka_wire.ERR_NONE
    return kafka_wire.connect(broker.port, timeout_s=30)


def test_api_versions_lists_txn_offset_commit(module_broker):
    error, versions = kafka_wire.api_versions(module_broker.port)
    assert error == 0
    assert versions[gw.API_TXN_OFFSET_COMMIT] == (0, 5)  # v5: transactions v2 (Kafka 4.0)


def test_pending_offsets_and_require_stable(module_broker):
    topic = create_topic(module_broker)
    group = unique_topic("txn-group")
    with connect(module_broker) as sock:
        assert gw.offset_commit(sock, group, {(topic, 0): 3}) == {(topic, 0): gw.NONE}
        assert gw.txn_offset_commit(sock, group, {(topic, 0): 5}, producer_id=4242, version=2) == \
            {(topic, 0): gw.NONE}
        # Without require_stable: the last committed offset, never the pending one.
        assert gw.offset_fetch(sock, group, topic, [0, 1]) == (gw.NONE, {0: 3, 1: -1})
        assert gw.offset_fetch_v7(sock, group, topic, [0, 1], False) == (gw.NONE, {0: (3, 0), 1: (-1, 0)})
        # KIP-447: a stable fetch of a partition with a pending transactional offset.
        assert gw.offset_fetch_v7(sock, group, topic, [0, 1], True) == \
            (gw.NONE, {0: (-1, gw.UNSTABLE_OFFSET_COMMIT), 1: (-1, 0)})


def test_errors(module_broker):
    topic = create_topic(module_broker)
    group = unique_topic("txn-group")
    with connect(module_broker) as sock:
        assert gw.txn_offset_commit(sock, "", {(topic, 0): 1}, producer_id=1) == {(topic, 0): gw.INVALID_GROUP_ID}
        assert gw.txn_offset_commit(sock, group, {(topic, 0): 1, (topic, 7): 1, ("nope", 0): 1}, producer_id=1) == \
            {(topic, 0): gw.NONE, (topic, 7): gw.UNKNOWN_TOPIC_OR_PARTITION, ("nope", 0): gw.UNKNOWN_TOPIC_OR_PARTITION}
        assert gw.txn_offset_commit(sock, group, {(topic, 1): 1}, producer_id=1, metadata="x" * 4097) == \
            {(topic, 1): gw.OFFSET_METADATA_TOO_LARGE}
        # No group and a generation: Kafka's ILLEGAL_GENERATION.
        assert gw.txn_offset_commit(sock, unique_topic("txn-none"), {(topic, 0): 1}, producer_id=1,
                                    generation=1, member_id="m") == {(topic, 0): gw.ILLEGAL_GENERATION}

        # A static member of a stable group, as Streams sends it (v3+).
        static = unique_topic("txn-static")
        joined = gw.join_group(sock, static, topics=[topic], instance_id="instance-1")
        assert joined["error"] == gw.NONE, joined
        member, generation = joined["member_id"], joined["generation"]
        assignment = gw.consumer_assignment(topic, [0, 1])
        assert gw.sync_group(sock, static, generation, member, [(member, assignment)], "instance-1")[0] == gw.NONE

        def commit(**member_fields):
            return gw.txn_offset_commit(sock, static, {(topic, 0): 9}, producer_id=7, **member_fields)[(topic, 0)]

        assert commit(generation=generation + 1, member_id=member, instance_id="instance-1") == gw.ILLEGAL_GENERATION
        assert commit(generation=generation, member_id="stranger") == gw.UNKNOWN_MEMBER_ID
        assert commit(generation=generation, member_id="stranger", instance_id="instance-1") == gw.FENCED_INSTANCE_ID
        assert commit(generation=generation, member_id=member, instance_id="instance-1") == gw.NONE
        # v0-2 carry no member: accepted.
        assert gw.txn_offset_commit(sock, static, {(topic, 1): 4}, producer_id=8, version=2) == {(topic, 1): gw.NONE}
        assert gw.offset_fetch_v7(sock, static, topic, [0, 1], True) == \
            (gw.NONE, {0: (-1, gw.UNSTABLE_OFFSET_COMMIT), 1: (-1, gw.UNSTABLE_OFFSET_COMMIT)})


def test_pending_offsets_survive_a_restart(broker_factory):
    """Reloading __consumer_offsets keeps a transactional commit without a marker
    pending (its batch is transactional, with the request's producer), next to the
    plain commits it must not touch."""
    broker = broker_factory(BROKER_OVERRIDES)
    topic = create_topic(broker)
    group = unique_topic("txn-group")
    with connect(broker) as sock:
        assert gw.offset_commit(sock, group, {(topic, 0): 3, (topic, 1): 4}) == \
            {(topic, 0): gw.NONE, (topic, 1): gw.NONE}
        assert gw.txn_offset_commit(sock, group, {(topic, 0): 5}, producer_id=99, producer_epoch=2) == \
            {(topic, 0): gw.NONE}
    broker.crash_restart()
    with connect(broker) as sock:
        assert gw.offset_fetch_v7(sock, group, topic, [0, 1], False) == (gw.NONE, {0: (3, 0), 1: (4, 0)})
        assert gw.offset_fetch_v7(sock, group, topic, [0, 1], True) == \
            (gw.NONE, {0: (-1, gw.UNSTABLE_OFFSET_COMMIT), 1: (4, 0)})
