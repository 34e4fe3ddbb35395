"""Kafka Connect's REST API served by a real `sluice connect standalone` worker
(running real file connectors against a real broker): every endpoint with
Kafka's status code and JSON shape. GET /; GET/POST /connectors (201 with
Location, 409 for a duplicate, 400 with Kafka's "Connector configuration is
invalid and contains the following N error(s)" message, 400 for an unknown
connector.class); GET/PUT/PATCH .../config (201 created vs 200 updated, the
new config reaching the task); /status, /tasks, /tasks/0/status; pause (202,
tasks PAUSED, no records flow) and resume (202, they flow again) for a source
and a sink; stop (204, STOPPED, no tasks); restart (204, 202 with
includeTasks); task restart (204); DELETE (204, then 404); the three built-in
plugins; config validation's error_count and per-key errors; /admin/loggers;
and bodiless PUT/POST as `curl -X PUT` sends them (no Content-Length)."""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import unique_topic  # noqa: E402
from connect_harness import (DATAGEN, FILE_SINK, FILE_SOURCE, append, bodiless,  # noqa: E402,F401
                             create, delete, end_offset, expect, module_worker, produce,
                             read_lines, rest, rest_full, wait_for, wait_lines, wait_state)

# Sink tasks join their group at once (Kafka waits 3 s for more members by default).
BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}


def source_config(tmp_path, topic, name="in.txt"):
    path = str(tmp_path / name)
    open(path, "ab").close()
    return {"connector.class": FILE_SOURCE, "file": path, "topic": topic}


def test_root_and_plugins(module_worker):
    root = expect(module_worker.port, "GET", "/", 200)
    assert list(root) == ["version", "commit", "kafka_cluster_id"], root
    assert root["version"] and isinstance(root["kafka_cluster_id"], str) and root["kafka_cluster_id"]

    plugins = expect(module_worker.port, "GET", "/connector-plugins", 200)
    assert all(list(p) == ["class", "type", "version"] for p in plugins), plugins
    assert sorted((p["class"], p["type"]) for p in plugins) == sorted([
        (FILE_SINK, "sink"), (FILE_SOURCE, "source"), (DATAGEN, "source"),
        ("io.confluent.connect.http.HttpSinkConnector", "sink"),
        ("io.confluent.connect.jdbc.JdbcSinkConnector", "sink"),
        ("io.confluent.connect.jdbc.JdbcSourceConnector", "source"),
        ("io.confluent.connect.syslog.SyslogSourceConnector", "source"),
        ("org.apache.kafka.connect.mirror.MirrorSourceConnector", "source")]), plugins
    everything = expect(module_worker.port, "GET", "/connector-plugins?connectorsOnly=false", 200)
    types = {p["type"] for p in everything}
    assert {"sink", "source", "transformation", "predicate", "converter"} <= types, types
    classes = {p["class"] for p in everything}
    assert "org.apache.kafka.connect.transforms.RegexRouter" in classes
    assert "org.apache.kafka.connect.json.JsonConverter" in classes


def test_create_get_duplicate_invalid_unknown(module_worker, tmp_path):
    port = module_worker.port
    topic = unique_topic("rest")
    config = source_config(tmp_path, topic)
    status, headers, info = rest_full(port, "POST", "/connectors", {"name": "created", "config": config})
    assert status == 201, (status, info)
    assert list(info) == ["name", "config", "tasks", "type"], info
    assert info["name"] == "created" and info["type"] == "source"
    assert info["config"] == dict(config, name="created"), info["config"]
    assert info["tasks"] == [{"connector": "created", "task": 0}]
    assert headers.get("Location", "").endswith("/connectors/created"), headers

    assert "created" in expect(port, "GET", "/connectors", 200)
    assert expect(port, "GET", "/connectors/created", 200) == info
    assert expect(port, "GET", "/connectors/created/config", 200) == dict(config, name="created")

    status, body = rest(port, "POST", "/connectors", {"name": "created", "config": config})
    assert status == 409, (status, body)
    assert body == {"error_code": 409, "message": "Connector created already exists"}, body

    # The file source needs `topic`; batch.size must be an INT.
    status, body = rest(port, "POST", "/connectors", {"name": "invalid", "config": {
        "connector.class": FILE_SOURCE, "batch.size": "many"}})
    assert status == 400, (status, body)
    assert body["error_code"] == 400
    assert body["message"].startswith(
        "Connector configuration is invalid and contains the following 2 error(s):\n"), body
    assert 'Missing required configuration "topic" which has no default value.' in body["message"]
    assert "Invalid value many for configuration batch.size" in body["message"]
    assert "invalid" not in expect(port, "GET", "/connectors", 200)

    status, body = rest(port, "POST", "/connectors", {"name": "unknown", "config": {
        "connector.class": "com.example.NoSuchConnector"}})
    assert status == 400, (status, body)
    assert body["message"].startswith("Failed to find any class that implements Connector and which "
                                      "name matches com.example.NoSuchConnector"), body

    status, body = rest(port, "GET", "/connectors/nobody")
    assert (status, body) == (404, {"error_code": 404, "message": "Connector nobody not found"})

    expanded = expect(port, "GET", "/connectors?expand=status&expand=info", 200)
    assert expanded["created"]["info"] == info
    assert expanded["created"]["status"]["name"] == "created"
    wait_state(port, "created", "RUNNING", ["RUNNING"])
    delete(port, "created")


