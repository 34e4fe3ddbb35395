"""Kafka's WordCountDemo on sluice-streams (examples/wordcount) against a real
broker: the counts equal a model the test computes, the internal topics
carry Kafka Streams' names, and an instance killed with -9 mid-stream
leaves, under exactly_once_v2, every word's counts exactly 1, 2, ..., n in
the output (read_committed: none repeated, none missing), and under
at_least_once every count present (repeats allowed, nothing lost)."""

import collections
import os
import random
import sys
import tempfile
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from conftest import unique_topic  # noqa: E402
import streams_support  # noqa: E402
from streams_support import create_topics, topic_partitions  # noqa: E402

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
VOCABULARY = [f"w{i}" for i in range(40)]
PARTITIONS = 3


class App(streams_support.StreamsApp):
    """One streams-wordcount process."""

    def __init__(self, workdir, bootstrap, app_id, input_topic, output_topic, settings):
        if "state.dir" not in settings:
            # Its own state directory (RocksDB stores, checkpoints), kept
            # across its restarts: instances sharing one would be refused.
            settings = dict(settings, **{"state.dir": tempfile.mkdtemp(prefix="state-", dir=workdir)})
        cmd = [streams_support.example_bin("wordcount"), "--bootstrap-server", bootstrap,
               "--application-id", app_id, "--input", input_topic, "--output", output_topic]
        super().__init__(workdir, cmd + streams_support.set_flags(settings), "wordcount")


@pytest.fixture
def app_factory(tmp_path):
    """Makes streams-wordcount processes in the test's directory."""
    yield from streams_support.made_apps(tmp_path, App)


def new_topics(bootstrap, partitions):
    """A new input and output topic (`partitions` each) and application id."""
    source, sink = unique_topic("lines"), unique_topic("counts")
    create_topics(bootstrap, {source: partitions, sink: partitions})
    return source, sink, unique_topic("wc")


def produce_lines(bootstrap, topic, lines, pause_every=0, pause_s=0.0):
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i, line in enumerate(lines):
        producer.produce(topic, key=str(i).encode(), value=line.encode())
        if pause_every and i % pause_every == pause_every - 1:
            producer.flush()
            time.sleep(pause_s)
    producer.flush()


def make_lines(count, seed):
    rng = random.Random(seed)
    return [" ".join(rng.choice(VOCABULARY).upper() if rng.random() < 0.1 else rng.choice(VOCABULARY)
                     for _ in range(rng.randint(0, 6))) for _ in range(count)]


def model_counts(lines):
    counts = collections.Counter()
    for line in lines:
        for word in line.split():
            counts[word.lower()] += 1
    return counts


def read_counts(bootstrap, topic, isolation, expected_total, timeout_s=60):
    """Every (word, count) record of the output topic, per word in order,
    once the latest count of every word reaches the model's (or the time is up)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("reader"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": isolation})
    consumer.subscribe([topic])
    sequences = collections.defaultdict(list)
    deadline = time.time() + timeout_s
    try:
        while time.time() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if all(seq and seq[-1] >= n for seq, n in
                       ((sequences.get(w), n) for w, n in expected_total.items())):
                    break
                continue
            assert message.error() is None, message.error()
            value = int.from_bytes(message.value(), "big", signed=True)
            sequences[message.key().decode()].append(value)
    finally:
        consumer.close()
    return sequences


def test_counts_equal_the_model_and_internal_topics_are_kafkas(module_broker, app_factory):
    bootstrap = module_broker.bootstrap
    source, sink, app_id = new_topics(bootstrap, PARTITIONS)
    lines = make_lines(1500, seed=1)
    produce_lines(bootstrap, source, lines)
    app = app_factory(bootstrap, app_id, source, sink, {"commit.interval.ms": "200"}).start()
    model = model_counts(lines)
    sequences = read_counts(bootstrap, sink, "read_uncommitted", model)
    app.stop()
    assert {word: seq[-1] for word, seq in sequences.items()} == dict(model)
    for word, seq in sequences.items():
        assert seq == list(range(1, model[word] + 1)), word  # no crash: no repeats
    # Kafka Streams' internal topics, as many partitions as the input.
    assert topic_partitions(bootstrap, f"{app_id}-counts-store-repartition") == PARTITIONS
    assert topic_partitions(bootstrap, f"{app_id}-counts-store-changelog") == PARTITIONS


def wait_for_output(bootstrap, topic, timeout_s=30):
    """Returns once the output topic holds a record (uncommitted ones count)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("peek"),
                         "auto.offset.reset": "earliest", "isolation.level": "read_uncommitted"})
    consumer.subscribe([topic])
    try:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                return
        pytest.fail(f"no output in {topic} within {timeout_s} s")
    finally:
        consumer.close()


def run_with_kill(bootstrap, app_factory, guarantee, seed):
    source, sink, app_id = new_topics(bootstrap, PARTITIONS)
    lines = make_lines(3000, seed=seed)
    # The dead member leaves the group after the session timeout (the
    # broker's minimum) rather than Kafka's 45 s default.
    settings = {"processing.guarantee": guarantee, "commit.interval.ms": "300",
                "consumer.session.timeout.ms": "6000"}
    app = app_factory(bootstrap, app_id, source, sink, settings).start()
    # ~7 s of input: the kill lands mid-stream even when the start is slow.
    writer = threading.Thread(target=produce_lines, args=(bootstrap, source, lines, 100, 0.25))
    writer.start()
    wait_for_output(bootstrap, sink)
    assert writer.is_alive(), "the input was all written before the kill: not mid-stream"
    app.kill9()  # mid-stream: lines still arriving, a transaction or commit in flight
    writer.join()
    app.start()
    model = model_counts(lines)
    isolation = "read_committed" if guarantee == "exactly_once_v2" else "read_uncommitted"
    sequences = read_counts(bootstrap, sink, isolation, model, timeout_s=90)
    app.stop()
    return model, sequences


def test_exactly_once_v2_counts_are_exact_across_a_kill(module_broker, app_factory):
    model, sequences = run_with_kill(module_broker.bootstrap, app_factory, "exactly_once_v2", 2)
    assert set(sequences) == set(model)
    for word, seq in sequences.items():
        assert seq == list(range(1, model[word] + 1)), f"{word}: {seq}"


def test_at_least_once_loses_nothing_across_a_kill(module_broker, app_factory):
    model, sequences = run_with_kill(module_broker.bootstrap, app_factory, "at_least_once", 3)
    repeats = 0
    for word, n in model.items():
        seq = sequences[word]
        assert seq[-1] >= n, f"{word}: counted {seq[-1]} of {n}"
        assert set(range(1, n + 1)) <= set(seq), f"{word}: a count is missing"
        repeats += len(seq) - len(set(seq))
    print(f"at_least_once: {repeats} repeated counts after the kill")
