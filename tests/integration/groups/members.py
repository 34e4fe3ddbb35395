"""Consumer-group members as processes (group_member.py for confluent-kafka and
kafka-python, tests/clients/js/group_member.js for kafkajs) and their journals."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PY_MEMBER = os.path.join(HERE, "group_member.py")
JS_DIR = os.path.abspath(os.path.join(HERE, "..", "..", "clients", "js"))
JS_MEMBER = os.path.join(JS_DIR, "group_member.js")
TIMEOUT_S = 90


class Journal:
    """Reads a member's journal incrementally (line formats in group_member.py and
    group_member.js)."""

    def __init__(self, path):
        self.path = path
        self.position = 0
        self.processed = []  # (partition, offset) in order
        self.commits = []  # (partition, next offset), acknowledged
        self.failed_commits = []
        self.assignments = 0  # A and G lines
        self.revocations = 0  # R lines
        self.owned = set()  # partitions owned after the last A/R/G line
        self.errors = []
        self.left = False
        self.next_to_process = {}  # partition -> offset after the last processed message
        self.next_committed = {}  # partition -> the last acknowledged commit

    def refresh(self):
        if not os.path.exists(self.path):
            return self
        with open(self.path, "rb") as f:
            f.seek(self.position)
            data = f.read()
        complete = data.rfind(b"\n") + 1  # a line being written is read next time
        self.position += complete
        for line in data[:complete].decode().splitlines():
            self._apply(line)
        return self

    def uncommitted(self):
        """Partitions owned with processed messages after the last acknowledged commit."""
        return {p for p in self.owned if self.next_to_process.get(p, 0) > self.next_committed.get(p, 0)}

    def _apply(self, line):
        kind, _, rest = line.partition(" ")
        if kind == "M":
            p, o = int(rest.split()[0]), int(rest.split()[1])
            self.processed.append((p, o))
            self.next_to_process[p] = o + 1
        elif kind == "C":
            p, o = int(rest.split()[0]), int(rest.split()[1])
            self.commits.append((p, o))
            self.next_committed[p] = o
        elif kind == "F":
            self.failed_commits.append(rest)
        elif kind in ("A", "R", "G"):
            parts = {int(p) for p in rest.split(",") if p}
            if kind == "A":
                self.assignments += 1
                self.owned |= parts
            elif kind == "R":
                self.revocations += 1
                self.owned -= parts
            else:
                self.assignments += 1
                self.owned = parts
        elif kind == "E":
            self.errors.append(rest)
        elif kind == "L":
            self.left = True


class MemberProcess:
    """A member process writing `name`.journal in workdir; stop() is a clean leave
    (SIGTERM: commit, close, exit 0), kill() a SIGKILL."""

    def __init__(self, command, workdir, name, cwd=None):
        self.name = name
        self.killed = False
        self.journal = Journal(os.path.join(workdir, f"{name}.journal"))
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(command + [self.journal.path], stdout=subprocess.DEVNULL,
                                         stderr=stderr, cwd=cwd)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        assert code == 0, f"{self.name} exited with {code}: {self.stderr()}"

    def kill(self):
        self.killed = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def ensure_dead(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")[-3000:]


def confluent_member(broker, group, topic, assignor, workdir, name, session_timeout_ms=10000, instance_id=None,
                     commit_interval_ms=0):
    command = [sys.executable, PY_MEMBER, "--session-timeout-ms", str(session_timeout_ms),
               "--commit-interval-ms", str(commit_interval_ms)]
    if instance_id:
        command += ["--instance-id", instance_id]
    return MemberProcess(command + [broker.bootstrap, group, topic, assignor], workdir, name)


def kafka_python_member(broker, group, topic, assignor, workdir, name):
    command = [sys.executable, PY_MEMBER, "--kafka-python", broker.bootstrap, group, topic, assignor]
    return MemberProcess(command, workdir, name)


def kafkajs_member(broker, group, topic, mode, commit, assignor, workdir, name):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (scripts/install-deps installs nodejs)")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "kafkajs")):
        pytest.fail(f"kafkajs is not installed: run `npm ci` in {JS_DIR}")
    command = [node, JS_MEMBER, broker.bootstrap, group, topic, mode, commit, assignor]
    return MemberProcess(command, workdir, name, cwd=JS_DIR)


def wait_for(predicate, what, members=(), timeout_s=TIMEOUT_S):
    """Polls predicate (after refreshing the members' journals) until true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for m in members:
            m.journal.refresh()
            if m.proc.poll() is not None and not m.journal.left and not m.killed:
                raise AssertionError(f"member {m.name} exited with {m.proc.returncode} while waiting for "
                                     f"{what}: {m.stderr()}")
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
