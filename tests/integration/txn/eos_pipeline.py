#!/usr/bin/env python3
"""One instance of a consume-transform-produce pipeline with confluent-kafka
(librdkafka's transactional producer), as Kafka's exactly-once applications
are written: a read_committed consumer in a group, and for each batch of
input records a transaction that writes one output record per input (to the
same partition number of the output topic) and sends the consumer's
positions with send_offsets_to_transaction(consumer_group_metadata()).

Every `--abort-every`-th transaction is aborted on purpose after its records
were delivered (then the inputs are read again). An abortable error aborts
the transaction and reads the inputs again; a fatal one (PRODUCER_FENCED:
another instance took over the transactional.id) exits 3. The instance exits
0 once the group's committed offsets reach `--end` on every partition.

Each step is journaled as a JSON line (see eos_checker.py) before the next
one starts, so a SIGKILL leaves a journal telling how far it got. Run by
eos.Pipeline (tests/integration/txn) and bench/txn_bench.py."""

import argparse
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eos_checker import ON_PURPOSE, output_value, tag_of  # noqa: E402

FENCED_EXIT = 3
ABORT_FAILED_EXIT = 4


class Journal:
    def __init__(self, path, instance):
        self.file = open(path, "a", buffering=1)
        self.instance = instance

    def __call__(self, kind, txn=None, **fields):
        self.file.write(json.dumps({"e": kind, "instance": self.instance, "txn": txn, "t": time.time(),
                                    **fields}) + "\n")


def parse_args():
    a = argparse.ArgumentParser()
    a.add_argument("--bootstrap", required=True)
    a.add_argument("--input", required=True)
    a.add_argument("--output", required=True)
    a.add_argument("--partitions", type=int, required=True)
    a.add_argument("--group", required=True)
    a.add_argument("--transactional-id", required=True)
    a.add_argument("--instance", required=True)
    a.add_argument("--journal", required=True)
    a.add_argument("--end", required=True, help="p:offset,... the input ends")
    a.add_argument("--batch", type=int, default=100)
    a.add_argument("--abort-every", type=int, default=0)
    a.add_argument("--pause-ms", type=int, default=0, help="sleep inside each transaction before its end")
    a.add_argument("--transaction-timeout-ms", type=int, default=15000)
    return a.parse_args()


