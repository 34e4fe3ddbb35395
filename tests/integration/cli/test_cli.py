"""`sluice topic|produce|consume|group|config|cluster|records` against a real broker, each
effect checked through an independent client (confluent-kafka-python's AdminClient,
Producer and Consumer, or kcat), `--json` output parsed; and the one-line errors."""

import json
import select
import signal
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

import conftest as harness
import kafka_wire

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
    assert not any(t["name"] == "__consumer_offsets" for t in listed), "created by the first group lookup"
    assert kafka_wire.find_coordinator(module_broker.port, "cli-lookup")[0] == kafka_wire.ERR_NONE
    listed = sluice_json(module_broker, "topic", "list")
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
    commands = (["topic", "list"], ["topic", "describe", "x"], ["topic", "create", "x"],
                ["topic", "delete", "x"], ["topic", "alter", "x", "--config", "retention.ms=1"],
                ["topic", "add-partitions", "x", "1"], ["produce", "x"], ["consume", "x", "-n", "1"],
                ["group", "list"], ["group", "describe", "g"], ["group", "delete", "g"],
                ["group", "reset-offsets", "g", "--topic", "x", "--to-earliest"],
                ["config", "get", "--topic", "x"], ["config", "set", "--broker", "1", "--config", "a=b"],
                ["cluster", "info"], ["records", "delete", "x:0:1"])
    for args in commands:
        started = time.monotonic()
        p = sluice(None, *args, "-b", dead, "--timeout", "1", input_bytes=b"line\n", check=False)
        assert_one_line_error(p, "reach", dead)
        assert time.monotonic() - started < 15, f"{args}: the 1 s timeout took {time.monotonic() - started:.1f} s"
    assert_one_line_error(sluice(None, "topic", "list", "--no-such-flag", check=False), "no-such-flag")
    assert_one_line_error(sluice(None, "topic", "list", "-X", "no.such.property=1", check=False),
                          "no.such.property")
    assert_one_line_error(sluice(None, "topic", "list", "-X", "novalue", check=False), "key=value")
    assert_one_line_error(sluice(None, "topic", "create", check=False), "topic")


# --- produce / consume ---

