"""Joins on sluice-streams (examples/joins) against a real broker: a
stream-stream left join (impressions with the clicks that follow them
within 10 s) equals a brute-force model of every pair in the window plus
each unmatched impression once, each result on the partition the
application's StreamPartitioner names; a table-table outer join's output, read as
a table (tombstones delete), equals the join of the model's two final
tables; inputs with different partition counts are refused at start with
Kafka's message."""

import os
import random
import sys
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from conftest import unique_topic  # noqa: E402
import streams_support  # noqa: E402
from streams_support import create_topics  # noqa: E402

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
PARTITIONS = 3
WINDOW_MS = 10_000
GRACE_MS = 60_000


class App(streams_support.StreamsApp):
    """One streams-joins process."""

    def __init__(self, workdir, bootstrap, app_id, prefix):
        cmd = [streams_support.example_bin("joins"), "--bootstrap-server", bootstrap,
               "--application-id", app_id, "--prefix", prefix, "--set", "commit.interval.ms=200"]
        super().__init__(workdir, cmd, "joins")


@pytest.fixture
def apps(tmp_path):
    yield from streams_support.made_apps(tmp_path, App)


def read_all(bootstrap, topic, done, timeout_s=60, partitions=None):
    """(key, value, timestamp) of every record of `topic`, read until
    done(records) holds after an idle poll or the time is up; each record's
    (key, partition) is appended to `partitions` when given."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("reader"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    records = []
    deadline = time.time() + timeout_s
    try:
        while time.time() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if done(records):
                    break
                continue
            assert message.error() is None, message.error()
            value = None if message.value() is None else message.value().decode()
            records.append((message.key().decode(), value, message.timestamp()[1]))
            if partitions is not None:
                partitions.append((message.key().decode(), message.partition()))
    finally:
        consumer.close()
    return records


def wait_consumed(bootstrap, group, topics, timeout_s=60):
    """Returns once the application's committed offsets reach the end of
    every partition of `topics` (it has processed all of their records)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        ends = {(tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=10)[1]
                for tp in partitions}
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            committed = consumer.committed(partitions, timeout=10)
            if all(tp.offset >= ends[(tp.topic, tp.partition)] for tp in committed):
                return
            time.sleep(0.2)
        pytest.fail(f"{group} did not consume {topics} within {timeout_s} s")
    finally:
        consumer.close()


def attribution_model(impressions, clicks):
    """Every (impression, click) of one ad with the click 0..10 s after the
    impression, at the later timestamp; each impression without one alone."""
    out = []
    for ad, impression, its in impressions:
        matched = False
        for click_ad, click, cts in clicks:
            if click_ad == ad and 0 <= cts - its <= WINDOW_MS:
                out.append((ad, f"[{impression}, {click}]", max(its, cts)))
                matched = True
        if not matched:
            out.append((ad, f"[{impression}, null]", its))
    return sorted(out)


def test_stream_and_table_joins_equal_the_models(module_broker, apps):
    bootstrap = module_broker.bootstrap
    prefix, app_id = unique_topic("joins"), unique_topic("joins-app")
    names = ["impressions", "clicks", "attributed", "users", "regions", "user-regions"]
    topics = {name: f"{prefix}-{name}" for name in names}
    create_topics(bootstrap, {topic: PARTITIONS for topic in topics.values()})
    app = apps(bootstrap, app_id, prefix).start()

    rng = random.Random(20)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    impressions, clicks = [], []
    now = int(time.time() * 1000)
    for i in range(1500):
        now += rng.randint(0, 40)
        ad = f"ad{rng.randint(0, 29)}"
        if rng.random() < 0.5:
            impressions.append((ad, f"i{i}", now))
            producer.produce(topics["impressions"], key=ad, value=f"i{i}", timestamp=now)
        else:
            clicks.append((ad, f"c{i}", now))
            producer.produce(topics["clicks"], key=ad, value=f"c{i}", timestamp=now)
    tables = {"users": {}, "regions": {}}
    for i in range(1000):
        side = rng.choice(["users", "regions"])
        user = f"u{rng.randint(0, 49)}"
        if rng.random() < 0.25:
            tables[side].pop(user, None)
            producer.produce(topics[side], key=user, value=None)
        else:
            value = f"{side[0]}{i}"
            tables[side][user] = value
            producer.produce(topics[side], key=user, value=value)
    producer.flush()

    # Once everything is processed, a far-future record on every partition
    # of both streams closes every window (and joins its own partner).
    wait_consumed(bootstrap, app_id, [topics["impressions"], topics["clicks"]])
    flush_ts = now + WINDOW_MS + GRACE_MS + 1000
    for partition in range(PARTITIONS):
        for side in ("impressions", "clicks"):
            producer.produce(topics[side], key=f"flush{partition}", value=side,
                             partition=partition, timestamp=flush_ts)
    producer.flush()

    expected = attribution_model(impressions, clicks)
    unmatched = sum(1 for _, value, _ in expected if value.endswith(", null]"))
    assert len(expected) - unmatched > 1000 and unmatched > 10  # both kinds of result occur
    placed = []
    attributed = read_all(bootstrap, topics["attributed"],
                          lambda records: len(records) >= len(expected) + PARTITIONS,
                          partitions=placed)
    joined = sorted(r for r in attributed if not r[0].startswith("flush"))
    assert joined == expected
    assert len(attributed) == len(expected) + PARTITIONS  # each flush pair once
    # The application's StreamPartitioner: "adN" (and "flushN") on partition N mod 3.
    assert {partition for _, partition in placed} == set(range(PARTITIONS))
    for key, partition in placed:
        assert partition == int(key.lstrip("adflush")) % PARTITIONS, (key, partition)

    model = {}
    for user in set(tables["users"]) | set(tables["regions"]):
        name = tables["users"].get(user, "null")
        region = tables["regions"].get(user, "null")
        model[user] = f"[{name}, {region}]"

    def as_table(records):
        table = {}
        for key, value, _ in records:
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
        return table

    user_regions = read_all(bootstrap, topics["user-regions"],
                            lambda records: as_table(records) == model)
    assert as_table(user_regions) == model
    assert any(value is None for _, value, _ in user_regions)  # deletions reached the output
    app.stop()


def test_inputs_with_different_partition_counts_are_refused(module_broker, apps):
    bootstrap = module_broker.bootstrap
    prefix, app_id = unique_topic("joins"), unique_topic("joins-app")
    counts = {"impressions": 2, "clicks": 3, "attributed": 1, "users": 3, "regions": 3,
              "user-regions": 1}
    create_topics(bootstrap, {f"{prefix}-{name}": n for name, n in counts.items()})
    app = apps(bootstrap, app_id, prefix).launch()
    assert app.proc.wait(timeout=30) == 1
    assert (f"Topics not co-partitioned: [{{{prefix}-clicks=3, {prefix}-impressions=2}}]"
            in app.log()), app.log()
