"""The group coordinator fails over with the leadership of its
__consumer_offsets partition (issue 16, point 4): 3 controllers + 3 brokers,
__consumer_offsets with replication factor 3. A confluent-kafka group and a
kafka-python group (both coordinated by the same broker) consume a topic
while a producer keeps writing and commit after each batch; the
coordinator's broker is killed with kill -9. The groups find the new
coordinator (the partition's new leader, which loaded the partition), keep
consuming, their committed offsets survive, and they reprocess nothing
before their last acknowledged commit. The killed broker restarts, rejoins
the ISR, and the offsets read through it are the same."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "groups"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import kafka_wire  # noqa: E402
from cluster_harness import Cluster, wait_for  # noqa: E402
from members import confluent_member, kafka_python_member  # noqa: E402
from members import wait_for as wait_members  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

SETTINGS = {"broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500",
            "replica.lag.time.max.ms": "5000",
            "offsets.topic.replication.factor": "3", "offsets.topic.num.partitions": "10",
            "group.initial.rebalance.delay.ms": "0"}
TOPIC = "events"
PARTITIONS = 3


class Bootstrap:
    """What members.py needs of a broker: its bootstrap list (every broker)."""

    def __init__(self, nodes):
        self.bootstrap = ",".join(n.bootstrap for n in nodes)


def coordinator_of(nodes, group):
    """The node id FindCoordinator names for `group`, asked of the first live broker that answers (None: none)."""
    for node in nodes:
        if not node.alive():
            continue
        try:
            error, node_id = kafka_wire.find_coordinator(node.port, group, timeout_s=2)
        except (OSError, ValueError, ConnectionError):
            continue
        if error == 0:
            return node_id
    return None


def offsets_topic_replicas(node):
    """{partition: (leader, replicas, isr)} of __consumer_offsets in `node`'s Metadata."""
    metadata = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics("__consumer_offsets", timeout=5)
    topic = metadata.topics["__consumer_offsets"]
    return {p: (m.leader, sorted(m.replicas), sorted(m.isrs)) for p, m in topic.partitions.items()}


class KeepProducing:
    """An acks=all producer writing a numbered record every few ms to TOPIC until stopped."""

    def __init__(self, nodes):
        self.acked = 0
        self.failed = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.producer = Producer({"bootstrap.servers": ",".join(n.bootstrap for n in nodes), "acks": "all",
                                  "linger.ms": 5, "message.timeout.ms": 60000, "retry.backoff.ms": 100})
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _delivered(self, err, _msg):
        with self.lock:
            if err:
                self.failed += 1
            else:
                self.acked += 1

    def _run(self):
        i = 0
        while not self.stopping.is_set():
            self.producer.produce(TOPIC, value=str(i).encode(), partition=i % PARTITIONS,
                                  on_delivery=self._delivered)
            self.producer.poll(0)
            i += 1
            time.sleep(0.004)
        self.producer.flush(60)

    def stop(self):
        self.stopping.set()
        self.thread.join(90)


def end_offsets(nodes):
    consumer = Consumer({"bootstrap.servers": ",".join(n.bootstrap for n in nodes if n.alive()),
                         "group.id": "end-offsets-reader"})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1]
                for p in range(PARTITIONS)}
    finally:
        consumer.close()


def committed_offsets(nodes, group):
    """{partition: committed offset} of `group` (OffsetFetch from its coordinator; -1001 none)."""
    consumer = Consumer({"bootstrap.servers": ",".join(n.bootstrap for n in nodes if n.alive()),
                         "group.id": group, "enable.auto.commit": False})
    try:
        found = consumer.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=20)
        return {tp.partition: tp.offset for tp in found}
    finally:
        consumer.close()


def reprocessed_below(journal, floor):
    """Offsets `journal` processed more than once that lie below `floor[partition]`."""
    seen, bad = set(), []
    for p, o in journal.processed:
        if (p, o) in seen and o < floor.get(p, 0):
            bad.append((p, o))
        seen.add((p, o))
    return bad


