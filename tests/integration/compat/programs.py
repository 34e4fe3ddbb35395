"""Helpers of the compat suites: the Go client programs built by CMake
(tests/clients/go), background programs (ZooKeeper, Burrow, rsyslogd) started
with their own files and stopped by pid, and the `sluice` CLI calls the tests
use to set up topics and to read committed offsets independently of the
program under test (librdkafka's OffsetFetch)."""

import json
from collections import Counter
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import REPO_ROOT, free_port, log_tail, run, sluice_bin

STOP_TIMEOUT_S = 10.0


def go_client(name):
    """A program of tests/clients/go, built by CMake into the build dir
    (SLUICE_GO_CLIENTS names that dir; ctest sets it)."""
    folder = os.environ.get("SLUICE_GO_CLIENTS") or os.path.join(REPO_ROOT, "build", "tests", "clients", "go")
    path = os.path.join(folder, name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built: scripts/install-deps installs Debian's Go and the client "
                    f"packages, then `cmake --build build --target go_clients` builds it")
    return path


def program(name, *candidates):
    """The path of an installed program, else the test fails naming the package."""
    for candidate in (name,) + candidates:
        path = shutil.which(candidate) or (candidate if os.access(candidate, os.X_OK) else None)
        if path:
            return path
    pytest.fail(f"{name} is not installed (scripts/install-deps installs it)")


class Background:
    """A program running beside the test, its output in a file; stopped by
    its pid (SIGTERM, then SIGKILL)."""

    def __init__(self, name, cmd, workdir, env=None):
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=workdir, env=env)

    def alive(self):
        return self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")

    def log(self):
        return log_tail(self.log_path)

    def stop(self):
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def wait_until(what, probe, timeout_s, interval_s=0.1, on_timeout=lambda: ""):
    """Calls probe() until it returns something truthy; fails after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})\n{on_timeout()}")


class ZooKeeper(Background):
    """A standalone ZooKeeper (Debian's zookeeper package, run straight from its
    jar: no system service, no /etc config) on a free port with its own data dir."""

    JAR = "/usr/share/java/zookeeper.jar"

    def __init__(self, workdir):
        if not os.path.exists(self.JAR):
            pytest.fail(f"{self.JAR} is missing (scripts/install-deps installs zookeeper)")
        self.port = free_port()
        data_dir = os.path.join(workdir, "zookeeper-data")
        os.makedirs(data_dir, exist_ok=True)
        cmd = [program("java"), "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.4lw.commands.whitelist=srvr",
               "-cp", self.JAR, "org.apache.zookeeper.server.ZooKeeperServerMain", str(self.port), data_dir]
        super().__init__("zookeeper", cmd, workdir)
        wait_until("ZooKeeper to serve", self._serving, 30, on_timeout=self.log)

    def _serving(self):
        """`srvr` names the mode once the server serves sessions (`ruok` answers
        imok earlier, while sessions are still refused)."""
        self.check_alive()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"srvr")
                answer = b""
                while chunk := sock.recv(4096):
                    answer += chunk
                return b"Mode: standalone" in answer
        except OSError:
            return False

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"


def http_json(url, timeout_s=2.0):
    """GET url as JSON; None when the server does not answer (yet) or says 404."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return None


API_NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
             10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
             18: "ApiVersions"}


class RequestRecorder:
    """A TCP relay in front of a broker that records which request versions a
    program sends: the broker advertises the relay's address
    (`advertised.listeners`), so every connection a client opens after the
    bootstrap goes through it too. It proves a test exercises the old versions
    it is about, whatever a library upgrade changes."""

    def __init__(self):
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.broker_port = None
        self._lock = threading.Lock()
        self._seen = set()
        self._sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def clear(self):
        with self._lock:
            self._seen.clear()

    def versions(self):
        """{api name: sorted versions} sent since the last clear()."""
        with self._lock:
            seen = sorted(self._seen)
        out = {}
        for key, version in seen:
            out.setdefault(API_NAMES.get(key, f"api {key}"), []).append(version)
        return out

    def close(self):
        self._server.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def _accept(self):
        while True:
            try:
                client, _ = self._server.accept()
                broker = socket.create_connection(("127.0.0.1", self.broker_port))
            except OSError:
                return
            with self._lock:
                self._sockets += [client, broker]
            threading.Thread(target=self._relay_requests, args=(client, broker), daemon=True).start()
            threading.Thread(target=self._relay, args=(broker, client), daemon=True).start()

    def _relay_requests(self, source, target):
        pending = b""
        try:
            while data := source.recv(65536):
                target.sendall(data)
                pending += data
                while len(pending) >= 8 and len(pending) >= 4 + struct.unpack_from(">i", pending)[0]:
                    size, key, version = struct.unpack_from(">ihh", pending)
                    with self._lock:
                        self._seen.add((key, version))
                    pending = pending[4 + size:]
        except OSError:
            pass
        self._shut(target)

    def _relay(self, source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        self._shut(target)

    @staticmethod
    def _shut(sock):
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@pytest.fixture
def recorded_broker(broker_factory):
    """A broker (initial rebalance delay 0) whose clients all go through a
    RequestRecorder; yields (broker, recorder)."""
    recorder = RequestRecorder()
    broker = broker_factory({"group.initial.rebalance.delay.ms": "0",
                             "advertised.listeners": f"PLAINTEXT://{recorder.address}"}, start=False)
    recorder.broker_port = broker.port
    broker.start()
    try:
        yield broker, recorder
    finally:
        recorder.close()


def sluice_cli(broker, *args, timeout_s=60):
    return run([sluice_bin(), *args, "-b", broker.bootstrap], timeout_s=timeout_s)


def create_topic(broker, topic, partitions):
    sluice_cli(broker, "topic", "create", topic, "--partitions", str(partitions))


def committed_offsets(broker, group, topic):
    """{partition: committed offset} of a group on a topic, read with librdkafka's
    OffsetFetch (`sluice group describe --json`); partitions without one are absent."""
    described = json.loads(sluice_cli(broker, "group", "describe", group, "--json").stdout)
    return {row["partition"]: row["committed_offset"] for row in described.get("offsets", [])
            if row["topic"] == topic and row["committed_offset"] >= 0}


def consumed_lines(stdout):
    """The "partition offset value" lines the Go clients print: [(p, o, value)]."""
    rows = []
    for line in stdout.decode().splitlines():
        if line:
            partition, offset, value = line.split(" ", 2)
            rows.append((int(partition), int(offset), value))
    return rows


def assert_exactly_once(rows, prefix, count):
    """rows: (partition, offset, value) as consumed_lines() gives them; the values must be
    <prefix>-0 .. <prefix>-<count-1>, each once."""
    values = Counter(value for _, _, value in rows)
    expected = {f"{prefix}-{i}" for i in range(count)}
    assert set(values) == expected, f"missing {sorted(expected - set(values))}, unexpected {sorted(set(values) - expected)}"
    assert all(n == 1 for n in values.values()), f"consumed twice: {[v for v, n in values.items() if n > 1]}"


def end_offsets(rows):
    """{partition: offset after the last consumed message}."""
    ends = {}
    for partition, offset, _ in rows:
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends
