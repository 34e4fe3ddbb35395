"""Metadata v12 on the wire: brokers, cluster id, topic ids, auto-creation as Kafka does
it (broker switch auto.create.topics.enable AND the request's allow_auto_topic_creation),
unknown and invalid topic names."""

import time

import kafka_wire as kw
from conftest import unique_topic

ZERO_ID = "00" * 16
UNKNOWN_TOPIC_OR_PARTITION = 3
LEADER_NOT_AVAILABLE = 5
INVALID_TOPIC_EXCEPTION = 17


def wait_created(port, topic, timeout_s=10):
    """Kafka may answer LEADER_NOT_AVAILABLE while an auto-created topic settles."""
    deadline = time.monotonic() + timeout_s
    while True:
        t = kw.metadata_v12(port, [topic], allow_auto_create=True)["topics"][topic]
        if t["error"] == 0 or time.monotonic() > deadline:
            return t
        assert t["error"] == LEADER_NOT_AVAILABLE, t
        time.sleep(0.1)


def test_brokers_and_cluster(broker_factory):
    b = broker_factory()
    md = kw.metadata_v12(b.port, [], allow_auto_create=False)
    assert md["brokers"] == [(1, "127.0.0.1", b.port)]
    assert md["controller_id"] == 1
    assert md["cluster_id"], "cluster id is null or empty"
    assert md["topics"] == {}


def test_auto_creation_needs_broker_switch_and_request_flag(broker_factory):
    b = broker_factory({"auto.create.topics.enable": "true", "num.partitions": "2"})
    quiet = unique_topic("quiet")
    t = kw.metadata_v12(b.port, [quiet], allow_auto_create=False)["topics"][quiet]
    assert t["error"] == UNKNOWN_TOPIC_OR_PARTITION and t["partitions"] == {}
    assert quiet not in kw.metadata_v12(b.port, None, allow_auto_create=False)["topics"], \
        "allow_auto_topic_creation=false created the topic"

    made = unique_topic("auto")
    t = wait_created(b.port, made)
    assert t["error"] == 0, t
    assert t["id"] != ZERO_ID and not t["internal"]
    assert sorted(t["partitions"]) == [0, 1]
    for p in t["partitions"].values():
        assert (p["error"], p["leader"], p["replicas"], p["isr"], p["offline"]) == (0, 1, [1], [1], []), p
        assert p["leader_epoch"] >= 0
    listed = kw.metadata_v12(b.port, None, allow_auto_create=False)["topics"]
    assert listed[made]["id"] == t["id"], "topic id changed between two requests"

    bad = "no spaces allowed"
    t = kw.metadata_v12(b.port, [bad], allow_auto_create=True)["topics"][bad]
    assert t["error"] == INVALID_TOPIC_EXCEPTION, t


def test_no_auto_creation_when_the_broker_forbids_it(broker_factory):
    b = broker_factory({"auto.create.topics.enable": "false"})
    name = unique_topic("never")
    t = kw.metadata_v12(b.port, [name], allow_auto_create=True)["topics"][name]
    assert t["error"] == UNKNOWN_TOPIC_OR_PARTITION, t
    assert name not in kw.metadata_v12(b.port, None, allow_auto_create=False)["topics"]


def test_topic_ids_and_cluster_id_survive_restart(broker_factory):
    b = broker_factory({"num.partitions": "3"})
    name = unique_topic("ids")
    before = wait_created(b.port, name)
    cluster = kw.metadata_v12(b.port, [], allow_auto_create=False)["cluster_id"]
    b.restart()
    md = kw.metadata_v12(b.port, [name], allow_auto_create=False)
    after = md["topics"][name]
    assert after["error"] == 0 and after["id"] == before["id"], (before["id"], after)
    assert sorted(after["partitions"]) == [0, 1, 2]
    assert md["cluster_id"] == cluster
    for i, p in after["partitions"].items():
        assert p["leader_epoch"] >= before["partitions"][i]["leader_epoch"]
