"""What the Connect suites share: a `sluice connect standalone` worker process
(started on a free REST port, stopped with SIGTERM then SIGKILL, its log
attached to a failing test), a small REST client on urllib/http.client,
poll-with-deadline helpers, and topic reads with confluent_kafka.

Every suite's worker talks to the harness's broker (conftest.py); worker
defaults are StringConverter for keys and values and
offset.flush.interval.ms=500 so that commits happen within a test's time.
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import conftest as harness

READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
HTTP_TIMEOUT_S = 30.0
STRING = "org.apache.kafka.connect.storage.StringConverter"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
FILE_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
DATAGEN = "io.confluent.kafka.connect.datagen.DatagenConnector"


def write_properties(path, settings):
    with open(path, "w") as f:
        for key, value in settings.items():
            f.write(f"{key}={value}\n")
    return path


class Worker:
    """One `sluice connect standalone` process; restartable on the same
    offsets file and REST port."""

    def __init__(self, workdir, bootstrap, overrides=None):
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.port = harness.free_port()
        self.offsets_file = os.path.join(workdir, "connect.offsets")
        self.settings = {
            "bootstrap.servers": bootstrap,
            "offset.storage.file.filename": self.offsets_file,
            "listeners": f"http://127.0.0.1:{self.port}",
            "offset.flush.interval.ms": "500",
            "key.converter": STRING,
            "value.converter": STRING,
        }
        self.settings.update(overrides or {})
        self.properties = write_properties(os.path.join(workdir, "worker.properties"), self.settings)
        self.proc = None
        self.starts = 0
        self.log_path = None
        self.exit_codes = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def command(self, connector_files=()):
        return [harness.sluice_bin(), "connect", "standalone", self.properties, *connector_files]

    def start(self, connector_files=()):
        assert not self.alive(), "worker already running"
        self.starts += 1
        self.log_path = os.path.join(self.workdir, f"worker-{self.starts}.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command(connector_files), stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=self.workdir)
        self.wait_ready()
        return self

    def wait_ready(self, timeout_s=READY_TIMEOUT_S):
        """Ready = GET / answers 200 (connectors given on the command line are
        created before the worker waits for signals; the REST port is bound first)."""
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited with {self.proc.returncode} during start-up:\n"
                            f"{' '.join(self.command())}\n{harness.log_tail(self.log_path)}")
            try:
                status, _ = rest(self.port, "GET", "/", timeout_s=2.0)
                if status == 200:
                    return
                last = f"GET / answered {status}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        self.kill9()
        pytest.fail(f"worker not ready after {timeout_s} s ({last}):\n{harness.log_tail(self.log_path)}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s=STOP_TIMEOUT_S):
        """SIGTERM, then SIGKILL after timeout_s: the exit code, or None when
        it was not running or had to be killed."""
        if not self.alive():
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stacks = harness.thread_stacks(self.proc.pid)
            self.proc.kill()
            self.proc.wait()
            self.exit_codes.append("killed after SIGTERM timeout")
            print(f"\n===== worker stacks at SIGTERM timeout =====\n{stacks}", file=sys.stderr)
            return None
        self.exit_codes.append(code)
        return code

    def clean_stop(self):
        code = self.stop()
        assert code == 0, (f"worker did not exit 0 on SIGTERM (got {code}, "
                           f"history {self.exit_codes}):\n{harness.log_tail(self.log_path)}")

    def kill9(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
            self.exit_codes.append("SIGKILL")

    def logs(self):
        return "\n".join(f"--- worker-{i}.log ---\n"
                         f"{harness.log_tail(os.path.join(self.workdir, f'worker-{i}.log'))}"
                         for i in range(1, self.starts + 1))

    def offsets(self):
        """The offsets file's JSON (None when it does not exist yet)."""
        try:
            with open(self.offsets_file) as f:
                return json.load(f)
        except FileNotFoundError:
            return None


@pytest.fixture
def worker_factory(request, tmp_path):
    """Makes workers (not started); every one is stopped at teardown (SIGTERM,
    then SIGKILL) and its log printed when the test failed. A worker that did
    not stop within STOP_TIMEOUT_S of SIGTERM fails the test."""
    made = []

    def make(bootstrap, overrides=None):
        w = Worker(str(tmp_path / f"worker{len(made)}"), bootstrap, overrides)
        made.append(w)
        return w

    yield make
    failed = any(getattr(request.node, "rep_" + when, None) is not None
                 and getattr(request.node, "rep_" + when).failed for when in ("setup", "call"))
    hung = []
    for w in made:
        if failed:
            print(f"\n===== sluice connect worker logs ({w.workdir}) =====\n{w.logs()}", file=sys.stderr)
        if w.alive():
            w.stop()
        if w.exit_codes and w.exit_codes[-1] == "killed after SIGTERM timeout":
            hung.append(w)
    if hung and not failed:
        pytest.fail(f"worker did not stop within {STOP_TIMEOUT_S} s of SIGTERM:\n{hung[0].logs()}")


# --- REST ---

def rest(port, method, path, body=None, timeout_s=HTTP_TIMEOUT_S, content_type="application/json"):
    """(status, parsed JSON body or text or None); HTTP errors are answers too."""
    headers = {}
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as r:
            return r.status, _parse(r.read())
    except urllib.error.HTTPError as e:
        return e.code, _parse(e.read())


