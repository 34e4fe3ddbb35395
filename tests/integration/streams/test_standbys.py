"""Task assignment across sluice-streams instances (the "stream" group
protocol, sticky assignment, standby tasks and warm-ups) with Kafka's
WordCountDemo (examples/wordcount) against a real broker, under
exactly_once_v2 so every word's counts in the output must be exactly
1, 2, ..., n (read_committed) whatever moved where:
- two instances with num.standby.replicas=1 share the work and each keeps
  a standby copy of the other's counts;
- a third joins while lines arrive: it gets warm-up replicas first and
  runs count tasks only once they caught up (its log shows them promoted
  from a replica, never restored from the changelog's start);
- one of the first two is killed with -9: its count tasks move to the
  instances holding their standbys (promoted, not restored);
and the final counts equal the model the test computes."""

import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import conftest as harness  # noqa: E402
from conftest import unique_topic  # noqa: E402
from test_wordcount import (App, create_topic, make_lines, model_counts,  # noqa: E402
                            produce_lines, read_counts)

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
PARTITIONS = 4
# Word count's sub-topology 1 holds the counts store: its tasks are the
# stateful ones (sub-topology 0 splits lines and repartitions by word).
STATEFUL_TASK = re.compile(r"task (1_\d+) running: (promoted from a standby replica|"
                           r"restored (\d+) changelog records from the start)")


@pytest.fixture
def instances(tmp_path):
    """Makes streams-wordcount instances, each logging in a folder of its own."""
    made = []

    def make(*args):
        workdir = tmp_path / f"instance-{len(made) + 1}"
        workdir.mkdir()
        app = App(str(workdir), *args)
        made.append(app)
        return app

    yield make
    for app in made:
        if app.proc is not None and app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait()


def running_stateful_tasks(log):
    """(task, how it started) for each count task an instance began running."""
    return [(match.group(1), "promoted" if match.group(2).startswith("promoted") else "restored",
             int(match.group(3) or 0)) for match in STATEFUL_TASK.finditer(log)]


def wait_until(condition, timeout_s, what):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"{what} not within {timeout_s} s")


def describe_group(bootstrap, group):
    """`sluice group describe --json`: what Kafka's tools show of the group."""
    out = subprocess.run([harness.sluice_bin(), "group", "describe", "-b", bootstrap, "--json",
                          group], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_instances_share_tasks_through_standbys_and_warm_ups(module_broker, instances):
    bootstrap = module_broker.bootstrap
    source, sink, app_id = unique_topic("lines"), unique_topic("counts"), unique_topic("wc")
    create_topic(bootstrap, source, PARTITIONS)
    create_topic(bootstrap, sink, PARTITIONS)
    settings = {"processing.guarantee": "exactly_once_v2", "num.standby.replicas": "1",
                # A new instance's empty copy (thousands of records behind)
                # is not caught up; a warm-up within 50 records is.
                "acceptable.recovery.lag": "50",
                # The dead instance leaves the group after 6 s, not 45.
                "consumer.session.timeout.ms": "6000", "consumer.heartbeat.interval.ms": "500"}
    lines = [make_lines(2500, seed=11), make_lines(1500, seed=12), make_lines(1000, seed=13)]

    # Two instances share the work; each keeps a standby of the other's counts.
    produce_lines(bootstrap, source, lines[0])
    first = instances(bootstrap, app_id, source, sink, settings).start()
    second = instances(bootstrap, app_id, source, sink, settings).start()
    read_counts(bootstrap, sink, "read_committed", model_counts(lines[0]), timeout_s=60)
    wait_until(lambda: all("standby task 1_" in app.log() for app in (first, second)), 30,
               "standby count tasks on both instances")
    described = describe_group(bootstrap, app_id)
    print(json.dumps(described, indent=1))
    assert described["protocol_type"] == "consumer" and described["protocol"] == "stream"
    assert len(described["members"]) == 2
    assigned = sorted((p["topic"], p["partition"]) for m in described["members"]
                      for p in m["assignments"])
    assert assigned == sorted([(source, p) for p in range(PARTITIONS)] +
                              [(f"{app_id}-counts-store-repartition", p) for p in range(PARTITIONS)])

    # A third joins while lines arrive: warm-ups first, then its tasks.
    writer = threading.Thread(target=produce_lines,
                              args=(bootstrap, source, lines[1], 100, 0.05))
    writer.start()
    third = instances(bootstrap, app_id, source, sink, settings).start()
    wait_until(lambda: running_stateful_tasks(third.log()), 40,
               "a count task running on the third instance")
    writer.join()
    started = running_stateful_tasks(third.log())
    assert all(how == "promoted" for _, how, _ in started), started
    logs = first.log() + second.log() + third.log()
    assert " warm-up [" in logs, "the leader gave no warm-up replica"
    assert "caught up; asking for the probing rebalance" in third.log()
    read_counts(bootstrap, sink, "read_committed", model_counts(lines[0] + lines[1]),
                timeout_s=60)

    # One of the first two dies: its count tasks go to their standbys.
    before = {app: len(app.log()) for app in (second, third)}
    first.kill9()
    produce_lines(bootstrap, source, lines[2])
    model = model_counts(lines[0] + lines[1] + lines[2])
    sequences = read_counts(bootstrap, sink, "read_committed", model, timeout_s=90)
    took_over = [entry for app in (second, third)
                 for entry in running_stateful_tasks(app.log()[before[app]:])]
    assert took_over, "no count task moved after the kill"
    assert all(how == "promoted" for _, how, _ in took_over), took_over

    assert {word: seq[-1] for word, seq in sequences.items()} == dict(model)
    for word, seq in sequences.items():
        assert seq == list(range(1, model[word] + 1)), f"{word}: {seq}"
    second.stop()
    third.stop()