def test_status_and_tasks_shapes(module_worker, tmp_path):
    port = module_worker.port
    create(port, "shapes", source_config(tmp_path, unique_topic("shapes")))
    status = wait_state(port, "shapes", "RUNNING", ["RUNNING"])
    assert list(status) == ["name", "connector", "tasks", "type"], status
    worker_id = f"127.0.0.1:{port}"
    assert status["connector"] == {"state": "RUNNING", "worker_id": worker_id}
    assert status["tasks"] == [{"id": 0, "state": "RUNNING", "worker_id": worker_id}]
    assert status["type"] == "source"

    tasks = expect(port, "GET", "/connectors/shapes/tasks", 200)
    assert len(tasks) == 1 and tasks[0]["id"] == {"connector": "shapes", "task": 0}, tasks
    assert tasks[0]["config"]["topic"] == expect(port, "GET", "/connectors/shapes/config", 200)["topic"]
    assert expect(port, "GET", "/connectors/shapes/tasks/0/status", 200) == \
        {"id": 0, "state": "RUNNING", "worker_id": worker_id}
    status_code, body = rest(port, "GET", "/connectors/shapes/tasks/7/status")
    assert status_code == 404 and body["message"] == "No status found for task shapes-7", body
    delete(port, "shapes")


def test_put_and_patch_config(module_worker, tmp_path):
    port = module_worker.port
    first, second = unique_topic("put1"), unique_topic("put2")
    config = source_config(tmp_path, first)
    status, info = rest(port, "PUT", "/connectors/by-put/config", config)
    assert status == 201, (status, info)
    assert info["name"] == "by-put" and info["config"]["topic"] == first
    wait_state(port, "by-put", "RUNNING", ["RUNNING"])

    status, info = rest(port, "PUT", "/connectors/by-put/config", dict(config, topic=second))
    assert status == 200, (status, info)
    assert info["config"]["topic"] == second
    wait_for(lambda: expect(port, "GET", "/connectors/by-put/tasks", 200)[0]["config"].get("topic")
             == second, "the task to get the new topic")
    # The task really produces to the new topic.
    append(config["file"], ["after the update"])
    wait_for(lambda: end_offset(module_worker.settings["bootstrap.servers"], second) == 1,
             "the line in the new topic")

    status, info = rest(port, "PATCH", "/connectors/by-put/config",
                        {"batch.size": "10", "tasks.max": None})
    assert status == 200, (status, info)
    assert info["config"]["batch.size"] == "10" and "tasks.max" not in info["config"], info
    assert expect(port, "GET", "/connectors/by-put/config", 200)["batch.size"] == "10"
    status, body = rest(port, "PATCH", "/connectors/nobody/config", {"batch.size": "10"})
    assert status == 404, (status, body)

    # An invalid update is refused and changes nothing.
    status, body = rest(port, "PUT", "/connectors/by-put/config", dict(config, topic=""))
    assert status == 400, (status, body)
    assert expect(port, "GET", "/connectors/by-put/config", 200)["topic"] == second
    delete(port, "by-put")


