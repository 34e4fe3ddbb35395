"""Clients ride through a partition leader's kill -9 (issue 16: "librdkafka,
confluent-kafka-python and kafkajs clients ride through leader failover
without application errors"). 3 controllers + 3 brokers (session timeout 3 s);
for each client in turn (confluent-kafka on librdkafka, kafka-python, kafkajs)
a topic of 3 partitions, replication factor 3 and min.insync.replicas=2; the
client produces with acks=all and consumes in a group while the leader of a
partition that is also the group's coordinator is killed with kill -9 and
later restarted (the group must find its new coordinator as well). kafkajs's
debug log goes to $SLUICE_KAFKAJS_LOG when that is set. No send may fail and
no error may reach the application (a retriable error surfaced to it counts);
the Jepsen-style checker counts nothing but duplicates, which producers
without idempotence may store (Sluice has no InitProducerId before issue 17).
ctest cluster_client_failover."""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import Cluster, wait_for  # noqa: E402
from jepsen_checker import History, assert_clean, check  # noqa: E402
from jepsen_workload import (GroupConsumer, KafkaPythonConsumer, KafkaPythonProducer,  # noqa: E402
                             ProducerWorker, acks_all_producer_config, kafkajs_history, read_back,
                             supports_idempotence)
from test_replication_faults import FAST_FENCING, full_isr, partition_states  # noqa: E402

from conftest import REPO_ROOT  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

JS_DIR = os.path.join(REPO_ROOT, "tests", "clients", "js")
PARTITIONS = 3


def create(cluster, topic):
    admin = AdminClient({"bootstrap.servers": cluster.brokers[0].bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=3,
                                  config={"min.insync.replicas": "2"})],
                        operation_timeout=20)[topic].result(timeout=40)
    wait_for(lambda: full_isr(cluster, topic, PARTITIONS), 30, f"full ISRs of {topic}")


def coordinator_of(cluster, group):
    """The broker leading the group's __consumer_offsets partition (Kafka's
    abs(group.hashCode()) % offsets.topic.num.partitions, 50)."""
    h = 0
    for c in group:
        h = (31 * h + ord(c)) & 0xFFFFFFFF
    partition = abs(h - (1 << 32) if h >= 1 << 31 else h) % 50
    return partition_states(cluster, "__consumer_offsets")[partition][0]


def kill_leader_and_restart(cluster, topic, acked_count, group, down_s=8):
    """kill -9 of the leader of a partition of `topic`: the group's
    coordinator when it leads one (the group must find its new coordinator
    too; with three brokers each leading one partition it always does);
    restarted once another leads and the client has had acknowledgements
    after the kill; back in the ISR. Returns (killed id, new leader id, s
    from the kill to the first ack after it)."""
    coordinator = coordinator_of(cluster, group)
    states = partition_states(cluster, topic)
    partition = next((p for p, state in sorted(states.items()) if state[0] == coordinator), 0)
    leader_id = states[partition][0]
    node = cluster.node(leader_id)
    before = acked_count()
    killed_at = time.monotonic()
    node.kill9()
    wait_for(lambda: partition_states(cluster, topic).get(partition, (None,))[0] not in (None, -1, leader_id),
             20, f"a new leader of partition {partition}")
    wait_for(lambda: acked_count() > before + 20, 30, "acknowledgements after the kill")
    resumed = time.monotonic() - killed_at
    new_leader = partition_states(cluster, topic)[partition][0]
    time.sleep(max(0.0, down_s - (time.monotonic() - killed_at)))
    node.start()
    wait_for(lambda: full_isr(cluster, topic, PARTITIONS), 40, "the killed broker back in the ISR")
    print(f"{topic}: leader {leader_id} of partition {partition} killed (group coordinator {coordinator}), "
          f"{new_leader} leads; acks resumed within {resumed:.1f} s")
    return leader_id, new_leader, resumed


def acked_in(history):
    return lambda: sum(1 for s in history.sends if s["outcome"] == "ok")


def finish(cluster, topic, history, producers, consumers, allow):
    """Stops the producers, lets the group poll every acknowledged record,
    reads back and checks."""
    for p in producers:
        p.stop()
    for p in producers:
        p.join(150)
    acked = {s["value"] for s in history.sends if s["outcome"] == "ok"}
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not acked <= set().union(*(c.values for c in consumers)):
        time.sleep(0.2)
    unpolled = acked - set().union(*(c.values for c in consumers))
    for c in consumers:
        c.stop()
    for c in consumers:
        c.join(30)
    read_back(cluster.brokers[0].bootstrap, topic, PARTITIONS, history)
    summary = check(history)
    print(f"{topic}: {summary}")
    errors = [str(e) for w in producers + consumers for e in w.errors]
    assert not errors, f"{topic}: errors reached the application: {errors[:10]}"
    assert not unpolled, f"{topic}: {len(unpolled)} acknowledged records never polled, e.g. {sorted(unpolled)[:5]}"
    assert_clean(summary, allow=allow)
    assert summary["failed"] == 0 and summary["unknown"] == 0 and summary["acked"] > 0, summary


