"""The transaction coordinator through the broker (issue 17): raw frames of
FindCoordinator (key type 1), InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
EndTxn, DescribeTransactions and ListTransactions get Kafka's answers and error codes;
the coordinator's state survives a restart and a kill -9 (__transaction_state); an
ongoing transaction is aborted by its successor's InitProducerId and by its timeout,
with one more epoch bump while transaction.version is 2 (UpdateFeatures changes it);
librdkafka's transactional producer runs its protocol against it. Markers are not
written on this branch yet (a temporary marker sender): nothing here reads them."""

import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_wire
import txn_wire as tw
from conftest import run, sluice_bin, unique_topic

# A short abort interval keeps the timeout test short.
OVERRIDES = {"transaction.abort.timed.out.transaction.cleanup.interval.ms": "200"}


def create_topic(broker, partitions=2):
    topic = unique_topic("txn")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=30)
    return topic


COORDINATOR_LOAD_IN_PROGRESS = 14


def init_producer_id(port, transactional_id, *args, **kwargs):
    """Retried while the broker waits for its first block of producer ids
    (COORDINATOR_LOAD_IN_PROGRESS, retriable, as Kafka's RPCProducerIdManager
    answers before its first AllocateProducerIds completes)."""
    deadline = time.monotonic() + 15
    while True:
        answer = tw.init_producer_id(port, transactional_id, *args, **kwargs)
        if answer[0] != COORDINATOR_LOAD_IN_PROGRESS or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def coordinated(broker, transactional_id):
    error, node_id, port = tw.find_coordinator(broker.port, transactional_id)
    assert (error, node_id, port) == (tw.NONE, 1, broker.port)


