"""`sluice connect distributed` with exactly.once.source.support=enabled
(KIP-618): two workers of a group, a file source whose worker is killed
with kill -9 mid-stream; the task moves to the other worker, whose
transactional producer fences the killed instance, and a read_committed
consumer sees every line exactly once, in order."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import unique_topic  # noqa: E402
from connect_harness import FILE_SOURCE, append, consume_all, create_topic, wait_for  # noqa: E402
from test_distributed import (DistributedWorker, create_when_ready,  # noqa: E402
                              everything_running, owners)


def test_exactly_once_source_across_kill_9(broker, tmp_path):
    """exactly.once.source.support=enabled (KIP-618): each poll's records and
    offsets are one transaction; the source's worker is killed mid-stream and
    the task moves: a read_committed consumer sees every line exactly once,
    in order (the killed instance's open transaction is fenced and aborted)."""
    group = unique_topic("connect-eos")
    workers = [DistributedWorker(str(tmp_path / f"w{i}"), broker.bootstrap, group,
                                 {"exactly.once.source.support": "enabled"}) for i in range(2)]
    try:
        topic = unique_topic("eos")
        create_topic(broker.bootstrap, topic, partitions=1)
        source_file = str(tmp_path / "in.txt")
        open(source_file, "wb").close()
        for w in workers:
            w.start()
        create_when_ready(workers[0].port, "src", {
            "connector.class": FILE_SOURCE, "file": source_file, "topic": topic,
            "batch.size": "50"})
        alive = {w.worker_id for w in workers}
        wait_for(lambda: everything_running(workers[1].port, "src", 1, alive), "src running")
        lines = [f"eos {i:05d}" for i in range(2000)]
        append(source_file, lines[:100])
        consume_all(broker.bootstrap, topic, 100)
        done = threading.Event()

        def writer():
            for start in range(100, len(lines), 20):
                append(source_file, lines[start:start + 20])
                time.sleep(0.02)
            done.set()

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        time.sleep(0.5)
        owner = owners(workers[1].port)["src-0"]
        victim = next(w for w in workers if w.worker_id == owner)
        survivor = next(w for w in workers if w is not victim)
        victim.kill9()
        wait_for(lambda: everything_running(survivor.port, "src", 1, {survivor.worker_id}),
                 "src running on the survivor", timeout_s=40)
        thread.join(30)
        assert done.is_set()
        records = consume_all(broker.bootstrap, topic, len(lines), timeout_s=60)
        values = [m.value().decode() for m in records]
        print(f"\nexactly once: {len(values)} committed records for {len(lines)} lines")
        assert values == lines, (f"{len(values)} records; duplicates "
                                 f"{len(values) - len(set(values))}, missing {len(set(lines) - set(values))}")
        survivor.clean_stop()
    except BaseException:
        for w in workers:
            if w.starts:
                tail = "\n".join(w.log_text().splitlines()[-80:])
                print(f"\n===== {w.workdir} =====\n{tail}", file=sys.stderr)
        raise
    finally:
        for w in workers:
            if w.alive():
                w.stop()
