"""Shared helpers of the exactly-once tests and benchmark (issue 17): what the
broker serves (ApiVersions) and the skip when it lacks it, topics, input
records, read-backs under either isolation level, a group's committed offsets,
idempotent record batches for raw frames, and the processes the tests kill or
pause (eos_pipeline.py, txn_producer.py) with their JSON-line journals.

Every helper speaks through real clients (confluent-kafka / librdkafka) except
the raw batches, built from Kafka's record batch v2 layout."""

import json
import os
import signal
import struct
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import client_wire  # noqa: E402
import kafka_wire  # noqa: E402

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition  # noqa: E402,F401 - KafkaException for the tests
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

API_INIT_PRODUCER_ID = 22
API_ADD_PARTITIONS_TO_TXN = 24
API_ADD_OFFSETS_TO_TXN = 25
API_END_TXN = 26
API_WRITE_TXN_MARKERS = 27
API_TXN_OFFSET_COMMIT = 28
API_NAMES = {API_INIT_PRODUCER_ID: "InitProducerId", API_ADD_PARTITIONS_TO_TXN: "AddPartitionsToTxn",
             API_ADD_OFFSETS_TO_TXN: "AddOffsetsToTxn", API_END_TXN: "EndTxn",
             API_WRITE_TXN_MARKERS: "WriteTxnMarkers", API_TXN_OFFSET_COMMIT: "TxnOffsetCommit"}
TRANSACTION_APIS = tuple(API_NAMES)

# Kafka's error codes (clients/.../protocol/Errors.java).
NONE = 0
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
DUPLICATE_SEQUENCE_NUMBER = 46
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
CONCURRENT_TRANSACTIONS = 51
UNKNOWN_PRODUCER_ID = 59
PRODUCER_FENCED = 90

# librdkafka logs errors only: a failure prints the broker logs and journals.
QUIET = 3
PIPELINE = os.path.join(HERE, "eos_pipeline.py")
TXN_PRODUCER = os.path.join(HERE, "txn_producer.py")
PYTHON = sys.executable or "/usr/bin/python3"


# --- what the broker serves ---------------------------------------------------

def missing_apis(port, keys=TRANSACTION_APIS):
    """Names of the APIs among `keys` the broker on `port` does not list in ApiVersions."""
    _, versions = kafka_wire.api_versions(port)
    return [API_NAMES.get(k, str(k)) for k in keys if k not in versions]


def require_apis(port, keys=TRANSACTION_APIS, what="transactions"):
    """Skips the test, naming what is missing, unless the broker serves `keys`."""
    missing = missing_apis(port, keys)
    if missing:
        pytest.skip(f"the broker does not serve {', '.join(missing)} (issue 17): no {what} yet")


def require_transactions(port):
    require_apis(port, TRANSACTION_APIS, "transactions")


def require_idempotence(port):
    require_apis(port, (API_INIT_PRODUCER_ID,), "idempotent producers")


def serves_transactions(port):
    return not missing_apis(port, TRANSACTION_APIS)


# --- topics, inputs, read-backs ------------------------------------------------

def create_topic(bootstrap, name, partitions, replication_factor=1, config=None, timeout_s=40):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=replication_factor,
                                            config=config or {})], operation_timeout=20, request_timeout=30)
    futures[name].result(timeout=timeout_s)


def delete_topic(bootstrap, name, timeout_s=40):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.delete_topics([name], operation_timeout=20, request_timeout=30)[name].result(timeout=timeout_s)


def input_value(partition, offset):
    return f"in-{partition}-{offset}"


def produce_inputs(bootstrap, topic, partitions, per_partition, idempotent=True):
    """per_partition records to each partition, values input_value(p, o):
    returns {partition: [values]} after checking each landed at offset o."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": idempotent,
                         "linger.ms": 20, "log_level": QUIET})
    wrong = []

    def delivered(err, msg):
        expected = input_value(msg.partition(), msg.offset())
        if err is not None or msg.value().decode() != expected:
            wrong.append((err, msg.partition(), msg.offset(), msg.value()))

    for o in range(per_partition):
        for p in range(partitions):
            while True:
                try:
                    producer.produce(topic, value=input_value(p, o).encode(), partition=p, on_delivery=delivered)
                    break
                except BufferError:
                    producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(60)
    assert left == 0 and not wrong, f"input records not written in order: {left} left, {wrong[:5]}"
    return {p: [input_value(p, o) for o in range(per_partition)] for p in range(partitions)}


def read_partitions(bootstrap, topic, partitions, isolation="read_committed", timeout_s=60):
    """Every record of `topic` from offset 0 to the end (the last stable offset
    under read_committed): {partition: [(offset, value str)]}."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"eos-reader-{time.monotonic_ns()}",
                         "enable.auto.commit": False, "enable.partition.eof": True,
                         "isolation.level": isolation, "log_level": QUIET})
    out = {p: [] for p in range(partitions)}
    at_end = set()
    errors = []  # a consumer's errors are informative (a broker restarting): the deadline decides
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        deadline = time.monotonic() + timeout_s
        while len(at_end) < partitions:
            assert time.monotonic() < deadline, \
                f"{topic} ({isolation}): no end of partitions {sorted(set(out) - at_end)} within {timeout_s} s " \
                f"(consumer errors: {errors[-3:]})"
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                else:
                    errors.append(str(msg.error()))
                continue
            at_end.discard(msg.partition())
            out[msg.partition()].append((msg.offset(), msg.value().decode() if msg.value() is not None else ""))
    finally:
        consumer.close()
    return out


