"""Idempotent producing, partition side (issue 17, point 1): raw Produce frames with a
producer id, epoch and sequence get Kafka's answers (UnifiedLog.analyzeAndValidateProducerState,
ProducerAppendInfo): a replay of one of the last five batches is answered with no error and
the original batch's offsets, a gap OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch
INVALID_PRODUCER_EPOCH, an unknown producer is taken at any sequence; nothing refused is
written, and the state survives a restart. Any producer id works: no InitProducerId needed.
The transactional batches here have made-up transactional ids no coordinator knows, so
KIP-890's verification (tests/integration/txn/test_txn_verification.py) is off: these are
the partition's own rules, as Kafka's ProducerStateManager tests check them."""

import time

from confluent_kafka.admin import AdminClient, NewTopic
from kafka.record.default_records import DefaultRecordBatchBuilder

import kafka_wire as kw
from conftest import run, sluice_bin, unique_topic

NONE = 0
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48

BROKER_OVERRIDES = {"transaction.partition.verification.enable": "false"}


def create_topic(broker):
    name = unique_topic("pstate")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=30)
    return name


def batch(producer_id, epoch, sequence, count=1, transactional=False, ts=1_700_000_000_000):
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0,
                                        is_transactional=1 if transactional else 0,
                                        producer_id=producer_id, producer_epoch=epoch,
                                        base_sequence=sequence, batch_size=1 << 20)
    for i in range(count):
        builder.append(i, timestamp=ts + i, key=None, value=b"v%d" % (sequence + i), headers=[])
    return bytes(builder.build())


def produce_v7(port, topic, records, acks=-1, transactional_id=None):
    """Produce v7 of one batch to partition 0: (error, base_offset, log_append_time, log_start)."""
    def partition_entry(w, _):
        w.i32(0).i32(len(records)).raw(records)

    def topic_entry(w, _):
        w.string(topic).array([None], partition_entry)

    body = kw.Writer().string(transactional_id).i16(acks).i32(10000).array([None], topic_entry)
    with kw.connect(port) as sock:
        r = kw.call(sock, 0, 7, bytes(body.buf), 7)
        (_, [(_, error, base, append_time, start)]), = r.array(
            lambda t: (t.string(), t.array(lambda p: (p.i32(), p.i16(), p.i64(), p.i64(), p.i64()))))
        return error, base, append_time, start


def latest_offset(port, topic):
    return kw.list_offsets_v7(port, topic, {0: -1})[0][2]


def test_sequences_duplicates_and_epochs(module_broker):
    port = module_broker.port
    topic = create_topic(module_broker)
    pid = 4242
    assert produce_v7(port, topic, batch(pid, 0, 0, count=3))[:2] == (NONE, 0)
    assert produce_v7(port, topic, batch(pid, 0, 3, count=2))[:2] == (NONE, 3)
    # A replay of the first batch: no error, its offsets, its timestamp as log append time
    # (Kafka's UnifiedLog.append sets logAppendTime to the duplicate's timestamp).
    assert produce_v7(port, topic, batch(pid, 0, 0, count=3)) == (NONE, 0, 1_700_000_000_002, 0)
    assert produce_v7(port, topic, batch(pid, 0, 3, count=2))[:2] == (NONE, 3)
    assert latest_offset(port, topic) == 5
    # A gap, and a replay with another range: out of order; nothing written.
    assert produce_v7(port, topic, batch(pid, 0, 6))[0] == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert produce_v7(port, topic, batch(pid, 0, 1, count=2))[0] == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert latest_offset(port, topic) == 5
    # A new epoch must start at 0; an older one is refused.
    assert produce_v7(port, topic, batch(pid, 1, 5))[0] == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert produce_v7(port, topic, batch(pid, 1, 0))[:2] == (NONE, 5)
    assert produce_v7(port, topic, batch(pid, 0, 5))[0] == INVALID_PRODUCER_EPOCH
    assert latest_offset(port, topic) == 6


def test_only_the_last_five_batches_are_duplicates(module_broker):
    port = module_broker.port
    topic = create_topic(module_broker)
    pid = 77
    for seq in range(6):
        assert produce_v7(port, topic, batch(pid, 0, seq))[:2] == (NONE, seq)
    for seq in range(1, 6):
        assert produce_v7(port, topic, batch(pid, 0, seq))[:2] == (NONE, seq)
    assert produce_v7(port, topic, batch(pid, 0, 0))[0] == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert latest_offset(port, topic) == 6


