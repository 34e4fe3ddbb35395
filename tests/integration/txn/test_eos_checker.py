"""The exactly-once checker (eos_checker.py) on synthetic journals, no broker
(ctest txn_eos_checker): a clean run with aborts on purpose, a killed instance
and its successor counts nothing; each anomaly a broker could produce is
counted where it is and nowhere else."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eos_checker import ERRORS, ON_PURPOSE, assert_exactly_once, check, output_value, tag_of  # noqa: E402

PARTITIONS = 2
PER_PARTITION = 12
BATCH = 2  # inputs per partition per transaction


class Run:
    """A simulated pipeline over a simulated broker: transactions write output
    records at the partition's log end, a marker takes one offset, an abort
    hides its records from read_committed and the input is processed again."""

    def __init__(self):
        self.inputs = {p: [f"v{p}-{o}" for o in range(PER_PARTITION)] for p in range(PARTITIONS)}
        self.log = {p: [] for p in range(PARTITIONS)}  # (offset, value, tag) incl. markers (value None)
        self.visible = set()                            # tags committed by the "broker"
        self.events = []
        self.group = {}
        self.position = {p: 0 for p in range(PARTITIONS)}

    def journal(self, instance, kind, txn, **fields):
        self.events.append({"e": kind, "instance": instance, "txn": txn, **fields})

    def transaction(self, instance, txn, outcome="commit"):
        """One transaction over the next BATCH inputs of every partition.
        outcome: commit, abort (on purpose), killed (journal stops after
        "produced": the successor's fencing aborts it), killed_after_commit
        (the commit reached the coordinator, the journal never said so)."""
        tag = tag_of(instance, txn)
        self.journal(instance, "begin", txn)
        n = 0
        ends = {}
        for p in range(PARTITIONS):
            start = self.position[p]
            for o in range(start, min(start + BATCH, PER_PARTITION)):
                self.log[p].append((len(self.log[p]), output_value(p, o, tag, self.inputs[p][o]), tag))
                n += 1
                ends[p] = o + 1
        self.journal(instance, "produced", txn, n=n)
        self.journal(instance, "offsets", txn, offsets={str(p): e for p, e in ends.items()})
        if outcome == "killed":
            self._markers()
            return
        if outcome == "abort":
            self.journal(instance, "abort", txn, why=ON_PURPOSE)
            self._markers()
            return
        self.journal(instance, "committing", txn)
        self.visible.add(tag)
        self.group.update(ends)
        self.position.update(ends)
        self._markers()
        if outcome == "commit":
            self.journal(instance, "commit", txn)

    def _markers(self):
        for p in range(PARTITIONS):
            self.log[p].append((len(self.log[p]), None, None))

    def views(self):
        committed = {p: [(o, v) for o, v, t in recs if v is not None and t in self.visible]
                     for p, recs in self.log.items()}
        uncommitted = {p: [(o, v) for o, v, _t in recs if v is not None] for p, recs in self.log.items()}
        return committed, uncommitted

    def check(self, committed=None, uncommitted=None, group=None):
        c, u = self.views()
        return check(self.inputs, committed if committed is not None else c,
                     uncommitted if uncommitted is not None else u,
                     group if group is not None else dict(self.group), self.events)


def clean_run():
    """Instance a: two commits, an abort on purpose, a commit, then killed
    mid-transaction; instance b (its successor) finishes, one more abort."""
    r = Run()
    r.transaction("a", 1)
    r.transaction("a", 2)
    r.transaction("a", 3, "abort")
    r.transaction("a", 4)
    r.transaction("a", 5, "killed")
    r.transaction("b", 1, "abort")
    r.transaction("b", 2)
    r.transaction("b", 3, "killed_after_commit")
    r.transaction("b", 4)
    while any(pos < PER_PARTITION for pos in r.position.values()):
        r.transaction("b", 100 + len(r.events))
    return r


def only(summary, name, count=None):
    others = {n: summary[n] for n in ERRORS if n != name and summary[n]}
    assert summary[name] >= 1 and not others, summary
    if count is not None:
        assert summary[name] == count, summary


def test_a_clean_run_counts_nothing():
    summary = clean_run().check()
    assert_exactly_once(summary)
    assert summary["inputs"] == summary["read_committed"] == PARTITIONS * PER_PARTITION
    assert summary["uncommitted_extra"] > 0 and summary["aborted_on_purpose"] == 2
    assert summary["instances"] == 2 and summary["examples"] == {}


def test_an_input_never_output_is_missing():
    r = clean_run()
    committed, _ = r.views()
    committed[1] = committed[1][:-1]
    summary = r.check(committed=committed, group={0: PER_PARTITION, 1: PER_PARTITION - 1})
    # The last transaction lost one record: the input is missing and the
    # transaction is seen torn and committed_lost as well.
    assert summary["missing"] == 1 and summary["torn"] == 1 and summary["duplicated"] == 0


def test_an_input_output_twice_is_duplicated():
    r = clean_run()
    committed, uncommitted = r.views()
    # Stored again by a later, whole transaction of its own (a replayed batch).
    r.events += [{"e": "produced", "instance": "z", "txn": 1, "n": 1},
                 {"e": "committing", "instance": "z", "txn": 1}]
    value = output_value(0, 0, "z.1", r.inputs[0][0])
    place = (len(r.log[0]) + 10, value)
    committed[0].append(place)
    uncommitted[0].append(place)
    summary = r.check(committed=committed, uncommitted=uncommitted)
    only(summary, "duplicated", 1)


def test_inputs_out_of_order_in_a_partition_are_reordered():
    r = clean_run()
    committed, uncommitted = r.views()
    (o1, v1), (o2, v2) = committed[0][0], committed[0][1]
    committed[0][0], committed[0][1] = (o1, v2), (o2, v1)
    uncommitted = {p: [(o, v) if (p, o) not in ((0, o1), (0, o2)) else (o, v2 if o == o1 else v1)
                       for o, v in recs] for p, recs in uncommitted.items()}
    only(r.check(committed=committed, uncommitted=uncommitted), "reordered", 1)


def test_an_input_in_the_wrong_partition_is_reordered():
    r = clean_run()
    committed, uncommitted = r.views()
    moved = committed[0].pop(-1)
    uncommitted[0] = [rec for rec in uncommitted[0] if rec != moved]
    place = (10_000, moved[1])
    committed[1].append(place)
    uncommitted[1].append(place)
    only(r.check(committed=committed, uncommitted=uncommitted), "reordered", 1)


def test_a_record_no_input_explains_is_a_phantom():
    r = clean_run()
    committed, uncommitted = r.views()
    for bad in ("garbage", output_value(0, 0, "a.1", "not-the-input"), output_value(0, 999, "a.1", "v")):
        place = (20_000 + len(committed[0]), bad)
        committed[0].append(place)
        uncommitted[0].append(place)
    only(r.check(committed=committed, uncommitted=uncommitted), "phantom", 3)


def test_records_of_an_aborted_transaction_in_read_committed_are_counted():
    r = clean_run()
    _, uncommitted = r.views()
    r.visible.add("a.3")  # the "broker" let the aborted transaction through
    committed, _ = r.views()
    summary = r.check(committed=committed, uncommitted=uncommitted)
    assert summary["aborted_visible"] == 1 and summary["duplicated"] > 0, summary


def test_records_of_a_killed_transaction_never_committed_are_counted():
    r = clean_run()
    r.visible.add("a.5")  # killed before commit_transaction(): must be aborted
    summary = r.check()
    assert summary["never_committed_visible"] == 1 and summary["aborted_visible"] == 0, summary


def test_a_partly_visible_transaction_is_torn():
    r = clean_run()
    committed, _ = r.views()
    # The killed-after-commit transaction b.3 shows on partition 0 only; the
    # journal never saw the commit, so only the atomicity check can tell.
    committed[1] = [(o, v) for o, v in committed[1] if ":b.3:" not in v]
    summary = r.check(committed=committed, group={0: PER_PARTITION, 1: PER_PARTITION})
    assert summary["torn"] == 1 and summary["committed_lost"] == 0, summary
    assert summary["missing"] == BATCH


def test_a_committed_transaction_missing_records_is_committed_lost():
    r = clean_run()
    committed, _ = r.views()
    committed[0] = [(o, v) for o, v in committed[0] if ":a.1:" not in v]
    committed[1] = [(o, v) for o, v in committed[1] if ":a.1:" not in v]
    summary = r.check(committed=committed)
    assert summary["committed_lost"] == 1 and summary["missing"] == 2 * BATCH, summary
    assert summary["torn"] == 0  # nothing of it visible: not torn, lost


def test_group_offsets_behind_or_ahead_of_the_output_mismatch():
    r = clean_run()
    only(r.check(group={0: PER_PARTITION - 1, 1: PER_PARTITION}), "offsets_mismatch", 1)
    only(r.check(group={0: PER_PARTITION, 1: PER_PARTITION + 3}), "offsets_mismatch", 1)
    only(r.check(group={0: PER_PARTITION}), "offsets_mismatch", 1)  # partition 1 never committed


def test_a_transaction_sending_offsets_its_output_does_not_match():
    r = clean_run()
    for event in r.events:
        if event["e"] == "offsets" and (event["instance"], event["txn"]) == ("a", 2):
            event["offsets"]["0"] += 1
    only(r.check(), "offsets_mismatch", 1)


def test_read_uncommitted_must_show_what_read_committed_shows():
    r = clean_run()
    committed, uncommitted = r.views()
    uncommitted[0] = uncommitted[0][1:]
    only(r.check(uncommitted=uncommitted), "views_disagree", 1)


def test_an_abort_on_purpose_missing_from_read_uncommitted_is_counted():
    r = clean_run()
    committed, uncommitted = r.views()
    uncommitted = {p: [(o, v) for o, v in recs if ":a.3:" not in v] for p, recs in uncommitted.items()}
    only(r.check(uncommitted=uncommitted), "aborted_not_in_uncommitted", 1)


def test_assert_exactly_once_names_what_it_found():
    r = clean_run()
    r.visible.add("a.3")
    with pytest.raises(AssertionError, match="aborted_visible"):
        assert_exactly_once(r.check())


def test_a_run_dumped_to_disk_replays_the_same(tmp_path):
    """What test_eos_pipeline.py leaves beside its journals checks the same offline."""
    import json
    from eos_checker import replay
    r = clean_run()
    r.visible.add("a.5")
    committed, uncommitted = r.views()
    with open(tmp_path / "readback.json", "w") as f:
        json.dump({"inputs": r.inputs, "read_committed": committed, "read_uncommitted": uncommitted,
                   "group_offsets": r.group}, f)
    for instance in ("a", "b"):
        with open(tmp_path / f"journal-{instance}.jsonl", "w") as f:
            for event in r.events:
                if event["instance"] == instance:
                    f.write(json.dumps(event) + "\n")
            f.write('{"e": "beg')  # a line cut by a kill
    assert replay(str(tmp_path)) == r.check()
    assert replay(str(tmp_path))["never_committed_visible"] == 1
