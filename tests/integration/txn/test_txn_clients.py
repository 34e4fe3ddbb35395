"""Transactions of two client libraries against one broker (issue 17, "How it
is verified", third point): kafkajs (tests/clients/js/txn_client.js: its
producer.transaction() with sendOffsets, commit and abort) and librdkafka's
transactional producer (confluent-kafka: send_offsets_to_transaction, commit and
abort) write committed and aborted transactions into the same topic; the
read_committed consumers of kafkajs (readUncommitted: false), librdkafka
(isolation.level=read_committed) and kafka-python (isolation_level=
'read_committed', where the installed version has it) see exactly the
committed records, in each producer's order per partition; read_uncommitted
readers see the aborted ones too; the offsets each producer sent are the
groups' committed offsets. Skipped while the broker does not serve transactions."""

import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eos  # noqa: E402
from conftest import REPO_ROOT  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402

JS_DIR = os.path.join(REPO_ROOT, "tests", "clients", "js")
PARTITIONS = 3
TRANSACTIONS = 12
PER_TXN = 9
ABORT_EVERY = 4
BROKER_OVERRIDES = {"transaction.state.log.replication.factor": "1", "transaction.state.log.min.isr": "1",
                    "transaction.state.log.num.partitions": "4", "offsets.topic.replication.factor": "1",
                    "group.initial.rebalance.delay.ms": "0"}


def node_bin():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (scripts/install-deps installs nodejs)")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "kafkajs")):
        pytest.fail(f"kafkajs is not installed: run `npm ci` in {JS_DIR}")
    return node


def run_js(mode, env, timeout_s=90):
    """txn_client.js in `mode`: its events (JSON lines)."""
    env = dict(os.environ, KAFKAJS_NO_PARTITIONER_WARNING="1", **env)
    p = subprocess.run([node_bin(), "txn_client.js", mode], cwd=JS_DIR, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout_s)
    lines = p.stdout.decode(errors="replace").splitlines()
    events = [e for e in (json.loads(line) for line in lines if line.startswith("{")) if "e" in e]
    errors = [e for e in events if e["e"] == "error"]
    assert p.returncode == 0 and not errors, f"txn_client.js {mode} exited {p.returncode}: {lines[-20:]}"
    return events


def librdkafka_transactions(bootstrap, topic, input_topic, group):
    """The same pattern with confluent-kafka: {"commit": [[values]], "abort": [[values]]}."""
    producer = eos.transactional_producer(bootstrap, f"{topic}-rdkafka")
    # A consumer's group metadata, as send_offsets_to_transaction takes it
    # (no subscription: generation -1, as a consumer with assigned partitions).
    metadata_source = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "log_level": eos.QUIET})
    out = {"commit": [], "abort": []}
    try:
        producer.init_transactions(30)
        for t in range(TRANSACTIONS):
            producer.begin_transaction()
            values = [f"rd-{t}-{i}" for i in range(PER_TXN)]
            for i, value in enumerate(values):
                producer.produce(topic, value=value.encode(), partition=i % PARTITIONS)
            assert producer.flush(30) == 0
            producer.send_offsets_to_transaction([TopicPartition(input_topic, 0, t + 1)],
                                                 metadata_source.consumer_group_metadata(), 30)
            if (t + 1) % ABORT_EVERY == 0:
                producer.abort_transaction(30)
                out["abort"].append(values)
            else:
                producer.commit_transaction(30)
                out["commit"].append(values)
    finally:
        metadata_source.close()
    return out


def last_committed_offset():
    """The input offset sent by the last committed transaction (offset t+1 by transaction t)."""
    t = TRANSACTIONS - 1
    while (t + 1) % ABORT_EVERY == 0:
        t -= 1
    return t + 1


def by_partition(events):
    out = defaultdict(list)
    for e in events:
        if e["e"] == "read":
            out[e["partition"]].append((e["offset"], e["value"]))
    return {p: sorted(records) for p, records in out.items()}


def assert_committed_view(name, records, committed_txns, aborted_txns):
    """`records` ({partition: [(offset, value)]}) holds every committed value
    once, nothing aborted, each producer's values in send order per partition."""
    got = [v for p in sorted(records) for _o, v in records[p]]
    want = {v for values in committed_txns for v in values}
    aborted = {v for values in aborted_txns for v in values}
    assert not aborted & set(got), f"{name}: aborted records visible: {sorted(aborted & set(got))[:5]}"
    assert sorted(got) == sorted(want), \
        f"{name}: {len(got)} records, {len(want)} committed; missing {sorted(want - set(got))[:5]}, " \
        f"extra {sorted(set(got) - want)[:5]}, duplicated {len(got) - len(set(got))}"
    for p, recs in records.items():
        for prefix in ("js-", "rd-"):
            order = [tuple(int(x) for x in v[len(prefix):].split("-")) for _o, v in recs if v.startswith(prefix)]
            assert order == sorted(order), f"{name}: partition {p} holds {prefix} records out of order"


