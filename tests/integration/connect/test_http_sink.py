"""The HTTP sink on a real worker against an HTTP receiver in the test
(http.server on a free port, answering what each test tells it to):

- 500 twice, then 200: the batch is sent again (retry.backoff.ms) and every
  record arrives, in order, in batches of batch.max.size;
- 400 for one record's request, with errors.tolerance=all and a dead-letter
  topic: that record lands in the DLQ with Kafka's `__connect.errors.*`
  headers (stage TASK_PUT, the sink's answer as the exception message), the
  others reach the receiver, the task stays RUNNING; with
  errors.tolerance=none the same report fails the task;
- nothing listening on the port, then the receiver started: the requests
  that were refused are retried and nothing is lost;
- the worker's GET /metrics counts the records read and sent, put batches,
  the errors and the dead-letter writes (task-error-metrics).
"""

import http.server
import os
import re
import sys
import threading
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conftest as harness  # noqa: E402
from conftest import unique_topic  # noqa: E402
from connect_harness import (consume_all, create, module_worker, produce, rest,  # noqa: E402,F401
                             wait_for, wait_state, worker_factory)

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
HTTP_SINK = "io.confluent.connect.http.HttpSinkConnector"


class Receiver:
    """An HTTP server on 127.0.0.1 recording each request body. `answer(body)`
    decides the status (200 unless a test says otherwise); `fail_next` answers
    the next N requests with a status first."""

    def __init__(self, port=None):
        self.port = port or harness.free_port()
        self.lock = threading.Lock()
        self.requests = []   # (status answered, body)
        self.fail_next = []  # statuses for the next requests
        self.answer = lambda body: 200
        self.server = None
        self.thread = None

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                with receiver.lock:
                    status = receiver.fail_next.pop(0) if receiver.fail_next else receiver.answer(body)
                    receiver.requests.append((status, body))
                self.send_response(status)
                payload = b"ok" if status < 300 else b"refused"
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def delivered(self):
        """The values of every request answered 2xx, in order."""
        with self.lock:
            bodies = [body for status, body in self.requests if 200 <= status < 300]
        return [value for body in bodies for value in body[1:-1].split(",") if value], bodies

    def statuses(self):
        with self.lock:
            return [status for status, _ in self.requests]


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def http_config(topic, port, **extra):
    config = {"connector.class": HTTP_SINK, "topics": topic, "tasks.max": "1",
              "http.api.url": f"http://127.0.0.1:{port}/ingest", "batch.max.size": "3",
              "retry.backoff.ms": "100", "max.retries": "5"}
    config.update(extra)
    return config


