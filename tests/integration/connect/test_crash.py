"""kill -9 of a `sluice connect standalone` worker while lines stream through a
file source and a file sink: after a restart every line arrives
(at-least-once), and the only duplicates are the records after the last
committed offset. Precisely: with P the position in the offsets file at the
kill (line index i), the topic is lines[:m] + lines[i:] for some m >= i; with
C the sink group's committed offset at the kill, the sink file is
topic[:k] + topic[C:] for some k >= C. The duplicate counts are printed."""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import unique_topic  # noqa: E402
from connect_harness import (FILE_SINK, FILE_SOURCE, append, consume_all,  # noqa: E402,F401
                             read_lines, wait_for, wait_lines, wait_state, worker_factory,
                             write_properties)

LINES = 4000
WARM_UP = 200


def committed_position(worker, connector, path):
    stored = worker.offsets() or {}
    for entry in stored.get("offsets", []):
        if json.loads(entry["key"]) == [connector, {"filename": path}]:
            return json.loads(entry["value"])["position"]
    return 0


def group_committed(bootstrap, group, topic):
    """The group's committed offset of partition 0 (OffsetFetch; no join)."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        offset = consumer.committed([TopicPartition(topic, 0)], timeout=30)[0].offset
    finally:
        consumer.close()
    return max(offset, 0)


def split_point(sequence, original, resume_at):
    """The k with sequence == original[:k] + original[resume_at:], or None."""
    tail = original[resume_at:]
    k = len(sequence) - len(tail)
    if k < resume_at or sequence[:k] != original[:k] or sequence[k:] != tail:
        return None
    return k


def test_kill_9_mid_stream_loses_nothing(broker, worker_factory, tmp_path):
    topic = unique_topic("crash")
    source_file = str(tmp_path / "in.txt")
    sink_file = str(tmp_path / "out.txt")
    open(source_file, "wb").close()
    # A standalone worker keeps connectors in memory: they are given as files at each start.
    connectors = [
        write_properties(str(tmp_path / "src.properties"), {
            "name": "src", "connector.class": FILE_SOURCE, "file": source_file, "topic": topic}),
        write_properties(str(tmp_path / "sink.properties"), {
            "name": "sink", "connector.class": FILE_SINK, "file": sink_file, "topics": topic}),
    ]
    # The killed sink's group member must expire before the restarted one gets
    # the partition: a short session (the broker's minimum) keeps the test short.
    worker = worker_factory(broker.bootstrap, {"consumer.session.timeout.ms": "6000"}).start(connectors)
    wait_state(worker.port, "src", "RUNNING", ["RUNNING"])
    wait_state(worker.port, "sink", "RUNNING", ["RUNNING"])

    lines = [f"record {i:05d}" for i in range(LINES)]
    # Warm up: the sink's group has joined and both sides committed once.
    append(source_file, lines[:WARM_UP])
    wait_lines(sink_file, WARM_UP)
    wait_for(lambda: committed_position(worker, "src", source_file) > 0, "a first source commit")
    wait_for(lambda: group_committed(broker.bootstrap, "connect-sink", topic) > 0,
             "a first sink commit", interval_s=0.3)
    done = threading.Event()

    def writer():  # ~4 s of lines, going on while the worker is dead
        for start in range(WARM_UP, LINES, 40):
            append(source_file, lines[start:start + 40])
            time.sleep(0.05)
        done.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    # Kill mid-stream.
    wait_lines(sink_file, WARM_UP + 600)
    worker.kill9()
    position = committed_position(worker, "src", source_file)
    sink_committed = group_committed(broker.bootstrap, "connect-sink", topic)
    in_sink_at_kill = len(read_lines(sink_file))
    line_bytes = len(lines[0]) + 1
    assert position % line_bytes == 0, f"committed position {position} is not at a line end"
    resume_line = position // line_bytes

    time.sleep(0.5)  # lines keep coming while the worker is down
    worker.start(connectors)
    thread.join(30)
    assert done.is_set(), "the writer did not finish"

    wait_lines(sink_file, LINES, timeout_s=60)
    records = consume_all(broker.bootstrap, topic, LINES, timeout_s=60)
    values = [m.value().decode() for m in records]
    assert set(values) == set(lines), f"lines lost: {sorted(set(lines) - set(values))[:5]}..."
    m = split_point(values, lines, resume_line)
    topic_duplicates = len(values) - LINES
    print(f"\nsource: committed line {resume_line} at the kill; topic has {len(values)} records, "
          f"{topic_duplicates} duplicates")
    assert m is not None, (f"the topic is not lines[:m] + lines[{resume_line}:] "
                           f"(a duplicate before the committed offset, or a reordering)")
    assert topic_duplicates == m - resume_line

    # Let the sink finish the re-delivered tail.
    wait_for(lambda: len(read_lines(sink_file)) >= len(values) - sink_committed + in_sink_at_kill
             or len(read_lines(sink_file)) >= len(values),
             "the sink to write the whole topic", timeout_s=60)
    time.sleep(1.0)
    sink_lines = read_lines(sink_file)
    k = split_point(sink_lines, values, sink_committed)
    sink_duplicates = len(sink_lines) - len(values)
    print(f"sink: group committed offset {sink_committed} at the kill, {in_sink_at_kill} lines "
          f"written then; sink file has {len(sink_lines)} lines, {sink_duplicates} duplicates")
    assert k is not None, (f"the sink file is not topic[:k] + topic[{sink_committed}:] "
                           f"({len(sink_lines)} lines)")
    assert sink_duplicates <= in_sink_at_kill - sink_committed
    worker.clean_stop()
