"""kafkajs bootstrapped from each node of 3 controllers + 3 brokers (issue 15:
"librdkafka and kafkajs clients bootstrapped from any node work"): runs
tests/clients/js/cluster_test.js (node's test runner), which through every
broker creates a topic with the admin, describes the cluster, lists topics,
produces a few records and reads them back in a consumer group."""

import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import Cluster  # noqa: E402

from conftest import REPO_ROOT  # noqa: E402

JS_DIR = os.path.join(REPO_ROOT, "tests", "clients", "js")


def test_kafkajs_through_every_node(broker_factory):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (scripts/install-deps installs nodejs)")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "kafkajs")):
        pytest.fail(f"kafkajs is not installed: run `npm ci` in {JS_DIR}")
    # No initial rebalance delay (Kafka's 3 s): the test runs three groups.
    cluster = Cluster(broker_factory, controllers=3, brokers=3,
                      settings={"group.initial.rebalance.delay.ms": "0"})
    try:
        cluster.leader()
        cluster.wait_brokers_listed()
        env = dict(os.environ,
                   SLUICE_BOOTSTRAPS=",".join(n.bootstrap for n in cluster.brokers),
                   SLUICE_BROKER_IDS=",".join(str(n.id) for n in cluster.brokers),
                   SLUICE_TOPIC_PREFIX=f"jsc-{os.getpid()}")
        p = subprocess.run([node, "cluster_test.js"], cwd=JS_DIR, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=180)
        report = p.stdout.decode(errors="replace")
        print(report[-4000:])
        assert p.returncode == 0, f"kafkajs cluster tests failed:\n{report[-8000:]}"
        assert "# fail 0" in report and "# pass" in report, report[-3000:]
    finally:
        cluster.close()
