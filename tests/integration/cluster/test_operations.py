"""Operating a KRaft quorum of real processes (issue 15, point 4): on three
combined nodes, `sluice cluster info` through each node names the same
leader and three voters (DescribeQuorum forwarded to the leader by a broker
listener), /metrics shows one leader across the nodes and the commit
latency, and /v1/health is ready on all three once they caught up with the
metadata log, and not ready on a node whose quorum has no leader."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from conftest import free_port, sluice_bin  # noqa: E402
from cluster_harness import Cluster, create_topic, wait_for  # noqa: E402


def with_admin_listener(broker_factory):
    """broker_factory whose nodes serve the admin HTTP port (the harness turns it off)."""
    def make(overrides=None, start=True):
        port = free_port()
        node = broker_factory({**(overrides or {}), "admin.listener": f"127.0.0.1:{port}"}, start=start)
        node.admin_port = port
        return node
    return make


@pytest.fixture
def cluster(broker_factory):
    return Cluster(with_admin_listener(broker_factory))


def health(node):
    """(HTTP status, body) of /v1/health."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.admin_port}/v1/health", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def metrics(node):
    """{sample with labels: value} of /metrics (no parsing beyond what this test reads)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{node.admin_port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def cluster_info(node):
    done = subprocess.run([sluice_bin(), "cluster", "info", "--json", "-b", node.bootstrap],
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def test_info_metrics_and_health_agree_on_every_node(cluster):
    leader, epoch = cluster.leader()
    for node in cluster.nodes:
        wait_for(lambda: health(node)[0] == 200, 30,
                 f"node {node.overrides['node.id']} not ready ({health(node)})")
        status, body = health(node)
        assert body["status"] == "ready" and body["metadata"]["leader_id"] == leader
        assert body["metadata"]["applied_offset"] >= body["metadata"]["catch_up_target"] >= 0
    create_topic(cluster.nodes[0], "ops")  # a commit for the latency histogram

    for node in cluster.nodes:
        info = cluster_info(node)
        quorum = info["quorum"]
        assert quorum is not None, info.get("quorum_error")
        assert quorum["leader_id"] == leader and quorum["leader_epoch"] == epoch
        voters = [r for r in quorum["replicas"] if r["status"] != "observer"]
        assert sorted(r["id"] for r in voters) == [1, 2, 3]
        assert [r["status"] for r in voters if r["id"] == leader] == ["leader"]
        assert all(r["serving"] for r in voters)  # combined nodes: all three brokers registered
        assert quorum["high_watermark"] > 0
        own = next(r for r in voters if r["id"] == leader)
        assert own["log_end_offset"] >= quorum["high_watermark"] and own["lag"] == 0
        assert sorted(b["id"] for b in info["brokers"]) == [1, 2, 3]
        table = subprocess.run([sluice_bin(), "cluster", "info", "-b", node.bootstrap], capture_output=True,
                               timeout=60, check=True).stdout.decode()
        assert f"leader {leader}, epoch {epoch}" in table

    scraped = [metrics(node) for node in cluster.nodes]
    leaders = [i + 1 for i, m in enumerate(scraped) if m['sluice_quorum_role{role="leader"}'] == 1]
    assert leaders == [leader]
    assert all(m["sluice_quorum_leader_id"] == leader for m in scraped)
    assert all(m["sluice_quorum_epoch"] == epoch for m in scraped)
    assert all(m["sluice_brokers_fenced"] == 0 and m["sluice_brokers_registered"] == 3 for m in scraped)
    assert all(m["sluice_metadata_applied_offset"] > 0 for m in scraped)
    assert scraped[leader - 1]["sluice_metadata_commit_seconds_count"] >= 1


def test_health_goes_not_ready_without_a_quorum_leader(cluster):
    leader, _ = cluster.leader()
    for node in cluster.nodes:
        wait_for(lambda: health(node)[0] == 200, 30, f"node {node.overrides['node.id']} not ready")
    # Leave the leader alone: it resigns once no voter fetched within 1.5
    # fetch timeouts (3 s by default), and no election can win without a
    # majority, so its quorum knows no leader.
    for i, node in enumerate(cluster.nodes):
        if i + 1 != leader:
            node.kill9()
    alone = cluster.nodes[leader - 1]
    started = time.monotonic()
    wait_for(lambda: health(alone)[0] == 503, 15, "the lone survivor still says ready")
    status, body = health(alone)
    print(f"node {leader} not ready {time.monotonic() - started:.1f} s after losing its quorum: {body}")
    assert body["status"] == "no_quorum_leader" and body["metadata"]["leader_id"] == -1
    assert metrics(alone)['sluice_quorum_role{role="leader"}'] == 0


def test_a_killed_broker_shows_fenced(cluster):
    """kill -9 of a follower: once its session (broker.session.timeout.ms, 9 s)
    expires the leader fences it, /metrics counts it and `cluster info` shows
    its voter as not serving."""
    leader, _ = cluster.leader()
    victim = next(i + 1 for i in range(3) if i + 1 != leader)
    leader_node = cluster.nodes[leader - 1]
    wait_for(lambda: all(health(node)[0] == 200 for node in cluster.nodes), 30, "all nodes ready")
    assert metrics(leader_node)["sluice_brokers_fenced"] == 0
    cluster.nodes[victim - 1].kill9()
    wait_for(lambda: metrics(leader_node)["sluice_brokers_fenced"] == 1, 30, f"broker {victim} fenced")
    assert metrics(leader_node)["sluice_broker_session_fences_total"] >= 1
    replicas = {r["id"]: r for r in cluster_info(leader_node)["quorum"]["replicas"]}
    assert not replicas[victim]["serving"] and replicas[leader]["serving"]

