"""Metadata snapshots on real processes (issue 15): three combined nodes with
a tiny `metadata.log.max.record.bytes.between.snapshots` write Kafka's
`<offset>-<epoch>.checkpoint` files and drop the log segments behind them; a
node stopped while the leader's log start passes its end fetches the
leader's snapshot (FetchSnapshot) when it comes back and shows every topic;
a restarted node loads its own snapshot and replays only the log after it."""

import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import Cluster, describe_quorum, wait_for  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

CHECKPOINT = re.compile(r"^(\d{20})-(\d{10})\.checkpoint$")
SEGMENT = re.compile(r"^(\d{20})\.log$")

SETTINGS = {
    "metadata.log.max.record.bytes.between.snapshots": "2048",
    # Small segments, so a snapshot leaves whole segments behind it to delete.
    "metadata.log.segment.bytes": "8192",
}


@pytest.fixture
def cluster(broker_factory):
    c = Cluster(broker_factory, settings=SETTINGS)
    c.wait_brokers_listed()
    yield c
    c.close()


def metadata_dir(node):
    return os.path.join(node.data_dir, "__cluster_metadata-0")


def checkpoints(node):
    """[(end offset, epoch)] of the node's snapshot files, oldest first."""
    out = []
    for name in os.listdir(metadata_dir(node)):
        m = CHECKPOINT.match(name)
        if m:
            out.append((int(m.group(1)), int(m.group(2))))
    return sorted(out)


def segments(node):
    return sorted(int(m.group(1)) for m in map(SEGMENT.match, os.listdir(metadata_dir(node))) if m)


def create_topics(node, names, partitions=4):
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    futures = admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1)
                                   for n in names], operation_timeout=20, request_timeout=30)
    for future in futures.values():
        future.result(timeout=40)


def last_log(node):
    with open(node.process.log_path, errors="replace") as f:
        return f.read()


def test_snapshots_trim_the_log_and_a_lagging_node_fetches_the_leaders(cluster):
    leader, _ = cluster.leader()
    names = []
    batch = 0

    def create_more(count=10):
        nonlocal batch
        new = [f"snap-{batch}-{i}" for i in range(count)]
        batch += 1
        create_topics(cluster.node(leader), new)
        names.extend(new)

    # Every node snapshots its own image and drops the segments behind it.
    for _ in range(6):
        create_more()
    for node in cluster.nodes:
        wait_for(lambda: checkpoints(node) and segments(node) and segments(node)[0] > 0, 20,
                 f"node {node.id} has no snapshot with its first log segment deleted "
                 f"(checkpoints {checkpoints(node)}, segments {segments(node)})")
        # Older snapshots go once a newer one is written, and the segments
        # behind the snapshot are removed, not left renamed *.deleted.
        assert len(checkpoints(node)) <= 2, checkpoints(node)
        # (a segment's index files may trail its .log by a moment)
        wait_for(lambda: not [n for n in os.listdir(metadata_dir(node)) if n.endswith(".deleted")],
                 10, f"node {node.id} keeps *.deleted files: {os.listdir(metadata_dir(node))}")

    # Node 3 stops; the leader's log start passes node 3's log end (at most
    # the high watermark once the topics above are committed and nothing
    # else is written).
    lagging = cluster.node(3) if leader != 3 else cluster.node(2)
    assert lagging.stop() == 0
    leader_node = cluster.node(leader)
    _, _, _, lagging_end = describe_quorum(leader_node.controller_port)
    for _ in range(30):
        create_more()
        if checkpoints(leader_node)[-1][0] > lagging_end:
            break
    start = checkpoints(leader_node)[-1][0]
    assert start > lagging_end, f"the leader's log start {start} is not past {lagging_end}"

    lagging.start()
    wait_for(lambda: set(names) <= cluster.topics_on(lagging), 30,
             f"node {lagging.id} does not show every topic after its restart")
    log = last_log(lagging)
    assert "installed the leader's snapshot" in log, log[-3000:]
    assert checkpoints(lagging)[-1][0] >= start

    # A restart loads its own snapshot and replays only the log after it.
    restarted = lagging
    restarted.restart()
    # The loader writes its line once the load is applied, which may come
    # after "started" (it failed once in CI when read at once).
    pattern = r"start-up load: snapshot (\S+\.checkpoint) \((\d+) records\), then (\d+) records"
    wait_for(lambda: re.search(pattern, last_log(restarted)), 10,
             f"node {restarted.id} does not log its start-up load")
    log = last_log(restarted)
    m = re.search(pattern, log)
    assert m, log[-3000:]
    assert CHECKPOINT.match(m.group(1))
    assert int(m.group(2)) > len(names)  # topics and partitions at least
    wait_for(lambda: set(names) <= cluster.topics_on(restarted), 30,
             f"node {restarted.id} does not show every topic after loading its snapshot")
