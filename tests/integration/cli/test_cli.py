"""`sluice topic|produce|consume|group|config|cluster|records` against a real broker, each
effect checked through an independent client (confluent-kafka-python's AdminClient,
Producer and Consumer, or kcat), `--json` output parsed; and the one-line errors."""

import json
import subprocess

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from conftest import harness

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
TIMEOUT_S = 30


def sluice(broker, *args, input_bytes=None, check=True, timeout_s=60):
    """Runs `sluice <args> -b <broker>`; returns the CompletedProcess."""
    cmd = [harness.sluice_bin(), *args]
    if broker is not None:
        cmd += ["-b", broker.bootstrap]
    p = subprocess.run(cmd, input=input_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout_s)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr.decode(errors='replace')}")
    return p


def sluice_json(broker, *args):
    return json.loads(sluice(broker, *args, "--json").stdout)


def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create_topic(broker, partitions=1):
    topic = harness.unique_topic("cli")
    client = admin(broker)  # kept alive until the result
    client.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=TIMEOUT_S)
    return topic


def topic_configs(broker, topic):
    client = admin(broker)
    resource = ConfigResource("topic", topic)
    entries = client.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
    return {name: entry.value for name, entry in entries.items()}


def assert_one_line_error(p, *words):
    assert p.returncode != 0
    assert p.stdout == b""
    lines = p.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], lines[0]


# --- topic ---

def test_topic_create_list_describe_delete(module_broker):
    topic = harness.unique_topic("cli")
    sluice(module_broker, "topic", "create", topic, "-p", "3", "-r", "1", "--config", "retention.ms=123456")
    seen = admin(module_broker).list_topics(timeout=TIMEOUT_S).topics
    assert topic in seen and len(seen[topic].partitions) == 3
    assert topic_configs(module_broker, topic)["retention.ms"] == "123456"

    listed = sluice_json(module_broker, "topic", "list")
    assert [t["name"] for t in listed] == sorted(t["name"] for t in listed)
    entry = next(t for t in listed if t["name"] == topic)
    assert entry["partitions"] == 3 and entry["replication_factor"] == 1 and entry["internal"] is False
    assert len(entry["topic_id"]) == 22  # Kafka's base64url Uuid, as kafka-topics.sh prints it
    assert any(t["name"] == "__consumer_offsets" and t["internal"] for t in listed)

    producer = Producer({"bootstrap.servers": module_broker.bootstrap})
    for i in range(5):
        producer.produce(topic, value=b"x", partition=1)
    assert producer.flush(TIMEOUT_S) == 0
    described = sluice_json(module_broker, "topic", "describe", topic)
    assert described["name"] == topic and described["topic_id"] == entry["topic_id"]
    assert [p["partition"] for p in described["partitions"]] == [0, 1, 2]
    assert [p["log_end_offset"] for p in described["partitions"]] == [0, 5, 0]
    assert all(p["leader"] == 1 and p["replicas"] == [1] and p["isr"] == [1] for p in described["partitions"])
    assert described["configs"]["retention.ms"] == "123456"
    assert described["configs"]["cleanup.policy"] == "delete"
    table = sluice(module_broker, "topic", "describe", topic).stdout.decode()
    assert "retention.ms" in table and "123456" in table

    sluice(module_broker, "topic", "delete", topic)
    assert topic not in admin(module_broker).list_topics(timeout=TIMEOUT_S).topics


def test_topic_alter_and_add_partitions(module_broker):
    topic = create_topic(module_broker, partitions=2)
    sluice(module_broker, "topic", "alter", topic, "--config", "retention.ms=98765",
           "--config", "cleanup.policy=compact")
    configs = topic_configs(module_broker, topic)
    assert configs["retention.ms"] == "98765" and configs["cleanup.policy"] == "compact"
    sluice(module_broker, "topic", "alter", topic, "--delete-config", "cleanup.policy")
    assert topic_configs(module_broker, topic)["cleanup.policy"] == "delete"

    sluice(module_broker, "topic", "add-partitions", topic, "3")
    assert len(admin(module_broker).list_topics(topic, timeout=TIMEOUT_S).topics[topic].partitions) == 5


def test_topic_errors_are_one_line(module_broker):
    missing = harness.unique_topic("missing")
    assert_one_line_error(sluice(module_broker, "topic", "describe", missing, check=False), missing)
    assert_one_line_error(sluice(module_broker, "topic", "delete", missing, check=False), missing)
    topic = create_topic(module_broker)
    assert_one_line_error(sluice(module_broker, "topic", "alter", topic, "--config", "retention.ms=abc",
                                 check=False), "retention.ms", "INVALID_CONFIG")
    assert_one_line_error(sluice(module_broker, "topic", "create", topic, check=False), "already exists")


def test_unreachable_broker_and_bad_flags():
    dead = f"127.0.0.1:{harness.free_port()}"
    for args in (["topic", "list"], ["topic", "describe", "x"], ["topic", "create", "x"]):
        p = sluice(None, *args, "-b", dead, "--timeout", "2", check=False)
        assert_one_line_error(p, "reach", dead)
    assert_one_line_error(sluice(None, "topic", "list", "--no-such-flag", check=False), "no-such-flag")
    assert_one_line_error(sluice(None, "topic", "create", check=False), "topic")
