"""Partition reassignment between real processes (issue 16, points 3 and 5):
1 controller + 4 brokers; a partition of replication factor 2 on the first two
brokers moves to the other two with `sluice partition reassign --execute`
(sent to a broker that is not the controller: forwarded) while an acks=all
producer keeps sending; `--verify` shows the progress until it completes;
then the new replicas lead and hold every acknowledged record, the old
brokers have deleted their logs, and `topic describe` / `cluster partitions`
show the new state. A cancel without a reassignment answers Kafka's
NO_REASSIGNMENT_IN_PROGRESS; `partition elect-leaders` is the ElectLeaders
tool under its new name."""

import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import Cluster, wait_for  # noqa: E402
from conftest import sluice_bin  # noqa: E402

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

SETTINGS = {"broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500",
            "replica.lag.time.max.ms": "5000"}
TOPIC = "moving"


def sluice(node, *args, timeout=60):
    return subprocess.run([sluice_bin(), *args, "-b", node.bootstrap], capture_output=True,
                          timeout=timeout)


def partition_state(node, topic=TOPIC):
    """(leader, replicas, isr) of partition 0 in `node`'s Metadata (None: no answer)."""
    try:
        metadata = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(topic, timeout=5)
        partition = metadata.topics[topic].partitions[0]
        return partition.leader, list(partition.replicas), sorted(partition.isrs)
    except Exception:  # noqa: BLE001 - not answering yet
        return None


def write_plan(tmp_path, replicas):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": TOPIC, "partition": 0, "replicas": replicas}]}))
    return str(plan)


def test_reassign_a_partition_to_other_brokers_while_producing(broker_factory, tmp_path):
    cluster = Cluster(broker_factory, controllers=1, brokers=4, settings=SETTINGS)
    try:
        cluster.leader()
        cluster.wait_brokers_listed()
        old_a, old_b, new_a, new_b = cluster.brokers
        admin = AdminClient({"bootstrap.servers": new_a.bootstrap})
        topic = NewTopic(TOPIC, num_partitions=1, replica_assignment=[[old_a.id, old_b.id]],
                         config={"min.insync.replicas": "2"})
        admin.create_topics([topic], operation_timeout=20)[TOPIC].result(timeout=40)
        wait_for(lambda: (partition_state(new_a) or (0, 0, []))[2] == sorted([old_a.id, old_b.id]),
                 20, "an ISR of both replicas")
        plan = write_plan(tmp_path, [new_a.id, new_b.id])

        # Nothing to cancel yet: Kafka's error, exit 1, one line.
        cancel = sluice(new_b, "partition", "reassign", "--plan", plan, "--cancel")
        assert cancel.returncode == 1
        assert b"NO_REASSIGNMENT_IN_PROGRESS" in cancel.stderr, cancel.stderr

        acked, failed = [], []
        lock = threading.Lock()
        stop = threading.Event()

        def delivered(err, msg):
            with lock:
                (failed if err else acked).append(int(msg.value()))

        def produce():
            producer = Producer({"bootstrap.servers": ",".join(n.bootstrap for n in cluster.brokers),
                                 "acks": "all", "linger.ms": 5, "message.timeout.ms": 60000,
                                 "retry.backoff.ms": 100,
                                 "max.in.flight.requests.per.connection": 1})
            i = 0
            while not stop.is_set():
                producer.produce(TOPIC, value=str(i).encode(), partition=0, on_delivery=delivered)
                producer.poll(0.002)
                i += 1
                if i % 200 == 0:
                    producer.flush(30)
            assert producer.flush(90) == 0, "records still unacknowledged"

        thread = threading.Thread(target=produce)
        thread.start()
        try:
            wait_for(lambda: len(acked) > 2000, 60, "the producer under way")
            # Sent to a broker that is neither controller nor replica: forwarded.
            execute = sluice(new_b, "partition", "reassign", "--plan", plan, "--execute")
            assert execute.returncode == 0, execute.stderr.decode()
            out = execute.stdout.decode()
            assert "Current partition replica assignment" in out, out
            assert f'"replicas":[{old_a.id},{old_b.id}]' in out, out
            assert f"Successfully started partition reassignment(s) for {TOPIC}-0" in out, out

            seen_states = set()

            def verified():
                done = sluice(old_a, "partition", "reassign", "--plan", plan, "--verify", "--json")
                assert done.returncode == 0, done.stderr.decode()
                answer = json.loads(done.stdout)
                seen_states.add(answer["partitions"][0]["state"])
                return answer["complete"]

            wait_for(verified, 60, "the reassignment completed")
            text = sluice(old_a, "partition", "reassign", "--plan", plan, "--verify")
            assert f"Reassignment of partition {TOPIC}-0 is completed." in text.stdout.decode()
            count = len(acked)
            wait_for(lambda: len(acked) > count + 300, 30, "producing on after the move")
        finally:
            stop.set()
            thread.join(120)
        print(f"acked {len(acked)}, failed {len(failed)}; verify states {seen_states}")

        leader, replicas, isr = partition_state(new_a)
        assert replicas == [new_a.id, new_b.id]
        assert isr == sorted([new_a.id, new_b.id])
        assert leader in (new_a.id, new_b.id)

        # Every acknowledged record is on the new replicas.
        consumer = Consumer({"bootstrap.servers": new_a.bootstrap, "group.id": "checker",
                             "enable.auto.commit": False})
        consumer.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
        seen = set()
        wanted = set(acked)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not wanted <= seen:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                seen.add(int(msg.value()))
        consumer.close()
        lost = wanted - seen
        assert not lost, f"{len(lost)} acknowledged records lost, e.g. {sorted(lost)[:10]}"

        # The old replicas' logs are gone; the new ones have theirs.
        def log_dir(node):
            return os.path.join(node.data_dir, f"{TOPIC}-0")
        wait_for(lambda: not os.path.exists(log_dir(old_a)) and not os.path.exists(log_dir(old_b)),
                 20, "the old replicas' logs deleted")
        assert os.path.isdir(log_dir(new_a)) and os.path.isdir(log_dir(new_b))

        described = json.loads(sluice(old_b, "topic", "describe", TOPIC, "--json").stdout)
        part = described["partitions"][0]
        assert part["replicas"] == [new_a.id, new_b.id]
        assert part["adding_replicas"] == [] and part["removing_replicas"] == []
        assert part["offline_replicas"] == []

        listed = sluice(new_a, "cluster", "partitions", "--under-replicated", "--offline", "--json")
        assert listed.returncode == 0, listed.stderr.decode()
        assert [p for p in json.loads(listed.stdout) if p["topic"] == TOPIC] == []

        # Leadership back to the first target replica: the tool under its new name.
        elect = sluice(new_b, "partition", "elect-leaders", "--election-type", "preferred",
                       "--topic", TOPIC, "--json")
        assert elect.returncode == 0, elect.stderr.decode()
        wait_for(lambda: (partition_state(new_a) or (None,))[0] == new_a.id, 20,
                 "the preferred replica leads")
    finally:
        cluster.close()


