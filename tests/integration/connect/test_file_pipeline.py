"""File source -> topic -> file sink through a real `sluice connect standalone`
worker and a real broker, with StringConverter: the sink file holds exactly the
source file's lines in order and the topic exactly one record per line, across
a graceful restart of the worker (SIGTERM, lines appended while it is down,
started again with the same connector files, one .properties and one .json):
nothing lost, nothing duplicated, and the offsets file holds the source
partition {"filename": ...} with {"position": <bytes read>}. The source
follows its path as `tail -F` does: a rotation (rename, then a new file at
the path) hands out the old file's last lines then the new file's; a file
that appears after the connector started is read from its beginning."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import unique_topic  # noqa: E402
from connect_harness import (FILE_SINK, FILE_SOURCE, append, consume_all, create,  # noqa: E402,F401
                             read_lines, wait_for, wait_lines, wait_state, worker_factory,
                             write_properties)

# Sink tasks join their group at once (Kafka waits 3 s for more members by default).
BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}


def source_position(worker, connector, path):
    """The committed position of `path` in the offsets file, or None."""
    stored = worker.offsets()
    if not stored:
        return None
    for entry in stored.get("offsets", []):
        if json.loads(entry["key"]) == [connector, {"filename": path}]:
            return json.loads(entry["value"])
    return None


def test_lines_survive_a_graceful_restart(module_broker, worker_factory, tmp_path):
    topic = unique_topic("lines")
    source_file = str(tmp_path / "in.txt")
    sink_file = str(tmp_path / "out.txt")
    open(source_file, "wb").close()
    # One connector as connect-standalone's .properties, one as the REST body in .json.
    source_props = write_properties(str(tmp_path / "source.properties"), {
        "name": "file-source", "connector.class": FILE_SOURCE, "tasks.max": "1",
        "file": source_file, "topic": topic})
    sink_json = str(tmp_path / "sink.json")
    with open(sink_json, "w") as f:
        json.dump({"name": "file-sink", "config": {"connector.class": "FileStreamSink",
                                                    "tasks.max": "1", "file": sink_file,
                                                    "topics": topic}}, f)

    worker = worker_factory(module_broker.bootstrap).start([source_props, sink_json])
    wait_state(worker.port, "file-source", "RUNNING", ["RUNNING"])
    wait_state(worker.port, "file-sink", "RUNNING", ["RUNNING"])

    first = [f"line {i} of the first run" for i in range(50)]
    append(source_file, first)
    assert wait_lines(sink_file, 50) == first, "the sink file is not the source's lines in order"
    size = os.path.getsize(source_file)
    wait_for(lambda: source_position(worker, "file-source", source_file) == {"position": size},
             f"the offsets file to hold position {size} "
             f"(has {source_position(worker, 'file-source', source_file)})", timeout_s=10)

    worker.clean_stop()
    second = [f"line {i} written while the worker was down" for i in range(30)]
    append(source_file, second)

    worker.start([source_props, sink_json])
    expected = first + second
    wait_lines(sink_file, len(expected))
    records = consume_all(module_broker.bootstrap, topic, len(expected))
    values = [m.value().decode() for m in records]
    assert values == expected, (f"the topic is not one record per line in order: "
                                f"{len(values)} records, {len(values) - len(set(values))} duplicated")
    assert all(m.key() is None for m in records), "file source records have no key"
    # The sink may still be writing a duplicate: give it the flush interval.
    wait_for(lambda: source_position(worker, "file-source", source_file) ==
             {"position": os.path.getsize(source_file)}, "the offsets file to catch up", timeout_s=10)
    assert read_lines(sink_file) == expected, "the sink file lost or duplicated lines"
    worker.clean_stop()


def test_rotation_and_a_file_that_appears_later(module_broker, worker_factory, tmp_path):
    topic = unique_topic("rotated")
    path = str(tmp_path / "app.log")  # does not exist yet
    sink_file = str(tmp_path / "out.txt")
    worker = worker_factory(module_broker.bootstrap).start()
    create(worker.port, "tail", {"connector.class": FILE_SOURCE, "file": path, "topic": topic})
    create(worker.port, "collect", {"connector.class": FILE_SINK, "file": sink_file, "topics": topic})
    wait_state(worker.port, "tail", "RUNNING", ["RUNNING"])
    wait_state(worker.port, "collect", "RUNNING", ["RUNNING"])

    # The file appears after the connector started: read from its start.
    before = [f"early {i}" for i in range(5)]
    append(path, before)
    assert wait_lines(sink_file, 5) == before

    # Rotation: the old file gets two more lines (the last without a line
    # end) after the rename, then a new file takes the path.
    os.rename(path, path + ".1")
    with open(path + ".1", "ab") as f:
        f.write(b"late in the old file\nlast of the old file, no line end")
    after = [f"new file {i}" for i in range(5)]
    append(path, after)
    expected = before + ["late in the old file", "last of the old file, no line end"] + after
    got = wait_lines(sink_file, len(expected))
    assert got == expected, f"rotation: {got}"
    more = ["appended to the new file"]
    append(path, more)
    assert wait_lines(sink_file, len(expected) + 1) == expected + more
    values = [m.value().decode() for m in consume_all(module_broker.bootstrap, topic, len(expected) + 1)]
    assert values == expected + more, f"the topic after rotation: {values}"
    worker.clean_stop()
