"""Faults against one broker while an acks=all producer runs: kill -9, SIGSTOP then
SIGCONT, SIGSTOP then kill -9, SIGTERM mid-stream. After every round the broker starts
again on its data and a checker reads every partition: each acknowledged message is at
the offset it was acknowledged at, none is stored twice, and values keep their produce
order per partition. Nothing acknowledged may be lost, in any round.

SLUICE_FAULT_ROUNDS sets the number of rounds (default 4, one of each fault, as
`make test` runs it); `make soak-faults` runs many more (SOAK_ROUNDS).
"""

import os
import signal
import subprocess
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from acked_writes import check_acked_writes, read_acks
from conftest import log_tail, unique_topic

HERE = os.path.dirname(os.path.abspath(__file__))
CRASH_PRODUCER = os.path.join(HERE, "..", "broker", "crash_producer.py")
PARTITIONS = 3
ACKS_PER_ROUND = 1500
ROUND_SEQ_STRIDE = 10**7  # disjoint values per round
TIMEOUT_S = 30
FAULTS = ["kill9", "stop_cont", "stop_kill9", "sigterm"]


def count_lines(path):
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for _ in f)


def wait_for_acks(producer, ack_file, at_least):
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline and producer.poll() is None and count_lines(ack_file) < at_least:
        time.sleep(0.05)
    assert producer.poll() is None, f"producer died: {producer.stderr.read().decode(errors='replace')}"
    got = count_lines(ack_file)
    assert got >= at_least, f"only {got} acks of {at_least} in {TIMEOUT_S} s"


def read_log(bootstrap, topic):
    """partition -> [(offset, value)] from offset 0 to the high watermark."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "sluice-faults-check",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        log = {}
        for p in range(PARTITIONS):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            assert low == 0, f"partition {p}: log start offset {low}"
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)])
            records = []
            deadline = time.monotonic() + TIMEOUT_S
            while len(records) < high and time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is None or (message.error() and message.error().code() == KafkaError._PARTITION_EOF):
                    continue
                assert not message.error(), f"consumer error: {message.error()}"
                records.append((message.offset(), message.value().decode()))
            assert len(records) == high, f"partition {p}: read {len(records)} of {high} records"
            log[p] = records
        return log
    finally:
        consumer.close()


def inject(fault, broker, producer, ack_file):
    if fault == "kill9":  # the broker first, so acks may be in flight when it dies
        broker.kill9()
    elif fault == "stop_cont":
        os.kill(broker.proc.pid, signal.SIGSTOP)
        time.sleep(1.5)
        os.kill(broker.proc.pid, signal.SIGCONT)
        wait_for_acks(producer, ack_file, count_lines(ack_file) + 300)  # it serves again
        broker.kill9()
    elif fault == "stop_kill9":
        os.kill(broker.proc.pid, signal.SIGSTOP)
        time.sleep(0.5)
        broker.kill9()
    elif fault == "sigterm":
        code = broker.stop()
        assert code == 0, f"broker exited with {code} on SIGTERM mid-stream:\n{log_tail(broker.log_path)}"


def test_no_acknowledged_write_is_lost_under_kill_and_stop(broker, tmp_path):
    rounds = int(os.environ.get("SLUICE_FAULT_ROUNDS", len(FAULTS)))
    topic = unique_topic("faults")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)], operation_timeout=10)[topic].result(TIMEOUT_S)
    acked = []
    for round_number in range(rounds):
        fault = FAULTS[round_number % len(FAULTS)]
        ack_file = str(tmp_path / f"acks-{round_number}.txt")
        producer = subprocess.Popen([sys.executable, CRASH_PRODUCER, broker.bootstrap, topic, str(PARTITIONS),
                                     ack_file, str(round_number * ROUND_SEQ_STRIDE)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_acks(producer, ack_file, ACKS_PER_ROUND)
            inject(fault, broker, producer, ack_file)
        finally:
            if producer.poll() is None:
                producer.kill()
            producer.wait()
        acked += read_acks(ack_file)
        broker.start()
        check_acked_writes(read_log(broker.bootstrap, topic), acked, PARTITIONS)
        print(f"round {round_number} ({fault}): {len(acked)} acknowledged so far, none lost")
