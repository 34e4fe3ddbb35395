"""Partition leadership moved by the controller with real processes (issue 16's
controller half: ElectLeaders and unclean.leader.election.enable): 3
controllers + 3 brokers; a partition on two brokers loses both, one comes
back; it stays leaderless (unclean election is off by default), a preferred
election is refused, an unclean one through `sluice leader-election` (any
broker, forwarded to the active controller) elects the returning broker, and
a topic that allows unclean elections gets its leader back on its own."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import FAST_FENCING, make_cluster, wait_for  # noqa: E402,F401
from conftest import sluice_bin  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402



def leader_of(node, topic, partition=0):
    """The leader `node`'s Metadata names for topic-partition (None: no answer)."""
    try:
        metadata = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(topic, timeout=5)
        return metadata.topics[topic].partitions[partition].leader
    except Exception:  # noqa: BLE001 - not answering yet
        return None


def elect(node, *args):
    return subprocess.run([sluice_bin(), "leader-election", "--json", "-b", node.bootstrap, *args],
                          capture_output=True, timeout=60)


def test_leaderless_partition_elections(make_cluster):
    cluster = make_cluster(controllers=3, brokers=3, settings=FAST_FENCING)
    try:
        cluster.leader()
        cluster.wait_brokers_listed()
        first, second, witness = cluster.brokers
        admin = AdminClient({"bootstrap.servers": witness.bootstrap})
        topics = [NewTopic("strict", num_partitions=1, replica_assignment=[[first.id, second.id]]),
                  NewTopic("lenient", num_partitions=1, replica_assignment=[[first.id, second.id]],
                           config={"unclean.leader.election.enable": "true"})]
        for future in admin.create_topics(topics, operation_timeout=20).values():
            future.result(timeout=40)
        wait_for(lambda: leader_of(witness, "strict") == first.id, 20, "strict led by its first replica")

        # Both replicas go: leadership moves to the second, then nobody leads.
        first.kill9()
        wait_for(lambda: leader_of(witness, "strict") == second.id, 20,
                 "leadership moved to the other replica after fencing")
        second.kill9()
        wait_for(lambda: leader_of(witness, "strict") == -1, 20, "no leader once both are fenced")

        # The first comes back; the last in-sync replica (second) does not.
        first.start()
        wait_for(lambda: first.id in cluster.brokers_seen_by(witness), 20, "the first broker unfenced")
        # The topic that allows it elects the returning broker by itself.
        wait_for(lambda: leader_of(witness, "lenient") == first.id, 20,
                 "lenient topic elects uncleanly on its own")
        assert leader_of(witness, "strict") == -1, "unclean.leader.election.enable=false by default"

        preferred = elect(witness, "--election-type", "preferred", "--topic", "strict", "--partition", "0")
        assert preferred.returncode == 1, preferred.stdout
        answer = json.loads(preferred.stdout)
        assert answer["partitions"][0]["error"] == "PREFERRED_LEADER_NOT_AVAILABLE", answer

        # An operator accepts the loss: an unclean election through another broker.
        unclean = elect(first, "--election-type", "unclean", "--topic", "strict")
        assert unclean.returncode == 0, unclean.stderr.decode() + unclean.stdout.decode()
        assert json.loads(unclean.stdout)["partitions"] == [
            {"topic": "strict", "partition": 0, "error": None, "result": "elected"}]
        wait_for(lambda: leader_of(witness, "strict") == first.id, 20, "the unclean election's leader")

        again = elect(witness, "--election-type", "unclean", "--all-topic-partitions")
        assert again.returncode == 0, again.stderr.decode()
        assert json.loads(again.stdout)["partitions"] == [], "nothing left to elect"
    finally:
        cluster.close()
