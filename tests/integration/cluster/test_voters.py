"""KIP-853 voter changes on real processes (issue 15): a controller started
with controller.quorum.bootstrap.servers (no voter list) follows the quorum as
an observer; `sluice cluster add-controller` makes it a voter, whose endpoint
the others learn from the log; `remove-controller` takes an original voter
out; after a kill -9 of another, the remaining voters (a majority of the new
set) elect a leader and commit; Kafka's errors for an existing voter and an
unknown one come back through the CLI."""

import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from cluster_harness import Cluster, create_topic, quorum_members, wait_for  # noqa: E402
from conftest import sluice_bin  # noqa: E402


@pytest.fixture
def cluster(broker_factory):
    c = Cluster(broker_factory)
    c.wait_brokers_listed()
    yield c
    c.close()


def members(node):
    try:
        return quorum_members(node.controller_port)
    except (OSError, ValueError, ConnectionError, IndexError):
        return None


def leader_view(cluster, exclude=()):
    """(leader id, voters, observers) as the controller that leads answers."""
    for node in cluster.controllers:
        if node.id in exclude or not node.alive():
            continue
        view = members(node)
        if view and view[0] == 0 and view[1] == node.id:
            return view[1], view[2], view[3]
    return None


def cli(*args, check=True):
    done = subprocess.run([sluice_bin(), "cluster", *args], capture_output=True, timeout=60)
    if check:
        assert done.returncode == 0, done.stderr.decode()
    return done


def test_a_bootstrapped_controller_is_added_and_an_original_removed(cluster):
    leader, _ = cluster.leader()
    new = cluster.add_bootstrapped_node("controller")
    # It follows the quorum as an observer, found through the bootstrap servers.
    wait_for(lambda: (leader_view(cluster) or (0, [], []))[2].count(new.id) == 1, 20,
             f"node {new.id} is not an observer of the leader")
    assert leader_view(cluster)[1] == [1, 2, 3]

    bootstrap = ",".join(f"127.0.0.1:{n.controller_port}" for n in cluster.controllers if n.id != new.id)
    config = cluster.properties_file(new)
    added = cli("add-controller", "--bootstrap-controller", bootstrap, "--command-config", config)
    assert f"Added controller {new.id}" in added.stdout.decode()
    wait_for(lambda: (leader_view(cluster) or (0, [], []))[1] == [1, 2, 3, 4], 10,
             "the leader does not list 4 voters")
    # Every node's broker listener forwards DescribeQuorum to the leader: the
    # same four voters; cluster info shows their directory ids and endpoints.
    for node in cluster.brokers:
        info = json.loads(cli("info", "--json", "-b", node.bootstrap).stdout)
        voters = {r["id"]: r for r in info["quorum"]["replicas"] if r["status"] != "observer"}
        assert sorted(voters) == [1, 2, 3, 4]
        assert voters[new.id]["directory_id"] == Cluster.directory_id(new)
        assert voters[new.id]["endpoints"] == [f"CONTROLLER://127.0.0.1:{new.controller_port}"]

    # The new voter moves to another port: it tells the leader
    # (UpdateRaftVoter), and every voter learns it from the log.
    old_port = new.controller_port
    cluster.move_controller(new)
    assert new.controller_port != old_port

    def endpoint_seen(node):
        info = json.loads(cli("info", "--json", "-b", node.bootstrap).stdout)
        voters = {r["id"]: r for r in info["quorum"]["replicas"] if r["status"] != "observer"}
        return voters.get(new.id, {}).get("endpoints") == [f"CONTROLLER://127.0.0.1:{new.controller_port}"]
    wait_for(lambda: endpoint_seen(cluster.node(1)), 20, "the leader did not record the new endpoint")

    # Kafka's refusals, through the CLI.
    again = cli("add-controller", "--bootstrap-controller", bootstrap, "--command-config", config,
                check=False)
    assert again.returncode != 0 and b"DUPLICATE_VOTER" in again.stderr, again.stderr
    unknown = cli("remove-controller", "--bootstrap-controller", bootstrap, "--controller-id", "99",
                  "--controller-directory-id", Cluster.directory_id(new), check=False)
    assert unknown.returncode != 0 and b"VOTER_NOT_FOUND" in unknown.stderr, unknown.stderr

    # Remove an original voter (the leader, if it is one: it steps down once
    # the removal commits), then kill -9 another original one.
    leader, _ = cluster.leader()
    removed = leader if leader != new.id else 1
    cli("remove-controller", "--bootstrap-controller", bootstrap, "--controller-id", str(removed),
        "--controller-directory-id", Cluster.directory_id(cluster.node(removed)))
    wait_for(lambda: (leader_view(cluster, exclude=(removed,)) or (0, [], []))[1] ==
             sorted({1, 2, 3, 4} - {removed}), 15, f"voter {removed} was not removed")
    # The leader then, if it is an original voter (else another original
    # one): the new voter must take part in the election, dialling the
    # others where the log says they are.
    current, _ = cluster.leader(exclude=(removed,))
    killed = current if current in (1, 2, 3) else next(i for i in (1, 2, 3) if i != removed)
    cluster.node(killed).kill9()
    # Two of the three voters left (one of them the new one) elect and commit.
    new_leader, _ = cluster.leader(exclude=(removed, killed), timeout_s=30)
    assert new_leader not in (removed, killed)
    survivor = next(n for n in cluster.brokers if n.id not in (removed, killed))
    create_topic(survivor, "after-voter-changes")
    wait_for(lambda: "after-voter-changes" in cluster.topics_on(survivor), 15,
             "the topic is not visible")


def test_a_broker_finds_the_quorum_through_bootstrap_servers(cluster):
    broker = cluster.add_bootstrapped_node("broker")
    # It registers (through the leader it found) and serves like the others.
    wait_for(lambda: cluster.brokers_seen_by(broker) == {1, 2, 3, 4}, 20,
             "the bootstrapped broker does not list all brokers")
    wait_for(lambda: (leader_view(cluster) or (0, [], []))[2].count(broker.id) == 1, 20,
             f"node {broker.id} is not an observer of the leader")
    create_topic(broker, "through-bootstrap")
    for node in cluster.brokers:
        wait_for(lambda: "through-bootstrap" in cluster.topics_on(node), 15,
                 f"the topic is not visible through node {node.id}")
