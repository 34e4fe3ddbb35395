"""A checker of Kafka histories in the style of Jepsen's Kafka workload (issue 16).

A run records a History: every send attempt of every producer with its outcome
(acknowledged at an offset, failed, or unknown: the client never said), every
record a consumer polled (partition, offset, value), every position a consumer
reported, and the rebalances/seeks after which its position may move back. At
the end the test reads every partition back from offset 0 (`final`). `check()`
compares them and returns a summary dict of counts (plus a few examples):

  lost                    acknowledged values absent from the read-back
  duplicated              values stored at more than one offset in the read-back
                          (zero with idempotent producers; a producer without
                          idempotence may store a retried batch twice)
  reordered               a producer's values in one partition stored out of its
                          send order (pairs of neighbours in the log)
  value_at_two_offsets    a value observed (ack, poll or read-back) at two places,
                          other than stored twice (a duplicate) and seen there
  offset_with_two_values  a (partition, offset) observed holding two values
  polls_backwards         a consumer's position or polled offset moving back
                          without a rebalance or seek in between
  phantom                 values in the read-back that no producer sent

Every count in ERRORS must be zero for a correct broker. Values must be
unique per send attempt (a producer id plus a sequence number does it); the
checker itself needs no Kafka client, so its unit tests run on hand-made
histories (test_jepsen_checker.py)."""

import json
import threading
from collections import defaultdict

ERRORS = ("lost", "duplicated", "reordered", "value_at_two_offsets", "offset_with_two_values",
          "polls_backwards", "phantom")
EXAMPLES = 5

OK, FAILED, UNKNOWN = "ok", "failed", "unknown"


class History:
    """Events of one run, thread-safe; producers and consumers append to it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sends = []      # dicts: producer, seq, value, partition, outcome, offset, error
        self.polls = []      # dicts: consumer, partition, offset, value
        self.positions = []  # dicts: consumer, partition, offset, or kind "reset"
        self.final = {}      # partition -> [(offset, value)]

    def send(self, producer, seq, value, partition=None):
        """A send attempt, outcome unknown until ack()/fail(); returns its record."""
        record = {"producer": producer, "seq": seq, "value": value, "partition": partition,
                  "outcome": UNKNOWN, "offset": None, "error": None}
        with self.lock:
            self.sends.append(record)
        return record

    def ack(self, record, partition, offset):
        with self.lock:
            record.update(outcome=OK, partition=partition, offset=offset)

    def fail(self, record, error):
        with self.lock:
            record.update(outcome=FAILED, error=str(error))

    def poll(self, consumer, partition, offset, value):
        with self.lock:
            self.polls.append({"consumer": consumer, "partition": partition, "offset": offset,
                               "value": value})
            self.positions.append({"consumer": consumer, "partition": partition, "offset": offset,
                                   "kind": "record"})

    def position(self, consumer, partition, offset):
        """The consumer's next fetch position (after a poll, a commit)."""
        with self.lock:
            self.positions.append({"consumer": consumer, "partition": partition, "offset": offset,
                                   "kind": "position"})

    def reset(self, consumer, partition):
        """A rebalance (assignment, revocation) or a seek: the position may go back."""
        with self.lock:
            self.positions.append({"consumer": consumer, "partition": partition, "offset": None,
                                   "kind": "reset"})

    def set_final(self, partition, records):
        with self.lock:
            self.final[partition] = list(records)

    def dump(self, path):
        """The history as JSON, to replay the checker on a failed run."""
        with self.lock, open(path, "w") as f:
            json.dump({"sends": self.sends, "polls": self.polls, "positions": self.positions,
                       "final": {str(p): r for p, r in self.final.items()}}, f)

    @staticmethod
    def load(path):
        history = History()
        with open(path) as f:
            data = json.load(f)
        history.sends, history.polls, history.positions = data["sends"], data["polls"], data["positions"]
        history.final = {int(p): [tuple(r) for r in records] for p, records in data["final"].items()}
        return history


def _lost(history, stored):
    return [s["value"] for s in history.sends if s["outcome"] == OK and s["value"] not in stored]


