"""`sluice connect distributed`: three workers of one group against the
harness's broker. Connectors created through one worker are visible (config
and status) through every worker, a follower forwards its POST to the
leader, a file source and a 3-task file sink spread over the workers;
kill -9 of the worker running the source moves its tasks to the others and
every line arrives in the topic and the sink file, duplicated only after the
last committed offset (counts printed); a fourth worker joining gets tasks
while the tasks left on the others keep running (not restarted); a restart
of every worker keeps the connectors (configs read from the config topic)."""

import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import unique_topic  # noqa: E402
from connect_harness import (FILE_SINK, FILE_SOURCE, Worker, append, consume_all,  # noqa: E402
                             create_topic, expect, read_lines, rest, status_of, wait_for,
                             wait_lines)

LINES = 3000
WARM_UP = 150


class DistributedWorker(Worker):
    def __init__(self, workdir, bootstrap, group, overrides=None):
        settings = {
            "group.id": group,
            "config.storage.topic": f"{group}-configs",
            "offset.storage.topic": f"{group}-offsets",
            "status.storage.topic": f"{group}-status",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "offset.storage.partitions": "5",
            "status.storage.partitions": "3",
            "heartbeat.interval.ms": "1000",
            "session.timeout.ms": "6000",
            "scheduled.rebalance.max.delay.ms": "2000",
            # A killed sink task's consumer leaves its group after this.
            "consumer.session.timeout.ms": "6000",
            "consumer.heartbeat.interval.ms": "1000",
        }
        settings.update(overrides or {})
        super().__init__(workdir, bootstrap, settings)

    def command(self, connector_files=()):
        import conftest as harness
        return [harness.sluice_bin(), "connect", "distributed", self.properties]

    @property
    def worker_id(self):
        return f"127.0.0.1:{self.port}"

    def log_text(self):
        return "".join(open(os.path.join(self.workdir, f"worker-{i}.log"), errors="replace").read()
                       for i in range(1, self.starts + 1))

    def task_starts(self, task):
        return len(re.findall(rf"starting task {re.escape(task)}\b", self.log_text()))


def create_when_ready(port, name, config):
    """POST /connectors, again while the group is still forming (409: no leader yet)."""
    def attempt():
        got, answer = rest(port, "POST", "/connectors", {"name": name, "config": config})
        if got == 409 and "no known leader" in str(answer):
            return None
        assert got == 201, (got, answer)
        return answer
    return wait_for(attempt, f"creating {name} through {port}", timeout_s=40, interval_s=0.3)


def everything_running(port, name, tasks, alive_ids):
    s = status_of(port, name)
    if s is None or s["connector"]["state"] != "RUNNING" or len(s["tasks"]) != tasks:
        return None
    if s["connector"]["worker_id"] not in alive_ids:
        return None
    if any(t["state"] != "RUNNING" or t["worker_id"] not in alive_ids for t in s["tasks"]):
        return None
    return s


def owners(port):
    """task name -> worker id, for src and sink."""
    out = {}
    for name in ("src", "sink"):
        s = status_of(port, name)
        for t in (s or {}).get("tasks", []):
            out[f"{name}-{t['id']}"] = t["worker_id"]
    return out


