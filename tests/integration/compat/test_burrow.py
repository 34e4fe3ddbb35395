"""Burrow 1.2 (Debian's burrow package) monitoring a Sluice broker: its lag
over HTTP equals the lag the test set up.

Burrow 1.2 keeps its own state in ZooKeeper, so the test starts one (Debian's
zookeeper jar, own port and data dir). Its client profile says
kafka-version "2.1.0", the newest Burrow 1.2 accepts, as a user of a Kafka
2.x/3.x cluster sets it (an unknown version such as "3.0.0" makes Burrow panic
at start). Whatever that setting, Burrow 1.2 asks for log end offsets with
ListOffsets v0 only; it reads the group's commits from __consumer_offsets
(Fetch v4), decoding the records itself: offset commit values of versions 0,
1 and 3, group metadata values of versions 0 and 1 only (Kafka 3.9 writes
version 3, as Sluice does, so Burrow 1.2 logs those as undecodable against
either and reports no owners; the lag comes from the offset commits alone).
"""

import json
import os

import pytest
from confluent_kafka import Consumer, TopicPartition

import kafka_wire
from conftest import kcat_bin, run, unique_topic
from programs import (Background, RequestRecorder, ZooKeeper, create_topic, free_port, http_json, program,
                      wait_until)

CLUSTER = "sluice"
PRODUCED = {0: 10, 1: 10, 2: 10}
COMMITTED = {0: 4, 1: 7, 2: 10}
EXPECTED_LAG = {p: PRODUCED[p] - COMMITTED[p] for p in PRODUCED}  # 6 + 3 + 0

BURROW_CONFIG = """\
[general]
pidfile="{workdir}/burrow.pid"
access-control-allow-origin="*"

[logging]
level="info"

[zookeeper]
servers=["{zookeeper}"]
timeout=6
root-path="/burrow"

[client-profile.sluice]
client-id="burrow-test"
kafka-version="2.1.0"

[cluster.{cluster}]
class-name="kafka"
servers=["{bootstrap}"]
client-profile="sluice"
topic-refresh=1
offset-refresh=1

[consumer.{cluster}]
class-name="kafka"
cluster="{cluster}"
servers=["{bootstrap}"]
client-profile="sluice"
offsets-topic="__consumer_offsets"
start-latest=false

[httpserver.default]
address="127.0.0.1:{http_port}"

[storage.default]
class-name="inmemory"
workers=2
intervals=10
expire-group=604800
min-distance=1

[evaluator.default]
class-name="caching"
expire-cache=1
"""


@pytest.fixture
def burrow_and_broker(broker_factory, tmp_path):
    """A broker, a ZooKeeper and a Burrow watching the broker through a
    RequestRecorder; yields (broker, Burrow, Burrow's HTTP base URL, recorder)."""
    recorder = RequestRecorder()
    broker = broker_factory({"group.initial.rebalance.delay.ms": "0",
                             "advertised.listeners": f"PLAINTEXT://{recorder.address}"}, start=False)
    recorder.broker_port = broker.port
    broker.start()
    workdir = str(tmp_path)
    started = []
    try:
        zookeeper = ZooKeeper(workdir)
        started.append(zookeeper)
        # Burrow's consumer module reads __consumer_offsets from its start: the
        # first coordinator lookup makes the broker create it, as Kafka does.
        error, _ = kafka_wire.find_coordinator(broker.port, "burrow-test-setup")
        assert error == kafka_wire.ERR_NONE, f"FindCoordinator answered {error}"
        http_port = free_port()
        config_dir = os.path.join(workdir, "burrow-config")
        os.makedirs(config_dir)
        with open(os.path.join(config_dir, "burrow.toml"), "w") as f:
            f.write(BURROW_CONFIG.format(workdir=workdir, zookeeper=zookeeper.address, cluster=CLUSTER,
                                         bootstrap=recorder.address, http_port=http_port))
        burrow = Background("burrow", [program("Burrow", "/usr/bin/Burrow"), "-config-dir", config_dir], workdir)
        started.append(burrow)
        url = f"http://127.0.0.1:{http_port}"
        wait_until("Burrow's HTTP server", lambda: burrow.check_alive() or http_json(f"{url}/v3/kafka"),
                   30, on_timeout=burrow.log)
        yield broker, burrow, url, recorder
    except BaseException:
        for process in started:
            print(f"\n===== {process.name} log =====\n{process.log()}")
        raise
    finally:
        for process in reversed(started):
            process.stop()
        recorder.close()


def produce(broker, topic):
    for partition, count in PRODUCED.items():
        lines = "".join(f"p{partition}-{i}\n" for i in range(count))
        run([kcat_bin(), "-P", "-b", broker.bootstrap, "-t", topic, "-p", str(partition)],
            input_bytes=lines.encode())


def commit_as_member(broker, group, topic):
    """A librdkafka member joins the group (so the coordinator writes group
    metadata records too), commits COMMITTED and leaves."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([topic])
        wait_until("the member's assignment", lambda: (consumer.poll(0.2), consumer.assignment())[1], 30)
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in COMMITTED.items()], asynchronous=False)
    finally:
        consumer.close()


def decode_failures(log_path):
    """Burrow's "failed to decode" warnings about __consumer_offsets records."""
    failures = []
    with open(log_path, errors="replace") as f:
        for line in f:
            if '"failed to decode"' in line:
                entry = json.loads(line)
                failures.append({k: entry.get(k) for k in ("message_type", "reason", "version")})
    return failures


def test_burrow_reports_the_lag_of_a_group(burrow_and_broker):
    broker, burrow, url, recorder = burrow_and_broker
    topic = unique_topic("burrow")
    group = unique_topic("burrow-group")
    create_topic(broker, topic, len(PRODUCED))
    produce(broker, topic)

    # Burrow stores a commit only for a partition whose log end offset it
    # knows: wait until its cluster module has them (ListOffsets v0).
    def topic_offsets():
        burrow.check_alive()
        answer = http_json(f"{url}/v3/kafka/{CLUSTER}/topic/{topic}")
        return answer and answer.get("offsets") == [PRODUCED[p] for p in sorted(PRODUCED)] and answer["offsets"]
    wait_until(f"Burrow to know the log end offsets of {topic}", topic_offsets, 30, on_timeout=burrow.log)
    assert recorder.versions().get("ListOffsets", [])[:1] == [0], recorder.versions()

    commit_as_member(broker, group, topic)

    def lag():
        burrow.check_alive()
        answer = http_json(f"{url}/v3/kafka/{CLUSTER}/consumer/{group}/lag")
        if not answer or answer.get("error"):
            return None
        status = answer["status"]
        by_partition = {p["partition"]: p["current_lag"] for p in status["partitions"] if p["topic"] == topic}
        return status if by_partition == EXPECTED_LAG else None
    status = wait_until(f"Burrow to report the lag of {group}", lag, 30, on_timeout=burrow.log)

    assert status["totallag"] == sum(EXPECTED_LAG.values())
    ends = {p["partition"]: p["end"]["offset"] for p in status["partitions"]}
    assert ends == COMMITTED
    # (Burrow's status words are not checked: one commit, then silence, reads
    # as STALL or STOP for the lagging partitions depending on timing.)

    # Every offset commit record decoded; what Burrow 1.2 cannot decode is only
    # the GroupMetadataValue version Kafka 3.9 writes too (3).
    unexpected = [f for f in decode_failures(burrow.log_path)
                  if f != {"message_type": "metadata", "reason": "value version", "version": 3}]
    assert unexpected == [], unexpected
