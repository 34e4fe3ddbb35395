"""Operator mistakes at start-up (issue 12, findings 1, 4 and 9): two brokers on one
data dir, too few file descriptors, a bad listener host, list values in --set, and
where `serve` writes its errors. Every broker a test starts is stopped by the harness
or by the test itself (subprocess.run with a timeout for the ones expected to exit)."""

import os
import re
import subprocess

import conftest as harness

START_EXIT_TIMEOUT_S = 30


def serve_command(overrides, prefix=()):
    cmd = [*prefix, harness.sluice_bin(), "serve"]
    for key, value in overrides.items():
        cmd += ["--set", f"{key}={value}"]
    return cmd


def run_serve_expecting_exit(overrides, cwd, prefix=()):
    """A `serve` that must fail at start: its CompletedProcess (killed by the timeout
    if it does not exit)."""
    return subprocess.run(serve_command(overrides, prefix), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, cwd=cwd, timeout=START_EXIT_TIMEOUT_S)


def second_broker_overrides(first, **changes):
    overrides = dict(first.overrides)
    overrides["listeners"] = f"PLAINTEXT://127.0.0.1:{harness.free_port()}"
    overrides.update(changes)
    return overrides


def produce(broker, topic, text, partition=0):
    return harness.run([harness.sluice_bin(), "produce", topic, "-p", str(partition), "--acks", "all",
                        "-b", broker.bootstrap], input_bytes=text.encode() + b"\n")


def consume(broker, topic, count, partition=0):
    p = harness.run([harness.sluice_bin(), "consume", topic, "-p", str(partition), "--from-beginning",
                     "-n", str(count), "-b", broker.bootstrap, "--timeout", "10"], timeout_s=30)
    return p.stdout.decode().splitlines()


# --- finding 1: one broker per data dir ---

def test_second_broker_on_the_same_log_dir_is_refused_and_names_the_holder(broker_factory, tmp_path):
    first = broker_factory()
    topic = harness.unique_topic("lock")
    harness.run([harness.sluice_bin(), "topic", "create", topic, "-b", first.bootstrap])
    produce(first, topic, "before")

    second = run_serve_expecting_exit(second_broker_overrides(first), str(tmp_path))
    assert second.returncode == 1, second.stderr.decode()
    error = second.stderr.decode()
    assert f"directory {first.data_dir} is in use by another broker" in error, error
    assert f"process {first.proc.pid}" in error, error
    with open(os.path.join(first.data_dir, ".lock")) as lock:
        assert lock.read().strip() == str(first.proc.pid)

    # The first broker kept its data and still serves; after a restart too.
    produce(first, topic, "after")
    assert consume(first, topic, 2) == ["before", "after"]
    first.restart()
    assert consume(first, topic, 2) == ["before", "after"]


def test_separate_metadata_log_dir_is_locked_too(broker_factory, tmp_path):
    metadata_dir = str(tmp_path / "metadata")
    first = broker_factory({"metadata.log.dir": metadata_dir})
    other_data = str(tmp_path / "other-data")
    second = run_serve_expecting_exit(second_broker_overrides(first, **{"log.dirs": other_data}), str(tmp_path))
    assert second.returncode == 1, second.stderr.decode()
    assert f"directory {metadata_dir} is in use by another broker" in second.stderr.decode()


# --- finding 4: file descriptors ---

def open_file_limit(pid):
    with open(f"/proc/{pid}/limits") as limits:
        for line in limits:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no 'Max open files' line")


class LimitedBroker(harness.Broker):
    """A broker started under `prlimit --nofile=SOFT:HARD`."""

    def __init__(self, workdir, soft, hard, overrides=None):
        super().__init__(workdir, overrides)
        self.nofile = f"--nofile={soft}:{hard}"

    def command(self):
        return ["prlimit", self.nofile, "--", *super().command()]


def limited_broker(tmp_path, soft, hard):
    b = LimitedBroker(str(tmp_path / "limited"), soft, hard)
    return b