def _duplicated(history):
    places = defaultdict(list)
    for partition, records in history.final.items():
        for offset, value in records:
            places[value].append((partition, offset))
    return [v for v, where in places.items() if len(where) > 1]


def _reordered(history):
    """Neighbouring stored values of one producer in one partition whose send
    sequence goes down (a producer with one request in flight, or idempotent,
    keeps its order across retries). A value stored again by a retry counts
    at its first place only (duplicates are counted apart)."""
    sent = {s["value"]: s for s in history.sends}
    bad = []
    for partition, records in history.final.items():
        last_seq = {}
        seen = set()
        for _, value in sorted(records):
            send = sent.get(value)
            if send is None or value in seen:
                continue
            seen.add(value)
            producer = send["producer"]
            if producer in last_seq and send["seq"] < last_seq[producer]:
                bad.append((partition, value))
            last_seq[producer] = send["seq"]
    return bad


def _observations(history):
    """(partition, offset, value) from acks, polls and the read-back."""
    for s in history.sends:
        if s["outcome"] == OK:
            yield s["partition"], s["offset"], s["value"]
    for p in history.polls:
        yield p["partition"], p["offset"], p["value"]
    for partition, records in history.final.items():
        for offset, value in records:
            yield partition, offset, value


def _conflicts(history):
    """Values observed at two places, and places observed with two values. A
    value only the read-back holds twice (a retry stored it again) is a
    duplicate, not counted here: every place it was seen at must then be one
    of its stored places."""
    places, values = defaultdict(set), defaultdict(set)
    for partition, offset, value in _observations(history):
        places[value].add((partition, offset))
        values[(partition, offset)].add(value)
    stored = defaultdict(set)
    for partition, records in history.final.items():
        for offset, value in records:
            stored[value].add((partition, offset))
    two_offsets = [v for v, where in places.items()
                   if len(where) > 1 and not (len(stored[v]) > 1 and where <= stored[v])]
    two_values = [where for where, vs in values.items() if len(vs) > 1]
    return two_offsets, two_values


def _polls_backwards(history):
    """A consumer's positions and polled offsets per partition never go back,
    except right after a reset (rebalance or seek). A polled record at offset o
    means the position is at least o + 1 afterwards; a reported position p
    means the next record polled is at p or after."""
    last = {}
    bad = []
    for event in history.positions:
        key = (event["consumer"], event["partition"])
        if event["kind"] == "reset":
            last.pop(key, None)
            continue
        # A polled record at o may follow a position of o exactly.
        floor = event["offset"] + 1 if event["kind"] == "record" else event["offset"]
        previous = last.get(key)
        if previous is not None and event["offset"] < previous:
            bad.append((event["consumer"], event["partition"], previous, event["offset"]))
        last[key] = max(floor, previous or 0)
    return bad


def check(history):
    """The summary dict: counts of each anomaly (ERRORS), totals, and up to
    EXAMPLES examples of each anomaly found."""
    with history.lock:
        stored = {value for records in history.final.values() for _, value in records}
        sent = {s["value"] for s in history.sends}
        two_offsets, two_values = _conflicts(history)
        found = {
            "lost": _lost(history, stored),
            "duplicated": _duplicated(history),
            "reordered": _reordered(history),
            "value_at_two_offsets": two_offsets,
            "offset_with_two_values": two_values,
            "polls_backwards": _polls_backwards(history),
            "phantom": sorted(stored - sent),
        }
        summary = {name: len(items) for name, items in found.items()}
        summary.update(
            sends=len(history.sends),
            acked=sum(1 for s in history.sends if s["outcome"] == OK),
            failed=sum(1 for s in history.sends if s["outcome"] == FAILED),
            unknown=sum(1 for s in history.sends if s["outcome"] == UNKNOWN),
            stored=sum(len(r) for r in history.final.values()),
            polled=len(history.polls),
            examples={name: items[:EXAMPLES] for name, items in found.items() if items},
        )
    return summary


def assert_clean(summary, allow=()):
    """Every anomaly count zero (except those in `allow`)."""
    bad = {name: summary[name] for name in ERRORS if name not in allow and summary[name]}
    assert not bad, f"checker found {bad}: {summary}"
