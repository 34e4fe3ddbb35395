"""Faults in clusters of real processes on loopback (issue 15, "Real processes
on loopback"): 3 controllers + 3 brokers through kill -9 of the active
controller and of a broker (fenced, then back); a whole-cluster restart; a
link cut and healed through a fault-injecting proxy; kcat, AdminClient and a
producer/consumer against every node."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import FAST_FENCING, create_topic, make_cluster, wait_for  # noqa: E402,F401

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402
from kafka import KafkaAdminClient  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource  # noqa: E402


def wait_topics_everywhere(cluster, names, timeout_s=20, nodes=None):
    for node in nodes or [n for n in cluster.brokers if n.alive()]:
        wait_for(lambda: set(names) <= cluster.topics_on(node), timeout_s,
                 f"topics {sorted(names)} not all visible through node {node.id}")


def controllers_and_brokers(make_cluster):
    cluster = make_cluster(controllers=3, brokers=3, settings=FAST_FENCING)
    cluster.leader()
    return cluster, cluster.wait_brokers_listed()


def test_topics_created_through_any_broker_appear_on_all(make_cluster):
    cluster, _ = controllers_and_brokers(make_cluster)
    # Created through each broker in turn: forwarded to the active controller.
    names = [f"via-{node.id}" for node in cluster.brokers]
    for node, name in zip(cluster.brokers, names):
        create_topic(node, name)
    wait_topics_everywhere(cluster, names)


def test_killing_the_active_controller_hands_over_to_another(make_cluster):
    cluster, broker_ids = controllers_and_brokers(make_cluster)
    leader, epoch = cluster.leader()
    create_topic(cluster.brokers[0], "before-kill")
    killed_at = time.monotonic()
    cluster.node(leader).kill9()
    new_leader, new_epoch = cluster.leader(exclude=(leader,))
    print(f"controller {new_leader} leads in epoch {new_epoch} "
          f"{time.monotonic() - killed_at:.2f} s after kill -9 of {leader}")
    assert new_leader != leader and new_epoch > epoch
    # Each broker forwards to the new controller, and none is fenced meanwhile.
    for node in cluster.brokers:
        create_topic(node, f"after-kill-via-{node.id}", timeout_s=15)
    for node in cluster.brokers:
        assert cluster.brokers_seen_by(node) == broker_ids, f"node {node.id}"
    wait_topics_everywhere(cluster, ["before-kill"] + [f"after-kill-via-{n.id}" for n in cluster.brokers])


def test_killed_broker_is_fenced_and_returns_after_restart(make_cluster):
    cluster, broker_ids = controllers_and_brokers(make_cluster)
    create_topic(cluster.brokers[0], "kept")
    victim = cluster.brokers[1]
    others = [n for n in cluster.brokers if n is not victim]
    killed_at = time.monotonic()
    victim.kill9()
    # broker.session.timeout.ms (3 s) plus the time Metadata takes to reach each broker.
    for node in others:
        wait_for(lambda: cluster.brokers_seen_by(node) == broker_ids - {victim.id}, 8,
                 f"broker {victim.id} not fenced in node {node.id}'s Metadata")
    print(f"broker {victim.id} fenced {time.monotonic() - killed_at:.2f} s after kill -9")
    victim.start()
    for node in cluster.brokers:
        wait_for(lambda: cluster.brokers_seen_by(node) == broker_ids, 30,
                 f"restarted broker {victim.id} not back in node {node.id}'s Metadata")
    wait_topics_everywhere(cluster, ["kept"])


def test_whole_cluster_restart_keeps_topics_and_configs(make_cluster):
    cluster = make_cluster(combined=3)
    cluster.leader()
    cluster.wait_brokers_listed()
    create_topic(cluster.node(1), "kept-a", partitions=3, config={"retention.ms": "123456"})
    create_topic(cluster.node(2), "kept-b", partitions=1, config={"cleanup.policy": "compact"})
    wait_topics_everywhere(cluster, ["kept-a", "kept-b"])
    for node in cluster.nodes:
        assert node.stop() == 0, node.logs()
    cluster.start_all()
    cluster.leader()
    cluster.wait_brokers_listed()
    wait_topics_everywhere(cluster, ["kept-a", "kept-b"])
    for node in cluster.nodes:
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        md = admin.list_topics(timeout=10)
        assert len(md.topics["kept-a"].partitions) == 3 and len(md.topics["kept-b"].partitions) == 1
        resources = [ConfigResource("topic", "kept-a"), ConfigResource("topic", "kept-b")]
        got = {r.name: f.result(timeout=20) for r, f in admin.describe_configs(resources).items()}
        assert got["kept-a"]["retention.ms"].value == "123456", f"node {node.id}"
        assert got["kept-b"]["cleanup.policy"].value == "compact", f"node {node.id}"


def test_link_cut_and_healed(make_cluster):
    # Nodes 1 and 3 reach each other only through two proxies (one per direction).
    cluster = make_cluster(combined=3, proxied=[(1, 3)])
    cluster.agreed_leader()
    cluster.wait_brokers_listed()
    create_topic(cluster.node(2), "before-cut")
    for proxy in cluster.link(1, 3):
        proxy.cut()
    # Node 2 still reaches both: the connected majority keeps (or regains) a leader.
    cut_at = time.monotonic()
    while time.monotonic() - cut_at < 4:
        cluster.leader(timeout_s=15)
        time.sleep(0.5)
    leader, epoch = cluster.leader(timeout_s=15)
    create_topic(cluster.node(2), "during-cut")
    for proxy in cluster.link(1, 3):
        proxy.heal()
    leader, epoch = cluster.agreed_leader(timeout_s=30)
    cluster.wait_brokers_listed(timeout_s=30)
    print(f"after heal: leader {leader} epoch {epoch}")
    wait_topics_everywhere(cluster, ["before-cut", "during-cut"], timeout_s=30)
    create_topic(cluster.node(1), "after-heal")
    create_topic(cluster.node(3), "after-heal-3")
    wait_topics_everywhere(cluster, ["before-cut", "during-cut", "after-heal", "after-heal-3"])


def kcat_metadata(node):
    done = subprocess.run(["kcat", "-b", node.bootstrap, "-L", "-J", "-m", "10"],
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def test_clients_agree_on_every_node(make_cluster):
    cluster = make_cluster(combined=3)
    cluster.agreed_leader()
    ids = cluster.wait_brokers_listed()
    controllers = set()
    for node in cluster.brokers:
        md = kcat_metadata(node)
        assert {b["id"] for b in md["brokers"]} == ids, md
        # Debian's confluent-kafka (1.7) has no describe_cluster: kafka-python's
        # KafkaAdminClient.describe_cluster and confluent-kafka's list_topics stand in.
        admin = KafkaAdminClient(bootstrap_servers=node.bootstrap)
        try:
            described = admin.describe_cluster()
        finally:
            admin.close()
        assert {b["node_id"] for b in described["brokers"]} == ids, described
        assert described["cluster_id"] == cluster.cluster_id, described
        md_confluent = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(timeout=10)
        assert set(md_confluent.brokers) == ids
        assert md_confluent.cluster_id == cluster.cluster_id
        controllers |= {described["controller_id"], md["controllerid"], md_confluent.controller_id}
    # As in Kafka's KRaft mode, the controller clients see is a live broker
    # (clients cannot reach the quorum's controllers): each node may name another.
    assert controllers <= ids, controllers

    for node in cluster.brokers:
        topic = f"records-via-{node.id}"
        create_topic(node, topic, partitions=1)
        wait_topics_everywhere(cluster, [topic])
        producer = Producer({"bootstrap.servers": node.bootstrap})
        for i in range(5):
            producer.produce(topic, key=str(i), value=f"value-{i}")
        assert producer.flush(30) == 0
        # Assigned, not subscribed: consumer groups across nodes are not this test's subject.
        consumer = Consumer({"bootstrap.servers": node.bootstrap, "group.id": f"g-{node.id}",
                             "enable.auto.commit": False})
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        got, errors = [], []
        deadline = time.monotonic() + 30
        while len(got) < 5 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error():
                errors.append(str(msg.error()))
            elif msg is not None:
                got.append(msg.value().decode())
        consumer.close()
        assert got == [f"value-{i}" for i in range(5)], f"through node {node.id}: {got}, errors {errors}"