def read_all(broker, topic, expected, partitions=None):
    """Every message of `topic` from the beginning, by an independent confluent consumer."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "check",
                         "enable.auto.commit": False, "enable.partition.eof": False})
    parts = partitions if partitions is not None else \
        list(consumer.list_topics(topic, timeout=TIMEOUT_S).topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    got = []
    deadline = time.monotonic() + TIMEOUT_S
    while len(got) < expected and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            got.append(message)
    consumer.close()
    return got


def test_produce_keys_headers_partition(module_broker):
    topic = create_topic(module_broker, partitions=3)
    lines = b"".join(f"k{i}|value {i}\n".encode() for i in range(20))
    out = sluice(module_broker, "produce", topic, "--key-separator", "|", "-H", "source=cli",
                 "-H", "run=7", "-p", "2", "--acks", "1", input_bytes=lines).stdout
    assert b"20" in out
    got = read_all(module_broker, topic, 20)
    assert len(got) == 20
    assert all(m.partition() == 2 for m in got)
    assert [(m.key(), m.value()) for m in got] == [(f"k{i}".encode(), f"value {i}".encode()) for i in range(20)]
    assert all(m.headers() == [("source", b"cli"), ("run", b"7")] for m in got)


def test_produce_file_compressed_read_by_kcat(module_broker, tmp_path):
    topic = create_topic(module_broker, partitions=2)
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line-{i}\n" for i in range(5000)))
    sluice(module_broker, "produce", topic, "--file", str(path), "--compression", "zstd")
    out = harness.run([harness.kcat_bin(), "-b", module_broker.bootstrap, "-C", "-t", topic, "-o",
                       "beginning", "-e", "-q", "-f", "%s\n"], timeout_s=60).stdout.decode().split()
    assert sorted(out) == sorted(f"line-{i}" for i in range(5000))


def produce_confluent(broker, topic, count, partitions, timestamp_ms=None, prefix="v"):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i in range(count):
        extra = {"timestamp": timestamp_ms} if timestamp_ms is not None else {}
        producer.produce(topic, key=f"key{i}".encode(), value=f"{prefix}{i}".encode(),
                         partition=i % partitions, headers=[("n", str(i).encode())], **extra)
    assert producer.flush(TIMEOUT_S) == 0


def test_consume_json_and_format(module_broker):
    topic = create_topic(module_broker, partitions=2)
    produce_confluent(module_broker, topic, 10, partitions=2)
    out = sluice(module_broker, "consume", topic, "--from-beginning", "-n", "10", "--json").stdout
    records = [json.loads(line) for line in out.decode().splitlines()]
    assert len(records) == 10
    by_value = {r["value"]: r for r in records}
    for i in range(10):
        r = by_value[f"v{i}"]
        assert r["key"] == f"key{i}" and r["partition"] == i % 2 and r["offset"] == i // 2
        assert r["headers"] == [{"key": "n", "value": str(i)}]
        assert r["timestamp"] > 0
    formatted = sluice(module_broker, "consume", topic, "-p", "1", "--offset", "3", "-n", "2",
                       "--format", "%k=%v@%p:%o [%h]\\n").stdout.decode().splitlines()
    assert formatted == ["key7=v7@1:3 [n=7]", "key9=v9@1:4 [n=9]"]


def test_consume_from_time(module_broker):
    topic = create_topic(module_broker, partitions=1)
    now_ms = int(time.time() * 1000)
    produce_confluent(module_broker, topic, 3, partitions=1, timestamp_ms=now_ms - 3_600_000, prefix="old")
    produce_confluent(module_broker, topic, 3, partitions=1, timestamp_ms=now_ms, prefix="new")
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_ms / 1000 - 60))
    out = sluice(module_broker, "consume", topic, "--from-time", since, "-n", "3").stdout.decode().split()
    assert out == ["new0", "new1", "new2"]


def test_consume_follows_until_interrupted(module_broker):
    topic = create_topic(module_broker, partitions=1)
    proc = subprocess.Popen([harness.sluice_bin(), "consume", topic, "-b", module_broker.bootstrap],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # It starts at the end: keep producing until a line comes through.
        producer = Producer({"bootstrap.servers": module_broker.bootstrap})
        first = None
        deadline = time.monotonic() + TIMEOUT_S
        while first is None and time.monotonic() < deadline:
            producer.produce(topic, value=b"ping")
            producer.flush(TIMEOUT_S)
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                first = proc.stdout.readline()
        assert first == b"ping\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=TIMEOUT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_produce_consume_errors(module_broker):
    missing = harness.unique_topic("missing")
    assert_one_line_error(sluice(module_broker, "produce", missing, input_bytes=b"x\n", check=False), missing)
    assert_one_line_error(sluice(module_broker, "consume", missing, "-n", "1", check=False), missing)
    topic = create_topic(module_broker)
    assert_one_line_error(sluice(module_broker, "produce", topic, "--key-separator", ":",
                                 input_bytes=b"no separator\n", check=False), "separator")
    assert_one_line_error(sluice(module_broker, "consume", topic, "-n", "0", check=False), "count")


# --- group ---

def committed(broker, group, topic, partitions):
    """The group's committed offsets as an independent client (OffsetFetch) sees them."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    try:
        got = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=TIMEOUT_S)
        return {tp.partition: tp.offset for tp in got}
    finally:
        consumer.close()


