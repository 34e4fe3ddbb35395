"""kafkajs against Sluice: runs tests/clients/js/broker_test.js (node's test runner)
against a fresh broker, then reads what kafkajs produced with kcat, byte for byte."""

import os
import shutil
import subprocess

import pytest

from conftest import REPO_ROOT, kcat_bin, run

JS_DIR = os.path.join(REPO_ROOT, "tests", "clients", "js")
PER_CODEC = 3000  # as in broker_test.js
PARTITIONS = 3
CODECS = ["none", "gzip", "snappy", "lz4"]


def expected_messages(codec):
    """Per partition, in order: (key, value, header) as broker_test.js sends them."""
    out = {p: [] for p in range(PARTITIONS)}
    for i in range(PER_CODEC):
        out[i % PARTITIONS].append((f"k{i % 17}", f"{codec}-{i}-" + "x" * (i % 50), f"h={i}"))
    return out


def test_kafkajs_client(broker):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (scripts/install-deps installs nodejs)")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "kafkajs")):
        pytest.fail(f"kafkajs is not installed: run `npm ci` in {JS_DIR}")
    prefix = f"js-{os.getpid()}"
    env = dict(os.environ, SLUICE_BOOTSTRAP=broker.bootstrap, SLUICE_TOPIC_PREFIX=prefix)
    p = subprocess.run([node, "broker_test.js"], cwd=JS_DIR, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    report = p.stdout.decode(errors="replace")
    assert p.returncode == 0, f"kafkajs tests failed:\n{report[-8000:]}"
    assert "# fail 0" in report and "# pass" in report, report[-3000:]

    for codec in CODECS:
        topic = f"{prefix}-{codec}"
        out = run([kcat_bin(), "-C", "-b", broker.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                   "-f", r"%p\t%o\t%k\t%s\t%h\n"], timeout_s=60).stdout.decode()
        got = {p: [] for p in range(PARTITIONS)}
        for line in out.split("\n"):
            if line:
                part, offset, key, value, header = line.split("\t")
                got[int(part)].append((int(offset), key, value, header))
        want = expected_messages(codec)
        for part in range(PARTITIONS):
            assert [o for o, _, _, _ in got[part]] == list(range(len(want[part]))), \
                f"{codec} partition {part}: offsets"
            assert [(k, v, h) for _, k, v, h in got[part]] == want[part], f"{codec} partition {part}: content"
