"""Connector offsets through the REST API (KIP-875) on a real worker: GET
/connectors/{n}/offsets of a file source ({"partition": {"filename"},
"offset": {"position"}}) and of a file sink ({"kafka_topic",
"kafka_partition"} -> {"kafka_offset"}, its group connect-<n>); PATCH and
DELETE are refused (400) unless the connector is STOPPED; a source's offset
PATCHed back to 0 makes the resumed task read the file again (every line
duplicated, asserted), DELETE resets it the same way; a sink's offset altered
to N makes the resumed task re-deliver the topic from N, and DELETE from the
start."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import unique_topic  # noqa: E402
from connect_harness import (FILE_SINK, FILE_SOURCE, append, consume_all, create,  # noqa: E402,F401
                             expect, module_worker, read_lines, rest, wait_for, wait_lines,
                             wait_state)

# Sink tasks join their group at once (Kafka waits 3 s for more members by default).
BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}

ALTERED = "The offsets for this connector have been altered successfully"
RESET = "The offsets for this connector have been reset successfully"


def offsets_of(port, name):
    return expect(port, "GET", f"/connectors/{name}/offsets", 200)


def stop(port, name):
    assert rest(port, "PUT", f"/connectors/{name}/stop")[0] == 204
    wait_state(port, name, "STOPPED", [])


def resume(port, name):
    assert rest(port, "PUT", f"/connectors/{name}/resume")[0] == 202
    wait_state(port, name, "RUNNING", ["RUNNING"])


def pipeline(module_worker, tmp_path, prefix):
    port = module_worker.port
    topic = unique_topic(prefix)
    source_file = str(tmp_path / "in.txt")
    sink_file = str(tmp_path / "out.txt")
    lines = [f"{prefix} line {i}" for i in range(10)]
    append(source_file, lines)
    create(port, f"{prefix}-src", {"connector.class": FILE_SOURCE, "file": source_file, "topic": topic})
    create(port, f"{prefix}-sink", {"connector.class": FILE_SINK, "file": sink_file, "topics": topic})
    assert wait_lines(sink_file, 10) == lines
    return topic, source_file, sink_file, lines


def test_source_offsets(module_worker, tmp_path):
    port = module_worker.port
    topic, source_file, sink_file, lines = pipeline(module_worker, tmp_path, "srcoff")
    size = os.path.getsize(source_file)
    expected = {"offsets": [{"partition": {"filename": source_file}, "offset": {"position": size}}]}
    wait_for(lambda: offsets_of(port, "srcoff-src") == expected,
             f"the source offsets {expected} (now {offsets_of(port, 'srcoff-src')})", timeout_s=10)

    to_zero = {"offsets": [{"partition": {"filename": source_file}, "offset": {"position": 0}}]}
    for method, body in (("PATCH", to_zero), ("DELETE", None)):
        status, answer = rest(port, method, "/connectors/srcoff-src/offsets", body)
        assert status == 400, (method, status, answer)
        assert "STOPPED" in answer["message"], answer
    assert offsets_of(port, "srcoff-src") == expected, "a refused change changed the offsets"

    stop(port, "srcoff-src")
    status, answer = rest(port, "PATCH", "/connectors/srcoff-src/offsets", to_zero)
    assert (status, answer) == (200, {"message": ALTERED}), (status, answer)
    assert offsets_of(port, "srcoff-src") == to_zero
    stored = [e for e in module_worker.offsets()["offsets"] if "srcoff-src" in e["key"]]
    assert [e["value"] for e in stored] == ['{"position":0}'], stored

    resume(port, "srcoff-src")
    # The file is read again from 0: every line twice, in order.
    assert wait_lines(sink_file, 20) == lines + lines
    values = [m.value().decode() for m in consume_all(module_worker.settings["bootstrap.servers"],
                                                      topic, 20)]
    assert values == lines + lines, f"{len(values)} records after the rewind"
    wait_for(lambda: offsets_of(port, "srcoff-src") == expected, "the position back at the end")

    stop(port, "srcoff-src")
    status, answer = rest(port, "DELETE", "/connectors/srcoff-src/offsets")
    assert (status, answer) == (200, {"message": RESET}), (status, answer)
    assert offsets_of(port, "srcoff-src") == {"offsets": []}
    resume(port, "srcoff-src")
    assert wait_lines(sink_file, 30) == lines * 3
    assert rest(port, "DELETE", "/connectors/srcoff-src")[0] == 204
    assert rest(port, "DELETE", "/connectors/srcoff-sink")[0] == 204
    assert rest(port, "GET", "/connectors/srcoff-src/offsets")[0] == 404


def test_sink_offsets(module_worker, tmp_path):
    port = module_worker.port
    topic, source_file, sink_file, lines = pipeline(module_worker, tmp_path, "sinkoff")
    partition = {"kafka_topic": topic, "kafka_partition": 0}
    expected = {"offsets": [{"partition": partition, "offset": {"kafka_offset": 10}}]}
    wait_for(lambda: offsets_of(port, "sinkoff-sink") == expected,
             f"the sink offsets {expected} (now {offsets_of(port, 'sinkoff-sink')})", timeout_s=15)

    to_five = {"offsets": [{"partition": partition, "offset": {"kafka_offset": 5}}]}
    assert rest(port, "PATCH", "/connectors/sinkoff-sink/offsets", to_five)[0] == 400
    assert rest(port, "DELETE", "/connectors/sinkoff-sink/offsets")[0] == 400

    stop(port, "sinkoff-sink")
    status, answer = rest(port, "PATCH", "/connectors/sinkoff-sink/offsets", to_five)
    assert (status, answer) == (200, {"message": ALTERED}), (status, answer)
    assert offsets_of(port, "sinkoff-sink") == {"offsets": [{"partition": partition,
                                                             "offset": {"kafka_offset": 5}}]}
    resume(port, "sinkoff-sink")
    assert wait_lines(sink_file, 15) == lines + lines[5:], "records not re-delivered from offset 5"

    stop(port, "sinkoff-sink")
    status, answer = rest(port, "DELETE", "/connectors/sinkoff-sink/offsets")
    assert (status, answer) == (200, {"message": RESET}), (status, answer)
    assert offsets_of(port, "sinkoff-sink") == {"offsets": []}
    resume(port, "sinkoff-sink")
    assert wait_lines(sink_file, 25) == lines + lines[5:] + lines, "records not re-delivered from 0"

    # Malformed alterations are 400 with KIP-875's expectations.
    stop(port, "sinkoff-sink")
    for bad in ({"offsets": [{"partition": {"kafka_topic": topic}, "offset": {"kafka_offset": 1}}]},
                {"offsets": [{"partition": partition, "offset": {"kafka_offset": "x"}}]}):
        status, answer = rest(port, "PATCH", "/connectors/sinkoff-sink/offsets", bad)
        assert status == 400, (bad, status, answer)
    for name in ("sinkoff-src", "sinkoff-sink"):
        assert rest(port, "DELETE", f"/connectors/{name}")[0] == 204
