"""A KRaft quorum of real processes on loopback (issue 15): three combined
broker+controller nodes elect a leader, every metadata change made through
any node reaches every node, and `kill -9` of the active controller hands
leadership to another node, which keeps committing."""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import Cluster, create_topic, wait_for  # noqa: E402


@pytest.fixture
def cluster(broker_factory):
    c = Cluster(broker_factory)
    # Start from a cluster whose brokers have all registered.
    c.wait_brokers_listed()
    yield c
    c.close()


def test_three_nodes_elect_one_leader_and_share_topics(cluster):
    leader, epoch = cluster.leader()
    assert epoch >= 1
    # Created through a node that is not the leader: forwarded to it.
    follower = next(n for n in cluster.nodes if n.id != leader)
    create_topic(follower, "clicks", partitions=3)
    for node in cluster.nodes:
        wait_for(lambda: "clicks" in cluster.topics_on(node), 15,
                 f"topic 'clicks' not visible through node {node.id}")


def test_killing_the_leader_elects_another_that_commits(cluster):
    leader, epoch = cluster.leader()
    create_topic(cluster.nodes[0], "before-kill")
    killed_at = time.monotonic()
    cluster.node(leader).kill9()
    new_leader, new_epoch = cluster.leader(exclude=(leader,))
    took = time.monotonic() - killed_at
    print(f"new leader {new_leader} in epoch {new_epoch} {took:.2f} s after kill -9 of {leader}")
    assert new_leader != leader and new_epoch > epoch
    survivor = cluster.node(new_leader)
    create_topic(survivor, "after-kill")
    for i, node in enumerate(cluster.nodes):
        if i + 1 == leader:
            continue
        wait_for(lambda: {"before-kill", "after-kill"} <= cluster.topics_on(node), 15,
                 f"topics not visible through node {i + 1}")
    # The killed node comes back as a follower and catches up.
    # Its old incarnation's session (broker.session.timeout.ms, 9 s) must
    # expire before it registers again, as in Kafka after a kill -9.
    cluster.node(leader).start()
    wait_for(lambda: {"before-kill", "after-kill"} <= cluster.topics_on(cluster.node(leader)), 30,
             "the restarted node did not catch up")
