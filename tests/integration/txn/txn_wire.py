"""Raw frames of the transaction coordinator's APIs (non-flexible versions where
Kafka has them, so answers are read field by field): FindCoordinator v1 for
transactions, InitProducerId v1, AddPartitionsToTxn v1/v2, AddOffsetsToTxn v1,
EndTxn v1/v2, DescribeTransactions v0 and ListTransactions v0 (flexible)."""

import time

import kafka_wire
from kafka_wire import Writer, call, connect

NONE = 0
COORDINATOR_NOT_AVAILABLE = 15
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
INVALID_PRODUCER_ID_MAPPING = 49
INVALID_TRANSACTION_TIMEOUT = 50
CONCURRENT_TRANSACTIONS = 51
OPERATION_NOT_ATTEMPTED = 55
PRODUCER_FENCED = 90
TRANSACTIONAL_ID_NOT_FOUND = 105

_correlation = [100]


def _next():
    _correlation[0] += 1
    return _correlation[0]


def find_coordinator(port, transactional_id, timeout_s=30.0):
    """FindCoordinator v1, key type 1: (error, node_id, port), retried while the broker
    creates __transaction_state (COORDINATOR_NOT_AVAILABLE), as clients do."""
    deadline = time.monotonic() + timeout_s
    while True:
        with connect(port) as sock:
            body = Writer().string(transactional_id).i8(1)
            r = call(sock, 10, 1, bytes(body.buf), _next())
            r.i32()  # throttle
            error, _message, node_id, _host, found_port = r.i16(), r.string(), r.i32(), r.string(), r.i32()
        if error != COORDINATOR_NOT_AVAILABLE or time.monotonic() > deadline:
            return error, node_id, found_port
        time.sleep(0.1)


def init_producer_id(port, transactional_id, timeout_ms=60000):
    """InitProducerId v1: (error, producer id, epoch)."""
    with connect(port) as sock:
        r = call(sock, 22, 1, bytes(Writer().string(transactional_id).i32(timeout_ms).buf), _next())
        r.i32()
        return r.i16(), r.i64(), r.i16()


def init_until_done(port, transactional_id, timeout_ms=60000, timeout_s=20.0):
    """InitProducerId retried on CONCURRENT_TRANSACTIONS (an ongoing transaction being
    aborted) as clients do; also returns how many answers were CONCURRENT_TRANSACTIONS."""
    deadline = time.monotonic() + timeout_s
    concurrent = 0
    while True:
        error, pid, epoch = init_producer_id(port, transactional_id, timeout_ms)
        if error != CONCURRENT_TRANSACTIONS or time.monotonic() > deadline:
            return (error, pid, epoch), concurrent
        concurrent += 1
        time.sleep(0.05)


def add_partitions(port, transactional_id, pid, epoch, partitions, version=1):
    """AddPartitionsToTxn v1/v2 with {topic: [partitions]}: {(topic, partition): error}."""
    def topic(w, item):
        name, ids = item
        w.string(name).array(ids, lambda w2, p: w2.i32(p))

    body = Writer().string(transactional_id).i64(pid).i16(epoch).array(sorted(partitions.items()), topic)
    with connect(port) as sock:
        r = call(sock, 24, version, bytes(body.buf), _next())
        r.i32()
        out = {}
        for _ in range(r.i32()):
            name = r.string()
            for _ in range(r.i32()):
                partition, error = r.i32(), r.i16()
                out[(name, partition)] = error
        return out


def add_offsets(port, transactional_id, pid, epoch, group):
    with connect(port) as sock:
        body = Writer().string(transactional_id).i64(pid).i16(epoch).string(group)
        r = call(sock, 25, 1, bytes(body.buf), _next())
        r.i32()
        return r.i16()


def end_txn(port, transactional_id, pid, epoch, commit, version=1):
    with connect(port) as sock:
        body = Writer().string(transactional_id).i64(pid).i16(epoch).i8(1 if commit else 0)
        r = call(sock, 26, version, bytes(body.buf), _next())
        r.i32()
        return r.i16()


def end_until_done(port, transactional_id, pid, epoch, commit, version=1, timeout_s=20.0):
    """EndTxn retried while the end before it completes (CONCURRENT_TRANSACTIONS: its
    markers and Complete record are being written), as clients retry."""
    deadline = time.monotonic() + timeout_s
    while True:
        error = end_txn(port, transactional_id, pid, epoch, commit, version)
        if error != CONCURRENT_TRANSACTIONS or time.monotonic() > deadline:
            return error
        time.sleep(0.05)


def describe_transactions(port, ids):
    """DescribeTransactions v0 (flexible): [{...}] in request order."""
    body = Writer().compact_array(ids, lambda w, s: w.compact_string(s)).no_tags()
    with connect(port) as sock:
        r = call(sock, 65, 0, bytes(body.buf), _next(), flexible=True)
        r.i32()
        out = []
        for _ in range(r.uvarint() - 1):
            state = {"error": r.i16(), "id": r.compact_string(), "state": r.compact_string(),
                     "timeout_ms": r.i32(), "start_ms": r.i64(), "producer_id": r.i64(),
                     "epoch": r.i16(), "topics": {}}
            for _ in range(r.uvarint() - 1):
                name = r.compact_string()
                state["topics"][name] = [r.i32() for _ in range(r.uvarint() - 1)]
                r.skip_tags()
            r.skip_tags()
            out.append(state)
        return out


def list_transactions(port, states=(), producer_ids=()):
    """ListTransactions v0 (flexible): (error, unknown state filters, [(id, pid, state)])."""
    body = (Writer().compact_array(list(states), lambda w, s: w.compact_string(s))
            .compact_array(list(producer_ids), lambda w, p: w.i64(p)).no_tags())
    with connect(port) as sock:
        r = call(sock, 66, 0, bytes(body.buf), _next(), flexible=True)
        r.i32()
        error = r.i16()
        unknown = [r.compact_string() for _ in range(r.uvarint() - 1)]
        listed = []
        for _ in range(r.uvarint() - 1):
            listed.append((r.compact_string(), r.i64(), r.compact_string()))
            r.skip_tags()
        return error, unknown, listed