@pytest.fixture(scope="module")
def txn_topics(module_broker):
    eos.require_transactions(module_broker.port)
    stamp = time.monotonic_ns() % 10**9
    topic, input_topic = f"clients-{stamp}", f"clients-in-{stamp}"
    eos.create_topic(module_broker.bootstrap, topic, PARTITIONS)
    eos.create_topic(module_broker.bootstrap, input_topic, 1)
    return topic, input_topic


@pytest.fixture(scope="module")
def written(module_broker, txn_topics):
    """Both clients' transactions, kafkajs first then librdkafka, into one topic:
    (committed transactions' values, aborted transactions' values)."""
    topic, input_topic = txn_topics
    js = run_js("produce", {"SLUICE_BOOTSTRAP": module_broker.bootstrap, "SLUICE_TOPIC": topic,
                            "SLUICE_INPUT_TOPIC": input_topic, "SLUICE_GROUP": f"{topic}-js",
                            "SLUICE_TXN_ID": f"{topic}-js", "SLUICE_PARTITIONS": str(PARTITIONS),
                            "SLUICE_TRANSACTIONS": str(TRANSACTIONS), "SLUICE_PER_TXN": str(PER_TXN),
                            "SLUICE_ABORT_EVERY": str(ABORT_EVERY)})
    rd = librdkafka_transactions(module_broker.bootstrap, topic, input_topic, f"{topic}-rdkafka")
    committed = [e["values"] for e in js if e["e"] == "commit"] + rd["commit"]
    aborted = [e["values"] for e in js if e["e"] == "abort"] + rd["abort"]
    assert len(aborted) == 2 * (TRANSACTIONS // ABORT_EVERY), (committed, aborted)
    return committed, aborted


def test_kafkajs_read_committed_sees_only_committed_records(module_broker, txn_topics, written):
    committed, aborted = written
    want = sum(len(v) for v in committed)
    events = run_js("read", {"SLUICE_BOOTSTRAP": module_broker.bootstrap, "SLUICE_TOPIC": txn_topics[0],
                             "SLUICE_READ_UNCOMMITTED": "false", "SLUICE_EXPECT": str(want)})
    assert_committed_view("kafkajs read_committed", by_partition(events), committed, aborted)


def test_kafkajs_read_uncommitted_sees_aborted_records_too(module_broker, txn_topics, written):
    committed, aborted = written
    want = sum(len(v) for v in committed + aborted)
    events = run_js("read", {"SLUICE_BOOTSTRAP": module_broker.bootstrap, "SLUICE_TOPIC": txn_topics[0],
                             "SLUICE_READ_UNCOMMITTED": "true", "SLUICE_EXPECT": str(want)})
    got = [e["value"] for e in events if e["e"] == "read"]
    assert sorted(got) == sorted(v for values in committed + aborted for v in values)


def test_librdkafka_read_committed_sees_only_committed_records(module_broker, txn_topics, written):
    committed, aborted = written
    records = eos.read_partitions(module_broker.bootstrap, txn_topics[0], PARTITIONS, "read_committed")
    assert_committed_view("librdkafka read_committed", records, committed, aborted)
    everything = eos.read_partitions(module_broker.bootstrap, txn_topics[0], PARTITIONS, "read_uncommitted")
    assert sorted(eos.values(everything)) == sorted(v for values in committed + aborted for v in values)


def test_kafka_python_read_committed_sees_only_committed_records(module_broker, txn_topics, written):
    from kafka import KafkaConsumer, TopicPartition as KTopicPartition
    if "isolation_level" not in KafkaConsumer.DEFAULT_CONFIG:
        import kafka
        pytest.skip(f"kafka-python {kafka.__version__} has no isolation_level (it reads uncommitted records)")
    committed, aborted = written
    consumer = KafkaConsumer(bootstrap_servers=module_broker.bootstrap, isolation_level="read_committed",
                             enable_auto_commit=False, consumer_timeout_ms=3000)
    try:
        tps = [KTopicPartition(txn_topics[0], p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records = defaultdict(list)
        for record in consumer:
            records[record.partition].append((record.offset, record.value.decode()))
    finally:
        consumer.close()
    assert_committed_view("kafka-python read_committed", dict(records), committed, aborted)


def test_offsets_sent_in_transactions_are_the_groups_committed_offsets(module_broker, txn_topics, written):
    topic, input_topic = txn_topics
    for group in (f"{topic}-js", f"{topic}-rdkafka"):
        offsets = eos.group_offsets(module_broker.bootstrap, group, input_topic, 1)
        assert offsets[0] == last_committed_offset(), \
            f"group {group}: committed offset {offsets[0]}, the last committed transaction sent " \
            f"{last_committed_offset()}"


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-s"]))