def run_python_client(cluster, topic, group, make_producer, make_consumer, allow):
    create(cluster, topic)
    bootstrap = ",".join(n.bootstrap for n in cluster.brokers)
    history = History()
    producers = [make_producer(bootstrap, history)]
    consumers = [make_consumer(bootstrap, history)]
    for w in consumers + producers:
        w.start()
    wait_for(lambda: acked_in(history)() > 100, 30, "first acknowledgements")
    kill_leader_and_restart(cluster, topic, acked_in(history), group)
    time.sleep(2)
    finish(cluster, topic, history, producers, consumers, allow)


def test_clients_ride_through_a_leader_kill(broker_factory):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (scripts/install-deps installs nodejs)")
    cluster = Cluster(broker_factory, controllers=3, brokers=3, settings=FAST_FENCING)
    try:
        cluster.leader()
        cluster.wait_brokers_listed()
        idempotent = supports_idempotence(cluster.brokers[0].port)
        allow = () if idempotent else ("duplicated",)

        # librdkafka (confluent-kafka): acks=all, idempotent when the broker can.
        run_python_client(
            cluster, "failover-librdkafka", "failover-librdkafka-group",
            lambda b, h: ProducerWorker("rd", acks_all_producer_config(b, idempotent), "failover-librdkafka",
                                        PARTITIONS, h, rate=100),
            lambda b, h: GroupConsumer("rdc", b, "failover-librdkafka", "failover-librdkafka-group", h),
            allow)

        # kafka-python: no idempotence in 2.0.2 (one request in flight).
        run_python_client(
            cluster, "failover-kafka-python", "failover-kafka-python-group",
            lambda b, h: KafkaPythonProducer("kp", b, "failover-kafka-python", PARTITIONS, h, rate=100),
            lambda b, h: KafkaPythonConsumer("kpc", b, "failover-kafka-python", "failover-kafka-python-group", h),
            ("duplicated",))

        run_kafkajs(cluster, node)
    finally:
        cluster.close()


def run_kafkajs(cluster, node):
    topic = "failover-kafkajs"
    create(cluster, topic)
    stop_file = os.path.join(tempfile.mkdtemp(), "stop")
    env = dict(os.environ, SLUICE_BOOTSTRAPS=",".join(n.bootstrap for n in cluster.brokers),
               SLUICE_TOPIC=topic, SLUICE_PARTITIONS=str(PARTITIONS), SLUICE_FAILOVER_STOP=stop_file)
    proc = subprocess.Popen([node, "failover_client.js"], cwd=JS_DIR, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        acks = lambda: sum(1 for line in list(lines) if line.startswith('{"e":"ack"'))  # noqa: E731
        try:
            wait_for(lambda: acks() > 100, 40, "kafkajs's first acknowledgements")
        except pytest.fail.Exception as e:
            pytest.fail(f"{e}; kafkajs's last lines:\n{''.join(lines[-20:])}")
        # The group's coordinator dies too: failover_client.js gives kafkajs's
        # consumer retries that outlast the broker's absence (see there).
        kill_leader_and_restart(cluster, topic, acks, f"{topic}-group")
        time.sleep(2)
        open(stop_file, "w").close()
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    history = History()
    errors, crashes = kafkajs_history(lines, history)
    read_back(cluster.brokers[0].bootstrap, topic, PARTITIONS, history)
    summary = check(history)
    print(f"{topic}: {summary}")
    tail = "".join(lines[-20:])
    assert proc.returncode == 0 and '{"e":"done"}\n' in lines, f"kafkajs client failed:\n{tail}"
    assert not errors and not crashes, f"errors reached kafkajs's application: {errors[:5]} {crashes[:5]}"
    acked = {s["value"] for s in history.sends if s["outcome"] == "ok"}
    polled = {p["value"] for p in history.polls}
    assert acked <= polled, f"{len(acked - polled)} acknowledged records never polled"
    # kafkajs's producer is not idempotent unless asked (and Sluice has no
    # InitProducerId yet): a retried send may be stored twice.
    assert_clean(summary, allow=("duplicated",))
    assert summary["failed"] == 0 and summary["acked"] > 0, summary