def values(records):
    """The values of read_partitions()'s answer, partition by partition."""
    return [v for p in sorted(records) for _o, v in records[p]]


def group_offsets(bootstrap, group, topic, partitions, timeout_s=30):
    """{partition: committed offset} of `group` (-1001 when none), asked as a
    read_committed consumer does (pending transactional offsets are waited for)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                         "isolation.level": "read_committed", "log_level": QUIET})
    try:
        committed = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=timeout_s)
        return {tp.partition: tp.offset for tp in committed}
    finally:
        consumer.close()


def stable_ends(port, topic, partition=0):
    """(high watermark, last stable offset) of a partition, from raw ListOffsets
    v7 read_uncommitted / read_committed on the broker at `port` (its leader):
    librdkafka 1.7's watermark query uses ListOffsets v1, which has no isolation level."""
    out = []
    for isolation_level in (0, 1):
        error, offset, _ = client_wire.list_offsets(port, topic, partition, -1, isolation_level=isolation_level)
        assert error == NONE, f"ListOffsets {topic}-{partition} (isolation {isolation_level}): error {error}"
        out.append(offset)
    return tuple(out)


def broker_setting_known(bootstrap, name, broker_id="1"):
    """Whether the broker lists setting `name` in DescribeConfigs (Sluice
    refuses a --set of a name it does not know)."""
    from confluent_kafka.admin import ConfigResource
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.BROKER, broker_id)
    configs = admin.describe_configs([resource], request_timeout=20)[resource].result(timeout=30)
    return name in configs


# FindCoordinator key types; the errors a client retries while a coordinator loads or moves.
COORDINATOR_TRANSACTION = 1
COORDINATOR_RETRIABLE = (14, 15, 16)  # COORDINATOR_LOAD_IN_PROGRESS, _NOT_AVAILABLE, NOT_COORDINATOR


def find_transaction_coordinator(port, transactional_id, timeout_s=30):
    """FindCoordinator v1 for a transactional id, retried while the broker
    answers a coordinator error (the first lookup makes it create
    __transaction_state, as Kafka does): (error, node id, host, port)."""
    body = kafka_wire.Writer().string(transactional_id).i8(COORDINATOR_TRANSACTION)
    deadline = time.monotonic() + timeout_s
    while True:
        with kafka_wire.connect(port, 15) as sock:
            r = kafka_wire.call(sock, 10, 1, bytes(body.buf), 30)
            r.i32()  # throttle
            error, _message, node, host, node_port = r.i16(), r.string(), r.i32(), r.string(), r.i32()
        if error not in COORDINATOR_RETRIABLE or time.monotonic() > deadline:
            return error, node, host, node_port
        time.sleep(0.1)


def init_producer_id(port, transactional_id, transaction_timeout_ms=60000, timeout_s=30):
    """InitProducerId v1 (no producer id of its own: a new client) sent to the
    transactional id's coordinator, found first as clients do, retried while
    it answers a coordinator error: (error, producer id, epoch)."""
    body = kafka_wire.Writer().string(transactional_id).i32(transaction_timeout_ms)
    deadline = time.monotonic() + timeout_s
    while True:
        error, _node, _host, coordinator_port = find_transaction_coordinator(port, transactional_id, timeout_s)
        if error != NONE:
            return error, -1, -1
        with kafka_wire.connect(coordinator_port, 15) as sock:
            r = kafka_wire.call(sock, API_INIT_PRODUCER_ID, 1, bytes(body.buf), 31)
            r.i32()  # throttle
            answer = (r.i16(), r.i64(), r.i16())
        if answer[0] not in COORDINATOR_RETRIABLE + (CONCURRENT_TRANSACTIONS,) or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def transactional_producer(bootstrap, transactional_id, **extra):
    config = {"bootstrap.servers": bootstrap, "transactional.id": transactional_id, "linger.ms": 5,
              "log_level": QUIET}
    config.update(extra)
    return Producer(config)


