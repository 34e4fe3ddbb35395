"""Partitions replicated with Kafka's ISR protocol between real processes
(issue 16, point 1): 3 controllers + 3 brokers; a topic of replication
factor 3 with min.insync.replicas=2; an acks=all producer keeps sending
while the partition leader is killed with kill -9; the leader moves within
the ISR (after the session timeout), the producer carries on, and a consumer
from the beginning reads every acknowledged record, in order. The killed
broker comes back, catches up, rejoins the ISR, and its log equals the
others'. With 2 of 3 replicas down, acks=all is refused with
NOT_ENOUGH_REPLICAS until they return and rejoin the ISR."""

import glob
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import Cluster, wait_for  # noqa: E402

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

FAST_FENCING = {"broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500",
                # A restarted follower waits at most this long to be dropped
                # from (and then rejoin) the ISR; Kafka's default is 30 s.
                "replica.lag.time.max.ms": "5000"}
TOPIC = "replicated"


def partition_state(node, topic=TOPIC):
    """(leader, isr) that `node`'s Metadata names for partition 0 (None: no answer)."""
    try:
        metadata = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(topic, timeout=5)
        partition = metadata.topics[topic].partitions[0]
        return partition.leader, sorted(partition.isrs)
    except Exception:  # noqa: BLE001 - not answering yet
        return None


def log_bytes(node, topic=TOPIC):
    return sum(os.path.getsize(f) for f in glob.glob(os.path.join(node.data_dir, f"{topic}-0", "*.log")))


def test_acks_all_records_survive_kill_of_the_leader(broker_factory):
    cluster = Cluster(broker_factory, controllers=3, brokers=3, settings=FAST_FENCING)
    cluster.leader()
    cluster.wait_brokers_listed()
    brokers = cluster.brokers
    ids = sorted(n.id for n in brokers)
    witness = brokers[0]
    admin = AdminClient({"bootstrap.servers": witness.bootstrap})
    futures = admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=3,
                                            config={"min.insync.replicas": "2"})],
                                  operation_timeout=20)
    futures[TOPIC].result(timeout=40)
    wait_for(lambda: (partition_state(witness) or (None, []))[1] == ids, 20, "an ISR of all three")
    leader_id = partition_state(witness)[0]
    leader = cluster.node(leader_id)
    others = [n for n in brokers if n.id != leader_id]

    acked, failed = [], []
    lock = threading.Lock()

    def delivered(err, msg):
        with lock:
            (failed if err else acked).append(int(msg.value()))

    producer = Producer({"bootstrap.servers": ",".join(n.bootstrap for n in brokers), "acks": "all",
                         "linger.ms": 5, "message.timeout.ms": 60000, "retry.backoff.ms": 100,
                         "max.in.flight.requests.per.connection": 1})
    total = 3000
    killed_at = None
    start = time.monotonic()
    for i in range(total):
        producer.produce(TOPIC, value=str(i).encode(), partition=0, on_delivery=delivered)
        producer.poll(0)
        if i % 50 == 0:
            producer.flush(30)
        if i == total // 3:
            producer.flush(30)
            leader.kill9()
            killed_at = len(acked)
    remaining = producer.flush(90)
    assert remaining == 0, f"{remaining} records still unacknowledged"
    assert killed_at and killed_at > 0
    assert len(acked) > total // 2, f"only {len(acked)} acknowledged ({len(failed)} failed)"
    new_leader = partition_state(others[0])[0]
    assert new_leader in [n.id for n in others], new_leader
    print(f"acked {len(acked)} failed {len(failed)} in {time.monotonic() - start:.1f} s; "
          f"leader {leader_id} -> {new_leader}")

    consumer = Consumer({"bootstrap.servers": ",".join(n.bootstrap for n in others),
                         "group.id": "checker", "enable.auto.commit": False})
    consumer.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
    seen, offsets = [], []
    deadline = time.monotonic() + 40
    wanted = set(acked)
    while time.monotonic() < deadline and not wanted <= set(seen):
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        seen.append(int(msg.value()))
        offsets.append(msg.offset())
    consumer.close()
    lost = wanted - set(seen)
    assert not lost, f"{len(lost)} acknowledged records lost, e.g. {sorted(lost)[:10]}"
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets), "offsets go back"
    # Order kept: the acknowledged values appear in the order they were sent
    # (a retry may repeat a record that was written but not acknowledged).
    first_seen = {}
    for position, value in enumerate(seen):
        first_seen.setdefault(value, position)
    ordered = [first_seen[v] for v in sorted(wanted)]
    assert ordered == sorted(ordered), "acknowledged records out of order"

    # The killed broker returns, catches up and is in the ISR again.
    leader.start()
    wait_for(lambda: (partition_state(others[0]) or (None, []))[1] == ids, 40,
             "the restarted broker back in the ISR")
    wait_for(lambda: len({log_bytes(n) for n in brokers}) == 1, 20,
             "the three logs of the same size")
    assert log_bytes(leader) > 0


