"""The exactly-once checker of issue 17: decides from a consume-transform-produce
run's journal and read-backs whether every input reached the output exactly
once. Pure logic, no Kafka client: its own tests (test_eos_checker.py) run it on
synthetic journals.

The run (eos_pipeline.py) reads input topic partition p and writes, for the
input record at offset o with value v, one output record to output partition p
whose value is `p:o:<tag>:v`, where <tag> = `<instance>.<txn>` names the
pipeline instance (a process; a restart is a new instance) and its transaction
number. Each instance journals its transactions as JSON lines:

  {"e": "begin", "txn": t}
  {"e": "produced", "txn": t, "n": k}              k records delivered in t (before any end)
  {"e": "offsets", "txn": t, "offsets": {p: o}}    send_offsets_to_transaction's positions
  {"e": "committing", "txn": t}                    just before commit_transaction()
  {"e": "commit", "txn": t}                        commit_transaction() returned
  {"e": "abort", "txn": t, "why": "..."}           abort_transaction() returned ("on purpose" or an error)

Every event also carries "instance". A process killed with SIGKILL just stops
journaling: its last transaction's outcome is then whatever the broker decided
(aborted when the next instance fences it, or committed if the kill came after
commit_transaction() reached the coordinator).

`check(...)` returns a summary of counts; every count in ERRORS is zero for a
broker with exactly-once semantics:

  missing               an input record absent from the read_committed output
  duplicated            an input record in the read_committed output more than once
  reordered             an output partition holding its inputs out of offset order,
                        or an input written to another partition than its own
  phantom               an output record that matches no input (bad value)
  aborted_visible       a read_committed record of a transaction the journal aborted
  never_committed_visible  a read_committed record of a transaction whose commit was
                        never attempted (no "committing" event)
  torn                  a transaction partly visible: its read_committed record count
                        differs from what the journal says it produced
  committed_lost        a transaction the journal saw committed with records missing
                        from the read_committed output
  offsets_mismatch      the group's committed input offset of a partition is not one
                        past the last input in the output; or a committed transaction's
                        sent offsets do not follow its own last output record per partition
  views_disagree        a read_committed record that read_uncommitted does not show at
                        the same offset with the same value
  aborted_not_in_uncommitted  a transaction aborted on purpose whose produced records
                        read_uncommitted does not show (the broker dropped them instead
                        of writing them and an abort marker)
"""

import os
from collections import Counter, defaultdict

ERRORS = ("missing", "duplicated", "reordered", "phantom", "aborted_visible", "never_committed_visible",
          "torn", "committed_lost", "offsets_mismatch", "views_disagree", "aborted_not_in_uncommitted")
EXAMPLES = 5
ON_PURPOSE = "on purpose"


def output_value(partition, offset, tag, value):
    """The output record's value for input (partition, offset, value) in transaction `tag`."""
    return f"{partition}:{offset}:{tag}:{value}"


def parse_output(value):
    """(input partition, input offset, tag, input value), or None for a value
    not of the output form."""
    parts = value.split(":", 3)
    if len(parts) != 4:
        return None
    try:
        return int(parts[0]), int(parts[1]), parts[2], parts[3]
    except ValueError:
        return None


def tag_of(instance, txn):
    return f"{instance}.{txn}"


class Journal:
    """Transactions of every instance, by tag: what each produced, the offsets
    it sent, and how it ended."""

    def __init__(self, events):
        self.produced = {}     # tag -> records delivered
        self.offsets = {}      # tag -> {partition: offset}
        self.committing = set()
        self.committed = set()
        self.aborted = {}      # tag -> why
        for event in events:
            tag = tag_of(event.get("instance"), event.get("txn"))
            kind = event.get("e")
            if kind == "produced":
                self.produced[tag] = event["n"]
            elif kind == "offsets":
                self.offsets[tag] = {int(p): o for p, o in event["offsets"].items()}
            elif kind == "committing":
                self.committing.add(tag)
            elif kind == "commit":
                self.committed.add(tag)
            elif kind == "abort":
                self.aborted[tag] = event.get("why", "")

    def aborted_on_purpose(self):
        return {tag for tag, why in self.aborted.items() if why == ON_PURPOSE}


def _inputs_seen(inputs, committed):
    """The read_committed records: [(output partition, offset, value, parsed)],
    parsed None unless the value names an input and carries its value."""
    out = []
    for partition in sorted(committed):
        for offset, value in committed[partition]:
            parsed = parse_output(value)
            if parsed is not None:
                p, o, _tag, v = parsed
                if p not in inputs or not 0 <= o < len(inputs[p]) or inputs[p][o] != v:
                    parsed = None
            out.append((partition, offset, value, parsed))
    return out


def _check_inputs(inputs, seen, found):
    """missing, duplicated, reordered, phantom: the read_committed output holds
    each input once, in its own partition, in input order."""
    counts = Counter()
    last_offset = {}
    for out_partition, offset, value, parsed in seen:
        if parsed is None:
            found["phantom"].append((out_partition, offset, value))
            continue
        p, o, _tag, _v = parsed
        counts[(p, o)] += 1
        if counts[(p, o)] > 1:
            continue  # counted as duplicated below; order judged on first copies
        if p != out_partition or o <= last_offset.get(out_partition, -1):
            found["reordered"].append((out_partition, offset, value))
        last_offset[out_partition] = max(o, last_offset.get(out_partition, -1))
    found["duplicated"] = [key for key, n in counts.items() if n > 1]
    found["missing"] = [(p, o) for p in sorted(inputs) for o in range(len(inputs[p])) if (p, o) not in counts]