def test_describe_and_list_show_a_move_in_progress_and_offline_replicas(broker_factory, tmp_path):
    """A move to a broker that is down stays in progress (adding/removing shown,
    the broker offline), and a cancel reverts it."""
    cluster = Cluster(broker_factory, controllers=1, brokers=3, settings=SETTINGS)
    try:
        cluster.leader()
        cluster.wait_brokers_listed()
        first, second, down = cluster.brokers
        admin = AdminClient({"bootstrap.servers": first.bootstrap})
        admin.create_topics([NewTopic(TOPIC, num_partitions=1,
                                      replica_assignment=[[first.id, second.id]])],
                            operation_timeout=20)[TOPIC].result(timeout=40)
        wait_for(lambda: (partition_state(first) or (0, 0, []))[2] == sorted([first.id, second.id]),
                 20, "an ISR of both replicas")
        down.kill9()
        wait_for(lambda: down.id not in (cluster.brokers_seen_by(first) or {down.id}), 20, "the third broker fenced")
        plan = write_plan(tmp_path, [first.id, down.id])
        execute = sluice(second, "partition", "reassign", "--plan", plan, "--execute")
        assert execute.returncode == 0, execute.stderr.decode()
        again = sluice(second, "partition", "reassign", "--plan", plan, "--execute")
        assert again.returncode == 1 and b"existing partition assignment" in again.stderr

        verify = json.loads(sluice(first, "partition", "reassign", "--plan", plan, "--verify",
                                   "--json").stdout)
        state = verify["partitions"][0]
        assert verify["complete"] is False and state["state"] == "in_progress", verify
        assert state["adding"] == [down.id] and state["removing"] == [second.id]

        part = json.loads(sluice(first, "topic", "describe", TOPIC, "--json").stdout)["partitions"][0]
        assert part["replicas"] == [first.id, down.id, second.id]
        assert part["adding_replicas"] == [down.id] and part["removing_replicas"] == [second.id]
        assert part["offline_replicas"] == [down.id]
        table = sluice(first, "topic", "describe", TOPIC).stdout.decode()
        assert "ADDING" in table and "OFFLINE" in table, table

        listed = json.loads(sluice(first, "cluster", "partitions", "--under-replicated",
                                   "--json").stdout)
        mine = [p for p in listed if p["topic"] == TOPIC]
        assert len(mine) == 1 and mine[0]["under_replicated"] and mine[0]["adding_replicas"] == [down.id]

        cancel = sluice(first, "partition", "reassign", "--plan", plan, "--cancel")
        assert cancel.returncode == 0, cancel.stderr.decode()
        wait_for(lambda: (partition_state(first) or (0, []))[1] == [first.id, second.id], 20,
                 "the cancel reverted the replicas")
        assert json.loads(sluice(first, "partition", "reassign", "--plan", plan, "--verify",
                                 "--json").stdout)["partitions"][0]["state"] == "mismatch"
    finally:
        cluster.close()