def metrics(port, connector):
    """{metric name: value} of the connector's task 0 from GET /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = answer.read().decode()
    found = {}
    pattern = re.compile(r'^(kafka_connect_\w+)\{connector="' + re.escape(connector) +
                         r'",task="0"(?:,status="(\w+)")?\} (\S+)$')
    for line in text.splitlines():
        m = pattern.match(line)
        if m:
            name = m.group(1) + (f":{m.group(2)}" if m.group(2) else "")
            found[name] = float(m.group(3))
    return found


def wait_delivered(receiver, count, timeout_s=30.0):
    wait_for(lambda: len(receiver.delivered()[0]) >= count, f"{count} records at the receiver",
             timeout_s=timeout_s)
    return receiver.delivered()


def test_server_errors_are_retried_without_loss(module_worker, receiver):
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    topic = unique_topic("http-retry")
    values = [f"v{i}" for i in range(7)]
    receiver.fail_next = [500, 500]
    produce(bootstrap, topic, [v.encode() for v in values])
    create(port, "http-retry", http_config(topic, receiver.port))
    try:
        delivered, bodies = wait_delivered(receiver, len(values))
        assert delivered == values, bodies
        assert all(1 <= len(body[1:-1].split(",")) <= 3 for body in bodies), bodies
        assert bodies[0] == "[v0,v1,v2]", bodies
        assert receiver.statuses()[:2] == [500, 500], receiver.statuses()
        wait_state(port, "http-retry", "RUNNING", ["RUNNING"])
        wait_for(lambda: metrics(port, "http-retry").get(
            "kafka_connect_sink_task_metrics_sink_record_send_total") == len(values),
            "the records sent counted")
        seen = metrics(port, "http-retry")
        assert seen["kafka_connect_sink_task_metrics_sink_record_read_total"] == len(values), seen
        assert seen["kafka_connect_connector_task_metrics_status:running"] == 1, seen
        assert seen["kafka_connect_task_error_metrics_total_record_errors"] == 0, seen
        assert seen["kafka_connect_sink_task_metrics_put_batch_max_time_ms"] >= 100, \
            "a put that waited for a retry takes at least retry.backoff.ms"
        wait_for(lambda: metrics(port, "http-retry").get(
            "kafka_connect_sink_task_metrics_offset_commit_completion_total", 0) >= 1,
            "an offset commit")
    finally:
        rest(port, "DELETE", "/connectors/http-retry")


def test_client_errors_go_to_the_dead_letter_topic(module_worker, receiver):
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    topic, dlq = unique_topic("http-bad"), unique_topic("http-dlq")
    receiver.answer = lambda body: 400 if "bad" in body else 200
    values = ["ok1", "bad1", "ok2", "bad2", "ok3"]
    produce(bootstrap, topic, [v.encode() for v in values])
    create(port, "http-bad", http_config(topic, receiver.port, **{
        "batch.max.size": "1", "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))
    try:
        delivered, _ = wait_delivered(receiver, 3)
        assert delivered == ["ok1", "ok2", "ok3"]
        dead = consume_all(bootstrap, dlq, 2)
        assert [m.value() for m in dead] == [b"bad1", b"bad2"]
        for message, offset in zip(dead, (1, 3)):
            headers = {k: v.decode() for k, v in message.headers()}
            assert headers["__connect.errors.topic"] == topic, headers
            assert headers["__connect.errors.partition"] == "0", headers
            assert headers["__connect.errors.offset"] == str(offset), headers
            assert headers["__connect.errors.connector.name"] == "http-bad", headers
            assert headers["__connect.errors.task.id"] == "0", headers
            assert headers["__connect.errors.stage"] == "TASK_PUT", headers
            assert headers["__connect.errors.class.name"] == "org.apache.kafka.connect.sink.SinkTask"
            assert "answered 400" in headers["__connect.errors.exception.message"], headers
        assert 400 in receiver.statuses()
        wait_state(port, "http-bad", "RUNNING", ["RUNNING"])
        seen = metrics(port, "http-bad")
        assert seen["kafka_connect_task_error_metrics_total_record_errors"] == 2, seen
        assert seen["kafka_connect_task_error_metrics_total_records_skipped"] == 2, seen
        assert seen["kafka_connect_task_error_metrics_deadletterqueue_produce_requests"] == 2, seen
        assert seen["kafka_connect_sink_task_metrics_sink_record_send_total"] == 5, seen
    finally:
        rest(port, "DELETE", "/connectors/http-bad")


def test_a_reported_record_fails_the_task_without_tolerance(module_worker, receiver):
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    topic, dlq = unique_topic("http-strict"), unique_topic("http-strict-dlq")
    receiver.answer = lambda body: 400
    produce(bootstrap, topic, [b"doomed"])
    create(port, "http-strict", http_config(topic, receiver.port, **{
        "batch.max.size": "1", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1"}))
    try:
        status = wait_state(port, "http-strict", "RUNNING", ["FAILED"])
        assert "Tolerance exceeded in error handler" in status["tasks"][0]["trace"], status
        assert metrics(port, "http-strict")["kafka_connect_connector_task_metrics_status:failed"] == 1
    finally:
        rest(port, "DELETE", "/connectors/http-strict")


def test_refused_connections_are_retried_until_the_server_is_up(module_worker):
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    topic = unique_topic("http-down")
    late = Receiver()  # its port is free: nothing listens yet
    values = [f"r{i}" for i in range(4)]
    produce(bootstrap, topic, [v.encode() for v in values])
    create(port, "http-down", http_config(topic, late.port, **{
        "batch.max.size": "2", "retry.backoff.ms": "200", "max.retries": "30"}))
    try:
        wait_for(lambda: metrics(port, "http-down").get(
            "kafka_connect_sink_task_metrics_sink_record_read_total") == len(values),
            "the records read by the task")
        late.start()
        delivered, bodies = wait_delivered(late, len(values))
        assert delivered == values, bodies
        assert bodies == ["[r0,r1]", "[r2,r3]"], bodies
        wait_state(port, "http-down", "RUNNING", ["RUNNING"])
    finally:
        rest(port, "DELETE", "/connectors/http-down")
        late.stop()