def test_pause_resume_stop_source_and_sink(module_worker, tmp_path):
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    topic = unique_topic("flow")
    config = source_config(tmp_path, topic)
    sink_file = str(tmp_path / "out.txt")
    create(port, "flow-src", config)
    create(port, "flow-sink", {"connector.class": FILE_SINK, "file": sink_file, "topics": topic})
    wait_state(port, "flow-src", "RUNNING", ["RUNNING"])
    wait_state(port, "flow-sink", "RUNNING", ["RUNNING"])
    append(config["file"], ["one"])
    wait_lines(sink_file, 1)

    # Source paused: lines stay in the file.
    status, body = rest(port, "PUT", "/connectors/flow-src/pause")
    assert (status, body) == (202, None), (status, body)
    wait_state(port, "flow-src", "PAUSED", ["PAUSED"])
    append(config["file"], ["two", "three"])
    time.sleep(2.0)
    assert end_offset(bootstrap, topic) == 1, "records flowed from a paused source"
    status, _ = rest(port, "PUT", "/connectors/flow-src/resume")
    assert status == 202
    wait_state(port, "flow-src", "RUNNING", ["RUNNING"])
    assert wait_lines(sink_file, 3) == ["one", "two", "three"]

    # Sink paused, sent bodiless as curl -X PUT does: records wait in the topic.
    status, body = bodiless(port, "PUT", "/connectors/flow-sink/pause")
    assert status == 202, (status, body)
    wait_state(port, "flow-sink", "PAUSED", ["PAUSED"])
    produce(bootstrap, topic, [b"four"])
    time.sleep(2.0)
    assert read_lines(sink_file) == ["one", "two", "three"], "a paused sink wrote"
    status, body = bodiless(port, "PUT", "/connectors/flow-sink/resume")
    assert status == 202, (status, body)
    assert wait_lines(sink_file, 4) == ["one", "two", "three", "four"]

    # Stop: no tasks at all; resume starts them again.
    status, body = bodiless(port, "PUT", "/connectors/flow-src/stop")
    assert (status, body) == (204, None), (status, body)
    stopped = wait_state(port, "flow-src", "STOPPED", [])
    assert stopped["tasks"] == []
    assert expect(port, "GET", "/connectors/flow-src/tasks", 200) == []
    append(config["file"], ["five"])
    time.sleep(1.5)
    assert end_offset(bootstrap, topic) == 4, "records flowed from a stopped source"
    assert rest(port, "PUT", "/connectors/flow-src/resume")[0] == 202
    wait_state(port, "flow-src", "RUNNING", ["RUNNING"])
    assert wait_lines(sink_file, 5)[-1] == "five"

    for verb in ("pause", "resume", "stop"):
        status, body = rest(port, "PUT", f"/connectors/nobody/{verb}")
        assert status == 404, (verb, status, body)
    delete(port, "flow-src")
    delete(port, "flow-sink")


def test_restart_and_delete(module_worker, tmp_path):
    port = module_worker.port
    create(port, "restarts", source_config(tmp_path, unique_topic("restart")))
    wait_state(port, "restarts", "RUNNING", ["RUNNING"])

    status, body = rest(port, "POST", "/connectors/restarts/restart")
    assert (status, body) == (204, None), (status, body)
    wait_state(port, "restarts", "RUNNING", ["RUNNING"])
    status, body = bodiless(port, "POST", "/connectors/restarts/restart")
    assert status == 204, (status, body)

    status, body = rest(port, "POST", "/connectors/restarts/restart?includeTasks=true")
    assert status == 202, (status, body)
    assert body["name"] == "restarts" and body["type"] == "source", body
    assert list(body) == ["name", "connector", "tasks", "type"] and len(body["tasks"]) == 1, body
    wait_state(port, "restarts", "RUNNING", ["RUNNING"])
    # onlyFailed on a healthy connector: 202, nothing restarts.
    status, body = rest(port, "POST", "/connectors/restarts/restart?includeTasks=true&onlyFailed=true")
    assert status == 202 and body["connector"]["state"] == "RUNNING", body
    assert [t["state"] for t in body["tasks"]] == ["RUNNING"], body

    status, body = rest(port, "POST", "/connectors/restarts/tasks/0/restart")
    assert (status, body) == (204, None), (status, body)
    wait_state(port, "restarts", "RUNNING", ["RUNNING"])
    assert rest(port, "POST", "/connectors/restarts/tasks/3/restart")[0] == 404
    assert rest(port, "POST", "/connectors/nobody/restart")[0] == 404

    status, body = rest(port, "DELETE", "/connectors/restarts")
    assert (status, body) == (204, None), (status, body)
    assert "restarts" not in expect(port, "GET", "/connectors", 200)
    for path in ("/connectors/restarts", "/connectors/restarts/status", "/connectors/restarts/config"):
        status, body = rest(port, "GET", path)
        assert status == 404 and body["message"] == "Connector restarts not found", (path, status, body)
    assert rest(port, "DELETE", "/connectors/restarts")[0] == 404


