"""A foreign-key table-table join and a stream-globaltable join on
sluice-streams (examples/fkjoin) against a real broker:

- orders ("product|quantity", 3 partitions) join products (2 partitions) on
  the product id: random updates to both, foreign key changes and deletions
  included, before and while the application runs; the output topic read
  as a table converges to the join of the two tables the test computes.
  The internal topics are Kafka Streams' and co-partitioned as Kafka's
  (registration topic as products, response topic as orders).
- clicks keyed by session join a global table of users on the user id in
  the click: every click is enriched with its user's region, whatever
  partition either lands in.
- a kill -9 while updates arrive (exactly_once_v2), then a restart: the
  join still converges (the subscription store and the tables restore
  from their changelogs).

Inputs are written with Java's partitioner (murmur2), as Kafka Streams
expects of the topics it joins.
"""

import os
import random
import sys
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from conftest import unique_topic  # noqa: E402
import streams_support  # noqa: E402
from streams_support import create_topics, topic_partitions  # noqa: E402

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
ORDERS_PARTITIONS = 3
PRODUCTS_PARTITIONS = 2


class App(streams_support.StreamsApp):
    """One streams-fkjoin process."""

    def __init__(self, workdir, bootstrap, app_id, topics, settings):
        cmd = [streams_support.example_bin("fkjoin"), "--bootstrap-server", bootstrap,
               "--application-id", app_id]
        for flag, topic in topics.items():
            cmd += [f"--{flag}", topic]
        super().__init__(workdir, cmd + streams_support.set_flags(settings), "fkjoin")


@pytest.fixture
def app_factory(tmp_path):
    yield from streams_support.made_apps(tmp_path, App)


class Tables:
    """The updates the test writes and the tables they leave."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.orders = {}
        self.products = {}
        self.step = 0

    def updates(self, count):
        """(topic kind, key, value or None) updates, applied to the model."""
        out = []
        for _ in range(count):
            self.step += 1
            roll = self.rng.random()
            if roll < 0.45:  # an order, new or changed (maybe a new product)
                key = f"o{self.rng.randrange(120)}"
                value = f"p{self.rng.randrange(25)}|{self.step}"
                self.orders[key] = value
                out.append(("orders", key, value))
            elif roll < 0.55:
                key = f"o{self.rng.randrange(120)}"
                self.orders.pop(key, None)
                out.append(("orders", key, None))
            elif roll < 0.92:
                key = f"p{self.rng.randrange(25)}"
                value = f"name{self.step}"
                self.products[key] = value
                out.append(("products", key, value))
            else:
                key = f"p{self.rng.randrange(25)}"
                self.products.pop(key, None)
                out.append(("products", key, None))
        return out

    def joined(self):
        result = {}
        for order, value in self.orders.items():
            product, quantity = value.split("|")
            if product in self.products:
                result[order] = f"{quantity} x {self.products[product]}"
        return result


def java_partitioned_producer(bootstrap):
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                     "partitioner": "murmur2_random"})


def produce(bootstrap, topics, updates, pause_every=0, pause_s=0.0):
    producer = java_partitioned_producer(bootstrap)
    for i, (kind, key, value) in enumerate(updates):
        producer.produce(topics[kind], key=key.encode(),
                         value=None if value is None else value.encode())
        if pause_every and i % pause_every == pause_every - 1:
            producer.flush()
            time.sleep(pause_s)
    producer.flush()


def read_table_until(bootstrap, topic, expected, timeout_s):
    """The output topic read as a table (tombstones delete), once it equals
    `expected` or the time is up; also how many records were read."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("reader"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    consumer.subscribe([topic])
    table, records = {}, 0
    deadline = time.time() + timeout_s
    try:
        while time.time() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if table == expected:
                    break
                continue
            assert message.error() is None, message.error()
            records += 1
            key = message.key().decode()
            if message.value() is None:
                table.pop(key, None)
            else:
                table[key] = message.value().decode()
    finally:
        consumer.close()
    return table, records


