"""Persistent state of sluice-streams against a real broker, with Kafka's
WordCountDemo (examples/wordcount), whose count store is RocksDB by default:
- a clean stop writes Kafka's `.checkpoint` in each task directory of
  `<state.dir>/<application.id>/<subtopology>_<partition>` (the changelog's
  last offsets) and a restart restores nothing but what follows it; the
  counts go on from where they were and equal the model, as does an
  interactive query of the running instance's store;
- kill -9 under at_least_once, restart: restore starts at the checkpoint,
  nothing is lost;
- exactly_once_v2: the checkpoint exists only after a clean close; after a
  kill -9 the store is wiped and restored whole, and the counts stay exact;
- a second instance on the same state directory fails with Kafka's message."""

import os
import signal
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, TopicPartition

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import test_wordcount as wc  # noqa: E402
from conftest import unique_topic  # noqa: E402
from streams_support import read_checkpoint  # noqa: E402
import streams_support  # noqa: E402

BROKER_OVERRIDES = wc.BROKER_OVERRIDES
app_factory = wc.app_factory  # the fixture: streams-wordcount processes, killed at the end
PARTITIONS = wc.PARTITIONS
STORE = "counts-store"


def restores(log):
    """{partition: (records restored, first offset or 'beginning')} of one run."""
    return streams_support.restores(log, STORE)


def changelog_ends(bootstrap, topic):
    """The high watermark of each of the topic's partitions."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("wm")})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                for p in range(PARTITIONS)}
    finally:
        consumer.close()


def make_app(bootstrap, app_factory, tmp_path, settings):
    source, sink, app_id = wc.new_topics(bootstrap, PARTITIONS)
    state_dir = str(tmp_path / "state")
    settings = dict(settings, **{"state.dir": state_dir})
    app = app_factory(bootstrap, app_id, source, sink, settings)
    task_dirs = [os.path.join(state_dir, app_id, f"1_{p}") for p in range(PARTITIONS)]
    return app, source, sink, app_id, task_dirs


def assert_counts_continue(sequences, model):
    """Each word's counts 1..n exactly once (no restart from zero, no repeat)."""
    assert set(sequences) == set(model)
    for word, seq in sequences.items():
        assert seq == list(range(1, model[word] + 1)), f"{word}: {seq}"


def test_a_clean_restart_restores_only_after_the_checkpoint(module_broker, app_factory, tmp_path):
    bootstrap = module_broker.bootstrap
    app, source, sink, app_id, task_dirs = make_app(bootstrap, app_factory, tmp_path,
                                                 {"commit.interval.ms": "200"})
    changelog = f"{app_id}-{STORE}-changelog"
    first = wc.make_lines(1500, seed=11)
    wc.produce_lines(bootstrap, source, first)
    app.start()
    assert restores(app.log()) == {p: (0, "beginning") for p in range(PARTITIONS)}
    wc.read_counts(bootstrap, sink, "read_uncommitted", wc.model_counts(first))
    app.stop()

    # Kafka's layout and checkpoint: the changelog's last offset per task.
    ends = changelog_ends(bootstrap, changelog)
    for p, task_dir in enumerate(task_dirs):
        assert os.path.isdir(os.path.join(task_dir, "rocksdb", STORE)), os.listdir(task_dir)
        assert read_checkpoint(os.path.join(task_dir, ".checkpoint")) == {(changelog, p): ends[p] - 1}
    assert sum(ends.values()) > 0

    second = wc.make_lines(1000, seed=12)
    wc.produce_lines(bootstrap, source, second)
    app.start()
    # Nothing follows the checkpoint: nothing to restore.
    assert restores(app.log()) == {p: (0, str(ends[p])) for p in range(PARTITIONS)}
    model = wc.model_counts(first + second)
    sequences = wc.read_counts(bootstrap, sink, "read_uncommitted", model)
    # An interactive query over the three tasks' RocksDB stores, while the
    # stream thread runs: the model's counts.
    assert query_counts(app) == dict(model)
    app.stop()
    assert_counts_continue(sequences, model)


def query_counts(app, timeout_s=30):
    """The count store as streams-wordcount's query (SIGUSR1) prints it."""
    done_before = app.log().count("query end")
    app.proc.send_signal(signal.SIGUSR1)
    deadline = time.time() + timeout_s
    while app.log().count("query end") == done_before:
        assert "query failed" not in app.log(), app.log()[-2000:]
        assert time.time() < deadline, "no query answer"
        time.sleep(0.05)
    answer = app.log().split("query counts-store")[-1].split("query end")[0].splitlines()
    entries = int(answer[0].split()[0])
    counts = {}
    for line in answer[1:]:
        if line.startswith("count "):  # (a log line of a stream thread may come between)
            _, word, count = line.split()
            counts[word] = int(count)
    assert len(counts) == entries
    return counts