def kafka_error(exc):
    """The KafkaError a KafkaException carries."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None


# --- idempotent batches for raw frames ------------------------------------------

TRANSACTIONAL_BIT = 0x10


def idempotent_batch(values_, producer_id, epoch, base_sequence, transactional=False, timestamp_ms=None):
    """A record batch v2 (base offset 0, no compression) of `values_` from
    producer (id, epoch) with sequences base_sequence.. as a producer builds it."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    records = b""
    for i, value in enumerate(values_):
        body = (b"\x00" + client_wire.varint(0) + client_wire.varint(i) + client_wire.varint(-1)
                + client_wire.varint(len(value)) + value + client_wire.varint(0))
        records += client_wire.varint(len(body)) + body
    attributes = TRANSACTIONAL_BIT if transactional else 0
    after_crc = struct.pack(">hiqqqhii", attributes, len(values_) - 1, ts, ts, producer_id, epoch, base_sequence,
                            len(values_)) + records
    tail = struct.pack(">ibI", -1, 2, client_wire.crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(tail)) + tail


@pytest.fixture(autouse=True)
def kill_leftovers():
    """After each test, SIGKILL every client process it started that still
    runs (paused ones included). A test module imports it from here."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.alive():
            process.kill9()


# --- processes and journals -------------------------------------------------------

def read_journal(path):
    """The JSON events of a journal (a line cut by a kill is dropped)."""
    events = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return events


_STARTED = []  # every Process, so that kill_leftovers reaps them after a test


class Process:
    """A client process the test kills (-9), pauses (SIGSTOP) and resumes;
    its stdout+stderr go to `<workdir>/<name>.log`."""

    def __init__(self, workdir, name, command, stdin=False):
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
        _STARTED.append(self)

    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.kill()
        self.proc.wait()

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def tell(self, line):
        """A command line on its stdin (txn_producer.py)."""
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def wait(self, timeout_s):
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def log(self, max_bytes=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-max_bytes:].decode(errors="replace")
        except OSError:
            return ""


class Pipeline:
    """Instances of eos_pipeline.py run one after another under one
    transactional.id and group: start() a new one (after a kill, the new
    instance's InitProducerId fences the old epoch); each instance journals
    into `<workdir>/journal-<n>.jsonl`."""

    def __init__(self, workdir, bootstrap, input_topic, output_topic, partitions, group, transactional_id,
                 batch=100, abort_every=0, pause_ms=0, transaction_timeout_ms=15000):
        self.workdir = workdir
        self.transactional_id = transactional_id
        self.args = ["--bootstrap", bootstrap, "--input", input_topic, "--output", output_topic,
                     "--partitions", str(partitions), "--group", group, "--transactional-id", transactional_id,
                     "--batch", str(batch), "--abort-every", str(abort_every), "--pause-ms", str(pause_ms),
                     "--transaction-timeout-ms", str(transaction_timeout_ms)]
        self.instances = []
        self.exit_codes = []
        self.end = {}

    def start(self, end_offsets_):
        self.end = dict(end_offsets_)
        n = len(self.instances) + 1
        end = ",".join(f"{p}:{o}" for p, o in sorted(end_offsets_.items()))
        command = [PYTHON, PIPELINE, *self.args, "--instance", f"i{n}", "--end", end,
                   "--journal", self.journal_path(n)]
        self.instances.append(Process(self.workdir, f"pipeline-{n}", command))
        return self.instances[-1]

    def journal_path(self, n):
        return os.path.join(self.workdir, f"journal-{n}.jsonl")

    @property
    def current(self):
        return self.instances[-1]

    def events(self):
        return [e for n in range(1, len(self.instances) + 1) for e in read_journal(self.journal_path(n))]

    def committed_records(self):
        """Records of transactions the journals saw committed (progress)."""
        events = self.events()
        produced = {(e["instance"], e["txn"]): e["n"] for e in events if e["e"] == "produced"}
        return sum(produced.get((e["instance"], e["txn"]), 0) for e in events if e["e"] == "commit")

    def last_event(self):
        """The current instance's last complete journal event (read from the
        file's tail: polled every few milliseconds)."""
        try:
            with open(self.journal_path(len(self.instances)), "rb") as f:
                f.seek(0, os.SEEK_END)
                start = max(0, f.tell() - 4096)
                f.seek(start)
                lines = f.read().decode(errors="replace").split("\n")
        except FileNotFoundError:
            return None
        if start > 0:
            lines = lines[1:]  # the first line read may be the end of a longer one
        for line in reversed(lines):
            try:
                return json.loads(line)
            except ValueError:
                continue
        return None

    def _inside_transaction(self, timeout_s):
        """Waits until the current instance's journal says it is inside a
        transaction whose records are written (before its end); that event."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.current.alive():
            last = self.last_event()
            if last is not None and last["e"] in ("produced", "offsets"):
                return last
            time.sleep(0.005)
        raise AssertionError(f"the pipeline never stood inside a transaction within {timeout_s} s:\n"
                             f"{self.current.log()}")

    def kill_mid_transaction(self, timeout_s=30):
        """SIGKILL of the current instance inside a transaction (before its commit)."""
        event = self._inside_transaction(timeout_s)
        self.current.kill9()
        return event

    def fence_paused_instance(self, timeout_s=60):
        """A zombie: the current instance paused (SIGSTOP) inside a transaction,
        a new instance started (its InitProducerId fences the paused one's
        epoch, its group.instance.id takes the paused one's place) and let
        commit; then the paused one resumes. Returns (the event it was paused
        after, its exit code): it must not commit (eos_pipeline.py exits 3 on
        a fatal error such as PRODUCER_FENCED, 4 when the abort fails too)."""
        event = self._inside_transaction(timeout_s)
        zombie = self.current
        zombie.pause()
        try:
            before = self.committed_records()
            self.start(self.end)
            deadline = time.monotonic() + timeout_s
            while self.committed_records() <= before and self.current.alive():
                assert time.monotonic() < deadline, \
                    f"the instance after a paused one committed nothing in {timeout_s} s:\n{self.logs()}"
                time.sleep(0.05)
        finally:
            zombie.resume()
        code = zombie.wait(timeout_s)
        if code is None:
            zombie.kill9()
        return event, code

    def logs(self):
        return "\n".join(f"--- {p.name} (exit {p.proc.returncode}) ---\n{p.log()}" for p in self.instances)


def run_pipeline(pipeline, total, end, faults=(), timeout_s=120, log=print):
    """Runs pipeline instances until one finishes (exit 0): an instance that
    exits otherwise (a kill, a fatal error such as being fenced) is replaced
    by a new one. faults: [(fraction of `total` committed, fn(pipeline))],
    each applied once when the journals show that much committed. Returns
    the number of instances."""
    pending = sorted(faults, key=lambda f: f[0])
    pipeline.start(end)
    deadline = time.monotonic() + timeout_s
    while True:
        assert time.monotonic() < deadline, \
            f"the pipeline did not finish within {timeout_s} s ({pipeline.committed_records()} of {total} " \
            f"committed):\n{pipeline.logs()}"
        if not pipeline.current.alive():
            code = pipeline.current.proc.returncode
            pipeline.exit_codes.append(code)
            if code == 0:
                assert not pending, f"the pipeline finished before faults {[f.__name__ for _, f in pending]}"
                return len(pipeline.instances)
            log(f"  pipeline instance {len(pipeline.instances)} exited {code}: starting another")
            pipeline.start(end)
            continue
        if pending and pipeline.committed_records() >= pending[0][0] * total:
            fraction, fault = pending.pop(0)
            log(f"  at {int(fraction * 100)}% committed: {fault.__name__}")
            fault(pipeline)
            continue
        time.sleep(0.05)


def txn_producer(workdir, name, bootstrap, topic, transactional_id, count, partition=0,
                 transaction_timeout_ms=60000, extra=()):
    """txn_producer.py: begins one transaction, writes `count` records
    (`<name>-<i>`) to `topic`, then waits for "commit" or "abort" on stdin."""
    command = [PYTHON, TXN_PRODUCER, "--bootstrap", bootstrap, "--topic", topic, "--transactional-id",
               transactional_id, "--count", str(count), "--partition", str(partition), "--prefix", name,
               "--transaction-timeout-ms", str(transaction_timeout_ms), "--journal",
               os.path.join(workdir, f"{name}.jsonl"), *extra]
    return Process(workdir, name, command, stdin=True)


def wait_journal(path, kind, timeout_s=30):
    """The first event of `kind` in the journal at `path` (waits for it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for event in read_journal(path):
            if event["e"] == kind:
                return event
        time.sleep(0.05)
    raise AssertionError(f"no {kind!r} in {path} within {timeout_s} s: {read_journal(path)}")