def read_records(bootstrap, topic, count, timeout_s):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("reader"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    records = []
    deadline = time.time() + timeout_s
    try:
        while len(records) < count and time.time() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            records.append((message.key().decode(), message.value().decode()))
        # Anything more would be a click enriched twice.
        extra = consumer.poll(1.0)
        if extra is not None and extra.error() is None:
            records.append((extra.key().decode(), extra.value().decode()))
    finally:
        consumer.close()
    return records


def make_topics(bootstrap):
    topics = {"orders": unique_topic("orders"), "products": unique_topic("products"),
              "orders-output": unique_topic("orders-enriched"), "clicks": unique_topic("clicks"),
              "users": unique_topic("users"), "clicks-output": unique_topic("clicks-enriched")}
    create_topics(bootstrap, {topics["orders"]: ORDERS_PARTITIONS,
                              topics["products"]: PRODUCTS_PARTITIONS,
                              topics["orders-output"]: ORDERS_PARTITIONS,
                              topics["clicks"]: 3, topics["users"]: 2,
                              topics["clicks-output"]: 3})
    return topics


def test_foreign_key_and_global_joins_equal_the_model(module_broker, app_factory):
    bootstrap = module_broker.bootstrap
    topics = make_topics(bootstrap)
    app_id = unique_topic("fk")
    tables = Tables(seed=11)
    produce(bootstrap, topics, tables.updates(800))  # before the start
    rng = random.Random(12)
    users = {f"u{i}": f"region{rng.randrange(5)}" for i in range(30)}
    producer = java_partitioned_producer(bootstrap)
    for user, region in users.items():
        producer.produce(topics["users"], key=user.encode(), value=region.encode())
    producer.flush()

    app = app_factory(bootstrap, app_id, topics, {"commit.interval.ms": "200"}).start()
    produce(bootstrap, topics, tables.updates(800), pause_every=100, pause_s=0.05)  # while running
    clicks = []
    for i in range(300):
        user = rng.choice(sorted(users))
        clicks.append((f"s{rng.randrange(20)}", f"{user}|/page{i}"))
    for session, click in clicks:
        producer.produce(topics["clicks"], key=session.encode(), value=click.encode())
    producer.flush()

    expected = tables.joined()
    table, records = read_table_until(bootstrap, topics["orders-output"], expected, 60)
    assert table == expected
    print(f"foreign-key join: {records} output records for {len(expected)} joined orders")
    enriched = read_records(bootstrap, topics["clicks-output"], len(clicks), 30)
    model = [(session, f"{click.split('|')[1]}@{users[click.split('|')[0]]}")
             for session, click in clicks]
    assert sorted(enriched) == sorted(model)
    app.stop()

    # Kafka Streams' internal topics, co-partitioned as Kafka's.
    registration = f"{app_id}-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic"
    response = f"{app_id}-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic"
    store = f"{app_id}-KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010-changelog"
    assert topic_partitions(bootstrap, registration) == PRODUCTS_PARTITIONS
    assert topic_partitions(bootstrap, response) == ORDERS_PARTITIONS
    assert topic_partitions(bootstrap, store) == PRODUCTS_PARTITIONS
    # A global table has no changelog of its own.
    topic_names = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).topics
    assert not [t for t in topic_names if t.startswith(app_id) and "users" in t]


def test_foreign_key_join_converges_across_a_kill(module_broker, app_factory):
    guarantee = "exactly_once_v2"
    bootstrap = module_broker.bootstrap
    topics = make_topics(bootstrap)
    tables = Tables(seed=21)
    produce(bootstrap, topics, tables.updates(400))
    settings = {"processing.guarantee": guarantee, "commit.interval.ms": "300",
                "consumer.session.timeout.ms": "6000"}
    app = app_factory(bootstrap, unique_topic("fk"), topics, settings).start()
    updates = tables.updates(1500)
    writer = threading.Thread(target=produce, args=(bootstrap, topics, updates, 100, 0.1))
    writer.start()
    time.sleep(0.5)
    assert writer.is_alive(), "the updates were all written before the kill: not mid-stream"
    app.kill9()
    writer.join()
    app.start()
    expected = tables.joined()
    table, records = read_table_until(bootstrap, topics["orders-output"], expected, 90)
    app.stop()
    assert table == expected
    print(f"{guarantee}: {records} output records after a kill for {len(expected)} joined orders")
