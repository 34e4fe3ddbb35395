"""KIP-392 follower fetching between real processes (issue 16, point 2):
3 combined nodes on racks a, b, c with replica.selector.class Kafka's
RackAwareReplicaSelector; a partition led on rack a. The leader names the
follower on rack b as PreferredReadReplica to a consumer on rack b (raw
Fetch v12: no records, the offsets), none to one on rack a or without a
rack; a confluent_kafka consumer with client.rack=b reads the partition
from the follower on rack b (its per-topic bytes-out grows, the leader's
does not). Once that follower is killed, the leader sends rack b's
consumers back to itself: a new consumer on rack b reads from the leader;
the first one, held by librdkafka's 5-minute preferred-replica lease,
carries on when the follower returns."""

import os
import re
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cluster_harness import Cluster, wait_for  # noqa: E402
from conftest import free_port  # noqa: E402

import client_wire as wire  # noqa: E402
import kafka_wire  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "racked"
RACK_AWARE = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
SETTINGS = {"replica.selector.class": RACK_AWARE,
            "broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500",
            "replica.lag.time.max.ms": "5000"}


def isr_of(node):
    try:
        answer = kafka_wire.metadata_v12(node.port, [TOPIC], False)
        return sorted(answer["topics"][TOPIC]["partitions"][0]["isr"])
    except Exception:  # noqa: BLE001 - not answering yet
        return None


def bytes_out(admin_port):
    """sluice_topic_bytes_out_total for TOPIC on the node with this admin port."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    found = re.search(r'^sluice_topic_bytes_out_total\{topic="%s"\} (\S+)$' % TOPIC, text, re.M)
    return float(found.group(1)) if found else 0.0


def test_a_consumer_reads_from_the_follower_in_its_rack(broker_factory):
    admin_ports = {1: free_port(), 2: free_port(), 3: free_port()}
    node_settings = {i: {"broker.rack": rack, "admin.listener": f"127.0.0.1:{admin_ports[i]}"}
                     for i, rack in zip((1, 2, 3), "abc")}
    cluster = Cluster(broker_factory, combined=3, settings=SETTINGS, node_settings=node_settings)
    cluster.leader()
    cluster.wait_brokers_listed()
    leader, follower_b, _follower_c = (cluster.node(i) for i in (1, 2, 3))
    admin = AdminClient({"bootstrap.servers": leader.bootstrap})
    admin.create_topics([NewTopic(TOPIC, num_partitions=1, replica_assignment=[[1, 2, 3]])],
                        operation_timeout=20)[TOPIC].result(timeout=40)
    wait_for(lambda: isr_of(leader) == [1, 2, 3], 30, "an ISR of all three")

    servers = ",".join(n.bootstrap for n in cluster.brokers)
    producer = Producer({"bootstrap.servers": servers, "acks": "all", "linger.ms": 5})
    value = b"x" * 1000
    for i in range(200):
        producer.produce(TOPIC, value=value, key=b"%d" % i, partition=0)
    assert producer.flush(30) == 0
    wait_for(lambda: wire.fetch(follower_b.port, TOPIC, 0, 0)["high_watermark"] == 200, 15,
             "the follower on rack b at the high watermark")

    # The leader's answer: PreferredReadReplica for rack b, no records.
    sent = wire.fetch(leader.port, TOPIC, 0, 0, rack_id="b")
    assert sent["error"] == wire.NONE and sent["preferred_read_replica"] == 2, sent
    assert sent["records"] == b"" and sent["high_watermark"] == 200
    for rack in ("a", "", "z"):
        kept = wire.fetch(leader.port, TOPIC, 0, 0, rack_id=rack)
        assert kept["preferred_read_replica"] == -1 and kept["records"], rack
    # A follower never redirects; it serves the consumer itself.
    served = wire.fetch(follower_b.port, TOPIC, 0, 0, rack_id="b")
    assert served["preferred_read_replica"] == -1 and served["records"]

    leader_before, follower_before = bytes_out(admin_ports[1]), bytes_out(admin_ports[2])
    consumer = Consumer({"bootstrap.servers": servers, "group.id": "racked",
                         "client.rack": "b", "enable.auto.commit": False,
                         "fetch.wait.max.ms": 100})
    consumer.assign([TopicPartition(TOPIC, 0, 0)])
    seen = []

    def consume_until(count, timeout_s):
        deadline = time.monotonic() + timeout_s
        while len(seen) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                seen.append(int(msg.key()))

    consume_until(200, 30)
    assert seen == list(range(200)), seen[:5]
    leader_grew = bytes_out(admin_ports[1]) - leader_before
    follower_grew = bytes_out(admin_ports[2]) - follower_before
    print(f"bytes out while consuming: leader {leader_grew:.0f}, rack-b follower {follower_grew:.0f}")
    assert follower_grew >= 200 * len(value), follower_grew
    assert leader_grew < 200 * len(value) / 10, leader_grew

    # The follower on rack b goes away: the consumer carries on (from the leader).
    follower_b.kill9()
    wait_for(lambda: isr_of(leader) == [1, 3], 30, "the killed follower out of the ISR")
    for i in range(200, 300):
        producer.produce(TOPIC, value=value, key=b"%d" % i, partition=0)
    assert producer.flush(30) == 0
    sent = wire.fetch(leader.port, TOPIC, 0, 200, rack_id="b")
    assert sent["preferred_read_replica"] == -1 and sent["records"], sent
    # A consumer on rack b now reads from the leader.
    leader_before = bytes_out(admin_ports[1])
    fresh = Consumer({"bootstrap.servers": servers, "group.id": "racked-2", "client.rack": "b",
                      "enable.auto.commit": False, "fetch.wait.max.ms": 100})
    fresh.assign([TopicPartition(TOPIC, 0, 0)])
    fresh_seen = []
    deadline = time.monotonic() + 30
    while len(fresh_seen) < 300 and time.monotonic() < deadline:
        msg = fresh.poll(0.2)
        if msg is not None and not msg.error():
            fresh_seen.append(int(msg.key()))
    fresh.close()
    assert fresh_seen == list(range(300)), f"{len(fresh_seen)} records"
    assert bytes_out(admin_ports[1]) - leader_before >= 300 * len(value)
    # The consumer that was on the killed follower: librdkafka (2.0.2, as
    # 2.x) keeps a preferred replica for a 5-minute lease (its
    # rd_kafka_toppar_fetch_decide), whatever the broker says; it carries on
    # once that follower is back and has caught up.
    follower_b.start()
    started = time.monotonic()
    consume_until(300, 60)
    print(f"the first consumer carried on after {time.monotonic() - started:.1f} s")
    assert seen == list(range(300)), f"{len(seen)} records, last {seen[-3:]}"
    consumer.close()