def rest_full(port, method, path, body=None, timeout_s=HTTP_TIMEOUT_S):
    """(status, headers dict, parsed body) via urllib."""
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as r:
            return r.status, dict(r.headers), _parse(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), _parse(e.read())


def bodiless(port, method, path, timeout_s=HTTP_TIMEOUT_S):
    """A request with no body and no Content-Length header at all (what
    `curl -X PUT url` sends): http.client, with the header suppressed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.putrequest(method, path)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, _parse(r.read())
    finally:
        conn.close()


def _parse(raw):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def expect(port, method, path, status, body=None):
    """The answer's body, asserting its status."""
    got, answer = rest(port, method, path, body)
    assert got == status, f"{method} {path}: expected {status}, got {got}: {answer}"
    return answer


def create(port, name, config, status=201):
    return expect(port, "POST", "/connectors", status, {"name": name, "config": config})


def delete(port, name):
    got, answer = rest(port, "DELETE", f"/connectors/{name}")
    assert got == 204, f"DELETE {name}: {got} {answer}"


# --- waiting ---

def wait_for(predicate, what, timeout_s=30.0, interval_s=0.1):
    """Polls until predicate() is truthy; returns its value, or fails naming
    `what` and the last value seen."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")


def status_of(port, name):
    got, answer = rest(port, "GET", f"/connectors/{name}/status")
    return answer if got == 200 else None


def wait_state(port, name, connector_state, task_states=None, timeout_s=30.0):
    """Waits for the connector's state and (a list of) its tasks' states."""
    def ok():
        s = status_of(port, name)
        if s is None or s["connector"]["state"] != connector_state:
            return None
        if task_states is not None and [t["state"] for t in s["tasks"]] != list(task_states):
            return None
        return s
    return wait_for(ok, f"{name} {connector_state} with tasks {task_states} "
                        f"(now {status_of(port, name)})", timeout_s)


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode().splitlines()
    except FileNotFoundError:
        return []


def wait_lines(path, count, timeout_s=30.0):
    """Waits until the file holds at least `count` lines; returns them."""
    return wait_for(lambda: (lambda lines: lines if len(lines) >= count else None)(read_lines(path)),
                    f"{count} lines in {path} (has {len(read_lines(path))})", timeout_s)


def append(path, lines):
    with open(path, "ab") as f:
        f.write("".join(line + "\n" for line in lines).encode())
        f.flush()
        os.fsync(f.fileno())


# --- Kafka ---

def consume_all(bootstrap, topic, count, timeout_s=30.0):
    """At least `count` records of topic (every partition, from the beginning),
    then whatever more arrives within 0.5 s: the confluent_kafka Messages.
    Partitions are assigned, not subscribed: no group join to wait for."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"itest-{topic}",
                         "enable.auto.commit": False})
    records = []
    deadline = time.monotonic() + timeout_s
    quiet_until = None
    try:
        partitions = []
        while not partitions and time.monotonic() < deadline:
            md = consumer.list_topics(topic, timeout=5).topics.get(topic)
            if md is not None and md.error is None and md.partitions:
                partitions = sorted(md.partitions)
            else:
                time.sleep(0.1)
        assert partitions, f"topic {topic} does not exist after {timeout_s} s"
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        while time.monotonic() < deadline:
            m = consumer.poll(0.2)
            if m is None:
                if quiet_until is not None and time.monotonic() > quiet_until:
                    break
                continue
            if m.error():
                continue
            records.append(m)
            if len(records) >= count and quiet_until is None:
                quiet_until = time.monotonic() + 0.5
    finally:
        consumer.close()
    assert len(records) >= count, f"{topic}: {len(records)} records within {timeout_s} s, expected {count}"
    if len(partitions) > 1:
        records.sort(key=lambda m: (m.partition(), m.offset()))
    return records


def produce(bootstrap, topic, values, headers=None):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for v in values:
        p.produce(topic, value=v, headers=headers)
    assert p.flush(30) == 0, "records not delivered"


def create_topic(bootstrap, topic, partitions=1):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    futures[topic].result(30)


@pytest.fixture(scope="module")
def module_worker(request, module_broker, tmp_path_factory):
    """One worker shared by a test module, on the module's broker; stopped
    (SIGTERM, then SIGKILL) at the module's end, its log printed when a test of
    the module failed. WORKER_OVERRIDES in the module adds worker settings."""
    failed_before = request.session.testsfailed
    w = Worker(str(tmp_path_factory.mktemp("module-worker")), module_broker.bootstrap,
               getattr(request.module, "WORKER_OVERRIDES", None))
    w.start()
    try:
        yield w
    finally:
        if request.session.testsfailed != failed_before:
            print(f"\n===== sluice connect worker logs ({w.workdir}) =====\n{w.logs()}", file=sys.stderr)
        code = w.stop()
        assert code == 0, f"the shared worker exited {code} on SIGTERM ({w.exit_codes}):\n{w.logs()}"


def end_offset(bootstrap, topic, partition=0):
    """The partition's high watermark (0 when the topic does not exist yet)."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "itest-watermarks"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
    except Exception:  # noqa: BLE001 - unknown topic
        return 0
    finally:
        consumer.close()