def committed_source_position(bootstrap, offsets_topic, connector, path):
    """The last offset the offsets topic holds for the file (all partitions)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "itest-offsets",
                         "enable.auto.commit": False})
    position = 0
    try:
        md = consumer.list_topics(offsets_topic, timeout=10).topics[offsets_topic]
        consumer.assign([TopicPartition(offsets_topic, p, OFFSET_BEGINNING) for p in md.partitions])
        quiet = time.monotonic() + 2.0
        while time.monotonic() < quiet:
            m = consumer.poll(0.2)
            if m is None or m.error():
                continue
            quiet = time.monotonic() + 1.0
            if m.key() and json.loads(m.key()) == [connector, {"filename": path}] and m.value():
                position = json.loads(m.value())["position"]
    finally:
        consumer.close()
    return position


def test_group_shares_moves_and_keeps_connectors(broker, tmp_path, request):
    group = unique_topic("connect-group")
    workers = [DistributedWorker(str(tmp_path / f"w{i}"), broker.bootstrap, group) for i in range(4)]
    try:
        run_scenario(broker, tmp_path, workers)
    except BaseException:
        for w in workers:
            if w.starts:
                tail = "\n".join(w.log_text().splitlines()[-150:])
                print(f"\n===== {w.workdir} =====\n{tail}", file=sys.stderr)
        raise
    finally:
        for w in workers:
            if w.alive():
                w.stop()


def run_scenario(broker, tmp_path, workers):
    started = time.monotonic()
    topic = unique_topic("dist")
    create_topic(broker.bootstrap, topic, partitions=3)
    source_file = str(tmp_path / "in.txt")
    sink_file = str(tmp_path / "out.txt")
    open(source_file, "wb").close()
    w0, w1, w2, w3 = workers
    for w in (w0, w1, w2):
        w.start()

    # Created through two different workers: at least one is a follower,
    # which forwards to the leader; the leader alone writes (and logs) both.
    create_when_ready(w0.port, "src", {
        "connector.class": FILE_SOURCE, "file": source_file, "topic": topic})
    create_when_ready(w1.port, "sink", {
        "connector.class": FILE_SINK, "file": sink_file, "topics": topic, "tasks.max": "3"})
    got, answer = rest(w2.port, "POST", "/connectors", {"name": "src", "config": {
        "connector.class": FILE_SOURCE, "file": source_file, "topic": topic}})
    assert got == 409, (got, answer)
    leaders = [w for w in (w0, w1, w2)
               if "connector src created" in w.log_text() and "connector sink created" in w.log_text()]
    assert len(leaders) == 1, "one worker (the leader) wrote both configurations"
    print(f"\nleader: {leaders[0].worker_id}")

    alive = {w.worker_id for w in (w0, w1, w2)}
    for w in (w0, w1, w2):
        wait_for(lambda: everything_running(w.port, "src", 1, alive), f"src running via {w.port}")
        wait_for(lambda: everything_running(w.port, "sink", 3, alive), f"sink running via {w.port}")
        assert sorted(expect(w.port, "GET", "/connectors", 200)) == ["sink", "src"]
        assert expect(w.port, "GET", "/connectors/sink/config", 200)["tasks.max"] == "3"
    placement = owners(w0.port)
    print(f"placement: {placement}")
    assert len(set(placement.values())) == 3, "the four tasks are spread over the three workers"

    lines = [f"line {i:05d}" for i in range(LINES)]
    append(source_file, lines[:WARM_UP])
    wait_lines(sink_file, WARM_UP)
    done = threading.Event()

    def writer():
        for start in range(WARM_UP, LINES, 30):
            append(source_file, lines[start:start + 30])
            time.sleep(0.03)
        done.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    wait_lines(sink_file, WARM_UP + 500)

    # kill -9 the worker that runs the source task.
    victim = next(w for w in (w0, w1, w2) if w.worker_id == placement["src-0"])
    survivors = [w for w in (w0, w1, w2) if w is not victim]
    victim.kill9()
    killed_at = time.monotonic()
    position = committed_source_position(broker.bootstrap, f"{w0.settings['group.id']}-offsets",
                                         "src", source_file)
    line_bytes = len(lines[0]) + 1
    assert position % line_bytes == 0
    resume_line = position // line_bytes
    alive = {w.worker_id for w in survivors}
    for w in survivors:
        wait_for(lambda: everything_running(w.port, "src", 1, alive)
                 and everything_running(w.port, "sink", 3, alive),
                 f"the victim's tasks running elsewhere (via {w.port})", timeout_s=40)
    print(f"tasks moved {time.monotonic() - killed_at:.1f} s after the kill: {owners(survivors[0].port)}")

    thread.join(30)
    assert done.is_set()
    records = consume_all(broker.bootstrap, topic, LINES, timeout_s=60)
    values = [m.value().decode() for m in records]
    assert set(values) == set(lines), f"lines lost: {sorted(set(lines) - set(values))[:5]}"
    duplicates = [v for v in set(values) if values.count(v) > 1]
    early = [v for v in duplicates if int(v.split()[1]) < resume_line]
    print(f"source: committed line {resume_line} at the kill; topic {len(values)} records, "
          f"{len(values) - LINES} duplicates")
    assert not early, f"duplicates before the committed offset: {early[:5]}"
    wait_for(lambda: set(read_lines(sink_file)) >= set(lines), "every line in the sink file",
             timeout_s=60)
    sink_lines = read_lines(sink_file)
    print(f"sink: {len(sink_lines)} lines, {len(sink_lines) - len(values)} duplicates of the topic's")
    assert len(sink_lines) >= LINES

    # A fourth worker joins: it gets work; what stays elsewhere keeps running.
    before = owners(survivors[0].port)
    starts_before = {task: next(w for w in survivors if w.worker_id == owner).task_starts(task)
                     for task, owner in before.items()}
    w3.start()
    alive = {w.worker_id for w in survivors} | {w3.worker_id}
    wait_for(lambda: w3.worker_id in owners(w3.port).values()
             and everything_running(w3.port, "sink", 3, alive)
             and everything_running(w3.port, "src", 1, alive),
             "the new worker running a task", timeout_s=40)
    after = owners(w3.port)
    print(f"after the join: {after}")
    kept = [task for task, owner in before.items() if after[task] == owner]
    assert kept, "some tasks stayed where they were"
    for task in kept:
        holder = next(w for w in survivors if w.worker_id == before[task])
        assert holder.task_starts(task) == starts_before[task], f"{task} was restarted on {holder.port}"

    # Every worker restarts: the connectors come back from the config topic.
    running = survivors + [w3]
    for w in running:
        w.clean_stop()
    for w in running:
        w.start()
    alive = {w.worker_id for w in running}
    for w in running:
        assert sorted(expect(w.port, "GET", "/connectors", 200)) == ["sink", "src"]
    # Started again by this run of the workers (statuses alone could be the
    # previous run's: the ports are the same).
    def restarted_tasks():
        text = "".join(open(w.log_path, errors="replace").read() for w in running)
        return set(re.findall(r"starting task ((?:src|sink)-\d)", text))
    wait_for(lambda: restarted_tasks() == {"src-0", "sink-0", "sink-1", "sink-2"},
             "every task started again", timeout_s=40)
    wait_for(lambda: everything_running(running[0].port, "sink", 3, alive)
             and everything_running(running[0].port, "src", 1, alive),
             "the connectors running after the restart", timeout_s=40)
    for w in running:
        w.clean_stop()
    print(f"scenario took {time.monotonic() - started:.1f} s")

