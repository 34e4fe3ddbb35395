"""Replication metrics and the partitions admin API on a 3-node cluster with
one broker killed (issue 16, point 5): before, nothing is under-replicated;
after the kill -9 of a broker that is not the quorum leader, the survivors'
/metrics count the partitions they lead with a smaller ISR, one below
min.insync.replicas, the ISR shrinks they asked for, the active controller's
leader elections and its offline partition (a replication-factor-1 topic on
the killed broker); /v1/partitions lists the same partitions as
`sluice cluster partitions --json`, with the killed broker as an offline
replica."""

import json
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import Cluster, wait_for  # noqa: E402
from conftest import sluice_bin  # noqa: E402
from test_operations import metrics, with_admin_listener  # noqa: E402

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

SETTINGS = {"broker.session.timeout.ms": "6000", "broker.heartbeat.interval.ms": "500",
            # Leaders drop the dead follower (an ISR shrink they ask for:
            # Kafka counts only those) well before the controller fences it.
            "replica.lag.time.max.ms": "1500"}


def total(nodes, name):
    return sum(metrics(node).get(name, 0) for node in nodes)


def get_json(node, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{node.admin_port}{path}", timeout=5) as answer:
        return json.loads(answer.read())


def test_metrics_and_partitions_api_after_a_broker_is_killed(broker_factory):
    cluster = Cluster(with_admin_listener(broker_factory), settings=SETTINGS)
    try:
        leader_id = cluster.leader()[0]
        cluster.wait_brokers_listed()
        victim = next(n for n in cluster.nodes if n.id != leader_id)
        survivors = [n for n in cluster.nodes if n is not victim]
        other = next(n for n in survivors if n.id != leader_id)
        admin = AdminClient({"bootstrap.servers": survivors[0].bootstrap})
        topics = [NewTopic("wide", num_partitions=3, replication_factor=3),
                  NewTopic("strict", num_partitions=1, replica_assignment=[[victim.id, other.id]],
                           config={"min.insync.replicas": "2"}),
                  NewTopic("solo", num_partitions=1, replica_assignment=[[victim.id]])]
        for future in admin.create_topics(topics, operation_timeout=20).values():
            future.result(timeout=40)
        producer = Producer({"bootstrap.servers": survivors[0].bootstrap, "acks": "all"})
        for i in range(300):
            producer.produce("wide", value=str(i).encode(), partition=i % 3)
        assert producer.flush(30) == 0
        wait_for(lambda: total(cluster.nodes, "sluice_under_replicated_partitions") == 0, 30,
                 "every ISR full")
        wait_for(lambda: total(cluster.nodes, "sluice_follower_max_lag_records") == 0, 30,
                 "followers caught up")
        assert total(cluster.nodes, "sluice_leader_partitions") == 5
        assert total(cluster.nodes, "sluice_offline_partitions") == 0
        assert total(cluster.nodes, "sluice_active_controller") == 1
        shrinks_before = total(survivors, "sluice_isr_shrinks_total")
        elections_before = metrics(cluster.node(leader_id)).get("sluice_leader_elections_total", 0)

        victim.kill9()
        # Traffic: a follower that stops fetching is out of sync only once
        # the leader's log moves past it (Kafka's rule).
        traffic = Producer({"bootstrap.servers": ",".join(n.bootstrap for n in survivors),
                            "acks": "1", "message.timeout.ms": 5000})

        def shrunk():
            for p in range(3):
                traffic.produce("wide", value=b"x", partition=p)
            traffic.poll(0)
            return total(survivors, "sluice_isr_shrinks_total") >= shrinks_before + 1

        wait_for(shrunk, 40, "a leader asked for an ISR shrink")
        # wide: 3 partitions led by the survivors with 2 of 3 in the ISR; strict:
        # ISR of one, below min.insync.replicas=2; solo: no leader at all.
        wait_for(lambda: total(survivors, "sluice_under_replicated_partitions") == 4, 40,
                 "four partitions under-replicated on the survivors")
        scraped = [metrics(n) for n in survivors]
        assert sum(s["sluice_under_min_isr_partitions"] for s in scraped) == 1
        assert sum(s["sluice_leader_partitions"] for s in scraped) == 4
        controller = metrics(cluster.node(leader_id))
        assert controller["sluice_offline_partitions"] == 1
        assert controller["sluice_cluster_under_replicated_partitions"] == 4
        assert controller["sluice_active_controller"] == 1
        # The victim led at least "strict"'s partition (its first replica).
        assert controller["sluice_leader_elections_total"] >= elections_before + 1
        assert sum(s.get("sluice_offline_partitions", 0) for s in scraped) == 1, "only the active one"

        # The partitions admin API and the CLI agree.
        under = get_json(other, "/v1/partitions?filter=under-replicated")
        assert sorted((p["topic"], p["partition"]) for p in under) == \
            [("strict", 0), ("wide", 0), ("wide", 1), ("wide", 2)]
        assert all(p["offline_replicas"] == [victim.id] for p in under)
        offline = get_json(other, "/v1/partitions?filter=offline")
        assert [(p["topic"], p["leader"], p["offline"]) for p in offline] == [("solo", -1, True)]
        both = get_json(other, "/v1/partitions?filter=under-replicated,offline")
        cli = subprocess.run([sluice_bin(), "cluster", "partitions", "--under-replicated",
                              "--offline", "--json", "-b", other.bootstrap],
                             capture_output=True, timeout=60)
        assert cli.returncode == 0, cli.stderr.decode()
        listed = [p for p in json.loads(cli.stdout) if not p["topic"].startswith("__")]
        assert listed == [p for p in both if not p["topic"].startswith("__")]
        table = subprocess.run([sluice_bin(), "cluster", "partitions", "--offline",
                                "-b", other.bootstrap], capture_output=True, timeout=60)
        assert "solo" in table.stdout.decode() and "offline" in table.stdout.decode()
    finally:
        cluster.close()
