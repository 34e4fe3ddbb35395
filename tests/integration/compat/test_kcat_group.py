"""kcat 1.7's balanced consumer (`kcat -G group topic`, librdkafka 2.0) against
Sluice: a group consumes every message once, commits when it exits, and the
next run of the group resumes there. (kcat's codecs, which librdkafka before
2.8 silently dropped, are proved stored compressed by
broker/test_old_clients_compress.py.)"""

from conftest import kcat_bin, run, unique_topic
from programs import committed_offsets, create_topic

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
PARTITIONS = 2


def produce(broker, topic, lines):
    p = run([kcat_bin(), "-P", "-b", broker.bootstrap, "-t", topic, "-X", "linger.ms=20"],
            input_bytes=("\n".join(lines) + "\n").encode())
    assert b"ERROR" not in p.stderr, p.stderr.decode(errors="replace")


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
