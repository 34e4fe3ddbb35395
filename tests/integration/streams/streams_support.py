"""What the streams suites share (the broker itself is ../conftest.py's):
the example binaries, an application process (started with a log file per
start, RUNNING once its log says so, stopped with SIGTERM or killed with
-9), the fixture body that makes them and kills those left running, topics
made with AdminClient, waiting for a condition, and Kafka Streams' own
traces (a task's .checkpoint file, the restore lines of its log)."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import conftest as harness  # noqa: E402


def example_bin(example):
    """examples/<example>'s binary, streams-<example>: $STREAMS_<EXAMPLE>_BIN,
    by default beside `sluice` in the build tree."""
    path = os.environ.get(f"STREAMS_{example.upper()}_BIN")
    if not path:
        path = os.path.join(os.path.dirname(harness.sluice_bin()), "examples", example,
                            f"streams-{example}")
    assert os.path.exists(path), f"streams-{example} not built at {path}"
    return path


def set_flags(settings):
    """`--set name=value` for each of the application's settings."""
    flags = []
    for name, value in settings.items():
        flags += ["--set", f"{name}={value}"]
    return flags


class StreamsApp:
    """One process of an example application, `cmd`, restartable; each start
    logs to <workdir>/<log_prefix>-<n>.log."""

    def __init__(self, workdir, cmd, log_prefix, running_timeout_s=30, stop_timeout_s=30):
        self.workdir = workdir
        self.cmd = cmd
        self.name = os.path.basename(cmd[0])
        self.log_prefix = log_prefix
        self.running_timeout_s = running_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.proc = None
        self.starts = 0

    def launch(self):
        """Starts the process without waiting for it to run."""
        self.starts += 1
        self.log_path = os.path.join(self.workdir, f"{self.log_prefix}-{self.starts}.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        return self

    def start(self):
        """Starts the process and returns once its log says it is RUNNING."""
        self.launch()
        deadline = time.time() + self.running_timeout_s
        while time.time() < deadline:
            if self.running():
                return self
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.log()}"
            time.sleep(0.1)
        pytest.fail(f"{self.name} not RUNNING within {self.running_timeout_s} s:\n{self.log()}")

    def running(self):
        return "state RUNNING" in self.log()

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        """SIGTERM; the process must exit with 0 in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            self.kill9()
            pytest.fail(f"{self.name} did not stop on SIGTERM:\n{self.log()}")
        assert code == 0, f"{self.name} exited with {code}:\n{self.log()}"

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def kill_if_running(self):
        if self.proc is not None and self.proc.poll() is None:
            self.kill9()


def made_apps(tmp_path, app_class, own_workdirs=False):
    """A fixture's body (`yield from`): yields a factory of `app_class`
    instances, made in tmp_path or each in a folder of its own
    (instance-<n>), then kills those still running."""
    made = []

    def make(*args, **kwargs):
        workdir = tmp_path
        if own_workdirs:
            workdir = tmp_path / f"instance-{len(made) + 1}"
            workdir.mkdir()
        app = app_class(str(workdir), *args, **kwargs)
        made.append(app)
        return app

    yield make
    for app in made:
        app.kill_if_running()


def create_topics(bootstrap, partitions_by_topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(t, n, 1) for t, n in partitions_by_topic.items()])
    for future in futures.values():
        future.result(timeout=30)


def create_topic(bootstrap, topic, partitions):
    create_topics(bootstrap, {topic: partitions})


def topic_partitions(bootstrap, topic):
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=30)
    assert metadata.topics[topic].error is None, metadata.topics[topic].error
    return len(metadata.topics[topic].partitions)


def wait_until(condition, timeout_s, what, interval_s=0.2):
    """condition()'s first true value, asked every interval_s; fails after timeout_s."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    pytest.fail(f"{what} not within {timeout_s} s")


def read_checkpoint(path):
    """Kafka's .checkpoint (version 0): {(topic, partition): offset}."""
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == "0", lines  # Kafka's version 0
    assert int(lines[1]) == len(lines) - 2, lines
    return {(topic, int(partition)): int(offset)
            for topic, partition, offset in (line.split() for line in lines[2:])}


def restores(log, store):
    """{changelog partition: (records restored, first offset or 'beginning')}
    of `store`, from the runtime's "Finished restoring changelog ..." lines."""
    restored = re.compile(r"Finished restoring changelog (\S+)-(\d+) to store " + re.escape(store) +
                          r" with a total number of (\d+) records \(from offset (\w+)\)")
    return {int(m.group(2)): (int(m.group(3)), m.group(4)) for m in restored.finditer(log)}
