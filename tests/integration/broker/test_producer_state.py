"""Idempotent producing, partition side (issue 17, point 1): raw Produce frames with a
producer id, epoch and sequence get Kafka's answers (UnifiedLog.analyzeAndValidateProducerState,
ProducerAppendInfo): a replay of one of the last five batches is answered with no error and
the original batch's offsets, a gap OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch
INVALID_PRODUCER_EPOCH, an unknown producer is taken at any sequence; nothing refused is
written, and the state survives a restart. Any producer id works: no InitProducerId needed."""

from confluent_kafka.admin import AdminClient, NewTopic
from kafka.record.default_records import DefaultRecordBatchBuilder

import kafka_wire as kw
from conftest import unique_topic

NONE = 0
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48


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
    port = broker.port
    topic = create_topic(broker)
    pid = 31337
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
