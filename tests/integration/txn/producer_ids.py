"""InitProducerId (API 22) as raw frames, for the producer-id tests: the
version 4 request (flexible) with a null or given transactional id."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import kafka_wire  # noqa: E402

API_INIT_PRODUCER_ID = 22
NONE = 0
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
INVALID_REQUEST = 42


def init_producer_id(sock, correlation_id, transactional_id=None, producer_id=-1, producer_epoch=-1,
                     timeout_ms=60000):
    """(error, producer id, epoch) of one InitProducerId v4 on `sock`."""
    body = (kafka_wire.Writer().compact_string(transactional_id).i32(timeout_ms).i64(producer_id)
            .i16(producer_epoch).no_tags())
    r = kafka_wire.call(sock, API_INIT_PRODUCER_ID, 4, bytes(body.buf), correlation_id, flexible=True)
    r.i32()  # throttle
    error = r.i16()
    pid = r.i64()
    epoch = r.i16()
    return error, pid, epoch


def new_producer_ids(port, count, timeout_s=30):
    """`count` producer ids from the broker on `port`, retrying
    COORDINATOR_LOAD_IN_PROGRESS (no block at hand yet) as clients do."""
    ids = []
    sock = kafka_wire.connect(port)
    deadline = time.monotonic() + timeout_s
    correlation = 0
    try:
        while len(ids) < count:
            correlation += 1
            error, pid, epoch = init_producer_id(sock, correlation)
            if error == COORDINATOR_LOAD_IN_PROGRESS:
                assert time.monotonic() < deadline, f"no producer id from port {port} within {timeout_s} s"
                time.sleep(0.05)
                continue
            assert error == NONE, f"InitProducerId answered error {error}"
            assert epoch == 0
            ids.append(pid)
    finally:
        sock.close()
    return ids