def test_below_min_insync_replicas_nothing_is_acknowledged(broker_factory):
    """2 of 3 replicas down: acks=all gets NOT_ENOUGH_REPLICAS and nothing is
    acknowledged; once they return the ISR grows back and producing resumes."""
    cluster = Cluster(broker_factory, controllers=3, brokers=3, settings=FAST_FENCING)
    cluster.leader()
    cluster.wait_brokers_listed()
    brokers = cluster.brokers
    ids = sorted(n.id for n in brokers)
    admin = AdminClient({"bootstrap.servers": brokers[0].bootstrap})
    futures = admin.create_topics([NewTopic("strict", num_partitions=1, replication_factor=3,
                                            config={"min.insync.replicas": "2"})],
                                  operation_timeout=20)
    futures["strict"].result(timeout=40)
    wait_for(lambda: (partition_state(brokers[0], "strict") or (None, []))[1] == ids, 20,
             "an ISR of all three")
    leader = cluster.node(partition_state(brokers[0], "strict")[0])
    followers = [n for n in brokers if n.id != leader.id]
    for node in followers:
        node.kill9()
    wait_for(lambda: (partition_state(leader, "strict") or (None, []))[1] == [leader.id], 20,
             "the ISR shrunk to the leader")

    errors = []
    producer = Producer({"bootstrap.servers": leader.bootstrap, "acks": "all",
                         "message.timeout.ms": 10000, "retries": 0})
    producer.produce("strict", value=b"refused", partition=0,
                     on_delivery=lambda err, msg: errors.append(err))
    producer.flush(20)
    assert len(errors) == 1 and errors[0] is not None, errors
    # No retries: the broker's own answer reaches the application.
    assert errors[0].name() == "NOT_ENOUGH_REPLICAS", errors[0]

    for node in followers:
        node.start()
    wait_for(lambda: (partition_state(leader, "strict") or (None, []))[1] == ids, 40,
             "the ISR grew back")
    acked = []
    producer = Producer({"bootstrap.servers": leader.bootstrap, "acks": "all"})
    producer.produce("strict", value=b"accepted", partition=0,
                     on_delivery=lambda err, msg: acked.append(err))
    producer.flush(20)
    assert acked == [None], acked


def test_isr_changes_of_a_partition_led_by_the_active_controller(broker_factory):
    """Combined nodes: the leader of a partition may be the active controller
    itself; its ISR shrinks and expansions go to its own controller (the
    quorum does not forward a request to itself)."""
    cluster = Cluster(broker_factory, combined=3, settings=FAST_FENCING)
    controller_id, _ = cluster.leader()
    cluster.wait_brokers_listed()
    ids = sorted(n.id for n in cluster.nodes)
    controller = cluster.node(controller_id)
    admin = AdminClient({"bootstrap.servers": controller.bootstrap})
    partitions = 6
    admin.create_topics([NewTopic("local", num_partitions=partitions, replication_factor=3)],
                        operation_timeout=20)["local"].result(timeout=40)

    def states(node):
        try:
            metadata = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics("local", timeout=5)
            return {p: (m.leader, sorted(m.isrs)) for p, m in metadata.topics["local"].partitions.items()}
        except Exception:  # noqa: BLE001 - not answering yet
            return {}

    wait_for(lambda: len(states(controller)) == partitions and
             all(isr == ids for _, isr in states(controller).values()), 20, "full ISRs")
    led_here = [p for p, (leader, _) in states(controller).items() if leader == controller_id]
    assert led_here, f"no partition led by the active controller {controller_id}: {states(controller)}"
    victim = next(n for n in cluster.nodes if n.id != controller_id)
    victim.kill9()
    rest = [i for i in ids if i != victim.id]
    wait_for(lambda: all(states(controller).get(p, (0, []))[1] == rest for p in led_here), 30,
             f"the ISR of {led_here} without broker {victim.id}")
    victim.start()
    wait_for(lambda: all(states(controller).get(p, (0, []))[1] == ids for p in led_here), 40,
             "the restarted broker back in those ISRs")