def test_unknown_producer_takes_any_sequence(module_broker):
    """KIP-360: Kafka's ProducerAppendInfo.checkSequence takes any first sequence of a producer
    the partition does not know (no UNKNOWN_PRODUCER_ID on Produce any more)."""
    port = module_broker.port
    topic = create_topic(module_broker)
    assert produce_v7(port, topic, batch(9001, 3, 57))[:2] == (NONE, 0)
    assert produce_v7(port, topic, batch(9001, 3, 59))[0] == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert produce_v7(port, topic, batch(9001, 3, 58))[:2] == (NONE, 1)


def test_plain_batch_inside_a_transaction_is_refused(module_broker):
    """ProducerAppendInfo.appendDataBatch: INVALID_TXN_STATE for a non-transactional batch of a
    producer with an ongoing transaction."""
    port = module_broker.port
    topic = create_topic(module_broker)
    assert produce_v7(port, topic, batch(555, 0, 0, transactional=True), transactional_id="tx")[:2] == (NONE, 0)
    assert produce_v7(port, topic, batch(555, 0, 1))[0] == INVALID_TXN_STATE
    assert latest_offset(port, topic) == 1


def test_restart_keeps_deduplication(broker):
    """The state survives a clean stop (a snapshot at the log end) and a kill -9 (the log
    replayed after the last snapshot). Timestamps are current: producers idle for
    producer.id.expiration.ms by their batches' timestamps are dropped when a snapshot loads."""
    port = broker.port
    topic = create_topic(broker)
    pid = 31337
    now = int(time.time() * 1000)

    def batch(producer_id, epoch, sequence, count=1):
        return globals()["batch"](producer_id, epoch, sequence, count=count, ts=now)
    assert produce_v7(port, topic, batch(pid, 2, 0, count=2))[:2] == (NONE, 0)
    assert produce_v7(port, topic, batch(pid, 2, 2, count=2))[:2] == (NONE, 2)
    broker.restart()
    port = broker.port
    assert produce_v7(port, topic, batch(pid, 2, 2, count=2))[:2] == (NONE, 2)
    assert produce_v7(port, topic, batch(pid, 2, 5))[0] == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert produce_v7(port, topic, batch(pid, 2, 4))[:2] == (NONE, 4)
    broker.kill9()
    broker.start()
    port = broker.port
    assert produce_v7(port, topic, batch(pid, 2, 4))[:2] == (NONE, 4)
    assert produce_v7(port, topic, batch(pid, 1, 5))[0] == INVALID_PRODUCER_EPOCH
    assert latest_offset(port, topic) == 5


def describe_producers(port, topic, partition):
    """DescribeProducers v0: (error, [(producer_id, epoch, last_sequence, last_timestamp,
    coordinator_epoch, current_txn_start_offset)])."""
    def topic_entry(w, _):
        w.compact_string(topic).compact_array([partition], lambda ww, p: ww.i32(p)).no_tags()

    body = kw.Writer().compact_array([None], topic_entry).no_tags()
    with kw.connect(port) as sock:
        r = kw.call(sock, 61, 0, bytes(body.buf), 61, flexible=True)
        r.i32()  # throttle

        def producer(p):
            out = (p.i64(), p.i32(), p.i32(), p.i64(), p.i32(), p.i64())
            p.skip_tags()
            return out

        def read_partition(p):
            p.i32()
            error = p.i16()
            p.compact_string()
            producers = p.compact_array(producer)
            p.skip_tags()
            return error, producers

        def read_topic(t):
            t.compact_string()
            parts = t.compact_array(read_partition)
            t.skip_tags()
            return parts

        return r.compact_array(read_topic)[0][0]


def test_describe_producers_and_the_cli(module_broker):
    """DescribeProducers (KIP-664) from the partition's producer state, and `sluice producer
    describe`, printed as kafka-transactions.sh describe-producers prints it."""
    port = module_broker.port
    topic = create_topic(module_broker)
    assert produce_v7(port, topic, batch(11, 0, 0, count=3, ts=1_700_000_000_000))[0] == NONE
    assert produce_v7(port, topic, batch(12, 4, 0, transactional=True, ts=1_700_000_000_500),
                      transactional_id="tx")[0] == NONE
    error, producers = describe_producers(port, topic, 0)
    assert error == NONE
    assert sorted(producers) == [(11, 0, 2, 1_700_000_000_002, -1, -1),
                                 (12, 4, 0, 1_700_000_000_500, -1, 3)]
    assert describe_producers(port, "no-such-topic", 0)[0] == 3  # UNKNOWN_TOPIC_OR_PARTITION

    out = run([sluice_bin(), "producer", "describe", "-b", module_broker.bootstrap,
               "--topic", topic, "--partition", "0"]).stdout.decode()
    lines = out.splitlines()
    assert lines[0].split() == ["ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch",
                                "LastSequence", "LastTimestamp", "CurrentTransactionStartOffset"]
    rows = sorted(line.split() for line in lines[1:])
    assert rows == [["11", "0", "-1", "2", "1700000000002", "None"],
                    ["12", "4", "-1", "0", "1700000000500", "3"]]