def wait_for_state(broker, transactional_id, state, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while True:
        [described] = tw.describe_transactions(broker.port, [transactional_id])
        if described["state"] == state or time.monotonic() > deadline:
            assert described["state"] == state, described
            return described
        time.sleep(0.1)


def test_transaction_protocol_and_errors(broker_factory):
    broker = broker_factory(OVERRIDES)
    topic = create_topic(broker)
    coordinated(broker, "app-1")
    port = broker.port
    assert init_producer_id(port, "app-1", 900001)[0] == tw.INVALID_TRANSACTION_TIMEOUT
    error, pid, epoch = init_producer_id(port, "app-1")
    assert error == tw.NONE and pid >= 0 and epoch == 0
    error, pid2, epoch2 = init_producer_id(port, "app-1")
    assert (error, pid2, epoch2) == (tw.NONE, pid, 1)  # the first producer is fenced
    assert tw.end_txn(port, "app-1", pid, 1, True) == tw.INVALID_TXN_STATE  # nothing begun
    # An unknown partition fails the whole request; nothing is added.
    answer = tw.add_partitions(port, "app-1", pid, 1, {topic: [0], "no-such-topic": [0]})
    assert answer == {(topic, 0): tw.OPERATION_NOT_ATTEMPTED, ("no-such-topic", 0): tw.UNKNOWN_TOPIC_OR_PARTITION}
    assert tw.add_partitions(port, "app-1", pid, 1, {topic: [0, 1]}) == {(topic, 0): tw.NONE, (topic, 1): tw.NONE}
    assert tw.add_offsets(port, "app-1", pid, 1, "group-1") == tw.NONE
    # The fenced epoch: INVALID_PRODUCER_EPOCH for v1 clients, PRODUCER_FENCED from v2.
    assert tw.add_partitions(port, "app-1", pid, 0, {topic: [0]})[(topic, 0)] == tw.INVALID_PRODUCER_EPOCH
    assert tw.add_partitions(port, "app-1", pid, 0, {topic: [0]}, version=2)[(topic, 0)] == tw.PRODUCER_FENCED
    assert tw.end_txn(port, "app-1", pid + 1, 1, True) == tw.INVALID_PRODUCER_ID_MAPPING
    assert tw.end_txn(port, "unknown-id", pid, 1, True) == tw.INVALID_PRODUCER_ID_MAPPING
    [described] = tw.describe_transactions(port, ["app-1"])
    assert described["state"] == "Ongoing" and described["producer_id"] == pid and described["epoch"] == 1
    assert sorted(described["topics"][topic]) == [0, 1] and "__consumer_offsets" in described["topics"]
    assert tw.end_txn(port, "app-1", pid, 1, True) == tw.NONE
    assert tw.end_until_done(port, "app-1", pid, 1, True) == tw.NONE  # a retry, once complete
    assert tw.end_txn(port, "app-1", pid, 1, False) == tw.INVALID_TXN_STATE
    assert tw.end_txn(port, "app-1", pid, 0, False, version=2) == tw.PRODUCER_FENCED
    [described, missing] = tw.describe_transactions(port, ["app-1", "nobody"])
    assert described["state"] == "CompleteCommit" and described["topics"] == {}
    assert missing["error"] == tw.TRANSACTIONAL_ID_NOT_FOUND
    error, unknown, listed = tw.list_transactions(port, states=["CompleteCommit", "Bogus"])
    assert error == tw.NONE and unknown == ["Bogus"] and listed == [("app-1", pid, "CompleteCommit")]
    assert tw.list_transactions(port, producer_ids=[pid + 12345])[2] == []


def test_state_survives_restart_and_kill9_and_fences_the_ongoing_transaction(broker_factory):
    broker = broker_factory(OVERRIDES)
    topic = create_topic(broker)
    coordinated(broker, "durable")
    error, pid, epoch = init_producer_id(broker.port, "durable")
    assert tw.add_partitions(broker.port, "durable", pid, epoch, {topic: [0]})[(topic, 0)] == tw.NONE
    broker.restart()
    coordinated(broker, "durable")
    [described] = tw.describe_transactions(broker.port, ["durable"])
    assert (described["state"], described["producer_id"], described["epoch"]) == ("Ongoing", pid, epoch)
    broker.crash_restart()
    coordinated(broker, "durable")
    # The successor: the ongoing transaction is aborted first (CONCURRENT_TRANSACTIONS
    # until done), its epoch bumped past the zombie's: the fence, the abort of
    # transactions v2 (the server's transaction.version, 2 on a new cluster) and
    # the successor's own bump.
    (error, pid2, epoch2), _ = tw.init_until_done(broker.port, "durable")
    assert error == tw.NONE and pid2 == pid and epoch2 == epoch + 3
    assert tw.end_txn(broker.port, "durable", pid, epoch, True, version=2) == tw.PRODUCER_FENCED
    broker.crash_restart()
    coordinated(broker, "durable")
    [described] = tw.describe_transactions(broker.port, ["durable"])
    assert (described["state"], described["epoch"]) == ("Empty", epoch2)


def test_timed_out_transaction_is_aborted(broker_factory):
    broker = broker_factory(OVERRIDES)
    topic = create_topic(broker)
    coordinated(broker, "slow")
    error, pid, epoch = init_producer_id(broker.port, "slow", timeout_ms=1000)
    assert tw.add_partitions(broker.port, "slow", pid, epoch, {topic: [1]})[(topic, 1)] == tw.NONE
    described = wait_for_state(broker, "slow", "CompleteAbort")
    assert described["epoch"] == epoch + 2, "the fence's bump and the v2 abort's (server transaction.version 2)"
    assert tw.end_txn(broker.port, "slow", pid, epoch, True, version=2) == tw.PRODUCER_FENCED


INVALID_UPDATE_VERSION = 95


def finalized_transaction_version(broker):
    return kafka_wire.api_versions_features(broker.port)["finalized"].get("transaction.version", (0, 0))[1]


def test_transaction_version_follows_update_features(broker_factory):
    """UpdateFeatures (kafka-features.sh downgrade|upgrade): Kafka's checks and
    messages; the coordinator's own aborts follow the finalized level (a
    timeout abort bumps the epoch once more at transaction.version 2)."""
    broker = broker_factory(OVERRIDES)
    assert finalized_transaction_version(broker) == 2
    error, message, _ = kafka_wire.update_features(broker.port, {"transaction.version": (0, 1)})
    assert error == INVALID_UPDATE_VERSION
    assert message == ("The update failed for all features since the following feature had an error: "
                       "Invalid update version 0 for feature transaction.version. Can't downgrade the version "
                       "of this feature without setting the upgrade type to either safe or unsafe downgrade.")
    error, message, _ = kafka_wire.update_features(broker.port, {"transaction.version": (3, 1)})
    assert (error, message.split(". ", 1)[1]) == (INVALID_UPDATE_VERSION, "Local controller 1 only supports versions 0-2")
    error, _, _ = kafka_wire.update_features(broker.port, {"group.version": (1, 1)}, version=2)
    assert error == INVALID_UPDATE_VERSION
    assert kafka_wire.update_features(broker.port, {"transaction.version": (0, 2)}, validate_only=True) == \
        (tw.NONE, None, {"transaction.version": tw.NONE})
    assert finalized_transaction_version(broker) == 2, "validate_only changes nothing"
    assert kafka_wire.update_features(broker.port, {"transaction.version": (0, 2)}, version=2) == (tw.NONE, None, {})
    assert finalized_transaction_version(broker) == 0

    topic = create_topic(broker)
    coordinated(broker, "slow-v0")
    error, pid, epoch = init_producer_id(broker.port, "slow-v0", timeout_ms=1000)
    assert tw.add_partitions(broker.port, "slow-v0", pid, epoch, {topic: [1]})[(topic, 1)] == tw.NONE
    assert wait_for_state(broker, "slow-v0", "CompleteAbort")["epoch"] == epoch + 1, "the fence's bump only"

    assert kafka_wire.update_features(broker.port, {"transaction.version": (2, 1)}, version=0) == \
        (tw.NONE, None, {"transaction.version": tw.NONE})
    broker.restart()
    assert finalized_transaction_version(broker) == 2, "the level is in the metadata log"


def test_librdkafka_transactional_producer(broker_factory):
    broker = broker_factory(OVERRIDES)
    topic = create_topic(broker)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "rdkafka-txn",
                         "transaction.timeout.ms": 60000})
    producer.init_transactions(30)
    for outcome in ("commit", "abort", "commit"):
        producer.begin_transaction()
        for i in range(10):
            producer.produce(topic, value=f"{outcome}-{i}".encode(), partition=i % 2)
        producer.flush(30)
        if outcome == "commit":
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
    # EndTxn is answered once PrepareCommit is durable; CompleteCommit follows the markers.
    described = wait_for_state(broker, "rdkafka-txn", "CompleteCommit")
    assert described["epoch"] == 0
    # A second producer of the id fences the first.
    second = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "rdkafka-txn"})
    second.init_transactions(30)
    [described] = tw.describe_transactions(broker.port, ["rdkafka-txn"])
    assert described["epoch"] == 1


