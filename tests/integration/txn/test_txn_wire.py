"""Sequence checks of idempotent producing in raw Produce v9 frames (issue 17,
"How it is verified", second point), with made-up producer ids as Kafka
accepts them (a partition keeps no check on who issued an id). The expected
answers are Kafka 3.9's (storage/.../ProducerAppendInfo.java checkSequence and
checkProducerEpoch, ProducerStateEntry.findDuplicateBatch, and
UnifiedLog.analyzeAndValidateProducerState):

- a batch whose epoch and exact sequence range match one of the producer's
  last five batches is a duplicate: answered without error (NONE) with the
  base offset it was first written at, and not written again;
- a first sequence that does not follow the last one is
  OUT_OF_ORDER_SEQUENCE_NUMBER (45), including a replay of a batch older than
  the last five, and a new epoch not starting at sequence 0;
- an epoch below the producer's last is INVALID_PRODUCER_EPOCH (47);
- a producer the partition has no state for may start at any sequence
  (KIP-360: its state may have expired or been removed).

Skipped with "no sequence checks" while the broker writes a replayed batch
again (the same batch sent twice gets two offsets)."""

import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_wire  # noqa: E402
import eos  # noqa: E402
from eos import INVALID_PRODUCER_EPOCH, NONE, OUT_OF_ORDER_SEQUENCE_NUMBER, idempotent_batch  # noqa: E402

TS_LATEST = -1


def producer_id():
    """A made-up producer id, far from the ids a broker hands out first."""
    return random.randrange(1 << 40, 1 << 41)


def produce(port, topic, batch):
    return client_wire.produce(port, topic, 0, None, version=9, batch=batch)


def log_end(port, topic):
    error, offset, _ = client_wire.list_offsets(port, topic, 0, TS_LATEST)
    assert error == NONE, f"ListOffsets of {topic}-0: error {error}"
    return offset


def values(prefix, n):
    return [f"{prefix}-{i}".encode() for i in range(n)]


def test_the_batches_built_here_are_valid(module_broker):
    """idempotent_batch() as a client reads it back (needs no sequence checks):
    librdkafka decodes the records the raw frames wrote, in order."""
    topic = f"batches-{random.randrange(1 << 30)}"
    eos.create_topic(module_broker.bootstrap, topic, 1)
    pid = producer_id()
    write(module_broker.port, topic, idempotent_batch(values("v", 3), pid, 0, 0))
    write(module_broker.port, topic, idempotent_batch(values("w", 2), pid, 0, 3))
    records = eos.read_partitions(module_broker.bootstrap, topic, 1, "read_uncommitted")
    assert records[0] == [(i, v.decode()) for i, v in enumerate(values("v", 3) + values("w", 2))]


@pytest.fixture(scope="module")
def checked_broker(module_broker):
    """The module's broker, once it proved it checks sequences."""
    topic = "sequence-probe"
    eos.create_topic(module_broker.bootstrap, topic, 1)
    batch = idempotent_batch([b"probe"], producer_id(), 0, 0)
    first = produce(module_broker.port, topic, batch)
    assert first["error"] == NONE, f"a first idempotent batch was refused: {first}"
    again = produce(module_broker.port, topic, batch)
    if again["error"] == NONE and again["base_offset"] != first["base_offset"]:
        pytest.skip(f"no sequence checks: a replayed batch was written again (offsets {first['base_offset']} "
                    f"and {again['base_offset']}; issue 17, partition side)")
    return module_broker


@pytest.fixture
def topic(checked_broker):
    name = f"seq-{random.randrange(1 << 30)}"
    eos.create_topic(checked_broker.bootstrap, name, 1)
    return name


def write(port, topic, batch):
    """A batch that must be written: its base offset."""
    answer = produce(port, topic, batch)
    assert answer["error"] == NONE, f"batch refused: {answer}"
    return answer["base_offset"]


