"""A consumer group under churn while messages flow (confluent-kafka-python, one process
per member): for each assignor, three members join, one leaves cleanly, a fourth joins,
and one is killed with SIGKILL (its session times out). Afterwards every message was
processed, and the only duplicates are the killed member's messages after its last
acknowledged commit.

SLUICE_GROUP_FLOW_MESSAGES sets the count (default 100,000: ten seconds per assignor)."""

import os
import threading
import time
from collections import Counter

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import unique_topic
from members import confluent_member, wait_for

PARTITIONS = 6
MESSAGES = int(os.environ.get("SLUICE_GROUP_FLOW_MESSAGES", "100000"))
SESSION_TIMEOUT_MS = 3000
# A short session timeout needs a lower bound below it (Kafka's default minimum is 6 s).
OVERRIDES = {"group.initial.rebalance.delay.ms": "0", "group.min.session.timeout.ms": "1000"}


class FlowingProducer(threading.Thread):
    """Produces MESSAGES (key i to partition i % 6) in chunks of a twentieth, each chunk
    only once the group has processed all but two chunks and never beyond `limit`:
    the test raises the limit step by step, so messages keep flowing through every
    membership change."""

    def __init__(self, broker, topic, members):
        super().__init__(daemon=True)
        self.producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
        self.topic = topic
        self.members = members
        self.chunk = max(1, MESSAGES // 20)
        self.limit = MESSAGES
        self.produced = 0
        self.stop_event = threading.Event()
        self.error = None

    def processed(self):
        return len({m for member in list(self.members) for m in member.journal.processed})

    def run(self):
        try:
            while self.produced < MESSAGES and not self.stop_event.is_set():
                if self.produced >= self.limit or self.produced - self.processed() > 2 * self.chunk:
                    time.sleep(0.05)
                    continue
                end = min(self.limit, self.produced + self.chunk)
                for i in range(self.produced, end):
                    while True:
                        try:
                            self.producer.produce(self.topic, key=str(i).encode(), value=b"v%d" % i,
                                                  partition=i % PARTITIONS)
                            break
                        except BufferError:
                            self.producer.poll(0.1)
                self.producer.poll(0)
                self.produced = end
            assert self.producer.flush(60) == 0, "messages left unacknowledged"
        except BaseException as e:  # reported by the test
            self.error = e


def expected_offsets():
    per_partition = Counter(i % PARTITIONS for i in range(MESSAGES))
    return {(p, o) for p, n in per_partition.items() for o in range(n)}


def check_duplicates_come_from_the_killed_member(members, victim):
    """Every message processed; a message processed twice only if the killed member
    processed it at or after its last acknowledged commit of that partition."""
    counts = Counter(m for member in members for m in member.journal.processed)
    assert set(counts) == expected_offsets(), \
        f"missing {len(expected_offsets() - set(counts))} messages, e.g. {sorted(expected_offsets() - set(counts))[:5]}"
    last_commit = {}
    for p, o in victim.journal.commits:
        last_commit[p] = o
    victim_processed = Counter(victim.journal.processed)
    first_processed = {}
    for p, o in victim.journal.processed:
        first_processed.setdefault(p, o)
    duplicates = {m: n for m, n in counts.items() if n > 1}
    unexpected = []
    for (p, o), n in duplicates.items():
        floor = last_commit.get(p, first_processed.get(p))
        if n != 2 or victim_processed[(p, o)] != 1 or floor is None or o < floor:
            unexpected.append(((p, o), n, floor))
    assert not unexpected, f"duplicates not explained by the killed member: {sorted(unexpected)[:10]}"
    return len(duplicates)


@pytest.mark.parametrize("assignor", ["range", "roundrobin", "cooperative-sticky"])
def test_group_churn_while_messages_flow(broker_factory, tmp_path, assignor):
    broker = broker_factory(OVERRIDES)
    topic = unique_topic("flow")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(timeout=30)
    group = unique_topic("flow-group")
    members = []
    producer = FlowingProducer(broker, topic, members)

    def start(name, commit_interval_ms=0):
        member = confluent_member(broker, group, topic, assignor, str(tmp_path), name, SESSION_TIMEOUT_MS,
                                  commit_interval_ms=commit_interval_ms)
        members.append(member)
        return member

    def total_processed():
        return producer.processed()

    try:
        # c, the member to be killed, commits every two seconds: it dies with processed,
        # uncommitted messages, which the group must process again.
        a, b, c = start("a"), start("b"), start("c", commit_interval_ms=2000)
        wait_for(lambda: all(m.journal.owned for m in (a, b, c)), "three members owning partitions",
                 members=members)
        producer.limit = MESSAGES * 2 // 5
        producer.start()
        wait_for(lambda: b.journal.processed and total_processed() >= MESSAGES // 5,
                 "a fifth of the messages processed", members=members)
        b.stop()  # leaves cleanly: commits, then LeaveGroup
        d = start("d")
        wait_for(lambda: d.journal.owned and len(c.journal.owned) > 0 and total_processed() >= MESSAGES * 2 // 5,
                 "the fourth member owning partitions", members=members)
        producer.limit = MESSAGES * 7 // 10
        wait_for(lambda: c.journal.uncommitted(), "the member to be killed holding uncommitted messages",
                 members=members)
        c.kill()  # no LeaveGroup: its partitions move after the session timeout
        killed_at = time.monotonic()
        producer.limit = MESSAGES
        survivors = (a, d)
        wait_for(lambda: set().union(*[m.journal.owned for m in survivors]) == set(range(PARTITIONS)),
                 "the survivors owning the killed member's partitions", members=members)
        assert time.monotonic() - killed_at >= SESSION_TIMEOUT_MS / 1000 * 0.8, \
            "the killed member's partitions moved before its session could time out"
        wait_for(lambda: total_processed() == MESSAGES and producer.produced == MESSAGES,
                 f"all {MESSAGES} messages processed", members=members)
        producer.join(60)
        assert producer.error is None, producer.error
        for member in survivors:
            member.stop()
        for member in members:
            member.journal.refresh()
            assert not member.journal.errors, (member.name, member.journal.errors[:5])
        assert b.journal.left and a.journal.left and d.journal.left
        assert c.journal.processed, "the killed member processed nothing"
        duplicates = check_duplicates_come_from_the_killed_member(members, c)
        # Survivors' commits succeed (a commit may race a rebalance; it is retried with the next batch).
        final = {}
        for member in members:
            for p, o in member.journal.commits:
                final[p] = max(final.get(p, 0), o)
        want = Counter(i % PARTITIONS for i in range(MESSAGES))
        assert final == dict(want), f"last commits {final}, partition sizes {dict(want)}"
        print(f"{assignor}: {MESSAGES} messages, {duplicates} duplicates after the killed member's last commit")
    finally:
        producer.stop_event.set()
        for member in members:
            member.ensure_dead()
