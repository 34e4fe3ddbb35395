"""KIP-890 on the partition leader (issue 17), in raw frames against `sluice serve`:
the leader asks the transaction coordinator before a transactional Produce opens a
transaction on a partition (Kafka's AddPartitionsToTxnManager,
transaction.partition.verification.enable, default true).

- Produce v9 of a transactional batch to a partition never added to the
  transaction: INVALID_TXN_STATE, nothing written; Produce v11 gets
  TRANSACTION_ABORTABLE instead (Kafka's genericError clients); after
  AddPartitionsToTxn the same batch is written, and its commit marker lands;
- a producer whose epoch was bumped meanwhile: INVALID_PRODUCER_EPOCH (the
  coordinator's PRODUCER_FENCED, as Kafka maps it for Produce);
- Produce v12 (transactions v2) without AddPartitionsToTxn: the leader adds the
  partition (AddPartitionsToTxn v5, verify_only false), EndTxn v5 commits it,
  the marker lands;
- with verification disabled the unadded batch is written, as before KIP-890;
- TxnOffsetCommit is verified the same way for the group's __consumer_offsets
  partition: INVALID_TXN_STATE (v3) or TRANSACTION_ABORTABLE (v4) before
  AddOffsetsToTxn, written after it; v5 (transactions v2) has the coordinator
  add the partition, and the offsets appear once EndTxn v5 commits;
- ApiVersions v3+ carries the feature flags: transaction.version 2 finalized on
  a new cluster (what makes a Java producer use transactions v2);
- on a cluster of three, a partition led by a broker other than the coordinator:
  its leader asks the coordinator over the inter-broker listener."""

import os
import sys
import time

from confluent_kafka.admin import AdminClient, NewTopic

import client_wire
import kafka_wire
import txn_wire as tw
from conftest import unique_topic
from eos import idempotent_batch
from kafka_wire import Writer, call, connect

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "groups"))
import group_wire as gw  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
from cluster_harness import Cluster, wait_for  # noqa: E402

INVALID_TXN_STATE = 48
INVALID_PRODUCER_EPOCH = 47
TRANSACTION_ABORTABLE = 120
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
# Produce's answer while the coordinator cannot say yet (retriable).
NOT_ENOUGH_REPLICAS = 19


def create_topic(broker):
    topic = unique_topic("verify")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
    return topic


def init_producer(broker, transactional_id):
    """(producer id, epoch) from the coordinator, retried while it loads."""
    assert tw.find_coordinator(broker.port, transactional_id)[0] == tw.NONE
    deadline = time.monotonic() + 20
    while True:
        error, pid, epoch = tw.init_producer_id(broker.port, transactional_id)
        if error not in (COORDINATOR_LOAD_IN_PROGRESS, tw.CONCURRENT_TRANSACTIONS) or time.monotonic() > deadline:
            assert error == tw.NONE, f"InitProducerId: error {error}"
            return pid, epoch
        time.sleep(0.05)


def produce(broker, topic, transactional_id, pid, epoch, sequence, version, partition=0):
    """A transactional Produce, retried while the coordinator cannot answer yet
    (NOT_ENOUGH_REPLICAS, as clients retry it)."""
    batch = idempotent_batch([b"v%d" % sequence], pid, epoch, sequence, transactional=True)
    deadline = time.monotonic() + 20
    while True:
        answer = client_wire.produce(broker.port, topic, partition, None, version=version, batch=batch,
                                     transactional_id=transactional_id)
        if answer["error"] != NOT_ENOUGH_REPLICAS or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def log_end(broker, topic, partition=0):
    error, offset, _ = client_wire.list_offsets(broker.port, topic, partition, -1)
    assert error == tw.NONE
    return offset


def wait_stable(broker, topic, expected_end, partition=0, timeout_s=20):
    """Waits until the partition's log end and last stable offset are both
    `expected_end` (the commit marker written, the transaction no longer open)."""
    deadline = time.monotonic() + timeout_s
    while True:
        ends = tuple(client_wire.list_offsets(broker.port, topic, partition, -1, isolation_level=level)[1]
                     for level in (0, 1))
        if ends == (expected_end, expected_end) or time.monotonic() > deadline:
            assert ends == (expected_end, expected_end), f"(end, last stable) {ends}"
            return
        time.sleep(0.1)


def end_txn_v5(port, transactional_id, pid, epoch, commit):
    """EndTxn v5 (flexible, transactions v2): (error, producer id, epoch)."""
    body = Writer().compact_string(transactional_id).i64(pid).i16(epoch).i8(1 if commit else 0).no_tags()
    with connect(port) as sock:
        r = call(sock, 26, 5, bytes(body.buf), 77, flexible=True)
        r.i32()  # throttle
        return r.i16(), r.i64(), r.i16()


