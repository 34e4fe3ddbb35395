"""Client quotas (issue 18, part 4), as Kafka applies them: set and listed with
`sluice quota` (AlterClientQuotas / DescribeClientQuotas, kept in the metadata log),
a throttled client told its throttle time in Produce and Fetch answers and its
connection muted for it (KIP-219), a throttled Fetch answered empty, controller
mutations refused with THROTTLING_QUOTA_EXCEEDED, and real clients held to their
byte rates within 10% over 30 s."""

import subprocess
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import client_wire
import kafka_wire
from conftest import sluice_bin, unique_topic

ERR_THROTTLING_QUOTA_EXCEEDED = 89
RAW_CLIENT_ID = "sluice-it"  # the client id kafka_wire's requests carry


def quota(broker, *args, check=True):
    cmd = [sluice_bin(), "quota", *args, "-b", broker.bootstrap]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if check:
        assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}:\n{out}\n{err}"
    return p.returncode, out, err


def quota_lines(broker, *filter_args):
    return sorted(quota(broker, "list", *filter_args)[1].splitlines())


def create_topic(broker, name, partitions=1):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=30)


def test_quotas_are_set_listed_removed_and_kept_across_a_restart(broker):
    quota(broker, "set", "--user", "alice", "producer_byte_rate=1048576", "consumer_byte_rate=2097152")
    quota(broker, "set", "--default-user", "--client-id", "app", "request_percentage=12.5")
    quota(broker, "set", "--default-client-id", "controller_mutation_rate=10")
    quota(broker, "set", "--ip", "10.1.2.3", "connection_creation_rate=5")
    assert quota_lines(broker) == sorted([
        "Quota configs for user-principal 'alice' are consumer_byte_rate=2097152.0, producer_byte_rate=1048576.0",
        "Quota configs for user-principal '<default>', client-id 'app' are request_percentage=12.5",
        "Quota configs for client-id '<default>' are controller_mutation_rate=10.0",
        "Quota configs for ip '10.1.2.3' are connection_creation_rate=5.0",
    ])
    # Kafka's filters: an exact user matches every entity naming it; --strict only itself.
    assert len(quota_lines(broker, "--default-user")) == 1
    assert len(quota_lines(broker, "--client-id", "app", "--strict")) == 0
    broker.restart()
    assert len(quota_lines(broker)) == 4
    quota(broker, "set", "--user", "alice", "--delete", "producer_byte_rate")
    quota(broker, "set", "--ip", "10.1.2.3", "--delete", "connection_creation_rate")
    assert quota_lines(broker, "--user", "alice") == [
        "Quota configs for user-principal 'alice' are consumer_byte_rate=2097152.0"]
    assert not any("10.1.2.3" in line for line in quota_lines(broker))


@pytest.mark.parametrize("args, message", [
    (["--user", "alice", "producer_byte_rate=1.5"], "producer_byte_rate cannot be a fractional value."),
    (["--user", "alice", "producer_byte_rate=0"], "Quota producer_byte_rate must be greater than 0"),
    (["--user", "alice", "bogus_rate=1"], "Invalid configuration key bogus_rate"),
    (["--ip", "10.1.2.3", "producer_byte_rate=1"], "Invalid configuration key producer_byte_rate"),
    (["--ip", "not-an-address", "connection_creation_rate=1"], "is not a valid IP"),
])
def test_bad_quotas_are_refused_with_kafkas_error(module_broker, args, message):
    code, out, err = quota(module_broker, "set", *args, check=False)
    assert code == 1
    assert "INVALID_REQUEST" in err and message in err, err
    assert quota_lines(module_broker) == []


def test_a_throttled_producer_is_told_and_its_connection_muted(broker):
    topic = unique_topic("quota-produce")
    create_topic(broker, topic)
    quota(broker, "set", "--client-id", RAW_CLIENT_ID, "producer_byte_rate=100000")
    # 300 KB at once against 100,000 B/s: a burst of one window (100 KB) is free,
    # the 200 KB beyond it cost 2 s.
    batch = client_wire.record_batch(b"x" * 300_000)
    with kafka_wire.connect(broker.port, 15) as sock:
        answer = client_wire.produce(broker.port, topic, 0, None, batch=batch, sock=sock)
        assert answer["error"] == 0
        assert 1_500 <= answer["throttle_ms"] <= 2_600, answer
        started = time.monotonic()
        kafka_wire.call(sock, kafka_wire.API_API_VERSIONS, 0, b"", 77)
        muted_s = time.monotonic() - started
    assert muted_s >= 0.8 * answer["throttle_ms"] / 1000, muted_s
    # The mute is the connection's: another one is answered at once.
    started = time.monotonic()
    assert kafka_wire.api_versions(broker.port)[0] == kafka_wire.ERR_NONE
    assert time.monotonic() - started < 1.0


def test_a_throttled_fetch_is_answered_empty(broker):
    topic = unique_topic("quota-fetch")
    create_topic(broker, topic)
    for _ in range(2):  # 2 batches of 45 KB
        assert client_wire.produce(broker.port, topic, 0, b"y" * 45_000)["error"] == 0
    quota(broker, "set", "--client-id", RAW_CLIENT_ID, "consumer_byte_rate=10000")
    # Within the quota when asked: the data, though one batch is more than a window of
    # the quota (the fetch is capped at 10 KB, but a first batch always goes), and the
    # throttle it causes: 35 KB over the burst at 10,000 B/s.
    first = client_wire.fetch(broker.port, topic, 0, 0)
    assert first["error"] == 0 and 45_000 <= len(first["records"]) < 90_000, len(first["records"])
    assert 3_000 <= first["throttle_ms"] <= 3_700, first["throttle_ms"]
    # Already over it (a new connection: the quota is the client id's): an empty answer.
    second = client_wire.fetch(broker.port, topic, 0, 0)
    assert second["error"] is None and second["top_error"] == 0, second
    assert second["throttle_ms"] > 0


def create_topics_v7(port, names, partitions):
    """CreateTopics v7 (strict controller mutation quota): [(name, error)], throttle."""
    def topic_entry(w, name):
        w.compact_string(name).i32(partitions).i16(1).compact_array([], None).compact_array([], None).no_tags()
    w = kafka_wire.Writer().compact_array(names, topic_entry).i32(30000).i8(0).no_tags()
    with kafka_wire.connect(port, 15) as sock:
        r = kafka_wire.call(sock, 19, 7, bytes(w.buf), 5, flexible=True)
        throttle = r.i32()

        def result(t):
            name = t.compact_string()
            t._take(16)
            error = t.i16()
            t.compact_string()
            t.i32()
            t.i16()
            t.compact_array(lambda c: (c.compact_string(), c.compact_string(), c.i8(), c.i8(), c.i8(),
                                       c.skip_tags()))
            t.skip_tags()
            return name, error
        return r.compact_array(result), throttle


def test_controller_mutations_beyond_the_quota_are_refused(broker):
    quota(broker, "set", "--client-id", RAW_CLIENT_ID, "controller_mutation_rate=1")
    # Burst: 11 windows of 1 mutation/s. The first topic takes 20 partitions
    # (the bucket goes below zero), the next one is refused.
    names = [unique_topic("mut-a"), unique_topic("mut-b")]
    results, throttle = create_topics_v7(broker.port, names, 20)
    assert dict(results) == {names[0]: 0, names[1]: ERR_THROTTLING_QUOTA_EXCEEDED}, results
    assert 8_000 <= throttle <= 9_100, throttle  # 9 partitions below zero at 1/s


# ---- rates held by real clients --------------------------------------------------------

QUOTA_BYTES_S = 262_144
MEASURE_FROM_S = 12.0  # past the clients' start-up and first bursts (3 s measured 0.88x for the consumer on a loaded CI run)
MEASURE_S = 30.0
VALUE = b"v" * 1000


def produce_flat_out(bootstrap, topic, until, delivered):
    # Small requests, so the bytes of a 30 s window are not a few large steps.
    producer = Producer({"bootstrap.servers": bootstrap, "client.id": "slow-producer", "linger.ms": 5,
                         "acks": 1, "batch.size": 65536, "queue.buffering.max.kbytes": 1024})

    def on_delivery(err, msg):
        if err is None:
            delivered.append((time.monotonic(), len(msg.value())))
    while time.monotonic() < until:
        try:
            producer.produce(topic, VALUE, on_delivery=on_delivery)
        except BufferError:
            producer.poll(0.05)
        producer.poll(0)
    producer.flush(30)


def consume_flat_out(bootstrap, topic, until, received):
    consumer = Consumer({"bootstrap.servers": bootstrap, "client.id": "slow-consumer", "group.id": "q",
                         "enable.auto.commit": False, "fetch.max.bytes": 65536,
                         "max.partition.fetch.bytes": 65536, "message.max.bytes": 65536})
    consumer.assign([TopicPartition(topic, 0, 0)])
    while time.monotonic() < until:
        for msg in consumer.consume(1000, 0.2):
            if msg.error() is None:
                received.append((time.monotonic(), len(msg.value())))
    consumer.close()


def rate_in(events, start, end):
    return sum(size for t, size in events if start <= t < end) / (end - start)


def test_a_producer_and_a_consumer_are_held_to_their_rates(broker):
    backlog, out = unique_topic("quota-backlog"), unique_topic("quota-out")
    create_topic(broker, backlog)
    create_topic(broker, out)
    filler = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20})
    for _ in range(20_000):  # 20 MB the consumer cannot drain at its rate in the run
        while True:
            try:
                filler.produce(backlog, VALUE)
                break
            except BufferError:
                filler.poll(0.05)
    assert filler.flush(60) == 0
    quota(broker, "set", "--client-id", "slow-producer", f"producer_byte_rate={QUOTA_BYTES_S}")
    quota(broker, "set", "--client-id", "slow-consumer", f"consumer_byte_rate={QUOTA_BYTES_S}")
    start = time.monotonic()
    until = start + MEASURE_FROM_S + MEASURE_S
    delivered, received = [], []
    workers = [threading.Thread(target=produce_flat_out, args=(broker.bootstrap, out, until, delivered)),
               threading.Thread(target=consume_flat_out, args=(broker.bootstrap, backlog, until, received))]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    window = (start + MEASURE_FROM_S, until)
    produced, consumed = rate_in(delivered, *window), rate_in(received, *window)
    print(f"quota {QUOTA_BYTES_S} B/s: produced {produced:.0f} B/s, consumed {consumed:.0f} B/s "
          f"(values only, over {MEASURE_S:.0f} s)")
    # The quota counts whole requests and record batches; values are ~97% of them.
    assert 0.9 * QUOTA_BYTES_S <= produced <= 1.1 * QUOTA_BYTES_S
    assert 0.9 * QUOTA_BYTES_S <= consumed <= 1.1 * QUOTA_BYTES_S
