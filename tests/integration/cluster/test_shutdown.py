"""Controlled shutdown on SIGTERM (issue 15 point 3: "a broker asks, the
controller moves leadership away, then the broker stops"), with real
processes: the image seen through another node shows no partition led by the
stopping broker before its process exits; an active controller that stops
resigns so another voter leads at once; a broker with no controller left
still stops promptly."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import FAST_FENCING, make_cluster, wait_for  # noqa: E402,F401

from confluent_kafka import KafkaException  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


def leaders_seen_by(node, topic):
    """{partition: leader id} in `node`'s Metadata (None while it cannot answer)."""
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    try:
        metadata = admin.list_topics(topic=topic, timeout=5)
    except KafkaException:
        return None
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        return None
    return {p.id: p.leader for p in found.partitions.values()}


def create_replicated_topic(node, name, partitions):
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=3)],
                                  operation_timeout=20, request_timeout=30)
    futures[name].result(timeout=40)


def sigterm(node):
    node.process.stopped_on_purpose = True
    node.process.proc.send_signal(signal.SIGTERM)
    return time.monotonic()


def wait_exit(node, timeout_s):
    code = node.process.proc.wait(timeout=timeout_s)
    node.process.exit_codes.append(code)
    return code


def test_sigterm_moves_leadership_away_before_the_broker_exits(make_cluster):
    # Heartbeats every 500 ms: the controller lets a broker go once every other
    # active broker has heartbeated past the records that moved its leadership.
    cluster = make_cluster(controllers=3, brokers=3, settings=FAST_FENCING)
    cluster.leader()
    cluster.wait_brokers_listed()
    observer = cluster.brokers[0]
    create_replicated_topic(observer, "moving", partitions=6)
    wait_for(lambda: leaders_seen_by(observer, "moving") is not None and
             -1 not in leaders_seen_by(observer, "moving").values(), 20, "topic 'moving' led everywhere")
    # The broker stopped is one that leads partitions, seen by another broker.
    led = leaders_seen_by(observer, "moving")
    victim = next(n for n in cluster.brokers[1:] if n.id in led.values())
    before = sorted(p for p, leader in led.items() if leader == victim.id)

    started = sigterm(victim)
    moved_at = None
    while victim.alive():
        seen = leaders_seen_by(observer, "moving")
        if moved_at is None and seen is not None and victim.id not in seen.values():
            moved_at = time.monotonic()
            moved = seen
        time.sleep(0.02)
    exited_at = time.monotonic()
    code = wait_exit(victim, 1)
    print(f"broker {victim.id} led partitions {before}; SIGTERM -> none led by it after "
          f"{(moved_at or exited_at) - started:.2f} s, exit {code} after {exited_at - started:.2f} s")
    assert moved_at is not None, f"broker {victim.id} exited while still leading a partition"
    assert all(moved[p] not in (victim.id, -1) for p in before), moved
    assert code == 0
    assert exited_at - started < 8
    assert "controlled shutdown completed" in victim.logs()
    # The controller fenced it as it left: the others no longer list it.
    wait_for(lambda: cluster.brokers_seen_by(observer) == {n.id for n in cluster.brokers if n.alive()},
             10, "the stopped broker leaves Metadata")


def test_sigterm_of_the_active_controller_hands_leadership_over_at_once(make_cluster):
    cluster = make_cluster(combined=3, settings=FAST_FENCING)
    leader, epoch = cluster.agreed_leader()
    cluster.wait_brokers_listed()
    node = cluster.node(leader)
    started = sigterm(node)
    new_leader, new_epoch = cluster.leader(timeout_s=10, exclude=(leader,))
    elected_at = time.monotonic()
    code = wait_exit(node, 10)
    log = node.logs()
    resign_line = next((line for line in log.splitlines() if "quorum leadership resigned" in line), "")
    print(f"SIGTERM of active controller {leader}: node {new_leader} leads epoch {new_epoch} "
          f"{elected_at - started:.2f} s later (controlled shutdown of its broker included); "
          f"log: {resign_line.strip()}")
    assert code == 0
    assert new_leader != leader and new_epoch > epoch
    assert f"node {new_leader} leads after" in resign_line
    # The election itself, after the resignation: about a second at most.
    resigned_ms = int(resign_line.split("leads after ")[1].split(" ms")[0])
    assert resigned_ms < 1500, resign_line


def test_a_broker_without_any_controller_still_stops_promptly(make_cluster):
    cluster = make_cluster(controllers=3, brokers=1, settings=FAST_FENCING)
    cluster.leader()
    cluster.wait_brokers_listed()
    for node in cluster.controllers:
        assert node.stop() == 0
    broker = cluster.brokers[0]
    started = sigterm(broker)
    code = wait_exit(broker, 8)
    took = time.monotonic() - started
    print(f"broker without controllers stopped in {took:.2f} s")
    assert code == 0 and took < 5
    assert "no active controller" in broker.logs()
