"""One consumer-group member as its own process (confluent-kafka), for tests that kill it.

    group_member.py [--kafka-python] [--session-timeout-ms N] [--instance-id ID] [--commit-interval-ms N]
                    BOOTSTRAP GROUP TOPIC ASSIGNOR JOURNAL

A confluent-kafka (librdkafka) consumer, or with --kafka-python a kafka-python
KafkaConsumer (ASSIGNOR range or roundrobin, the protocol names both clients share).
It consumes in batches and, after each batch (or once --commit-interval-ms has passed
since its last commit), commits synchronously the offsets after what it processed
(enable.auto.commit off). Before a partition is revoked
it commits what it processed there. SIGTERM makes it commit, close (LeaveGroup)
and exit 0; SIGKILL leaves its session to time out.

Everything it does is appended to JOURNAL, one line per event, written to the
kernel before the next step (so a SIGKILL loses nothing that happened):
    M <partition> <offset>      processed (written before any commit covering it)
    C <partition> <offset>      committed (acknowledged): the next offset to consume
    F <error>                   a commit that failed
    A <p,p,...>                 partitions assigned (incrementally with cooperative-sticky)
    R <p,p,...>                 partitions revoked
    E <error>                   a consume error
    L                           left the group (after close)
"""

import argparse
import os
import signal
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition


def next_batch(consumer, size_max=500):
    """Up to size_max messages, one poll() at a time: librdkafka 2.0's batch API
    (consume()) may skip buffered messages when a rebalance lands mid-batch (fixed in
    librdkafka 2.1), which would look like lost messages."""
    batch = []
    msg = consumer.poll(0.2)
    while msg is not None:
        batch.append(msg)
        if len(batch) >= size_max:
            break
        msg = consumer.poll(0)
    return batch


def main_confluent(bootstrap, group, topic, assignor, journal_path, session_timeout_ms, instance_id,
                   commit_interval_ms):
    journal = os.open(journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(lines):
        if lines:
            os.write(journal, ("\n".join(lines) + "\n").encode())

    conf = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "partition.assignment.strategy": assignor,
            "session.timeout.ms": int(session_timeout_ms), "heartbeat.interval.ms": 250,
            "enable.partition.eof": False}
    if instance_id:
        conf["group.instance.id"] = instance_id
    if os.environ.get("SLUICE_MEMBER_DEBUG"):  # librdkafka's debug contexts, to the member's stderr
        conf["debug"] = os.environ["SLUICE_MEMBER_DEBUG"]
    consumer = Consumer(conf)
    processed_up_to = {}  # partition -> next offset after the last processed message
    committed = {}
    last_commit_at = [time.monotonic()]

    def commit(partitions):
        offsets = [TopicPartition(topic, p, processed_up_to[p]) for p in sorted(partitions)
                   if p in processed_up_to and processed_up_to[p] != committed.get(p)]
        if not offsets:
            return
        try:
            results = consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as e:
            write([f"F {e.args[0]}"])
            return
        lines = []
        for tp in results:
            if tp.error is None:
                committed[tp.partition] = tp.offset
                lines.append(f"C {tp.partition} {tp.offset}")
            else:
                lines.append(f"F {tp.partition} {tp.error}")
        write(lines)

    def on_assign(_consumer, partitions):
        write(["A " + ",".join(str(p.partition) for p in partitions)])

    def on_revoke(_consumer, partitions):
        revoked = [p.partition for p in partitions]
        commit(revoked)
        for p in revoked:
            processed_up_to.pop(p, None)
            committed.pop(p, None)
        write(["R " + ",".join(str(p) for p in revoked)])

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    while not stopping:
        batch = next_batch(consumer)
        lines = []
        for msg in batch:
            if msg.error():
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    lines.append(f"E {msg.error()}")
                continue
            lines.append(f"M {msg.partition()} {msg.offset()}")
            processed_up_to[msg.partition()] = msg.offset() + 1
        write(lines)
        if batch and time.monotonic() - last_commit_at[0] >= int(commit_interval_ms) / 1000:
            commit(list(processed_up_to))
            last_commit_at[0] = time.monotonic()
    commit(list(processed_up_to))
    consumer.close()
    write(["L"])
    os.close(journal)


def main_kafka_python(bootstrap, group, topic, assignor, journal_path, session_timeout_ms, _instance_id,
                      _commit_interval_ms):
    from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition as KTopicPartition
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.errors import KafkaError as KError

    journal = os.open(journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(lines):
        if lines:
            os.write(journal, ("\n".join(lines) + "\n").encode())

    assignors = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False, partition_assignment_strategy=[assignors[assignor]],
                             session_timeout_ms=int(session_timeout_ms), heartbeat_interval_ms=500,
                             client_id="kafka-python-member")
    processed_up_to = {}
    committed = {}

    def commit(partitions):
        offsets = {KTopicPartition(topic, p): OffsetAndMetadata(processed_up_to[p], "")
                   for p in sorted(partitions) if p in processed_up_to and processed_up_to[p] != committed.get(p)}
        if not offsets:
            return
        try:
            consumer.commit(offsets)
        except KError as e:
            write([f"F {e!r}"])
            return
        for tp, meta in offsets.items():
            committed[tp.partition] = meta.offset
        write([f"C {tp.partition} {meta.offset}" for tp, meta in offsets.items()])

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            parts = [tp.partition for tp in revoked]
            commit(parts)
            for p in parts:
                processed_up_to.pop(p, None)
                committed.pop(p, None)
            write(["R " + ",".join(str(p) for p in parts)])

        def on_partitions_assigned(self, assigned):
            write(["A " + ",".join(str(tp.partition) for tp in assigned)])

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    consumer.subscribe([topic], listener=Listener())
    while not stopping:
        batches = consumer.poll(timeout_ms=200, max_records=500)
        lines = []
        for tp, records in batches.items():
            for record in records:
                lines.append(f"M {tp.partition} {record.offset}")
                processed_up_to[tp.partition] = record.offset + 1
        write(lines)
        if batches:
            commit(list(processed_up_to))
    commit(list(processed_up_to))
    consumer.close()
    write(["L"])
    os.close(journal)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kafka-python", action="store_true")
    parser.add_argument("--session-timeout-ms", default="10000")
    parser.add_argument("--instance-id")
    parser.add_argument("--commit-interval-ms", default="0")
    for name in ("bootstrap", "group", "topic", "assignor", "journal"):
        parser.add_argument(name)
    args = parser.parse_args()
    run = main_kafka_python if args.kafka_python else main_confluent
    run(args.bootstrap, args.group, args.topic, args.assignor, args.journal, args.session_timeout_ms, args.instance_id,
        args.commit_interval_ms)