def test_sluice_txn_list_and_describe(broker_factory):
    broker = broker_factory(OVERRIDES)
    topic = create_topic(broker)
    coordinated(broker, "cli-txn")
    error, pid, epoch = init_producer_id(broker.port, "cli-txn")
    assert tw.add_partitions(broker.port, "cli-txn", pid, epoch, {topic: [1]})[(topic, 1)] == tw.NONE
    listed = run([sluice_bin(), "txn", "list", "-b", broker.bootstrap]).stdout.decode()
    header, row = listed.splitlines()
    assert header.split() == ["TRANSACTIONALID", "COORDINATOR", "PRODUCERID", "TRANSACTIONSTATE"]
    assert row.split() == ["cli-txn", "1", str(pid), "Ongoing"]
    described = run([sluice_bin(), "txn", "describe", "--transactional-id", "cli-txn",
                     "-b", broker.bootstrap]).stdout.decode()
    header, row = described.splitlines()
    assert header.split()[:5] == ["COORDINATORID", "TRANSACTIONALID", "PRODUCERID", "PRODUCEREPOCH",
                                  "TRANSACTIONSTATE"]
    cells = row.split()
    assert cells[:6] == ["1", "cli-txn", str(pid), str(epoch), "Ongoing", "60000"]
    assert cells[-1] == f"{topic}-1"
    missing = run([sluice_bin(), "txn", "describe", "--transactional-id", "nobody", "-b", broker.bootstrap],
                  check=False)
    assert missing.returncode == 1 and b"TRANSACTIONAL_ID_NOT_FOUND" in missing.stderr
