"""The workload side of the Jepsen-style checks (issue 16): confluent-kafka
producers and a consumer group that record everything into a
jepsen_checker.History, the final read-back of every partition, and a seeded
fault schedule (kill -9 + restart, SIGSTOP/SIGCONT, a broker's links cut)
against a cluster_harness.Cluster. Used by test_replication_faults.py (ctest
cluster_replication_faults, `make soak-replication`) and
test_client_failover.py."""

import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import kafka_wire  # noqa: E402

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition


API_INIT_PRODUCER_ID = 22
# librdkafka logs only critical events: every refused connection during a
# fault would otherwise fill the output (a failure prints the broker logs).
QUIET = 2


def rdkafka_debug(config, variable):
    """librdkafka's debug contexts from $`variable` (e.g. SLUICE_RDKAFKA_CONSUMER_DEBUG=cgrp,fetch),
    logged to stderr, for looking into a failure; none unless set."""
    contexts = os.environ.get(variable)
    if contexts:
        config.update({"debug": contexts, "log_level": 7})
    return config


def supports_idempotence(port):
    """Whether the broker on `port` answers InitProducerId (Sluice does once
    issue 17 lands): librdkafka refuses enable.idempotence otherwise, fatally."""
    _, versions = kafka_wire.api_versions(port)
    return API_INIT_PRODUCER_ID in versions


def acks_all_producer_config(bootstrap, idempotent):
    """acks=all; idempotent (enable.idempotence: no duplicates, order kept
    across retries) when the broker can, else one request in flight (order
    kept, a retried batch may be stored twice). A message timeout longer than
    any fault, so a send fails only if the cluster is down for minutes."""
    config = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "message.timeout.ms": 180000,
              "retry.backoff.ms": 100, "reconnect.backoff.max.ms": 1000, "log_level": QUIET}
    if idempotent:
        config["enable.idempotence"] = True
    else:
        config["max.in.flight.requests.per.connection"] = 1
    return rdkafka_debug(config, "SLUICE_RDKAFKA_PRODUCER_DEBUG")


class ProducerWorker(threading.Thread):
    """Sends `<name>-<seq>` round-robin over the partitions at about `rate`
    records/s until stop(); every send and its outcome go to the history."""

    def __init__(self, name, config, topic, partitions, history, rate=200):
        super().__init__(daemon=True, name=name)
        self.producer_name = name
        self.config = config
        self.topic = topic
        self.partitions = partitions
        self.history = history
        self.rate = rate
        self.stopping = threading.Event()
        self.errors = []  # delivery errors: what the application would see
        self.flush_left = None

    def _delivered(self, record):
        def callback(err, msg):
            if err is not None:
                self.errors.append(err)
                self.history.fail(record, err)
            else:
                self.history.ack(record, msg.partition(), msg.offset())
        return callback

    def run(self):
        producer = Producer(self.config)
        seq = 0
        started = time.monotonic()
        while not self.stopping.is_set():
            partition = seq % self.partitions
            value = f"{self.producer_name}-{seq}"
            record = self.history.send(self.producer_name, seq, value, partition)
            while True:
                try:
                    producer.produce(self.topic, value=value.encode(), partition=partition,
                                     on_delivery=self._delivered(record))
                    break
                except BufferError:  # local queue full while the cluster recovers
                    producer.poll(0.1)
            seq += 1
            producer.poll(0)
            ahead = seq / self.rate - (time.monotonic() - started)
            if ahead > 0:
                producer.poll(ahead)
        self.flush_left = producer.flush(120)

    def stop(self):
        self.stopping.set()


class GroupConsumer(threading.Thread):
    """A member of consumer group `group` subscribed to `topic`: records every
    polled record, its position after each poll, and a reset at each
    assignment change (the position may then go back to the committed offset).
    Commits offsets automatically (every second)."""

    def __init__(self, name, bootstrap, topic, group, history, extra=None):
        super().__init__(daemon=True, name=name)
        self.consumer_name = name
        self.config = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                       "enable.auto.commit": True, "auto.commit.interval.ms": 1000,
                       "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
                       "reconnect.backoff.max.ms": 1000, "log_level": QUIET, **(extra or {})}
        rdkafka_debug(self.config, "SLUICE_RDKAFKA_CONSUMER_DEBUG")
        self.topic = topic
        self.history = history
        self.stopping = threading.Event()
        self.errors = []
        self.values = set()
        self.assignment = []
        self.positions = []

    def _reset(self, _consumer, partitions):
        for tp in partitions:
            self.history.reset(self.consumer_name, tp.partition)

    def run(self):
        consumer = Consumer(self.config)
        consumer.subscribe([self.topic], on_assign=self._reset, on_revoke=self._reset, on_lost=self._reset)
        try:
            while not self.stopping.is_set():
                msg = consumer.poll(0.2)
                if msg is None:
                    continue
                if msg.error():
                    self.errors.append(msg.error())
                    continue
                value = msg.value().decode()
                self.values.add(value)
                self.history.poll(self.consumer_name, msg.partition(), msg.offset(), value)
                position = consumer.position([TopicPartition(self.topic, msg.partition())])[0].offset
                if position >= 0:
                    self.history.position(self.consumer_name, msg.partition(), position)
        finally:
            self._report(consumer)
            consumer.close()

    def _report(self, consumer):
        """The assignment and (committed, position) per partition at the end, for a failure's report."""
        try:
            self.assignment = sorted(tp.partition for tp in consumer.assignment())
            tps = consumer.assignment()
            committed = consumer.committed(tps, timeout=5)
            positions = consumer.position(tps)
            self.positions = [(c.partition, c.offset, p.offset) for c, p in zip(committed, positions)]
        except Exception as e:  # noqa: BLE001 - diagnostics only
            self.positions = [repr(e)]

    def stop(self):
        self.stopping.set()


def read_back(bootstrap, topic, partitions, history, timeout_s=60):
    """Every partition from offset 0 to its high watermark into history.final."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "jepsen-read-back",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        for p in range(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            assert low == 0, f"partition {p}: log start offset {low}"
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)])
            records = []
            deadline = time.monotonic() + timeout_s
            while (not records or records[-1][0] < high - 1) and high > 0:
                assert time.monotonic() < deadline, f"partition {p}: read {len(records)} of {high} records"
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        print(f"read-back of partition {p}: {msg.error()}")
                    continue
                records.append((msg.offset(), msg.value().decode()))
            history.set_final(p, records)
    finally:
        consumer.close()


FAULTS = ("kill9", "pause", "isolate")


def fault_schedule(seed, brokers, count, hold=(3.0, 6.0), rest=(3.0, 5.0)):
    """`count` faults drawn with random.Random(seed): (fault, broker id, hold
    s, rest s), each kind once (shuffled) before the rest at random. The same
    seed gives the same schedule (replay a failure)."""
    rng = random.Random(seed)
    kinds = rng.sample(FAULTS, len(FAULTS))
    return [(kinds[i] if i < len(kinds) else rng.choice(FAULTS), rng.choice(brokers),
             round(rng.uniform(*hold), 1), round(rng.uniform(*rest), 1))
            for i in range(count)]


def apply_fault(cluster, fault, node_id, hold_s, log=print):
    """One fault held for hold_s, then healed: kill -9 then restart, SIGSTOP
    then SIGCONT, or every proxied link of the node cut then healed."""
    node = cluster.node(node_id)
    log(f"  fault {fault} of node {node_id} for {hold_s} s")
    if fault == "kill9":
        # Its listener proxy refuses connections while it is down, as the
        # dead broker's port would (not accept-then-close: see LinkProxy).
        listener = cluster.listener_proxies.get(node_id)
        node.kill9()
        if listener:
            listener.cut()
        time.sleep(hold_s)
        node.start()
        if listener:
            listener.heal()
    elif fault == "pause":
        node.process.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(hold_s)
        finally:
            node.process.proc.send_signal(signal.SIGCONT)
    elif fault == "isolate":
        cluster.isolate(node_id)
        try:
            time.sleep(hold_s)
        finally:
            cluster.heal_all()
    else:
        raise ValueError(fault)


def run_schedule(cluster, schedule, deadline=None, log=print):
    """The faults one after another (each healed before the next), stopping
    early past `deadline` (time.monotonic())."""
    done = 0
    for fault, node_id, hold_s, rest_s in schedule:
        if deadline is not None and time.monotonic() + hold_s > deadline:
            break
        apply_fault(cluster, fault, node_id, hold_s, log)
        time.sleep(rest_s)
        done += 1
    return done


class KafkaPythonProducer(threading.Thread):
    """kafka-python (no idempotence in 2.0): acks=all, one request in flight,
    retries enough to outlast an election; `<name>-<seq>` round-robin, each
    send's future recorded into the history. Errors its futures raise are
    what the application sees."""

    def __init__(self, name, bootstrap, topic, partitions, history, rate=100):
        super().__init__(daemon=True, name=name)
        self.producer_name = name
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.history = history
        self.rate = rate
        self.stopping = threading.Event()
        self.errors = []
        self.flush_left = None

    def run(self):
        from kafka import KafkaProducer
        producer = KafkaProducer(bootstrap_servers=self.bootstrap.split(","), acks="all", retries=50,
                                 retry_backoff_ms=200, max_in_flight_requests_per_connection=1,
                                 request_timeout_ms=10000, linger_ms=5, reconnect_backoff_max_ms=1000)
        seq = 0
        started = time.monotonic()
        while not self.stopping.is_set():
            partition = seq % self.partitions
            value = f"{self.producer_name}-{seq}"
            record = self.history.send(self.producer_name, seq, value, partition)
            future = producer.send(self.topic, value=value.encode(), partition=partition)
            future.add_callback(lambda meta, r=record: self.history.ack(r, meta.partition, meta.offset))
            future.add_errback(lambda err, r=record: (self.errors.append(err), self.history.fail(r, err)))
            seq += 1
            ahead = seq / self.rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        producer.flush(120)
        self.flush_left = sum(1 for s in self.history.sends
                              if s["producer"] == self.producer_name and s["outcome"] == "unknown")
        producer.close(10)

    def stop(self):
        self.stopping.set()


class KafkaPythonConsumer(threading.Thread):
    """A kafka-python member of consumer group `group` (auto commit): polls,
    positions and a reset per (re)assigned partition into the history.
    Exceptions out of poll() are what the application sees."""

    def __init__(self, name, bootstrap, topic, group, history):
        super().__init__(daemon=True, name=name)
        self.consumer_name = name
        self.bootstrap = bootstrap
        self.topic = topic
        self.group = group
        self.history = history
        self.stopping = threading.Event()
        self.errors = []
        self.values = set()

    def run(self):
        from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition as KTopicPartition
        history, name = self.history, self.consumer_name

        class Resets(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                for tp in revoked:
                    history.reset(name, tp.partition)

            def on_partitions_assigned(self, assigned):
                for tp in assigned:
                    history.reset(name, tp.partition)

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap.split(","), group_id=self.group,
                                 auto_offset_reset="earliest", enable_auto_commit=True,
                                 auto_commit_interval_ms=1000, session_timeout_ms=10000,
                                 heartbeat_interval_ms=1000, request_timeout_ms=30000,
                                 reconnect_backoff_max_ms=1000)
        consumer.subscribe([self.topic], listener=Resets())
        try:
            while not self.stopping.is_set():
                try:
                    batches = consumer.poll(timeout_ms=200)
                except Exception as e:  # noqa: BLE001 - what the application would see
                    self.errors.append(e)
                    time.sleep(0.2)
                    continue
                for tp, records in batches.items():
                    for r in records:
                        value = r.value.decode()
                        self.values.add(value)
                        self.history.poll(name, tp.partition, r.offset, value)
                    self.history.position(name, tp.partition, consumer.position(KTopicPartition(tp.topic, tp.partition)))
        finally:
            consumer.close()

    def stop(self):
        self.stopping.set()


def kafkajs_history(lines, history, name="js"):
    """Feeds tests/clients/js/failover_client.js's JSON lines into `history`;
    returns (application errors, consumer crashes)."""
    import json
    records, errors, crashes = {}, [], []
    for line in lines:
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        kind = event["e"]
        if kind == "send":
            records[event["seq"]] = history.send(name, event["seq"], event["value"], event["partition"])
        elif kind == "ack":
            history.ack(records[event["seq"]], event["partition"], event["offset"])
        elif kind == "fail":
            errors.append(event["error"])
            history.fail(records[event["seq"]], event["error"])
        elif kind == "poll":
            history.poll(name, event["partition"], event["offset"], event["value"])
        elif kind == "reset":
            history.reset(name, event["partition"])
        elif kind == "crash":
            crashes.append(event["error"])
    return errors, crashes
