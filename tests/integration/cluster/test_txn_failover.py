"""The transaction coordinator fails over with the leadership of its
__transaction_state partition (issue 17): 3 controllers + 3 brokers,
__transaction_state created by the first FindCoordinator with replication factor 3.
A transaction is left ongoing and another committed; the coordinator's broker is
killed with kill -9; FindCoordinator names the partition's new leader, which loaded
the partition: it describes both transactions as they were, and a new producer of
the ongoing one is answered CONCURRENT_TRANSACTIONS until that transaction is aborted
with a bumped epoch, then gets the epoch after it."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "txn"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import txn_wire as tw  # noqa: E402
from cluster_harness import Cluster, wait_for  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

SETTINGS = {"broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500",
            "replica.lag.time.max.ms": "5000",
            "transaction.state.log.num.partitions": "10", "transaction.state.log.replication.factor": "3"}
TOPIC = "txn-events"


def coordinator_of(nodes, transactional_id):
    """(node id, port) FindCoordinator names, asked of the first live broker that answers."""
    for node in nodes:
        if not node.alive():
            continue
        try:
            error, node_id, port = tw.find_coordinator(node.port, transactional_id, timeout_s=2)
        except (OSError, ValueError, ConnectionError):
            continue
        if error == 0:
            return node_id, port
    return None


def init_producer_id(port, transactional_id, **kwargs):
    """Retried while the broker waits for its first block of producer ids
    (COORDINATOR_LOAD_IN_PROGRESS, 14: retriable, as in Kafka)."""
    deadline = time.monotonic() + 15
    while True:
        answer = tw.init_producer_id(port, transactional_id, **kwargs)
        if answer[0] != 14 or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def txn_state_replicas(node):
    metadata = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics("__transaction_state", timeout=5)
    topic = metadata.topics["__transaction_state"]
    return {p: (m.leader, sorted(m.replicas), sorted(m.isrs)) for p, m in topic.partitions.items()}


def test_transactions_survive_the_kill_of_their_coordinator(broker_factory):
    cluster = Cluster(broker_factory, controllers=3, brokers=3, settings=SETTINGS)
    cluster.leader()
    cluster.wait_brokers_listed()
    brokers = cluster.brokers
    admin = AdminClient({"bootstrap.servers": brokers[0].bootstrap})
    admin.create_topics([NewTopic(TOPIC, num_partitions=2, replication_factor=3)],
                        operation_timeout=20)[TOPIC].result(timeout=40)
    wait_for(lambda: coordinator_of(brokers, "ongoing-txn") is not None, 40, "a coordinator for ongoing-txn")
    replicas = txn_state_replicas(brokers[0])
    assert len(replicas) == 10 and all(len(r) == 3 for _, r, _ in replicas.values()), replicas
    wait_for(lambda: all(len(isr) == 3 for _, _, isr in txn_state_replicas(brokers[0]).values()), 30,
             "__transaction_state with an ISR of three")
    coordinator_id, port = coordinator_of(brokers, "ongoing-txn")
    # A second id coordinated by the same broker (another partition, or the same).
    committed_id = next(i for i in (f"committed-{n}" for n in range(500))
                        if coordinator_of(brokers, i)[0] == coordinator_id)

    error, pid, epoch = init_producer_id(port, "ongoing-txn")
    assert error == tw.NONE
    assert tw.add_partitions(port, "ongoing-txn", pid, epoch, {TOPIC: [0, 1]})[(TOPIC, 0)] == tw.NONE
    error, cpid, cepoch = init_producer_id(port, committed_id)
    assert tw.add_partitions(port, committed_id, cpid, cepoch, {TOPIC: [1]})[(TOPIC, 1)] == tw.NONE
    assert tw.end_txn(port, committed_id, cpid, cepoch, True) == tw.NONE
    wait_for(lambda: tw.describe_transactions(port, [committed_id])[0]["state"] == "CompleteCommit", 15,
             "the commit complete")

    cluster.node(coordinator_id).kill9()
    live = [b for b in brokers if b.id != coordinator_id]
    wait_for(lambda: (coordinator_of(live, "ongoing-txn") or (coordinator_id,))[0] != coordinator_id, 40,
             "a new coordinator for ongoing-txn")
    new_id, new_port = coordinator_of(live, "ongoing-txn")
    assert new_id != coordinator_id
    wait_for(lambda: tw.describe_transactions(new_port, ["ongoing-txn"])[0]["error"] == tw.NONE, 20,
             "the partition loaded on the new coordinator")
    [ongoing] = tw.describe_transactions(new_port, ["ongoing-txn"])
    assert (ongoing["state"], ongoing["producer_id"], ongoing["epoch"]) == ("Ongoing", pid, epoch)
    assert sorted(ongoing["topics"][TOPIC]) == [0, 1]
    committed_port = coordinator_of(live, committed_id)[1]
    [committed] = tw.describe_transactions(committed_port, [committed_id])
    assert (committed["state"], committed["producer_id"]) == ("CompleteCommit", cpid)

    # Fenced, aborted with the server's transaction.version 2 (one more bump),
    # then the successor's own bump.
    (error, pid2, epoch2), concurrent = tw.init_until_done(new_port, "ongoing-txn")
    assert (error, pid2, epoch2) == (tw.NONE, pid, epoch + 3)
    assert concurrent >= 1
    assert tw.end_txn(new_port, "ongoing-txn", pid, epoch, True, version=2) == tw.PRODUCER_FENCED

    cluster.node(coordinator_id).start()
