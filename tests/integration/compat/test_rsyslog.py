"""rsyslog's omkafka (Debian's rsyslog-kafka, on librdkafka 2.0) shipping log
lines to Sluice with lz4, as a private rsyslogd: its own config, pid file,
work dir and input socket (imuxsock on a socket in the test's dir, the system
socket off), in the foreground, stopped by pid.

Every line must arrive exactly once AND be stored lz4-compressed: librdkafka
before 2.8 silently stops compressing when the broker's ApiVersions lacks
the Produce/Fetch versions its compression feature checks (v0-v2), and the
lines then arrive, uncompressed; so the stored batches are read back with raw
Fetch v4 frames (../stored_batches.py).
"""

import os
import shutil
import tempfile

import pytest

from conftest import kcat_bin, run, unique_topic
from programs import Background, create_topic, program, wait_until
from stored_batches import stored_batches

LINES = 200
PARTITIONS = 2

RSYSLOG_CONFIG = """\
global(workDirectory="{workdir}" maxMessageSize="64k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{socket}" CreatePath="on" RateLimit.Interval="0")
module(load="omkafka")
template(name="message-only" type="string" string="%msg:2:$%")
action(type="omkafka" broker=["{bootstrap}"] topic="{topic}" template="message-only"
       partitions.auto="on" confParam=["compression.codec=lz4", "queue.buffering.max.ms=50"])
"""


def consumed_values(broker, topic):
    out = run([kcat_bin(), "-C", "-b", broker.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
               "-f", "%s\\n"], timeout_s=60).stdout.decode()
    return [line for line in out.split("\n") if line]


@pytest.fixture
def rsyslogd(broker, tmp_path):
    """Starts a private rsyslogd for a topic; stopped at teardown."""
    started = []
    # A Unix socket's path holds at most 107 bytes: ctest's temp dirs are longer.
    socket_dir = tempfile.mkdtemp(prefix="sluice-rsyslog-")

    def start(topic):
        workdir = str(tmp_path / "rsyslog")
        os.makedirs(workdir, exist_ok=True)
        socket_path = os.path.join(socket_dir, "log.sock")
        config = os.path.join(workdir, "rsyslog.conf")
        with open(config, "w") as f:
            f.write(RSYSLOG_CONFIG.format(workdir=workdir, socket=socket_path, bootstrap=broker.bootstrap,
                                          topic=topic))
        daemon = Background("rsyslogd", [program("rsyslogd", "/usr/sbin/rsyslogd"), "-n", "-f", config,
                                         "-i", os.path.join(workdir, "rsyslogd.pid")], workdir)
        started.append(daemon)
        wait_until("rsyslogd's input socket", lambda: daemon.check_alive() or os.path.exists(socket_path),
                   15, on_timeout=daemon.log)
        return daemon, socket_path

    yield start
    for daemon in started:
        code = daemon.stop()
        if code != 0:
            print(f"\n===== rsyslogd exited {code} =====\n{daemon.log()}")
    shutil.rmtree(socket_dir, ignore_errors=True)


def test_omkafka_lines_arrive_once_lz4_compressed(broker, rsyslogd, tmp_path):
    topic = unique_topic("rsyslog")
    create_topic(broker, topic, PARTITIONS)
    daemon, socket_path = rsyslogd(topic)

    lines = [f"line {i:04d} of the omkafka test, compressible compressible compressible" for i in range(LINES)]
    lines_file = tmp_path / "lines.txt"
    lines_file.write_text("\n".join(lines) + "\n")
    run([program("logger"), "--socket", socket_path, "--socket-errors=on", "-t", "sluice-test",
         "-f", str(lines_file)])

    wait_until(f"{LINES} lines in {topic}", lambda: daemon.check_alive() or len(consumed_values(broker, topic)) >= LINES,
               30, interval_s=0.5, on_timeout=daemon.log)
    assert daemon.stop() == 0, daemon.log()

    values = consumed_values(broker, topic)
    assert sorted(values) == sorted(lines), \
        f"{len(values)} values for {LINES} lines; first differing: {sorted(set(values) ^ set(lines))[:3]}"

    batches = [b for partition in range(PARTITIONS) for b in stored_batches(broker.port, topic, partition)]
    codecs = {b.codec for b in batches}
    assert codecs == {"lz4"}, f"stored batches by codec: " \
        f"{ {c: sum(1 for b in batches if b.codec == c) for c in codecs} } (librdkafka stopped compressing)"