TRANSACTION_COORDINATOR_FENCED = 52
UNKNOWN_TOPIC_OR_PARTITION = 3


def write_txn_markers(port, markers):
    """WriteTxnMarkers v1 of [(producer_id, epoch, commit, coordinator_epoch, {topic: [partitions]})];
    returns {(producer_id, topic, partition): error}."""
    def marker_entry(w, m):
        producer_id, epoch, commit, coordinator_epoch, topics = m

        def topic_entry(tw, item):
            name, partitions = item
            tw.compact_string(name).compact_array(partitions, lambda pw, p: pw.i32(p)).no_tags()
        w.i64(producer_id).i16(epoch).i8(1 if commit else 0)
        w.compact_array(sorted(topics.items()), topic_entry).i32(coordinator_epoch).no_tags()

    body = kw.Writer().compact_array(markers, marker_entry).no_tags()
    with kw.connect(port, 40) as sock:
        r = kw.call(sock, 27, 1, bytes(body.buf), 27, flexible=True)
        out = {}

        def read_marker(m):
            producer_id = m.i64()

            def read_topic(t):
                name = t.compact_string()

                def read_partition(p):
                    index = p.i32()
                    out[(producer_id, name, index)] = p.i16()
                    p.skip_tags()
                t.compact_array(read_partition)
                t.skip_tags()
            m.compact_array(read_topic)
            m.skip_tags()
        r.compact_array(read_marker)
        return out


def test_write_txn_markers_end_transactions(module_broker):
    """WriteTxnMarkers (Kafka's handleWriteTxnMarkersRequest): a commit/abort control batch as
    leader ends the producer's transaction; a coordinator epoch below the producer's last is
    TRANSACTION_COORDINATOR_FENCED (ProducerAppendInfo.checkCoordinatorEpoch), nothing written;
    the last stable offset stops at an ongoing transaction's first offset."""
    import client_wire as cw
    port = module_broker.port
    topic = create_topic(module_broker)
    pid = 600
    assert produce_v7(port, topic, batch(pid, 0, 0, count=2, transactional=True), transactional_id="t")[:2] == (NONE, 0)
    assert produce_v7(port, topic, batch(pid + 1, 0, 0))[:2] == (NONE, 2)
    assert describe_producers(port, topic, 0)[1][0][5] == 0
    fetched = cw.fetch(port, topic, 0, 0)
    assert (fetched["high_watermark"], fetched["last_stable_offset"]) == (3, 0)

    assert write_txn_markers(port, [(pid, 0, True, 5, {topic: [0], "no-such-topic": [0]})]) == {
        (pid, topic, 0): NONE, (pid, "no-such-topic", 0): UNKNOWN_TOPIC_OR_PARTITION}
    assert latest_offset(port, topic) == 4  # the marker took offset 3
    state = dict((p[0], p) for p in describe_producers(port, topic, 0)[1])
    assert state[pid][4:] == (5, -1)  # coordinator epoch 5, no ongoing transaction
    fetched = cw.fetch(port, topic, 0, 0)
    assert (fetched["high_watermark"], fetched["last_stable_offset"]) == (4, 4)

    # The next transaction; an older coordinator's abort is fenced and writes nothing.
    assert produce_v7(port, topic, batch(pid, 0, 2, transactional=True), transactional_id="t")[:2] == (NONE, 4)
    assert write_txn_markers(port, [(pid, 0, False, 4, {topic: [0]})]) == {
        (pid, topic, 0): TRANSACTION_COORDINATOR_FENCED}
    assert latest_offset(port, topic) == 5
    assert write_txn_markers(port, [(pid, 0, False, 5, {topic: [0]})]) == {(pid, topic, 0): NONE}
    assert latest_offset(port, topic) == 6
    state = dict((p[0], p) for p in describe_producers(port, topic, 0)[1])
    assert state[pid][5] == -1
    # A client still may not write a marker itself (Produce refuses control batches).