def test_unadded_partition_refused_then_written_once_added(module_broker):
    broker = module_broker
    topic = create_topic(broker)
    tid = unique_topic("tx-added")
    pid, epoch = init_producer(broker, tid)

    refused = produce(broker, topic, tid, pid, epoch, 0, version=9)
    assert refused["error"] == INVALID_TXN_STATE, refused
    assert log_end(broker, topic) == 0, "a refused batch writes nothing"
    newer_client = produce(broker, topic, tid, pid, epoch, 0, version=11)
    assert newer_client["error"] == TRANSACTION_ABORTABLE, newer_client
    assert log_end(broker, topic) == 0

    assert tw.add_partitions(broker.port, tid, pid, epoch, {topic: [0]}) == {(topic, 0): tw.NONE}
    written = produce(broker, topic, tid, pid, epoch, 0, version=9)
    assert (written["error"], written["base_offset"]) == (tw.NONE, 0), written
    # The transaction is ongoing here now: the next batch needs no coordinator.
    assert produce(broker, topic, tid, pid, epoch, 1, version=9)["error"] == tw.NONE
    assert tw.end_until_done(broker.port, tid, pid, epoch, commit=True) == tw.NONE
    wait_stable(broker, topic, 3)  # two records and the commit marker


def test_bumped_epoch_is_answered_invalid_producer_epoch(module_broker):
    broker = module_broker
    topic = create_topic(broker)
    tid = unique_topic("tx-fenced")
    pid, epoch = init_producer(broker, tid)
    pid2, epoch2 = init_producer(broker, tid)  # a new producer of the id fences the first
    assert (pid2, epoch2) == (pid, epoch + 1)
    fenced = produce(broker, topic, tid, pid, epoch, 0, version=9)
    assert fenced["error"] == INVALID_PRODUCER_EPOCH, fenced
    assert log_end(broker, topic) == 0


def test_produce_v12_adds_the_partition_implicitly(module_broker):
    broker = module_broker
    topic = create_topic(broker)
    tid = unique_topic("tx-v2")
    pid, epoch = init_producer(broker, tid)

    written = produce(broker, topic, tid, pid, epoch, 0, version=12, partition=1)
    assert (written["error"], written["base_offset"]) == (tw.NONE, 0), written
    [described] = tw.describe_transactions(broker.port, [tid])
    assert described["state"] == "Ongoing", described
    assert described["topics"] == {topic: [1]}, described

    assert end_v5_until_done(broker, tid, pid, epoch) == (tw.NONE, pid, epoch + 1), \
        "transactions v2 bump the epoch per transaction"
    wait_stable(broker, topic, 2, partition=1)  # the record and its commit marker


def txn_commit(broker, group, topic, tid, pid, epoch, offset, version):
    """TxnOffsetCommit of (topic, 0) -> offset, retried while the group's
    coordinator loads or the transaction coordinator cannot answer yet."""
    assert kafka_wire.find_coordinator(broker.port, group)[0] == kafka_wire.ERR_NONE
    deadline = time.monotonic() + 20
    while True:
        with kafka_wire.connect(broker.port, timeout_s=30) as sock:
            error = gw.txn_offset_commit(sock, group, {(topic, 0): offset}, producer_id=pid, producer_epoch=epoch,
                                         transactional_id=tid, version=version)[(topic, 0)]
        retriable = (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR)
        if error not in retriable or time.monotonic() > deadline:
            return error
        time.sleep(0.1)


def committed_offset(broker, group, topic, timeout_s=20):
    """The group's committed offset of (topic, 0) once no transaction holds it back."""
    deadline = time.monotonic() + timeout_s
    while True:
        with kafka_wire.connect(broker.port, timeout_s=30) as sock:
            error, offsets = gw.offset_fetch(sock, group, topic, [0])
        if (error == tw.NONE and offsets[0] >= 0) or time.monotonic() > deadline:
            return offsets.get(0, -1)
        time.sleep(0.1)


def offsets_transaction(broker, name):
    """A topic, a transactional id with its producer and a group: (topic, id, group, pid, epoch)."""
    topic, tid, group = create_topic(broker), unique_topic(f"tx-{name}"), unique_topic(f"group-{name}")
    return (topic, tid, group, *init_producer(broker, tid))