def test_at_least_once_kill_restores_from_the_checkpoint_and_loses_nothing(
        module_broker, app_factory, tmp_path):
    bootstrap = module_broker.bootstrap
    app, source, sink, app_id, task_dirs = make_app(
        bootstrap, app_factory, tmp_path,
        {"commit.interval.ms": "300", "consumer.session.timeout.ms": "6000"})
    changelog = f"{app_id}-{STORE}-changelog"
    lines = wc.make_lines(3000, seed=13)
    app.start()
    # ~9 s of input: output and a checkpoint of every task must come
    # within it, also on a loaded machine.
    writer = threading.Thread(target=wc.produce_lines, args=(bootstrap, source, lines, 50, 0.15))
    writer.start()
    wc.wait_for_output(bootstrap, sink)
    # Let commits checkpoint an offset of every task, then kill while lines
    # still arrive.
    checkpoints = [os.path.join(d, ".checkpoint") for d in task_dirs]

    def checkpointed_offsets():
        offsets = {}
        for c in checkpoints:
            if os.path.exists(c):
                offsets.update(read_checkpoint(c))
        return offsets

    deadline = time.time() + 20
    while (len([o for o in checkpointed_offsets().values() if o >= 0]) < PARTITIONS
           and time.time() < deadline):
        time.sleep(0.05)
    assert writer.is_alive(), "the input was all written before the kill: not mid-stream"
    app.kill9()
    checkpointed = checkpointed_offsets()
    assert len([o for o in checkpointed.values() if o >= 0]) == PARTITIONS, checkpointed
    writer.join()
    ends = changelog_ends(bootstrap, changelog)
    app.start()
    restored = restores(app.log())
    for p in range(PARTITIONS):
        count, start = restored[p]
        assert start == str(checkpointed[(changelog, p)] + 1), restored
        # Only what followed the checkpoint (at most up to the end seen after the kill).
        assert count <= ends[p] - int(start), (p, restored, ends)
    model = wc.model_counts(lines)
    sequences = wc.read_counts(bootstrap, sink, "read_uncommitted", model, timeout_s=90)
    app.stop()
    for word, n in model.items():
        seq = sequences[word]
        assert seq[-1] >= n, f"{word}: counted {seq[-1]} of {n}"
        assert set(range(1, n + 1)) <= set(seq), f"{word}: a count is missing"


def test_exactly_once_v2_checkpoints_on_clean_close_and_wipes_after_a_kill(
        module_broker, app_factory, tmp_path):
    bootstrap = module_broker.bootstrap
    app, source, sink, app_id, task_dirs = make_app(
        bootstrap, app_factory, tmp_path,
        {"processing.guarantee": "exactly_once_v2", "commit.interval.ms": "300",
         "consumer.session.timeout.ms": "6000"})
    checkpoints = [os.path.join(d, ".checkpoint") for d in task_dirs]
    first = wc.make_lines(1000, seed=14)
    wc.produce_lines(bootstrap, source, first)
    app.start()
    wc.read_counts(bootstrap, sink, "read_committed", wc.model_counts(first))
    assert not any(os.path.exists(c) for c in checkpoints)  # none while processing
    app.stop()
    assert all(os.path.exists(c) for c in checkpoints)  # a clean close writes them

    app.start()
    assert all(start != "beginning" for _, start in restores(app.log()).values())
    assert not any(os.path.exists(c) for c in checkpoints)  # removed while processing
    second = wc.make_lines(2000, seed=15)
    # ~6 s of input: the restart's first transactions (the consumer's
    # committed offsets fetched after the restore, a commit taking up to a
    # second on a loaded machine) must fall within it.
    writer = threading.Thread(target=wc.produce_lines, args=(bootstrap, source, second, 50, 0.15))
    output_before = sum(changelog_ends(bootstrap, sink).values())
    writer.start()
    # Kill once the second batch is being processed (transactions open).
    deadline = time.time() + 20
    while sum(changelog_ends(bootstrap, sink).values()) == output_before:
        assert time.time() < deadline, "no output of the second batch within 20 s"
        time.sleep(0.05)
    assert writer.is_alive(), "the input was all written before the kill: not mid-stream"
    app.kill9()
    writer.join()
    app.start()
    log = app.log()
    assert "did not find checkpoint offsets while stores are not empty" in log
    assert restores(log) == {p: (restores(log)[p][0], "beginning") for p in range(PARTITIONS)}
    model = wc.model_counts(first + second)
    sequences = wc.read_counts(bootstrap, sink, "read_committed", model, timeout_s=90)
    app.stop()
    assert_counts_continue(sequences, model)


def test_a_second_instance_on_the_same_state_directory_fails_clearly(
        module_broker, app_factory, tmp_path):
    bootstrap = module_broker.bootstrap
    app, source, sink, app_id, _ = make_app(bootstrap, app_factory, tmp_path, {})
    app.start()
    second = subprocess.run(app.cmd, capture_output=True, text=True, timeout=60)
    app.stop()
    assert second.returncode == 1
    assert ("Unable to initialize state, this can happen if multiple instances of Kafka Streams "
            "are running in the same state directory (current state directory is "
            f"[{tmp_path / 'state' / app_id}]") in second.stderr, second.stderr
