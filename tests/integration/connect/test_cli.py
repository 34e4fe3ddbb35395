"""The `sluice connector` CLI (src/cli/client/connector_command.cc) against a
real `sluice connect standalone` worker: list, create (with -c key=value and
from a .json file), status (table and --json), pause, resume, restart
(plain, --include-tasks, --task), offsets (show, --reset refused while
running, then after stop), delete; each changes what the REST API shows.
Refusals print Kafka Connect's message with the HTTP status and exit non-zero
(409 duplicate, 404 unknown); an unreachable --url is one clear line on
stderr and a non-zero exit."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import run, sluice_bin, unique_topic  # noqa: E402

# Sink tasks join their group at once (Kafka waits 3 s for more members by default).
BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}

from connect_harness import (FILE_SINK, append, expect, module_worker, rest,  # noqa: E402,F401
                             wait_lines, wait_state)


def cli(worker, *args, check=True):
    """(exit code, stdout, stderr) of `sluice connector <args> --url <worker>`."""
    p = run([sluice_bin(), "connector", *args, "--url", worker.url], check=check, timeout_s=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_connector_life_cycle(module_worker, tmp_path):
    port = module_worker.port
    topic = unique_topic("cli")
    source_file = str(tmp_path / "in.txt")
    sink_file = str(tmp_path / "out.txt")
    append(source_file, ["first"])

    code, out, _ = cli(module_worker, "create", "cli-src", "-c", "connector.class=FileStreamSource",
                       "-c", f"file={source_file}", "-c", f"topic={topic}")
    assert "Created connector cli-src" in out, out
    sink_json = tmp_path / "sink.json"
    sink_json.write_text(json.dumps({"name": "cli-sink", "config": {
        "connector.class": FILE_SINK, "file": sink_file, "topics": topic}}))
    code, out, _ = cli(module_worker, "create", "--config-file", str(sink_json))
    assert "Created connector cli-sink (sink, 1 task(s))" in out, out
    assert expect(port, "GET", "/connectors/cli-sink/config", 200)["file"] == sink_file
    wait_state(port, "cli-src", "RUNNING", ["RUNNING"])
    wait_state(port, "cli-sink", "RUNNING", ["RUNNING"])
    assert wait_lines(sink_file, 1) == ["first"]

    _, out, _ = cli(module_worker, "list")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
    assert out.splitlines()[0].split() == ["NAME", "TYPE", "STATE", "TASKS", "CLASS"], out
    assert rows["cli-src"][1:3] == ["source", "RUNNING"] and rows["cli-sink"][1:3] == ["sink", "RUNNING"], out

    _, out, _ = cli(module_worker, "status", "cli-src")
    assert out.startswith("Connector cli-src (source): RUNNING"), out
    _, out, _ = cli(module_worker, "status", "cli-src", "--json")
    assert json.loads(out) == expect(port, "GET", "/connectors/cli-src/status", 200)

    _, out, _ = cli(module_worker, "pause", "cli-src")
    assert "Paused connector cli-src" in out, out
    wait_state(port, "cli-src", "PAUSED", ["PAUSED"])
    _, out, _ = cli(module_worker, "resume", "cli-src")
    assert "Resumed connector cli-src" in out, out
    wait_state(port, "cli-src", "RUNNING", ["RUNNING"])
    append(source_file, ["second"])
    assert wait_lines(sink_file, 2) == ["first", "second"]

    for args in (["restart", "cli-src"], ["restart", "cli-src", "--include-tasks"],
                 ["restart", "cli-src", "--task", "0"]):
        code, out, err = cli(module_worker, *args)
        assert code == 0 and out.strip(), (args, out, err)
        wait_state(port, "cli-src", "RUNNING", ["RUNNING"])

    _, out, _ = cli(module_worker, "offsets", "cli-src")
    assert f'{{"filename":"{source_file}"}}' in out and '{"position":' in out, out
    _, out, _ = cli(module_worker, "offsets", "cli-src", "--json")
    assert json.loads(out) == expect(port, "GET", "/connectors/cli-src/offsets", 200)
    code, _, err = cli(module_worker, "offsets", "cli-src", "--reset", check=False)
    assert code != 0 and "STOPPED" in err and "(HTTP 400)" in err, (code, err)
    code, _, err = cli(module_worker, "stop", "cli-src")
    wait_state(port, "cli-src", "STOPPED", [])
    code, out, err = cli(module_worker, "offsets", "cli-src", "--reset")
    assert code == 0, err
    assert expect(port, "GET", "/connectors/cli-src/offsets", 200) == {"offsets": []}

    for name in ("cli-src", "cli-sink"):
        _, out, _ = cli(module_worker, "delete", name)
        assert f"Deleted connector {name}" in out, out
    assert rest(port, "GET", "/connectors/cli-src")[0] == 404
    code, _, err = cli(module_worker, "status", "cli-src", check=False)
    assert code != 0 and err.strip().endswith("Connector cli-src not found (HTTP 404)"), (code, err)


def test_refusals(module_worker):
    args = ["create", "cli-dup", "-c", "connector.class=FileStreamSource", "-c", "topic=t"]
    cli(module_worker, *args)
    code, _, err = cli(module_worker, *args, check=False)
    assert code != 0 and "Connector cli-dup already exists (HTTP 409)" in err, (code, err)
    code, _, err = cli(module_worker, "create", "cli-bad", "-c", "connector.class=FileStreamSource",
                       check=False)
    assert code != 0 and "Connector configuration is invalid" in err and "(HTTP 400)" in err, err
    cli(module_worker, "delete", "cli-dup")


def test_unreachable_url():
    from conftest import free_port
    url = f"http://127.0.0.1:{free_port()}"
    p = run([sluice_bin(), "connector", "list", "--url", url], check=False, timeout_s=30)
    err = p.stderr.decode().strip()
    assert p.returncode != 0, "an unreachable worker must be a failure"
    assert len(err.splitlines()) == 1 and f"cannot reach {url}" in err, repr(err)
    assert p.stdout == b""