def test_restart_answer_shows_restarting(module_worker, tmp_path):
    port = module_worker.port
    create(port, "restarting", source_config(tmp_path, unique_topic("restarting")))
    wait_state(port, "restarting", "RUNNING", ["RUNNING"])
    try:
        status, body = rest(port, "POST", "/connectors/restarting/restart?includeTasks=true")
        assert status == 202, (status, body)
        assert body["connector"]["state"] == "RESTARTING", body
        assert [t["state"] for t in body["tasks"]] == ["RESTARTING"], body
    finally:
        wait_state(port, "restarting", "RUNNING", ["RUNNING"])
        delete(port, "restarting")


def test_validate(module_worker):
    port = module_worker.port
    infos = expect(port, "PUT", "/connector-plugins/FileStreamSourceConnector/config/validate", 200,
                   {"connector.class": FILE_SOURCE, "name": "v", "batch.size": "many"})
    assert list(infos) == ["name", "error_count", "groups", "configs"], list(infos)
    assert infos["name"] == FILE_SOURCE
    by_key = {c["value"]["name"]: c for c in infos["configs"]}
    assert by_key["topic"]["value"]["errors"] == [
        'Missing required configuration "topic" which has no default value.'], by_key["topic"]
    assert by_key["batch.size"]["value"]["errors"] and \
        by_key["batch.size"]["value"]["errors"][0].startswith("Invalid value many for configuration batch.size")
    assert by_key["name"]["value"]["errors"] == []
    assert infos["error_count"] == 2, infos["error_count"]
    assert infos["error_count"] == sum(len(c["value"]["errors"]) for c in infos["configs"])
    assert set(by_key["batch.size"]["definition"]) >= {"name", "type", "required", "default_value",
                                                       "documentation", "group"}
    assert "Common" in infos["groups"]

    good = expect(port, "PUT", "/connector-plugins/FileStreamSinkConnector/config/validate", 200,
                  {"connector.class": FILE_SINK, "name": "v", "topics": "t", "file": "/tmp/x"})
    assert good["error_count"] == 0, [c["value"] for c in good["configs"] if c["value"]["errors"]]
    # Both topics and topics.regex: an error on the sink's topic settings.
    both = expect(port, "PUT", "/connector-plugins/FileStreamSinkConnector/config/validate", 200,
                  {"connector.class": FILE_SINK, "name": "v", "topics": "t", "topics.regex": "t.*"})
    assert both["error_count"] >= 1, both


def test_admin_loggers(module_worker):
    port = module_worker.port
    loggers = expect(port, "GET", "/admin/loggers", 200)
    assert loggers["root"]["level"] == "INFO", loggers
    assert expect(port, "GET", "/admin/loggers/root", 200)["level"] == "INFO"
    changed = expect(port, "PUT", "/admin/loggers/root", 200, {"level": "DEBUG"})
    assert "root" in changed, changed
    assert expect(port, "GET", "/admin/loggers/root", 200)["level"] == "DEBUG"
    expect(port, "PUT", "/admin/loggers/root", 200, {"level": "INFO"})
    status, body = rest(port, "GET", "/admin/loggers/no.such.logger")
    assert status == 404 and body["message"] == "Logger no.such.logger not found.", body
    status, body = rest(port, "PUT", "/admin/loggers/root", {"level": "LOUD"})
    assert status == 404 and "invalid log level" in body["message"].lower(), (status, body)


def test_errors_as_jersey_words_them(module_worker):
    port = module_worker.port
    status, body = rest(port, "GET", "/no/such/path")
    assert status == 404 and body == {"error_code": 404, "message": "HTTP 404 Not Found"}, body
    status, body = rest(port, "DELETE", "/connector-plugins")
    assert status == 405 and body["message"] == "HTTP 405 Method Not Allowed", body
    status, body = rest(port, "POST", "/connectors", b"name=x", content_type="text/plain")
    assert status == 415, (status, body)