def test_a_replayed_batch_is_answered_with_its_original_offsets(checked_broker, topic):
    port, pid = checked_broker.port, producer_id()
    first = idempotent_batch(values("a", 3), pid, 0, 0)
    second = idempotent_batch(values("b", 2), pid, 0, 3)
    first_offset, second_offset = write(port, topic, first), write(port, topic, second)
    end = log_end(port, topic)
    for batch, offset in ((first, first_offset), (second, second_offset), (first, first_offset)):
        answer = produce(port, topic, batch)
        assert (answer["error"], answer["base_offset"]) == (NONE, offset), \
            f"a replay must be answered NONE at its first offset {offset} (Kafka 3.9): {answer}"
    assert log_end(port, topic) == end, "a replayed batch was written again"
    # The producer goes on where it was.
    assert write(port, topic, idempotent_batch(values("c", 1), pid, 0, 5)) == end


def test_the_last_five_batches_are_remembered_and_an_older_one_is_out_of_order(checked_broker, topic):
    port, pid = checked_broker.port, producer_id()
    batches = [idempotent_batch([f"r-{seq}".encode()], pid, 0, seq) for seq in range(6)]
    offsets = [write(port, topic, b) for b in batches]
    end = log_end(port, topic)
    for batch, offset in list(zip(batches, offsets))[1:]:
        answer = produce(port, topic, batch)
        assert (answer["error"], answer["base_offset"]) == (NONE, offset), answer
    oldest = produce(port, topic, batches[0])
    assert oldest["error"] == OUT_OF_ORDER_SEQUENCE_NUMBER, \
        f"a replay of a batch older than the last five: {oldest}"
    assert log_end(port, topic) == end


def test_a_sequence_gap_is_out_of_order_and_writes_nothing(checked_broker, topic):
    port, pid = checked_broker.port, producer_id()
    write(port, topic, idempotent_batch(values("a", 2), pid, 0, 0))
    end = log_end(port, topic)
    gap = produce(port, topic, idempotent_batch(values("gap", 1), pid, 0, 5))
    assert gap["error"] == OUT_OF_ORDER_SEQUENCE_NUMBER, f"sequence 5 after 1: {gap}"
    # A range overlapping the last batch without matching it is no duplicate.
    overlap = produce(port, topic, idempotent_batch(values("o", 2), pid, 0, 1))
    assert overlap["error"] == OUT_OF_ORDER_SEQUENCE_NUMBER, f"sequences 1-2 after 0-1: {overlap}"
    assert log_end(port, topic) == end, "a refused batch was written"
    assert write(port, topic, idempotent_batch(values("next", 1), pid, 0, 2)) == end


def test_an_old_epoch_is_refused_and_a_new_epoch_starts_at_zero(checked_broker, topic):
    port, pid = checked_broker.port, producer_id()
    write(port, topic, idempotent_batch(values("e0", 2), pid, 0, 0))
    write(port, topic, idempotent_batch(values("e1", 1), pid, 1, 0))
    end = log_end(port, topic)
    old = produce(port, topic, idempotent_batch(values("zombie", 1), pid, 0, 2))
    assert old["error"] == INVALID_PRODUCER_EPOCH, f"epoch 0 after epoch 1: {old}"
    bumped = produce(port, topic, idempotent_batch(values("e2", 1), pid, 2, 7))
    assert bumped["error"] == OUT_OF_ORDER_SEQUENCE_NUMBER, f"epoch 2 starting at sequence 7: {bumped}"
    assert log_end(port, topic) == end
    assert write(port, topic, idempotent_batch(values("e1b", 1), pid, 1, 1)) == end


def test_a_producer_without_state_may_start_at_any_sequence(checked_broker, topic):
    port, pid = checked_broker.port, producer_id()
    start = write(port, topic, idempotent_batch(values("late", 2), pid, 3, 17))
    assert write(port, topic, idempotent_batch(values("next", 1), pid, 3, 19)) == start + 2
    gap = produce(port, topic, idempotent_batch(values("gap", 1), pid, 3, 21))
    assert gap["error"] == OUT_OF_ORDER_SEQUENCE_NUMBER, gap


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