def end_v5_until_done(broker, tid, pid, epoch):
    """EndTxn v5 commit, retried while the coordinator answers CONCURRENT_TRANSACTIONS."""
    deadline = time.monotonic() + 20
    while True:
        answer = end_txn_v5(broker.port, tid, pid, epoch, commit=True)
        if answer[0] != tw.CONCURRENT_TRANSACTIONS or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def test_txn_offset_commit_verified_before_add_offsets(module_broker):
    broker = module_broker
    topic, tid, group, pid, epoch = offsets_transaction(broker, "offsets")

    assert txn_commit(broker, group, topic, tid, pid, epoch, 5, version=3) == INVALID_TXN_STATE
    assert txn_commit(broker, group, topic, tid, pid, epoch, 5, version=4) == TRANSACTION_ABORTABLE
    assert tw.add_offsets(broker.port, tid, pid, epoch, group) == tw.NONE
    assert txn_commit(broker, group, topic, tid, pid, epoch, 5, version=3) == tw.NONE
    assert committed_offset(broker, group, topic, timeout_s=0) == -1, "pending until the commit"
    assert tw.end_until_done(broker.port, tid, pid, epoch, commit=True) == tw.NONE
    assert committed_offset(broker, group, topic) == 5


def test_txn_offset_commit_v5_adds_the_offsets_partition(module_broker):
    broker = module_broker
    topic, tid, group, pid, epoch = offsets_transaction(broker, "offsets-v2")

    assert txn_commit(broker, group, topic, tid, pid, epoch, 7, version=5) == tw.NONE
    [described] = tw.describe_transactions(broker.port, [tid])
    assert described["state"] == "Ongoing", described
    assert list(described["topics"]) == ["__consumer_offsets"], described
    assert end_v5_until_done(broker, tid, pid, epoch) == (tw.NONE, pid, epoch + 1)
    assert committed_offset(broker, group, topic) == 7


def test_api_versions_finalizes_transaction_version_2(module_broker):
    """A new cluster finalizes transaction.version 2 as Kafka 4.0 formats one;
    before v4 a supported range starting at 0 is left out (KAFKA-17492)."""
    v4 = kafka_wire.api_versions_features(module_broker.port, version=4)
    assert v4["error"] == tw.NONE
    assert v4["supported"] == {"metadata.version": (1, 1), "transaction.version": (0, 2)}, v4
    assert v4["finalized"] == {"metadata.version": (1, 1), "transaction.version": (2, 2)}, v4
    assert v4["epoch"] >= 0, v4
    v3 = kafka_wire.api_versions_features(module_broker.port, version=3)
    assert v3["supported"] == {"metadata.version": (1, 1)}, v3
    assert v3["finalized"] == v4["finalized"]


def test_verification_disabled_lets_the_unadded_batch_through(broker_factory):
    broker = broker_factory({"transaction.partition.verification.enable": "false"})
    topic = create_topic(broker)
    tid = unique_topic("tx-off")
    pid, epoch = init_producer(broker, tid)
    written = produce(broker, topic, tid, pid, epoch, 0, version=9)
    assert (written["error"], written["base_offset"]) == (tw.NONE, 0), written


def test_leader_asks_a_coordinator_on_another_broker(broker_factory):
    cluster = Cluster(broker_factory, combined=3, settings={
        "transaction.state.log.num.partitions": "3", "transaction.state.log.replication.factor": "1"})
    cluster.leader()
    cluster.wait_brokers_listed()
    nodes = {node.id: node for node in cluster.brokers}
    first = cluster.brokers[0]
    topic = unique_topic("verify-remote")
    admin = AdminClient({"bootstrap.servers": first.bootstrap})
    admin.create_topics([NewTopic(topic, 3, 1)], operation_timeout=20)[topic].result(timeout=40)
    tid = unique_topic("tx-remote")
    wait_for(lambda: tw.find_coordinator(first.port, tid, timeout_s=2)[0] == tw.NONE, 40, "a coordinator")
    _, coordinator_id, coordinator_port = tw.find_coordinator(first.port, tid)
    leaders = {p: m.leader for p, m in admin.list_topics(topic, timeout=10).topics[topic].partitions.items()}
    partition, leader = next((p, node) for p, node in sorted(leaders.items()) if node != coordinator_id)
    leader_node = nodes[leader]
    deadline = time.monotonic() + 20
    while True:
        error, pid, epoch = tw.init_producer_id(coordinator_port, tid)
        if error != COORDINATOR_LOAD_IN_PROGRESS or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert error == tw.NONE

    refused = produce(leader_node, topic, tid, pid, epoch, 0, version=9, partition=partition)
    assert refused["error"] == INVALID_TXN_STATE, refused
    assert tw.add_partitions(coordinator_port, tid, pid, epoch, {topic: [partition]}) == {(topic, partition): tw.NONE}
    written = produce(leader_node, topic, tid, pid, epoch, 0, version=9, partition=partition)
    assert (written["error"], written["base_offset"]) == (tw.NONE, 0), written
    assert tw.end_until_done(coordinator_port, tid, pid, epoch, commit=True) == tw.NONE
    wait_stable(leader_node, topic, 2, partition=partition)
