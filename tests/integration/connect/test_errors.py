"""errors.tolerance on a real worker: a file sink whose value.converter is
JsonConverter reads records that are not JSON. With errors.tolerance=none
its task FAILS (status FAILED with a trace naming the tolerance, the
connector itself RUNNING), and restarting only what failed fails it again on
the same record. With errors.tolerance=all, a dead-letter queue topic and
its context headers, the bad records land in the DLQ topic with their
original bytes, key and headers plus Kafka's `__connect.errors.*` headers
(topic, partition, offset, connector, task, stage, executing class,
exception), and the good ones in the sink file, in order.

The DLQ topic: Kafka's worker creates it with the admin client
(errors.deadletterqueue.topic.replication.factor, default 3, so 1 here on one
broker); Sluice's runtime never creates it and relies on the broker
auto-creating it on the DLQ producer's first metadata request. The last test
shows what that means on a broker with auto.create.topics.enable=false."""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import unique_topic  # noqa: E402
from connect_harness import (FILE_SINK, JSON_CONVERTER, consume_all, create, end_offset,  # noqa: E402,F401
                             create_topic, module_worker, produce, read_lines, rest, wait_for, wait_lines,
                             wait_state, worker_factory)

# Sink tasks join their group at once (Kafka waits 3 s for more members by default).
BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}

RECORDS = [b'{"n":1}', b"not json at all", b'"two"', b"{broken", b"3"]
GOOD_LINES = ["{n=1}", "two", "3"]  # the sink prints each value's toString
BAD = [(1, b"not json at all"), (3, b"{broken")]


def sink_config(topic, sink_file, **extra):
    config = {"connector.class": FILE_SINK, "file": sink_file, "topics": topic,
              "value.converter": JSON_CONVERTER, "value.converter.schemas.enable": "false"}
    config.update(extra)
    return config


def test_tolerance_none_fails_the_task(module_worker, tmp_path):
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    topic = unique_topic("strict")
    produce(bootstrap, topic, RECORDS)
    create(port, "strict", sink_config(topic, str(tmp_path / "out.txt"), **{"errors.tolerance": "none"}))
    status = wait_state(port, "strict", "RUNNING", ["FAILED"])
    task = status["tasks"][0]
    assert task["trace"] and "Tolerance exceeded in error handler" in task["trace"], task
    assert "VALUE_CONVERTER" in task["trace"] or "value" in task["trace"].lower(), task
    failed = rest(port, "GET", "/connectors/strict/tasks/0/status")[1]
    assert failed["state"] == "FAILED" and failed["trace"] == task["trace"], failed

    status_code, body = rest(port, "POST", "/connectors/strict/restart?includeTasks=true&onlyFailed=true")
    assert status_code == 202, (status_code, body)
    wait_state(port, "strict", "RUNNING", ["FAILED"])
    assert rest(port, "DELETE", "/connectors/strict")[0] == 204