def _check_transactions(journal, seen, found):
    """Atomicity: a visible transaction is one whose commit was attempted and
    not aborted, seen whole; a committed one is seen whole."""
    visible = Counter()
    last_input = defaultdict(dict)  # tag -> {partition: last input offset seen}
    for _out_partition, _offset, _value, parsed in seen:
        if parsed is None:
            continue
        p, o, tag, _v = parsed
        visible[tag] += 1
        last_input[tag][p] = max(o, last_input[tag].get(p, -1))
    for tag, n in sorted(visible.items()):
        if tag in journal.aborted:
            found["aborted_visible"].append(tag)
        elif tag not in journal.committing:
            found["never_committed_visible"].append(tag)
        elif tag in journal.produced and n != journal.produced[tag]:
            found["torn"].append((tag, n, journal.produced[tag]))
    for tag in sorted(journal.committed):
        if visible[tag] < journal.produced.get(tag, 0):
            found["committed_lost"].append((tag, visible[tag], journal.produced[tag]))
    for tag, sent in sorted(journal.offsets.items()):
        if tag not in journal.committed:
            continue
        for p, last in last_input[tag].items():
            if sent.get(p) != last + 1:
                found["offsets_mismatch"].append((tag, p, sent.get(p), last + 1))


def _check_group_offsets(group_offsets, seen, found):
    """The group's committed offset of each input partition is one past the last
    input of that partition the read_committed output holds (0 if none)."""
    end = defaultdict(int)
    for _out_partition, _offset, _value, parsed in seen:
        if parsed is not None:
            end[parsed[0]] = max(end[parsed[0]], parsed[1] + 1)
    for p in sorted(set(group_offsets) | set(end)):
        committed = group_offsets.get(p)
        if committed is None or committed < 0:
            committed = 0
        if committed != end[p]:
            found["offsets_mismatch"].append(("group", p, committed, end[p]))


def _check_views(journal, committed, uncommitted, found):
    """read_uncommitted shows every read_committed record at its offset, and the
    records of transactions aborted on purpose."""
    by_place = {(p, o): v for p, records in uncommitted.items() for o, v in records}
    for p, records in committed.items():
        for o, v in records:
            if by_place.get((p, o)) != v:
                found["views_disagree"].append((p, o, v, by_place.get((p, o))))
    shown = Counter()
    for records in uncommitted.values():
        for _o, v in records:
            parsed = parse_output(v)
            if parsed is not None:
                shown[parsed[2]] += 1
    for tag in sorted(journal.aborted_on_purpose()):
        if shown[tag] < journal.produced.get(tag, 0):
            found["aborted_not_in_uncommitted"].append((tag, shown[tag], journal.produced[tag]))


def check(inputs, committed, uncommitted, group_offsets, events):
    """inputs: {partition: [value at offset 0, 1, ...]} of the input topic;
    committed / uncommitted: {partition: [(offset, value)]} of the output topic
    read with isolation.level read_committed / read_uncommitted; group_offsets:
    {partition: the pipeline group's committed offset}; events: every
    instance's journal events. Returns the summary dict."""
    journal = Journal(events)
    seen = _inputs_seen(inputs, committed)
    found = {name: [] for name in ERRORS}
    _check_inputs(inputs, seen, found)
    _check_transactions(journal, seen, found)
    _check_group_offsets(group_offsets, seen, found)
    _check_views(journal, committed, uncommitted, found)
    summary = {name: len(items) for name, items in found.items()}
    committed_count = sum(len(r) for r in committed.values())
    uncommitted_count = sum(len(r) for r in uncommitted.values())
    summary.update(
        inputs=sum(len(v) for v in inputs.values()),
        read_committed=committed_count,
        read_uncommitted=uncommitted_count,
        uncommitted_extra=uncommitted_count - committed_count,
        transactions_committed=len(journal.committed),
        transactions_aborted=len(journal.aborted),
        aborted_on_purpose=len(journal.aborted_on_purpose()),
        instances=len({e.get("instance") for e in events}),
        examples={name: items[:EXAMPLES] for name, items in found.items() if items},
    )
    return summary


def assert_exactly_once(summary):
    """Every count in ERRORS zero."""
    bad = {name: summary[name] for name in ERRORS if summary[name]}
    assert not bad, f"exactly-once checker found {bad}: {summary}"


def replay(workdir):
    """check() again on what a run left in `workdir` (readback.json and the
    journal-<n>.jsonl files test_eos_pipeline.py writes): the summary."""
    import glob
    import json
    with open(os.path.join(workdir, "readback.json")) as f:
        data = json.load(f)

    def by_partition(records):
        return {int(p): [tuple(r) for r in rs] for p, rs in records.items()}

    events = []
    for path in sorted(glob.glob(os.path.join(workdir, "journal-*.jsonl"))):
        with open(path) as f:
            for line in f:
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass  # a line cut by a kill
    return check({int(p): v for p, v in data["inputs"].items()}, by_partition(data["read_committed"]),
                 by_partition(data["read_uncommitted"]),
                 {int(p): o for p, o in data["group_offsets"].items()}, events)


if __name__ == "__main__":
    import sys
    print(replay(sys.argv[1]))
