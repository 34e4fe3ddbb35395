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
and the final counts equal the model the test computes. Then, without
standbys: an instance stopped and restarted on its own state directory
gets its count tasks back (its process id and its checkpoints' offset
sums tell the leader it is caught up on them) and restores only what
followed its checkpoints.

Each instance has a state directory of its own (test_wordcount's App),
kept across its restarts."""

import json
import os
import re
import subprocess
import sys
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import conftest as harness  # noqa: E402
import streams_support  # noqa: E402
from streams_support import read_checkpoint, restores, wait_until  # noqa: E402
from test_wordcount import (App, make_lines, model_counts, new_topics,  # noqa: E402
                            produce_lines, read_counts)

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
PARTITIONS = 4
# Word count's sub-topology 1 holds the counts store: its tasks are the
# stateful ones (sub-topology 0 splits lines and repartitions by word).
STATEFUL_TASK = re.compile(r"task (1_\d+) running: (promoted from a standby replica|"
                           r"restored (\d+) changelog records from (?:the start|its checkpoint))")
STORE = "counts-store"
COUNT_TASK_EVENT = re.compile(r"task (1_\d+) (running|closed \(assigned elsewhere\))|"
                              r"closing \d+ active tasks without committing")


@pytest.fixture
def instances(tmp_path):
    """Makes streams-wordcount instances, each logging in a folder of its own."""
    yield from streams_support.made_apps(tmp_path, App, own_workdirs=True)


def running_stateful_tasks(log):
    """(task, how it started) for each count task an instance began running."""
    return [(match.group(1), "promoted" if match.group(2).startswith("promoted") else "restored",
             int(match.group(3) or 0)) for match in STATEFUL_TASK.finditer(log)]


def describe_group(bootstrap, group):
    """`sluice group describe --json`: what Kafka's tools show of the group."""
    out = subprocess.run([harness.sluice_bin(), "group", "describe", "-b", bootstrap, "--json",
                          group], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_instances_share_tasks_through_standbys_and_warm_ups(module_broker, instances):
    bootstrap = module_broker.bootstrap
    source, sink, app_id = new_topics(bootstrap, PARTITIONS)
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


def running_count_tasks(log):
    """The count tasks an instance runs at the end of its log."""
    running = set()
    for match in COUNT_TASK_EVENT.finditer(log):
        if match.group(1) is None:
            running.clear()  # lost tasks, all closed
        elif match.group(2) == "running":
            running.add(match.group(1))
        else:
            running.discard(match.group(1))
    return running


def state_dir_of(app):
    return next(arg.split("=", 1)[1] for arg in app.cmd if arg.startswith("state.dir="))


def test_a_restarted_instance_gets_its_tasks_back_and_restores_from_its_checkpoints(
        module_broker, instances):
    bootstrap = module_broker.bootstrap
    source, sink, app_id = new_topics(bootstrap, PARTITIONS)
    changelog = f"{app_id}-{STORE}-changelog"
    # A copy within 300 records is caught up: the restarted instance is on
    # its own tasks (a few dozen records behind), not on the others (no
    # state, or state from before the input: ~1,500 records behind).
    settings = {"processing.guarantee": "exactly_once_v2", "acceptable.recovery.lag": "300"}
    lines = [make_lines(2000, seed=21), make_lines(40, seed=22), make_lines(500, seed=23)]

    first = instances(bootstrap, app_id, source, sink, settings).start()
    second = instances(bootstrap, app_id, source, sink, settings).start()
    wait_until(lambda: running_count_tasks(first.log()) and running_count_tasks(second.log()),
               30, "count tasks on both instances")
    produce_lines(bootstrap, source, lines[0])
    read_counts(bootstrap, sink, "read_committed", model_counts(lines[0]), timeout_s=60)
    owned = running_count_tasks(first.log())
    assert owned and owned.isdisjoint(running_count_tasks(second.log())), \
        (owned, running_count_tasks(second.log()))

    # A clean stop: the first instance's tasks go to the second; their
    # checkpoints stay in the first's state directory.
    first.stop()
    task_dirs = {task: os.path.join(state_dir_of(first), app_id, task) for task in owned}
    checkpointed = {}
    for task, task_dir in task_dirs.items():
        checkpointed.update(read_checkpoint(os.path.join(task_dir, ".checkpoint")))
    assert {p for _, p in checkpointed} == {int(t.split("_")[1]) for t in owned}, checkpointed
    assert all(offset >= 0 for offset in checkpointed.values()), checkpointed
    wait_until(lambda: len(running_count_tasks(second.log())) == PARTITIONS, 30,
               "the second instance running every count task")
    produce_lines(bootstrap, source, lines[1])
    read_counts(bootstrap, sink, "read_committed", model_counts(lines[0] + lines[1]),
                timeout_s=60)

    # The restart: the same process id, the checkpoints reported as offset
    # sums; the leader hands the first its tasks back.
    first.start()
    wait_until(lambda: running_count_tasks(first.log()) == owned, 30,
               f"the restarted instance running its tasks {sorted(owned)} again")
    started = running_stateful_tasks(first.log())
    assert sorted(task for task, _, _ in started) == sorted(owned), started
    for task, how, count in started:
        assert how == "restored", started
        assert (f"task {task} running: restored {count} changelog records from its checkpoint"
                in first.log()), started
    restored = restores(first.log(), STORE)
    assert set(restored) == {int(t.split("_")[1]) for t in owned}, restored
    for (topic, partition), offset in checkpointed.items():
        count, start = restored[partition]
        assert start == str(offset + 1), (partition, restored, checkpointed)
        # What the second instance counted meanwhile: a few dozen records,
        # not the ~1,500 of a restore from the start.
        assert count < 300, (partition, restored)
    assert sum(count for count, _ in restored.values()) > 0, restored

    produce_lines(bootstrap, source, lines[2])
    model = model_counts(lines[0] + lines[1] + lines[2])
    sequences = read_counts(bootstrap, sink, "read_committed", model, timeout_s=60)
    for word, seq in sequences.items():
        assert seq == list(range(1, model[word] + 1)), f"{word}: {seq}"
    first.stop()
    second.stop()