def test_soft_open_file_limit_is_raised_to_the_hard_one_and_400_partitions_serve(tmp_path):
    b = limited_broker(tmp_path, 1024, 4096)
    try:
        b.start()
        assert open_file_limit(b.proc.pid) == 4096
        assert "open-file limit raised from 1024 to 4096" in harness.log_tail(b.log_path)
        topic = harness.unique_topic("big")
        harness.run([harness.sluice_bin(), "topic", "create", topic, "-p", "400", "--timeout", "60", "-b", b.bootstrap], timeout_s=120)
        produce(b, topic, "last", partition=399)
        assert consume(b, topic, 1, partition=399) == ["last"]
        assert "is offline" not in harness.log_tail(b.log_path, 200000)
        assert b.stop() == 0
    finally:
        b.kill9()


def test_too_few_descriptors_keeps_the_dir_online_and_a_restart_says_so_in_one_line(tmp_path):
    # soft = hard: raising cannot help. 256 descriptors hold ~200 partitions.
    b = limited_broker(tmp_path, 256, 256)
    try:
        b.start()
        served = harness.unique_topic("served")
        harness.run([harness.sluice_bin(), "topic", "create", served, "-b", b.bootstrap])
        big = harness.unique_topic("big")
        harness.run([harness.sluice_bin(), "topic", "create", big, "-p", "400", "--timeout", "60", "-b", b.bootstrap], timeout_s=120)
        # The dir stayed online: the topic created before still takes acks=all writes.
        produce(b, served, "still-served")
        assert consume(b, served, 1) == ["still-served"]
        log = harness.log_tail(b.log_path, 400000)
        assert "is offline" not in log
        assert "Too many open files" in log  # the partitions that could not be created say why
        assert b.stop() == 0
    finally:
        b.kill9()

    restarted = run_serve_expecting_exit(b.overrides, b.workdir, prefix=("prlimit", "--nofile=256:256", "--"))
    assert restarted.returncode == 1, (restarted.returncode, restarted.stderr.decode()[-3000:])
    errors = [line for line in restarted.stderr.decode().splitlines() if "[error]" in line]
    assert len(errors) == 1, errors
    assert "cannot start: too few file descriptors" in errors[0], errors[0]
    assert "the open-file limit is 256" in errors[0], errors[0]
    assert re.search(r"log\.dirs hold \d+ partition dirs", errors[0]), errors[0]
    assert restarted.stdout == b""


# --- finding 9: start-up mistakes ---

def test_bad_listener_host_is_reported_before_the_data_dir_is_created(tmp_path):
    data_dir = str(tmp_path / "fresh-data")
    p = run_serve_expecting_exit({"listeners": "PLAINTEXT://no-such-host.invalid:9092", "log.dirs": data_dir,
                                  "admin.listener": ""}, str(tmp_path))
    assert p.returncode == 1
    assert p.stdout == b""  # errors go to stderr
    assert "cannot resolve host 'no-such-host.invalid'" in p.stderr.decode()
    assert not os.path.exists(data_dir)


def test_invalid_config_error_goes_to_stderr(tmp_path):
    p = run_serve_expecting_exit({"log.dirs": str(tmp_path / "d"), "num.partitions": "0"}, str(tmp_path))
    assert p.returncode == 2
    assert p.stdout == b""
    assert "num.partitions" in p.stderr.decode()


def test_set_takes_list_values_whole(broker_factory):
    b = broker_factory(start=False)
    controller_port = harness.free_port()
    voters_port = harness.free_port()
    b.overrides["listeners"] = f"PLAINTEXT://127.0.0.1:{b.port},CONTROLLER://127.0.0.1:{controller_port}"
    b.overrides["listener.security.protocol.map"] = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    b.overrides["controller.quorum.voters"] = f"1@127.0.0.1:{voters_port},2@127.0.0.1:{voters_port}"
    b.start()
    log = harness.log_tail(b.log_path)
    assert f"listening on PLAINTEXT://127.0.0.1:{b.port}" in log
    assert f"listening on CONTROLLER://127.0.0.1:{controller_port}" in log