class Instance:
    def __init__(self, args):
        self.args = args
        self.journal = Journal(args.journal, args.instance)
        self.end = {int(p): int(o) for p, o in (item.split(":") for item in args.end.split(","))}
        timeout = args.transaction_timeout_ms
        self.producer = Producer({
            "bootstrap.servers": args.bootstrap, "transactional.id": args.transactional_id,
            "transaction.timeout.ms": timeout, "message.timeout.ms": timeout, "linger.ms": 5,
            "reconnect.backoff.max.ms": 1000, "log_level": 3})
        # A static member: the next instance takes this one's place in the
        # group at once instead of waiting out the dead member's session.
        self.consumer = Consumer({
            "bootstrap.servers": args.bootstrap, "group.id": args.group,
            "group.instance.id": f"{args.group}-pipeline", "isolation.level": "read_committed",
            "enable.auto.commit": False, "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
            "reconnect.backoff.max.ms": 1000, "log_level": 3})
        self.txn = 0
        self.last_done_check = 0.0

    def run(self):
        self.producer.init_transactions(60)
        self.journal("init")
        self.consumer.subscribe([self.args.input])
        while True:
            msgs = [m for m in self.consumer.consume(self.args.batch, 0.5) if not self._consumer_error(m)]
            if msgs:
                code = self.transaction(msgs)
                if code is not None:
                    return code
            elif self.finished():
                self.journal("done")
                return 0

    def _consumer_error(self, msg):
        if msg.error() is None:
            return False
        self.journal("consumer_error", self.txn, error=str(msg.error()))
        return True

    def finished(self):
        """The group's committed offsets (as a read_committed consumer sees
        them) at the end of every input partition; asked once a second."""
        if time.monotonic() - self.last_done_check < 1.0:
            return False
        self.last_done_check = time.monotonic()
        tps = [TopicPartition(self.args.input, p) for p in self.end]
        try:
            committed = self.consumer.committed(tps, timeout=10)
        except KafkaException:
            return False
        return all(tp.offset >= self.end[tp.partition] for tp in committed)

    def transaction(self, msgs):
        """One transaction over `msgs`; returns an exit code to stop, else None."""
        self.txn += 1
        txn, tag = self.txn, tag_of(self.args.instance, self.txn)
        first, ends = {}, {}
        for m in msgs:
            first.setdefault(m.partition(), m.offset())
            ends[m.partition()] = m.offset() + 1
        try:
            self.producer.begin_transaction()
            self.journal("begin", txn)
            self.write(msgs, txn, tag)
            offsets = [TopicPartition(self.args.input, p, o) for p, o in sorted(ends.items())]
            self.producer.send_offsets_to_transaction(offsets, self.consumer.consumer_group_metadata(), 30)
            self.journal("offsets", txn, offsets={str(p): o for p, o in ends.items()})
            if self.args.pause_ms:
                time.sleep(self.args.pause_ms / 1000)
            if self.args.abort_every and txn % self.args.abort_every == 0:
                self.producer.abort_transaction(30)
                self.journal("abort", txn, why=ON_PURPOSE)
                self.rewind(first)
                return None
            self.journal("committing", txn)
            self.commit()
            self.journal("commit", txn)
            return None
        except KafkaException as e:
            return self.failed(e, txn, first)

    def write(self, msgs, txn, tag):
        """The output records of `msgs`, all delivered before the journal says so."""
        delivered, failed = [0], []

        def on_delivery(err, _msg):
            if err is None:
                delivered[0] += 1
            else:
                failed.append(err)

        for m in msgs:
            value = output_value(m.partition(), m.offset(), tag, m.value().decode())
            while True:
                try:
                    self.producer.produce(self.args.output, value=value.encode(), partition=m.partition(),
                                          on_delivery=on_delivery)
                    break
                except BufferError:
                    self.producer.poll(0.1)
        left = self.producer.flush(self.args.transaction_timeout_ms / 1000)
        if left or failed:
            raise KafkaException(failed[0] if failed else f"{left} output records not delivered")
        self.journal("produced", txn, n=delivered[0])

    def commit(self):
        """commit_transaction(), again while its error is retriable (Kafka's
        documented handling: a retried commit completes the same transaction)."""
        while True:
            try:
                self.producer.commit_transaction(30)
                return
            except KafkaException as e:
                err = e.args[0]
                if not (hasattr(err, "retriable") and err.retriable()):
                    raise
                self.journal("commit_retry", self.txn, error=str(err))

    def failed(self, exc, txn, first):
        err = exc.args[0] if exc.args else exc
        fatal = bool(getattr(err, "fatal", lambda: False)())
        self.journal("error", txn, error=str(err), fatal=fatal,
                     abortable=bool(getattr(err, "txn_requires_abort", lambda: False)()))
        if fatal:
            return FENCED_EXIT
        try:
            self.producer.abort_transaction(30)
        except KafkaException as e:
            self.journal("abort_failed", txn, error=str(e))
            return ABORT_FAILED_EXIT
        self.journal("abort", txn, why=str(err))
        self.rewind(first)
        return None

    def rewind(self, first):
        """Reads the inputs of an aborted transaction again."""
        for p, o in first.items():
            self.consumer.seek(TopicPartition(self.args.input, p, o))


def main():
    args = parse_args()
    instance = Instance(args)
    try:
        return instance.run()
    except KafkaException as e:
        instance.journal("error", instance.txn, error=str(e), fatal=True)
        return FENCED_EXIT


if __name__ == "__main__":
    sys.exit(main())
