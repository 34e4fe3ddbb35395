"""A KRaft quorum of real processes on loopback (issue 15): three combined
broker+controller nodes elect a leader, every metadata change made through
any node reaches every node, and `kill -9` of the active controller hands
leadership to another node, which keeps committing."""

import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import kafka_wire  # noqa: E402
from conftest import free_port, sluice_bin  # noqa: E402

from confluent_kafka import KafkaException  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

API_DESCRIBE_QUORUM = 55


def describe_quorum(port):
    """DescribeQuorum v0 of __cluster_metadata-0: (error, leader id, epoch, high watermark)."""
    w = kafka_wire.Writer()
    w.compact_array(["__cluster_metadata"], lambda w2, name: (
        w2.compact_string(name),
        w2.compact_array([0], lambda w3, p: (w3.i32(p), w3.no_tags())),
        w2.no_tags()))
    w.no_tags()
    with kafka_wire.connect(port) as sock:
        r = kafka_wire.call(sock, API_DESCRIBE_QUORUM, 0, bytes(w.buf), 1, flexible=True)
    top_error = r.i16()
    topics = r.compact_array(lambda r2: (r2.compact_string(), r2.compact_array(lambda r3: (
        r3.i32(), r3.i16(), r3.i32(), r3.i32(), r3.i64(),
        r3.compact_array(lambda r4: (r4.i32(), r4.i64(), r4.skip_tags())),
        r3.compact_array(lambda r4: (r4.i32(), r4.i64(), r4.skip_tags())),
        r3.skip_tags()))))
    partition = topics[0][1][0]
    return top_error or partition[1], partition[2], partition[3], partition[4]


class Cluster:
    def __init__(self, broker_factory, size=3):
        self.controller_ports = [free_port() for _ in range(size)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{port}" for i, port in enumerate(self.controller_ports))
        self.nodes = []
        self.cluster_id = subprocess.run([sluice_bin(), "storage", "random-uuid"], check=True,
                                         capture_output=True).stdout.decode().strip()
        for i in range(size):
            node = broker_factory({
                "node.id": str(i + 1),
                "process.roles": "broker,controller",
                "controller.listener.names": "CONTROLLER",
                "controller.quorum.voters": voters,
            }, start=False)
            node.overrides["listeners"] = (f"PLAINTEXT://127.0.0.1:{node.port},"
                                           f"CONTROLLER://127.0.0.1:{self.controller_ports[i]}")
            node.overrides["listener.security.protocol.map"] = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
            self.nodes.append(node)
            self.format(node)
        for node in self.nodes:
            node.start()

    def format(self, node):
        """`sluice storage format`, as an operator does before the first start."""
        config = os.path.join(node.workdir, "server.properties")
        open(config, "w").close()
        command = [sluice_bin(), "storage", "format", "--cluster-id", self.cluster_id, "--config", config]
        for key, value in node.overrides.items():
            command += ["--set", f"{key}={value}"]
        done = subprocess.run(command, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()

    def leader(self, timeout_s=30, exclude=()):
        """The node id every live controller names as leader (waits for one)."""
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            for i, port in enumerate(self.controller_ports):
                if i + 1 in exclude or not self.nodes[i].alive():
                    continue
                try:
                    error, leader, epoch, hw = describe_quorum(port)
                except (OSError, ValueError, ConnectionError) as e:
                    last = repr(e)
                    continue
                last = (i + 1, error, leader, epoch, hw)
                if error == 0 and leader == i + 1:
                    return leader, epoch
            time.sleep(0.1)
        pytest.fail(f"no quorum leader within {timeout_s} s (last answer {last})")

    def topics_on(self, node):
        """The topics `node` answers in Metadata (none while it cannot answer)."""
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        try:
            return set(admin.list_topics(timeout=5).topics)
        except KafkaException:
            return set()


def create_topic(node, name, partitions=2):
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                                  operation_timeout=20, request_timeout=30)
    futures[name].result(timeout=40)


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} within {timeout_s} s")


@pytest.fixture
def cluster(broker_factory):
    return Cluster(broker_factory)


def test_three_nodes_elect_one_leader_and_share_topics(cluster):
    leader, epoch = cluster.leader()
    assert epoch >= 1
    # Created through a node that is not the leader: forwarded to it.
    follower = next(n for i, n in enumerate(cluster.nodes) if i + 1 != leader)
    create_topic(follower, "clicks", partitions=3)
    for node in cluster.nodes:
        wait_for(lambda: "clicks" in cluster.topics_on(node), 15,
                 f"topic 'clicks' not visible through node {node.overrides['node.id']}")


def test_killing_the_leader_elects_another_that_commits(cluster):
    leader, epoch = cluster.leader()
    create_topic(cluster.nodes[0], "before-kill")
    killed_at = time.monotonic()
    cluster.nodes[leader - 1].kill9()
    new_leader, new_epoch = cluster.leader(exclude=(leader,))
    took = time.monotonic() - killed_at
    print(f"new leader {new_leader} in epoch {new_epoch} {took:.2f} s after kill -9 of {leader}")
    assert new_leader != leader and new_epoch > epoch
    survivor = cluster.nodes[new_leader - 1]
    create_topic(survivor, "after-kill")
    for i, node in enumerate(cluster.nodes):
        if i + 1 == leader:
            continue
        wait_for(lambda: {"before-kill", "after-kill"} <= cluster.topics_on(node), 15,
                 f"topics not visible through node {i + 1}")
    # The killed node comes back as a follower and catches up.
    # Its old incarnation's session (broker.session.timeout.ms, 9 s) must
    # expire before it registers again, as in Kafka after a kill -9.
    cluster.nodes[leader - 1].start()
    wait_for(lambda: {"before-kill", "after-kill"} <= cluster.topics_on(cluster.nodes[leader - 1]), 30,
             "the restarted node did not catch up")