def test_tolerance_all_sends_bad_records_to_the_dlq(module_worker, tmp_path):
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    topic = unique_topic("tolerant")
    dlq = unique_topic("dlq")
    sink_file = str(tmp_path / "out.txt")
    produce(bootstrap, topic, RECORDS, headers=[("origin", b"itest")])
    create(port, "tolerant", sink_config(topic, sink_file, **{
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))
    assert wait_lines(sink_file, 3) == GOOD_LINES
    wait_state(port, "tolerant", "RUNNING", ["RUNNING"])

    dead = consume_all(bootstrap, dlq, 2)
    assert [m.value() for m in dead] == [value for _, value in BAD], "the DLQ holds the original bytes"
    for message, (offset, value) in zip(dead, BAD):
        headers = {}
        for key, raw in message.headers() or []:
            headers.setdefault(key, raw.decode() if raw is not None else None)
        assert headers.get("origin") == "itest", f"the original headers are kept: {headers}"
        assert headers.get("__connect.errors.topic") == topic, headers
        assert headers.get("__connect.errors.partition") == "0", headers
        assert headers.get("__connect.errors.offset") == str(offset), headers
        assert headers.get("__connect.errors.connector.name") == "tolerant", headers
        assert headers.get("__connect.errors.task.id") == "0", headers
        assert headers.get("__connect.errors.stage") == "VALUE_CONVERTER", headers
        assert headers.get("__connect.errors.exception.class.name") == \
            "org.apache.kafka.connect.errors.DataException", headers
        assert headers.get("__connect.errors.exception.message"), headers
    # More of both after the first batch: the good one in the file, the bad one in the DLQ.
    produce(bootstrap, topic, [b'"later"', b"bad again"])
    assert wait_lines(sink_file, 4) == GOOD_LINES + ["later"]
    wait_for(lambda: end_offset(bootstrap, dlq) == 3, "the third bad record in the DLQ")
    assert rest(port, "DELETE", "/connectors/tolerant")[0] == 204


def test_dlq_executing_class_header(module_worker, tmp_path):
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    topic, dlq = unique_topic("cls"), unique_topic("cls-dlq")
    produce(bootstrap, topic, [b"not json"])
    create(port, "cls", sink_config(topic, str(tmp_path / "out.txt"), **{
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))
    try:
        dead = consume_all(bootstrap, dlq, 1)
        headers = {k: v.decode() for k, v in dead[0].headers()}
        assert headers["__connect.errors.class.name"] == JSON_CONVERTER, headers
    finally:
        rest(port, "DELETE", "/connectors/cls")


def test_dlq_topic_created_by_the_worker(broker_factory, worker_factory, tmp_path):
    broker = broker_factory({"auto.create.topics.enable": "false", **BROKER_OVERRIDES})
    worker = worker_factory(broker.bootstrap).start()
    topic, dlq = unique_topic("noauto"), unique_topic("noauto-dlq")
    create_topic(broker.bootstrap, topic)
    produce(broker.bootstrap, topic, [b"not json", b'"fine"'])
    sink_file = str(tmp_path / "out.txt")
    create(worker.port, "noauto", sink_config(topic, sink_file, **{
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))
    try:
        assert wait_lines(sink_file, 1) == ["fine"]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and end_offset(broker.bootstrap, dlq) < 1:
            time.sleep(0.5)
        assert end_offset(broker.bootstrap, dlq) == 1, "the bad record is not in the DLQ topic"
    finally:
        worker.stop()


def test_errors_retry_settings(module_worker, tmp_path):
    """errors.retry.timeout and errors.retry.delay.max.ms: LONGs with Kafka's
    defaults (0: no retry; 60000) and ConfigDef's message for a bad value. A
    DataException is not retriable: with errors.retry.timeout=-1 (retry
    forever) a record the converter refuses still goes to the DLQ at once,
    and the task's metrics count failures but no retries."""
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    topic, dlq = unique_topic("retry"), unique_topic("retry-dlq")
    status, body = rest(port, "PUT", "/connector-plugins/FileStreamSink/config/validate",
                        sink_config(topic, str(tmp_path / "x.txt"), **{"errors.retry.timeout": "soon",
                                                                       "errors.retry.delay.max.ms": "1000"}))
    assert status == 200, body
    configs = {c["definition"]["name"]: c for c in body["configs"]}
    timeout = configs["errors.retry.timeout"]
    assert timeout["definition"]["type"] == "LONG" and timeout["definition"]["default_value"] == "0"
    assert timeout["value"]["errors"] == [
        "Invalid value soon for configuration errors.retry.timeout: Not a number of type LONG"], timeout
    delay = configs["errors.retry.delay.max.ms"]
    assert delay["definition"]["default_value"] == "60000" and delay["value"]["errors"] == [], delay
    status, body = rest(port, "POST", "/connectors", {"name": "retry-bad", "config": sink_config(
        topic, str(tmp_path / "x.txt"), **{"name": "retry-bad", "errors.retry.timeout": "soon"})})
    assert status == 400 and "Not a number of type LONG" in body["message"], body

    produce(bootstrap, topic, [b"not json", b'"fine"', b"{nope"])
    sink_file = str(tmp_path / "out.txt")
    create(port, "retry", sink_config(topic, sink_file, **{
        "errors.retry.timeout": "-1", "errors.retry.delay.max.ms": "1000",
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1"}))
    try:
        assert wait_lines(sink_file, 1) == ["fine"]
        assert [m.value() for m in consume_all(bootstrap, dlq, 2)] == [b"not json", b"{nope"]
        text = rest(port, "GET", "/metrics")[1]
        def metric(name):
            line = next(line for line in text.splitlines()
                        if line.startswith(f'kafka_connect_task_error_metrics_{name}{{connector="retry",'))
            return float(line.rsplit(" ", 1)[1])
        assert metric("total_retries") == 0, text
        assert metric("total_record_failures") == 2, text
        assert metric("total_records_skipped") == 2, text
    finally:
        rest(port, "DELETE", "/connectors/retry")


def test_a_retriable_put_is_redelivered_not_failed(module_worker, tmp_path):
    """A sink task's put answering a retriable error (Kafka's
    RetriableException; the file sink on a full disk, /dev/full here) does
    not fail the task: the runtime pauses the partitions and puts the same
    batch again after a backoff (300 ms doubling, errors.retry.delay.max.ms
    at most), counted in total_retries. Pointed at a writable file, the
    records arrive: none was committed while they could not be written."""
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    topic = unique_topic("full")
    produce(bootstrap, topic, [b"a", b"b", b"c"])
    config = {"connector.class": FILE_SINK, "file": "/dev/full", "topics": topic,
              "errors.retry.delay.max.ms": "1000"}
    create(port, "full", config)

    def retries():
        text = rest(port, "GET", "/metrics")[1]
        for line in text.splitlines():
            if line.startswith('kafka_connect_task_error_metrics_total_retries{connector="full",'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0
    try:
        wait_for(lambda: retries() >= 3, "three redeliveries of the batch")
        wait_state(port, "full", "RUNNING", ["RUNNING"])
        sink_file = str(tmp_path / "out.txt")
        status, body = rest(port, "PUT", "/connectors/full/config", dict(config, file=sink_file))
        assert status == 200, body
        assert wait_lines(sink_file, 3) == ["a", "b", "c"]
    finally:
        rest(port, "DELETE", "/connectors/full")