def group_member(broker, group, topic):
    """A confluent consumer that joined `group` and owns partitions (heartbeats in background)."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "client.id": "cli-test-member"})
    consumer.subscribe([topic])
    deadline = time.monotonic() + TIMEOUT_S
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.2)
    assert consumer.assignment(), "member never got an assignment"
    return consumer


def test_group_describe_lag_and_members(module_broker):
    topic = create_topic(module_broker, partitions=3)
    group = harness.unique_topic("grp")
    # 2 per partition consumed, so every partition has a committed offset (lag is
    # only defined where one exists); then 8 more per partition, 6 more consumed.
    # sluice consume -g commits what it printed when it exits.
    produce_confluent(module_broker, topic, 6, partitions=3)
    sluice(module_broker, "consume", topic, "-g", group, "--from-beginning", "-n", "6",
           "-X", "client.id=cli-lag-test")  # librdkafka properties pass through
    produce_confluent(module_broker, topic, 24, partitions=3)
    sluice(module_broker, "consume", topic, "-g", group, "-n", "6")
    offsets = committed(module_broker, group, topic, 3)
    consumed = sum(max(0, o) for o in offsets.values())
    assert consumed == 12
    described = sluice_json(module_broker, "group", "describe", group)
    assert described["group_id"] == group and described["state"] == "Empty"
    assert described["members"] == []
    assert described["total_lag"] == 30 - consumed
    for row in described["offsets"]:
        assert row["topic"] == topic and row["log_end_offset"] == 10
        assert row["committed_offset"] == offsets[row["partition"]]
        assert row["lag"] == 10 - offsets[row["partition"]]
    listed = sluice_json(module_broker, "group", "list")
    assert [g["group_id"] for g in listed] == sorted(g["group_id"] for g in listed)
    assert {"group_id": group, "state": "Empty", "protocol_type": "consumer"} in listed

    member = group_member(module_broker, group, topic)
    try:
        active = sluice_json(module_broker, "group", "describe", group)
        assert active["state"] == "Stable" and active["protocol"] == "range"
        assert len(active["members"]) == 1
        m = active["members"][0]
        assert m["client_id"] == "cli-test-member" and m["group_instance_id"] is None
        assert sorted(a["partition"] for a in m["assignments"]) == [0, 1, 2]
        assert active["coordinator"] == 1
        # Kafka refuses to reset the offsets of a group with members: so does sluice.
        p = sluice(module_broker, "group", "reset-offsets", group, "--topic", topic, "--to-earliest",
                   "--execute", check=False)
        assert_one_line_error(p, group, "active")
        assert committed(module_broker, group, topic, 3) == offsets
        assert_one_line_error(sluice(module_broker, "group", "delete", group, check=False), group)
    finally:
        member.close()


def test_group_reset_offsets_and_delete(module_broker):
    topic = create_topic(module_broker, partitions=2)
    base_ms = int(time.time() * 1000) - 600_000
    producer = Producer({"bootstrap.servers": module_broker.bootstrap})
    for i in range(20):  # 10 per partition, one second apart per partition
        producer.produce(topic, value=b"x", partition=i % 2, timestamp=base_ms + (i // 2) * 1000)
    assert producer.flush(TIMEOUT_S) == 0
    group = harness.unique_topic("grp")
    sluice(module_broker, "consume", topic, "-g", group, "--from-beginning", "-n", "20")
    assert committed(module_broker, group, topic, 2) == {0: 10, 1: 10}

    plan = sluice_json(module_broker, "group", "reset-offsets", group, "--topic", topic, "--to-earliest")
    assert [(r["partition"], r["current_offset"], r["new_offset"]) for r in plan] == [(0, 10, 0), (1, 10, 0)]
    assert committed(module_broker, group, topic, 2) == {0: 10, 1: 10}  # dry run: nothing moved

    sluice(module_broker, "group", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute")
    assert committed(module_broker, group, topic, 2) == {0: 0, 1: 0}
    sluice(module_broker, "group", "reset-offsets", group, "--topic", topic, "--to-offset", "4", "--execute")
    assert committed(module_broker, group, topic, 2) == {0: 4, 1: 4}
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((base_ms + 6000) / 1000)) + f".{(base_ms + 6000) % 1000:03d}Z"
    sluice(module_broker, "group", "reset-offsets", group, "--topic", topic, "--to-datetime", at, "--execute")
    assert committed(module_broker, group, topic, 2) == {0: 6, 1: 6}
    sluice(module_broker, "group", "reset-offsets", group, "--topic", topic, "--to-latest", "--execute")
    assert committed(module_broker, group, topic, 2) == {0: 10, 1: 10}
    assert sluice_json(module_broker, "group", "describe", group)["total_lag"] == 0

    sluice(module_broker, "group", "delete", group)
    assert group not in [g["group_id"] for g in sluice_json(module_broker, "group", "list")]
    assert group not in [g.id for g in admin(module_broker).list_groups(timeout=TIMEOUT_S)]
    assert_one_line_error(sluice(module_broker, "group", "describe", group, check=False), group)


# --- config / cluster / records ---

def test_cluster_info(module_broker):
    info = sluice_json(module_broker, "cluster", "info")
    metadata = admin(module_broker).list_topics(timeout=TIMEOUT_S)
    assert info["cluster_id"] == metadata.cluster_id and info["cluster_id"]
    assert info["controller_id"] == metadata.controller_id == 1
    assert info["brokers"] == [{"id": b.id, "host": b.host, "port": b.port, "rack": None}
                               for b in metadata.brokers.values()]
    table = sluice(module_broker, "cluster", "info").stdout.decode()
    assert metadata.cluster_id in table and str(module_broker.port) in table
    # The lone default node is its quorum's only voter and leader.
    quorum = info["quorum"]
    assert quorum["leader_id"] == 1 and quorum["leader_epoch"] >= 1 and quorum["high_watermark"] >= 0
    assert [(r["id"], r["status"], r["serving"], r["lag"]) for r in quorum["replicas"]] == \
        [(1, "leader", True, 0)]
    assert "Quorum (__cluster_metadata-0): leader 1" in table and "serving" in table


def test_config_get_and_set(module_broker):
    topic = create_topic(module_broker)
    sluice(module_broker, "config", "set", "--topic", topic, "--config", "retention.bytes=424242",
           "--config", "max.message.bytes=500000")
    independent = topic_configs(module_broker, topic)
    assert independent["retention.bytes"] == "424242" and independent["max.message.bytes"] == "500000"
    got = {e["name"]: e for e in sluice_json(module_broker, "config", "get", "--topic", topic)}
    assert {name: e["value"] for name, e in got.items()} == independent
    assert got["retention.bytes"]["source"] == "DYNAMIC_TOPIC_CONFIG"
    sluice(module_broker, "config", "set", "--topic", topic, "--delete-config", "retention.bytes")
    assert topic_configs(module_broker, topic)["retention.bytes"] == "-1"

    broker_resource = ConfigResource("broker", "1")

    def broker_value(name):
        client = admin(module_broker)
        return client.describe_configs([broker_resource])[broker_resource].result(timeout=TIMEOUT_S)[name].value

    sluice(module_broker, "config", "set", "--broker", "1", "--config", "log.retention.ms=7200000")
    assert broker_value("log.retention.ms") == "7200000"
    got = {e["name"]: e["value"] for e in sluice_json(module_broker, "config", "get", "--broker", "1")}
    assert got["log.retention.ms"] == "7200000"
    sluice(module_broker, "config", "set", "--broker", "1", "--delete-config", "log.retention.ms")
    assert broker_value("log.retention.ms") != "7200000"

    assert_one_line_error(sluice(module_broker, "config", "set", "--topic", topic, "--config",
                                 "retention.ms=soon", check=False), "retention.ms", "soon")
    assert_one_line_error(sluice(module_broker, "config", "get", "--topic", "no-such-topic", check=False),
                          "no-such-topic")
    assert_one_line_error(sluice(module_broker, "config", "get", check=False), "--topic")


def test_records_delete_moves_log_start(module_broker):
    topic = create_topic(module_broker, partitions=2)
    produce_confluent(module_broker, topic, 20, partitions=2)
    out = sluice(module_broker, "records", "delete", f"{topic}:0:4", f"{topic}:1:-1").stdout.decode()
    consumer = Consumer({"bootstrap.servers": module_broker.bootstrap, "group.id": "check"})
    try:
        assert consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT_S) == (4, 10)
        assert consumer.get_watermark_offsets(TopicPartition(topic, 1), timeout=TIMEOUT_S) == (10, 10)
    finally:
        consumer.close()
    assert [line.split() for line in out.splitlines()[1:]] == [[topic, "0", "4"], [topic, "1", "10"]]
    described = sluice_json(module_broker, "topic", "describe", topic)
    assert [p["log_start_offset"] for p in described["partitions"]] == [4, 10]
    assert_one_line_error(sluice(module_broker, "records", "delete", f"{topic}:0:99", check=False),
                          "OFFSET_OUT_OF_RANGE")
    assert_one_line_error(sluice(module_broker, "records", "delete", f"{topic}:zero", check=False),
                          "TOPIC:PARTITION:OFFSET")