def test_groups_follow_their_coordinator_across_kill_of_its_broker(broker_factory, tmp_path):
    cluster = Cluster(broker_factory, controllers=3, brokers=3, settings=SETTINGS)
    cluster.leader()
    cluster.wait_brokers_listed()
    brokers = cluster.brokers
    admin = AdminClient({"bootstrap.servers": brokers[0].bootstrap})
    futures = admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=3,
                                            config={"min.insync.replicas": "2"})], operation_timeout=20)
    futures[TOPIC].result(timeout=40)

    # The first lookup creates __consumer_offsets (forwarded to the active
    # controller by a broker that is not it), replication factor 3.
    wait_for(lambda: coordinator_of(brokers, "conf-group") is not None, 40, "a coordinator for conf-group")
    replicas = offsets_topic_replicas(brokers[0])
    assert len(replicas) == 10
    assert all(len(r) == 3 for _, r, _ in replicas.values()), replicas
    coordinator_id = coordinator_of(brokers, "conf-group")
    # A kafka-python group coordinated by the same broker.
    python_group = next(g for g in (f"python-group-{i}" for i in range(200))
                        if coordinator_of(brokers, g) == coordinator_id)
    wait_for(lambda: all(len(isr) == 3 for _, _, isr in offsets_topic_replicas(brokers[0]).values()), 30,
             "__consumer_offsets with an ISR of three")

    producing = KeepProducing(brokers)
    bootstrap = Bootstrap(brokers)
    conf = confluent_member(bootstrap, "conf-group", TOPIC, "range", str(tmp_path), "conf")
    python = kafka_python_member(bootstrap, python_group, TOPIC, "range", str(tmp_path), "python")
    members = [conf, python]
    try:
        wait_members(lambda: all(len(m.journal.commits) >= 5 for m in members), "commits before the kill",
                     members)
        for m in members:
            m.journal.refresh()
        floor = {m.name: dict(m.journal.next_committed) for m in members}
        commits_at_kill = {m.name: len(m.journal.commits) for m in members}

        victim = cluster.node(coordinator_id)
        victim.kill9()
        survivors = [b for b in brokers if b.id != coordinator_id]
        wait_for(lambda: coordinator_of(survivors, "conf-group") not in (None, coordinator_id), 40,
                 "a new coordinator for conf-group")
        new_coordinator = coordinator_of(survivors, "conf-group")
        assert new_coordinator in {b.id for b in survivors}

        # The committed offsets survived: the new coordinator answers at
        # least what was acknowledged before the kill.
        for m, group in ((conf, "conf-group"), (python, python_group)):
            committed = committed_offsets(survivors, group)
            for p, offset in floor[m.name].items():
                assert committed[p] >= offset, (m.name, p, committed, floor[m.name])

        # Both groups keep consuming and committing through the new coordinator.
        wait_members(lambda: all(len(m.journal.commits) >= commits_at_kill[m.name] + 10 for m in members),
                     "commits after the failover", members)
        producing.stop()
        assert producing.failed == 0
        ends = end_offsets(survivors)
        wait_members(lambda: all(m.journal.next_to_process.get(p, 0) >= ends[p]
                                 for m in members for p in range(PARTITIONS)),
                     "every record consumed by both groups", members)
        for m in members:
            m.stop()
            m.journal.refresh()
            # Nothing before the last acknowledged commit was processed again.
            assert reprocessed_below(m.journal, floor[m.name]) == [], m.name
            assert m.journal.errors == [], (m.name, m.journal.errors)
        for m, group in ((conf, "conf-group"), (python, python_group)):
            assert committed_offsets(survivors, group) == ends, m.name

        # The killed broker comes back as a follower of what it led, catches
        # up (every __consumer_offsets ISR has three again) and serves
        # nothing stale: the offsets read through any broker are the same.
        victim.start()
        wait_for(lambda: all(len(isr) == 3 for _, _, isr in offsets_topic_replicas(survivors[0]).values()),
                 40, "__consumer_offsets back to an ISR of three")
        for group in ("conf-group", python_group):
            assert committed_offsets([victim], group) == ends, group
    finally:
        producing.stopping.set()
        for m in members:
            m.ensure_dead()
        cluster.close()
