"""Pytest harness of every integration suite (pytest.ini beside it makes this folder
pytest's rootdir, so each suite below finds it): starts `sluice serve` on free
loopback ports with a temp data dir.

SLUICE_BIN names the binary (ctest passes $<TARGET_FILE:sluice>); without it
the harness uses <repo>/build/sluice. The broker is always stopped after a test
(SIGTERM, then SIGKILL after 10 s), and its log is attached to a failing test's
report.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kafka_wire  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


def sluice_bin():
    # Absolute: brokers run with their data dir as working directory.
    path = os.path.abspath(os.environ.get("SLUICE_BIN") or os.path.join(REPO_ROOT, "build", "sluice"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"sluice binary not found or not executable: {path} (set SLUICE_BIN)")
    return path


def _ephemeral_port_floor():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_LISTEN_PORT_FLOOR = 10000


def free_port():
    """A port that was free a moment ago on 127.0.0.1, below the kernel's
    ephemeral range: a port the kernel picks is also what it gives the
    client connections of the tests running beside this one as their source
    ports, so one of them could take it before a (re)started broker binds it
    (seen in CI: "cannot listen on 127.0.0.1:47393: Address already in use")."""
    ceiling = _ephemeral_port_floor()
    rng = random.SystemRandom()
    for _ in range(200 if ceiling - _LISTEN_PORT_FLOOR > 1000 else 0):
        port = rng.randrange(_LISTEN_PORT_FLOOR, ceiling)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path, max_bytes=6000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            return f.read().decode(errors="replace")
    except OSError as e:
        return f"<no log: {e}>"


def thread_stacks(pid, timeout_s=30):
    """Every thread's stack of a live process (gdb, when installed): what a
    process that does not stop on SIGTERM is waiting for."""
    if not shutil.which("gdb"):
        return "<no gdb: no thread stacks>"
    try:
        p = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "thread apply all bt"],
                           capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return "<gdb timed out>"
    lines = [line for line in p.stdout.splitlines() if line.startswith(("Thread ", "#"))]
    return "\n".join(lines) or p.stderr[-2000:]


class Broker:
    """One `sluice serve` process; restartable on the same data dir and port."""

    def __init__(self, workdir, overrides=None):
        self.workdir = workdir
        self.data_dir = os.path.join(workdir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.port = free_port()
        self.overrides = {
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "log.dirs": self.data_dir,
            "node.id": "1",
            "admin.listener": "",
        }
        self.overrides.update(overrides or {})
        self.proc = None
        self.starts = 0
        self.log_path = None
        self.exit_codes = []

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def command(self):
        cmd = [sluice_bin(), "serve"]
        for key, value in self.overrides.items():
            cmd += ["--set", f"{key}={value}"]
        return cmd

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        self.starts += 1
        self.log_path = os.path.join(self.workdir, f"broker-{self.starts}.log")
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir)
        self.stopped_on_purpose = False
        log.close()
        self.wait_ready()
        return self

    def wait_ready(self, timeout_s=READY_TIMEOUT_S):
        """Ready = the Kafka port accepts TCP and answers ApiVersions v0 without error."""
        deadline = time.monotonic() + timeout_s
        last_error = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"broker exited with {self.proc.returncode} during start-up:\n"
                            f"{' '.join(self.command())}\n{log_tail(self.log_path)}")
            try:
                error, versions = kafka_wire.api_versions(self.port, timeout_s=2.0)
                if error == kafka_wire.ERR_NONE and kafka_wire.API_API_VERSIONS in versions:
                    return
                last_error = f"ApiVersions answered error {error}, keys {sorted(versions)}"
            except (OSError, ValueError, ConnectionError) as e:
                last_error = repr(e)
            time.sleep(0.05)
        self.kill9()
        pytest.fail(f"broker not ready after {timeout_s} s (last probe: {last_error}):\n"
                    f"{' '.join(self.command())}\n{log_tail(self.log_path)}")

    def crashed(self):
        """The process ended without a stop() or kill9() from the test."""
        return self.proc is not None and self.proc.poll() is not None and not self.stopped_on_purpose

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    # A cluster node may need longer: the last nodes of a cluster stopped
    # one by one lose their quorum and wait out their bounded controlled
    # shutdown (cluster_harness.py sets it).
    stop_timeout_s = STOP_TIMEOUT_S

    def stop(self, timeout_s=None):
        """SIGTERM, then SIGKILL after timeout_s. Returns the exit code after SIGTERM,
        or None if it was not running (or had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.stopped_on_purpose = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout_s or self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.exit_codes.append("killed after SIGTERM timeout")
            return None
        self.exit_codes.append(code)
        return code

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.stopped_on_purpose = True
            self.proc.kill()
            self.proc.wait()
            self.exit_codes.append("SIGKILL")

    def restart(self):
        """Clean stop (asserting a clean exit) and start on the same data dir and port."""
        code = self.stop()
        assert code == 0, f"broker did not exit cleanly on SIGTERM (code {code}):\n{log_tail(self.log_path)}"
        return self.start()

    def crash_restart(self):
        self.kill9()
        return self.start()

    def logs(self):
        return "\n".join(f"--- broker-{i}.log ---\n{log_tail(os.path.join(self.workdir, f'broker-{i}.log'))}"
                         for i in range(1, self.starts + 1))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def _attach_logs_on_failure(request, broker):
    failed = any(getattr(request.node, "rep_" + when, None) is not None
                 and getattr(request.node, "rep_" + when).failed for when in ("setup", "call"))
    if failed:
        print(f"\n===== sluice broker logs ({broker.workdir}) =====\n{broker.logs()}", file=sys.stderr)


def _finish(broker, check_clean_exit):
    if broker.crashed():
        pytest.fail(f"broker died during the test (exit {broker.proc.returncode}):\n{log_tail(broker.log_path)}")
    code = broker.stop()
    if check_clean_exit and code is not None:
        assert code == 0, f"broker exited with {code} on SIGTERM:\n{log_tail(broker.log_path)}"
    if code is None and broker.exit_codes and broker.exit_codes[-1] == "killed after SIGTERM timeout":
        pytest.fail(f"broker did not stop within {broker.stop_timeout_s} s of SIGTERM:\n{log_tail(broker.log_path)}")


@pytest.fixture
def broker_factory(request, tmp_path):
    """Makes brokers (started) with --set overrides; all stopped at teardown."""
    made = []

    def make(overrides=None, start=True):
        b = Broker(str(tmp_path / f"b{len(made)}"), overrides)
        os.makedirs(b.workdir, exist_ok=True)
        made.append(b)
        return b.start() if start else b

    yield make
    for b in made:
        _attach_logs_on_failure(request, b)
    errors = []
    for b in made:
        try:
            _finish(b, check_clean_exit=True)
        except BaseException as e:  # stop every broker before reporting
            b.kill9()
            errors.append(e)
    if errors:
        raise errors[0]


@pytest.fixture
def broker(broker_factory):
    """A fresh broker with Kafka defaults plus the harness listener/dir settings."""
    return broker_factory()


@pytest.fixture(scope="module")
def module_broker(request, tmp_path_factory):
    """One broker shared by a test module (for tests that do not restart it)."""
    workdir = str(tmp_path_factory.mktemp("module-broker"))
    overrides = getattr(request.module, "BROKER_OVERRIDES", None)
    b = Broker(workdir, overrides)
    b.start()
    try:
        yield b
    finally:
        _finish(b, check_clean_exit=True)


@pytest.fixture(autouse=True)
def _module_broker_logs(request):
    """Shows the shared broker's log when a test that used it fails."""
    yield
    b = request.node.funcargs.get("module_broker")
    if b is not None:
        _attach_logs_on_failure(request, b)
        if b.crashed():
            pytest.fail(f"the shared broker died during this test (exit {b.proc.returncode}):\n"
                        f"{log_tail(b.log_path)}")


def unique_topic(prefix="t"):
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns() % 10**9}"


def run(cmd, input_bytes=None, timeout_s=60, check=True):
    """Runs a client command; on failure shows its stderr."""
    p = subprocess.run(cmd, input=input_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout_s)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr.decode(errors='replace')[-4000:]}")
    return p


def kcat_bin():
    path = shutil.which("kcat") or shutil.which("kafkacat")
    if path is None:
        pytest.fail("kcat is not installed (scripts/install-deps installs it)")
    return path


def kcat_metadata(bootstrap, topic=None, timeout_s=30):
    import json
    cmd = [kcat_bin(), "-b", bootstrap, "-L", "-J", "-m", "10"]
    if topic:
        cmd += ["-t", topic]
    return json.loads(run(cmd, timeout_s=timeout_s).stdout)


def kcat_works(bootstrap):
    """True when kcat -L gets the broker list from this broker."""
    md = kcat_metadata(bootstrap)
    return any(b.get("id") == 1 for b in md.get("brokers", []))

