#!/usr/bin/env python3
"""Whole client sessions for record_proxy.py: what confluent-kafka and kafka-python
send when used as applications use them (admin calls, producing, a consumer group
that commits, fetches, offset lookups, leaving). The answers come from a real
broker; this script only needs to run each path once, so errors are printed and
skipped, never fatal.

Usage: sessions_python.py BOOTSTRAP
"""

import sys
import time
import traceback


def attempt(what, action):
    try:
        action()
    except Exception:  # noqa: BLE001 - a capture run records what it can
        print(f"sessions_python: {what} failed:\n{traceback.format_exc()}", file=sys.stderr)


def confluent_session(bootstrap):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

    common = {"bootstrap.servers": bootstrap, "client.id": "confluent"}
    admin = AdminClient(common)

    def wait(futures):
        for future in futures.values():
            attempt("admin future", lambda: future.result(10))

    wait(admin.create_topics([NewTopic("fz-a", 3, 1, config={"cleanup.policy": "compact", "retention.ms": "60000"}),
                              NewTopic("fz-b", 2, 1)]))
    wait(admin.create_partitions([NewPartitions("fz-b", 4)]))
    wait(admin.describe_configs([ConfigResource("topic", "fz-a"), ConfigResource("broker", "1")]))
    wait(admin.alter_configs([ConfigResource("topic", "fz-b", set_config={"retention.ms": "120000"})]))
    attempt("list_topics", lambda: admin.list_topics(timeout=10))
    attempt("list_groups", lambda: admin.list_groups(timeout=10))

    def produce(settings):
        producer = Producer({**common, "linger.ms": 5, "message.timeout.ms": 5000, **settings})
        for i in range(30):
            producer.produce("fz-a", key=f"k{i % 5}", value=f"v{i}", headers=[("h", b"1")])
            producer.produce("fz-b", value=f"b{i}", partition=i % 4)
        producer.flush(10)

    attempt("produce", lambda: produce({"compression.type": "lz4"}))

    consumer = Consumer({**common, "group.id": "fz-group", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "session.timeout.ms": 6000})
    consumer.subscribe(["fz-a", "fz-b"])
    got = 0
    deadline = time.monotonic() + 15
    while got < 40 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            got += 1
    attempt("commit", lambda: consumer.commit(asynchronous=False))
    attempt("committed", lambda: consumer.committed([TopicPartition("fz-a", 0)], timeout=10))
    attempt("offsets_for_times",
            lambda: consumer.offsets_for_times([TopicPartition("fz-a", 0, int(time.time() * 1000) - 60000)], 10))
    attempt("watermarks", lambda: consumer.get_watermark_offsets(TopicPartition("fz-b", 1), timeout=10))
    consumer.close()

    # Last: a broker without InitProducerId makes this producer fail fatally.
    attempt("idempotent produce", lambda: produce({"enable.idempotence": True}))
    wait(admin.delete_topics(["fz-b"]))


def kafka_python_session(bootstrap):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic

    common = {"bootstrap_servers": bootstrap, "client_id": "kafka-python"}
    admin = KafkaAdminClient(**common)
    attempt("create_topics", lambda: admin.create_topics([NewTopic("fz-c", 2, 1, topic_configs={"segment.ms": "600000"})]))
    attempt("create_partitions", lambda: admin.create_partitions({"fz-c": NewPartitions(3)}))
    attempt("describe_configs",
            lambda: admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "fz-c")]))
    attempt("alter_configs",
            lambda: admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "fz-c", {"retention.ms": "90000"})]))

    producer = KafkaProducer(**common, acks="all", compression_type="gzip", linger_ms=5)
    for i in range(20):
        producer.send("fz-c", key=f"k{i}".encode(), value=f"v{i}".encode(), headers=[("h", b"x")])
    producer.flush(10)
    producer.close()

    consumer = KafkaConsumer("fz-c", **common, group_id="fz-kp", auto_offset_reset="earliest",
                             consumer_timeout_ms=5000, enable_auto_commit=False)
    for _ in consumer:
        pass
    attempt("commit", consumer.commit)
    consumer.close()
    attempt("list_consumer_groups", admin.list_consumer_groups)
    attempt("describe_consumer_groups", lambda: admin.describe_consumer_groups(["fz-kp"]))
    attempt("list_consumer_group_offsets", lambda: admin.list_consumer_group_offsets("fz-kp"))
    attempt("delete_topics", lambda: admin.delete_topics(["fz-c"]))
    admin.close()


def main():
    bootstrap = sys.argv[1]
    attempt("confluent-kafka session", lambda: confluent_session(bootstrap))
    attempt("kafka-python session", lambda: kafka_python_session(bootstrap))


if __name__ == "__main__":
    main()
