"""kcat 1.7 (librdkafka 2.0) against Sluice, as users run it:

- `-z gzip|snappy|lz4|zstd`: every line arrives once AND the stored batches
  carry that codec. librdkafka before 2.8 silently stops compressing (and
  still delivers) when the broker's ApiVersions lacks the Produce/Fetch
  versions its compression feature checks (v0-v2): only reading the stored
  batches back (raw Fetch v4, stored_batches.py) shows it.
- `-G group topic`, the balanced consumer: a group consumes every message
  once, commits when it exits, and the next run of the group resumes there.
"""

import pytest

from conftest import kcat_bin, run, unique_topic
from programs import committed_offsets, create_topic
from stored_batches import stored_batches

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
PARTITIONS = 2
LINES = 500
CODECS = ["gzip", "snappy", "lz4", "zstd"]


def produce(broker, topic, lines, *extra):
    p = run([kcat_bin(), "-P", "-b", broker.bootstrap, "-t", topic, "-X", "linger.ms=20", *extra],
            input_bytes=("\n".join(lines) + "\n").encode())
    assert b"ERROR" not in p.stderr, p.stderr.decode(errors="replace")


def consume_all(broker, topic):
    out = run([kcat_bin(), "-C", "-b", broker.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
               "-f", "%s\\n"]).stdout.decode()
    return [line for line in out.split("\n") if line]


@pytest.mark.parametrize("codec", CODECS)
def test_produced_lines_are_stored_with_the_codec(module_broker, codec):
    topic = unique_topic(f"kcat-{codec}")
    create_topic(module_broker, topic, PARTITIONS)
    lines = [f"{codec} line {i:05d} with a compressible tail tail tail tail tail" for i in range(LINES)]
    produce(module_broker, topic, lines, "-z", codec)

    assert sorted(consume_all(module_broker, topic)) == sorted(lines)
    batches = [b for partition in range(PARTITIONS) for b in stored_batches(module_broker.port, topic, partition)]
    by_codec = {c: sum(1 for b in batches if b.codec == c) for c in {b.codec for b in batches}}
    assert set(by_codec) == {codec}, f"stored batches by codec: {by_codec} (librdkafka stopped compressing)"


def balanced_consume(broker, group, topic):
    """`kcat -G`: consumes the group's partitions to their end, then exits
    (committing what it consumed); returns the values read. (`-o` would
    override the committed offsets at every assignment: the reset policy
    only applies where the group has none.)"""
    out = run([kcat_bin(), "-b", broker.bootstrap, "-G", group, "-X", "auto.offset.reset=earliest", "-e", "-q",
               "-f", "%s\\n", topic], timeout_s=60).stdout.decode()
    return [line for line in out.split("\n") if line]


def test_balanced_consumer_consumes_once_and_resumes(module_broker):
    topic = unique_topic("kcat-group")
    group = unique_topic("kcat-group")
    create_topic(module_broker, topic, PARTITIONS)
    first = [f"first {i}" for i in range(40)]
    produce(module_broker, topic, first)
    assert sorted(balanced_consume(module_broker, group, topic)) == sorted(first)
    assert sum(committed_offsets(module_broker, group, topic).values()) == len(first)

    second = [f"second {i}" for i in range(10)]
    produce(module_broker, topic, second)
    assert sorted(balanced_consume(module_broker, group, topic)) == sorted(second)
    assert sum(committed_offsets(module_broker, group, topic).values()) == len(first) + len(second)
