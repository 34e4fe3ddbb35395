"""The checker of jepsen_checker.py on hand-made histories: a clean history
counts no anomaly, and each kind of anomaly is counted where it is and nowhere
else (no broker: a plain pytest file, ctest cluster_jepsen_checker)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jepsen_checker import ERRORS, History, assert_clean, check  # noqa: E402


def clean_history():
    """Two producers on two partitions, every send acknowledged and stored, a
    consumer that polled everything once with a rebalance in between."""
    h = History()
    log = {0: [], 1: []}
    for producer in ("a", "b"):
        for seq in range(4):
            partition = seq % 2
            value = f"{producer}-{seq}"
            record = h.send(producer, seq, value)
            offset = len(log[partition])
            log[partition].append((offset, value))
            h.ack(record, partition, offset)
    for partition, records in log.items():
        h.set_final(partition, records)
        h.reset("c1", partition)
        for offset, value in records:
            h.poll("c1", partition, offset, value)
        h.position("c1", partition, len(records))
    return h


def only(summary, name, count):
    """`name` counted `count` times, every other anomaly zero."""
    others = {n: summary[n] for n in ERRORS if n != name and summary[n]}
    assert summary[name] == count and not others, summary


def test_a_clean_history_has_no_anomaly():
    summary = check(clean_history())
    assert_clean(summary)
    assert summary["acked"] == summary["sends"] == summary["stored"] == summary["polled"] == 8
    assert summary["examples"] == {}


def test_an_acknowledged_write_missing_from_the_read_back_is_lost():
    h = clean_history()
    h.final[1] = h.final[1][:-1]  # the last acknowledged record of partition 1 gone
    summary = check(h)
    assert summary["lost"] == 1 and summary["examples"]["lost"] == ["b-3"]
    with pytest.raises(AssertionError):
        assert_clean(summary)


def test_failed_and_unknown_sends_may_be_absent_or_present():
    h = clean_history()
    h.fail(h.send("a", 10, "a-10"), "MSG_TIMED_OUT")
    h.send("a", 11, "a-11")  # never answered
    h.fail(h.send("a", 12, "a-12"), "MSG_TIMED_OUT")
    h.final[0].append((len(h.final[0]), "a-12"))  # failed for the client, yet written
    summary = check(h)
    assert_clean(summary)
    assert (summary["failed"], summary["unknown"]) == (2, 1)


def test_a_value_stored_twice_is_duplicated():
    h = clean_history()
    h.final[0].append((len(h.final[0]), "a-2"))
    summary = check(h)
    only(summary, "duplicated", 1)
    assert summary["examples"]["duplicated"] == ["a-2"]


def test_a_retried_batch_stored_again_is_duplicated_not_reordered():
    """A producer without idempotence, one request in flight: its batch of
    v1, v2 written, the answer lost, the batch sent again, then v3."""
    h = History()
    h.ack(h.send("p", 0, "v0"), 0, 0)
    h.ack(h.send("p", 1, "v1"), 0, 3)
    h.ack(h.send("p", 2, "v2"), 0, 4)
    h.ack(h.send("p", 3, "v3"), 0, 5)
    h.set_final(0, [(0, "v0"), (1, "v1"), (2, "v2"), (3, "v1"), (4, "v2"), (5, "v3")])
    h.poll("c", 0, 1, "v1")
    only(check(h), "duplicated", 2)


def test_an_ack_at_an_offset_the_read_back_does_not_hold_is_counted_beside_duplicates():
    h = History()
    h.ack(h.send("p", 0, "v0"), 0, 7)
    h.set_final(0, [(0, "v0"), (1, "v0")])
    summary = check(h)
    assert summary["duplicated"] == 1 and summary["value_at_two_offsets"] == 1, summary


def test_a_producers_values_out_of_send_order_are_reordered():
    h = History()
    for seq, offset in ((0, 0), (1, 2), (2, 1)):
        h.ack(h.send("p", seq, f"v{seq}"), 0, offset)
    h.set_final(0, [(0, "v0"), (1, "v2"), (2, "v1")])
    only(check(h), "reordered", 1)


def test_two_producers_interleaved_are_not_reordered():
    h = History()
    for producer, seq, offset in (("p", 0, 0), ("q", 0, 1), ("p", 1, 2), ("q", 1, 3)):
        h.ack(h.send(producer, seq, f"{producer}{seq}"), 0, offset)
    h.set_final(0, [(0, "p0"), (1, "q0"), (2, "p1"), (3, "q1")])
    assert_clean(check(h))


def test_an_ack_at_another_offset_than_stored_is_a_value_at_two_offsets():
    h = History()
    h.ack(h.send("p", 0, "v0"), 0, 5)
    h.set_final(0, [(0, "v0")])
    only(check(h), "value_at_two_offsets", 1)


def test_a_poll_that_saw_another_value_at_an_offset_is_an_offset_with_two_values():
    h = History()
    h.ack(h.send("p", 0, "v0"), 0, 0)
    h.send("p", 1, "v1")  # unknown, polled at offset 1 then truncated away
    h.ack(h.send("p", 2, "v2"), 0, 1)
    h.poll("c", 0, 0, "v0")
    h.poll("c", 0, 1, "v1")
    h.set_final(0, [(0, "v0"), (1, "v2")])
    summary = check(h)
    only(summary, "offset_with_two_values", 1)
    assert summary["examples"]["offset_with_two_values"] == [(0, 1)]


def test_a_poll_going_back_without_a_rebalance_is_counted():
    h = clean_history()
    h.poll("c1", 0, 0, "a-0")  # offset 0 again, no reset before it
    summary = check(h)
    only(summary, "polls_backwards", 1)


def test_a_position_going_back_is_counted_but_not_after_a_reset():
    h = clean_history()
    h.position("c1", 1, 1)  # position was 4
    only(check(h), "polls_backwards", 1)
    h = clean_history()
    h.reset("c1", 1)  # a rebalance: the group's committed offset may be behind
    h.position("c1", 1, 1)
    h.poll("c1", 1, 1, "a-3")
    assert_clean(check(h))


def test_polls_of_two_consumers_are_separate():
    h = clean_history()
    h.poll("c2", 0, 0, "a-0")  # c2 starts over: its first poll
    assert_clean(check(h))


def test_a_stored_value_nobody_sent_is_a_phantom():
    h = clean_history()
    h.final[0].append((len(h.final[0]), "zz"))
    only(check(h), "phantom", 1)


def test_a_history_dumped_and_loaded_checks_the_same(tmp_path):
    h = clean_history()
    h.final[1] = h.final[1][:-1]
    path = str(tmp_path / "history.json")
    h.dump(path)
    again = check(History.load(path))
    summary = check(h)
    assert {n: again[n] for n in ERRORS} == {n: summary[n] for n in ERRORS}
