"""Old request versions, as raw frames (issue 14, point 2): Sluice serves every version
Kafka 3.9 served (KIP-896 raised the minimums only in 4.0), and answers them with their
content, not only a reply. Produce v0-2 and Fetch v0-3 (the legacy message formats) have
their own tests.

Kafka's behaviour followed, per API:
- ListOffsets v0: KafkaApis.handleListOffsetRequestV0 -> UnifiedLog.legacyFetchOffsetsBefore:
  up to max_num_offsets segment start offsets (plus the log end offset when the active
  segment holds data) of segments last modified at or before the time, largest first;
  -1 from the newest, -2 from the oldest; other negative times UNSUPPORTED_VERSION.
- OffsetCommit v0/v1 and OffsetFetch v0: Kafka 3.9 kept v0 offsets in ZooKeeper; Sluice
  has none, so they are the coordinator's "simple" commits (generation -1, no member),
  read back by any OffsetFetch version. v1's commit_timestamp is the commit's time.
- OffsetForLeaderEpoch v0/v1, DescribeLogDirs v0, and the v0 of the APIs already served
  from v0 (Metadata, CreateTopics, DeleteTopics, DescribeConfigs, the group APIs)."""

import time

import pytest

import kafka_wire as kw
from kafka_wire import Writer
import hostile_wire as hw
from conftest import unique_topic

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}

API_OFFSET_COMMIT = 8
API_OFFSET_FETCH = 9
API_FIND_COORDINATOR = 10
API_JOIN_GROUP = 11
API_HEARTBEAT = 12
API_LEAVE_GROUP = 13
API_SYNC_GROUP = 14
API_DESCRIBE_GROUPS = 15
API_LIST_GROUPS = 16
API_CREATE_TOPICS = 19
API_DELETE_TOPICS = 20
API_OFFSET_FOR_LEADER_EPOCH = 23
API_DESCRIBE_CONFIGS = 32
API_ALTER_CONFIGS = 33
API_DESCRIBE_LOG_DIRS = 35
API_CREATE_PARTITIONS = 37
API_DELETE_GROUPS = 42
API_DESCRIBE_CLUSTER = 60

UNKNOWN_TOPIC_OR_PARTITION = 3
UNKNOWN_MEMBER_ID = 25
UNSUPPORTED_VERSION = 35

# validVersions of Kafka 3.9's clients/src/main/resources/common/message/*Request.json,
# for every API Sluice implements.
KAFKA_3_9_RANGES = {
    0: (0, 11), 1: (0, 17), 2: (0, 9), 3: (0, 12), 8: (0, 9), 9: (0, 9), 10: (0, 6),
    11: (0, 9), 12: (0, 4), 13: (0, 5), 14: (0, 5), 15: (0, 5), 16: (0, 5), 18: (0, 4),
    19: (0, 7), 20: (0, 6), 21: (0, 2), 23: (0, 4), 28: (0, 4), 32: (0, 4), 33: (0, 2), 35: (0, 4),
    37: (0, 3), 42: (0, 2), 44: (0, 1), 47: (0, 0), 60: (0, 1),
}
# Produce and Fetch below v3/v4 carry the legacy message formats: served by that work.
LEGACY_FORMAT_APIS = {0, 1}


def call(port, api_key, version, writer, correlation_id=7):
    with kw.connect(port, timeout_s=30) as sock:
        return kw.call(sock, api_key, version, bytes(writer.buf), correlation_id)


def string_array(w, items):
    return w.array(list(items), lambda ww, s: ww.string(s))


def create_topic_v0(port, name, partitions, configs=()):
    """CreateTopics v0 (waits up to 30 s); returns the topic's error code."""
    def topic(w, _):
        w.string(name).i32(partitions).i16(1).array([], None)
        w.array(list(configs), lambda ww, c: ww.string(c[0]).string(c[1]))

    r = call(port, API_CREATE_TOPICS, 0, Writer().array([None], topic).i32(30000))
    [(got_name, error)] = r.array(lambda t: (t.string(), t.i16()))
    assert got_name == name
    return error


def produce(port, topic, partition, count):
    error, base = hw.produce_v3(port, topic, partition,
                                hw.record_batch([(b"k%d" % i, b"v%d" % i) for i in range(count)]))
    assert error == 0, error
    return base


def list_offsets_v0(port, topic, asked, replica_id=-1):
    """asked: [(partition, timestamp, max_num_offsets)]; returns {partition: (error, offsets)}."""
    def partition(w, item):
        w.i32(item[0]).i64(item[1]).i32(item[2])

    w = Writer().i32(replica_id).array([topic], lambda ww, t: ww.string(t).array(asked, partition))
    r = call(port, kw.API_LIST_OFFSETS, 0, w)
    out = {}
    for _name, parts in r.array(lambda t: (t.string(), t.array(
            lambda p: (p.i32(), p.i16(), p.array(lambda o: o.i64()))))):
        for index, error, offsets in parts:
            out[index] = (error, offsets)
    assert r.remaining() == 0, "v0 has no field after old_style_offsets"
    return out


@pytest.fixture(scope="module")
def served(module_broker):
    error, versions = kw.api_versions(module_broker.port)
    assert error == 0
    return versions


def test_every_kafka_3_9_version_is_served(served):
    for api_key, (kafka_min, kafka_max) in KAFKA_3_9_RANGES.items():
        assert api_key in served, f"API {api_key} not advertised"
        lo, hi = served[api_key]
        assert hi >= kafka_max, f"API {api_key}: Sluice serves up to v{hi}, Kafka 3.9 v{kafka_max}"
        if api_key not in LEGACY_FORMAT_APIS:
            assert lo <= kafka_min, f"API {api_key}: Sluice serves from v{lo}, Kafka 3.9 from v{kafka_min}"


def test_list_offsets_v0_answers_segment_starts(module_broker):
    port = module_broker.port
    topic = unique_topic("lo0")
    assert create_topic_v0(port, topic, 2) == 0
    produce(port, topic, 0, 3)
    produce(port, topic, 0, 2)
    future_ms = int(time.time() * 1000) + 3_600_000
    got = list_offsets_v0(port, topic, [(0, -1, 10), (1, -1, 10)])
    # Partition 0: one segment starting at 0 plus the log end (the active segment
    # holds data); partition 1 is empty: its only segment's start.
    assert got == {0: (0, [5, 0]), 1: (0, [0])}
    assert list_offsets_v0(port, topic, [(0, -1, 1)]) == {0: (0, [5])}
    assert list_offsets_v0(port, topic, [(0, -2, 10)]) == {0: (0, [0])}
    assert list_offsets_v0(port, topic, [(0, future_ms, 10)]) == {0: (0, [5, 0])}
    # Before the segment was last written: nothing.
    assert list_offsets_v0(port, topic, [(0, 1, 10)]) == {0: (0, [])}
    # v0 knows -1 and -2 only among negative times.
    assert list_offsets_v0(port, topic, [(0, -3, 10)]) == {0: (UNSUPPORTED_VERSION, [])}
    assert list_offsets_v0(port, topic, [(7, -1, 10)]) == {7: (UNKNOWN_TOPIC_OR_PARTITION, [])}
    # A segment's start is never below the log start offset.
    assert kw.delete_records(port, topic, {0: 2}) == {0: (0, 2)}
    assert list_offsets_v0(port, topic, [(0, -2, 10)]) == {0: (0, [2])}
    assert list_offsets_v0(port, topic, [(0, -1, 10)]) == {0: (0, [5, 2])}


def offset_commit_v0(port, group, topic, offsets):
    def partition(w, item):
        w.i32(item[0]).i64(item[1]).string(item[2])

    w = Writer().string(group).array([topic], lambda ww, t: ww.string(t).array(offsets, partition))
    r = call(port, API_OFFSET_COMMIT, 0, w)
    return {(t, p): e for t, parts in r.array(lambda tt: (tt.string(), tt.array(lambda p: (p.i32(), p.i16()))))
            for p, e in parts}


def offset_commit_v1(port, group, generation, member, topic, offsets):
    """offsets: [(partition, offset, commit_timestamp, metadata)]."""
    def partition(w, item):
        w.i32(item[0]).i64(item[1]).i64(item[2]).string(item[3])

    w = Writer().string(group).i32(generation).string(member)
    w.array([topic], lambda ww, t: ww.string(t).array(offsets, partition))
    r = call(port, API_OFFSET_COMMIT, 1, w)
    return {(t, p): e for t, parts in r.array(lambda tt: (tt.string(), tt.array(lambda p: (p.i32(), p.i16()))))
            for p, e in parts}


def offset_fetch_v0(port, group, topic, partitions, version=0):
    w = Writer().string(group).array([topic], lambda ww, t: ww.string(t).array(partitions, lambda www, p: www.i32(p)))
    r = call(port, API_OFFSET_FETCH, version, w)
    out = {}
    for _name, parts in r.array(lambda t: (t.string(), t.array(lambda p: (p.i32(), p.i64(), p.string(), p.i16())))):
        for index, offset, metadata, error in parts:
            out[index] = (offset, metadata, error)
    assert r.remaining() == 0, "v0/v1 have no group error nor throttle time"
    return out


def test_offset_commit_v0_v1_and_offset_fetch_v0(module_broker):
    port = module_broker.port
    topic = unique_topic("oc0")
    assert create_topic_v0(port, topic, 2) == 0
    group = unique_topic("oc0-group")
    assert kw.find_coordinator(port, group)[0] == 0
    assert offset_commit_v0(port, group, topic, [(0, 42, "zero"), (1, 7, "")]) == {(topic, 0): 0, (topic, 1): 0}
    assert offset_fetch_v0(port, group, topic, [0, 1]) == {0: (42, "zero", 0), 1: (7, "", 0)}
    # v1: a simple commit (generation -1, no member) naming its time; read back by v0 and v1.
    assert offset_commit_v1(port, group, -1, "", topic, [(0, 43, int(time.time() * 1000), "one")]) == \
        {(topic, 0): 0}
    assert offset_fetch_v0(port, group, topic, [0, 1]) == {0: (43, "one", 0), 1: (7, "", 0)}
    assert offset_fetch_v0(port, group, topic, [0], version=1) == {0: (43, "one", 0)}
    # A member's commit (v1 names one) into a group without that member.
    assert offset_commit_v1(port, group, 3, "nobody", topic, [(0, 1, -1, "")]) == {(topic, 0): UNKNOWN_MEMBER_ID}
    # A partition that does not exist is refused before the coordinator, as Kafka does.
    assert offset_commit_v0(port, group, topic, [(9, 1, "")]) == {(topic, 9): UNKNOWN_TOPIC_OR_PARTITION}
    assert offset_fetch_v0(port, group, topic, [0]) == {0: (43, "one", 0)}


def offset_for_leader_epoch(port, topic, version, partitions):
    w = Writer().array([topic], lambda ww, t: ww.string(t).array(partitions, lambda www, p: www.i32(p).i32(0)))
    r = call(port, API_OFFSET_FOR_LEADER_EPOCH, version, w)

    def partition(p):
        error, index = p.i16(), p.i32()
        epoch = p.i32() if version >= 1 else None
        return index, (error, epoch, p.i64())

    [(name, parts)] = r.array(lambda t: (t.string(), t.array(partition)))
    assert name == topic and r.remaining() == 0
    return dict(parts)


def test_offset_for_leader_epoch_v0_v1(module_broker):
    port = module_broker.port
    topic = unique_topic("ole")
    assert create_topic_v0(port, topic, 1) == 0
    produce(port, topic, 0, 4)
    assert offset_for_leader_epoch(port, topic, 0, [0, 5]) == \
        {0: (0, None, 4), 5: (UNKNOWN_TOPIC_OR_PARTITION, None, -1)}
    assert offset_for_leader_epoch(port, topic, 1, [0]) == {0: (0, 0, 4)}


def test_describe_log_dirs_v0(module_broker):
    port = module_broker.port
    topic = unique_topic("dld")
    assert create_topic_v0(port, topic, 2) == 0
    produce(port, topic, 1, 3)
    w = Writer().array([topic], lambda ww, t: ww.string(t).array([0, 1], lambda www, p: www.i32(p)))
    r = call(port, API_DESCRIBE_LOG_DIRS, 0, w)
    r.i32()  # throttle

    def result(d):
        error, path = d.i16(), d.string()
        topics = d.array(lambda t: (t.string(), t.array(lambda p: (p.i32(), p.i64(), p.i64(), p.i8()))))
        return error, path, topics

    [(error, path, topics)] = r.array(result)
    assert r.remaining() == 0, "v0 has no total/usable bytes"
    assert error == 0 and path == module_broker.data_dir
    [(name, partitions)] = topics
    sizes = {index: size for index, size, lag, future in partitions if lag == 0 and future == 0}
    assert name == topic and sizes.keys() == {0, 1}
    assert sizes[0] == 0 and sizes[1] > 0


def test_metadata_v0_empty_list_means_every_topic(module_broker):
    port = module_broker.port
    topic = unique_topic("md0")
    assert create_topic_v0(port, topic, 2) == 0

    def metadata_v0(topics):
        r = call(port, kw.API_METADATA, 0, string_array(Writer(), topics))
        brokers = r.array(lambda b: (b.i32(), b.string(), b.i32()))
        found = r.array(lambda t: (t.i16(), t.string(), t.array(
            lambda p: (p.i16(), p.i32(), p.i32(), p.array(lambda x: x.i32()), p.array(lambda x: x.i32())))))
        assert r.remaining() == 0
        return brokers, {name: (error, sorted(parts)) for error, name, parts in found}

    brokers, topics = metadata_v0([])
    assert brokers == [(1, "127.0.0.1", port)]
    assert topics[topic] == (0, [(0, 0, 1, [1], [1]), (0, 1, 1, [1], [1])])
    _, only = metadata_v0([topic])
    assert list(only) == [topic]


def test_create_describe_delete_topic_v0(module_broker):
    port = module_broker.port
    topic = unique_topic("ct0")
    assert create_topic_v0(port, topic, 1, [("cleanup.policy", "compact")]) == 0
    assert create_topic_v0(port, topic, 1) == 36  # TOPIC_ALREADY_EXISTS

    w = Writer().array([topic], lambda ww, t: string_array(ww.i8(2).string(t), ["cleanup.policy", "retention.ms"]))
    r = call(port, API_DESCRIBE_CONFIGS, 0, w)
    r.i32()  # throttle

    def result(x):
        error, _message, kind, name = x.i16(), x.string(), x.i8(), x.string()
        configs = x.array(lambda c: (c.string(), c.string(), c.i8(), c.i8(), c.i8()))
        return error, kind, name, configs

    [(error, kind, name, configs)] = r.array(result)
    assert (error, kind, name) == (0, 2, topic)
    # v0's is_default (no config_source): the topic's own setting is not a default.
    assert dict((c[0], (c[1], c[3])) for c in configs) == \
        {"cleanup.policy": ("compact", 0), "retention.ms": ("604800000", 1)}

    r = call(port, API_DELETE_TOPICS, 0, string_array(Writer(), [topic, unique_topic("none")]).i32(30000))
    answers = dict(r.array(lambda t: (t.string(), t.i16())))
    assert answers[topic] == 0 and sorted(answers.values()) == [0, UNKNOWN_TOPIC_OR_PARTITION]


def test_group_apis_v0(module_broker):
    """A consumer of 2015: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetCommit,
    DescribeGroups, ListGroups, LeaveGroup and DeleteGroups, all v0."""
    port = module_broker.port
    topic = unique_topic("g0")
    assert create_topic_v0(port, topic, 1) == 0
    group = unique_topic("g0-group")
    assert kw.find_coordinator(port, group)[0] == 0
    subscription = bytes(Writer().i16(0).array([topic], lambda w, t: w.string(t)).i32(-1).buf)
    with kw.connect(port, timeout_s=30) as sock:
        w = Writer().string(group).i32(10000).string("").string("consumer")
        w.array(["range"], lambda ww, name: ww.string(name).i32(len(subscription)).raw(subscription))
        r = kw.call(sock, API_JOIN_GROUP, 0, bytes(w.buf), 1)
        error, generation, protocol, leader, member = r.i16(), r.i32(), r.string(), r.string(), r.string()
        members = r.array(lambda m: (m.string(), m._take(m.i32())))
        assert (error, generation, protocol, leader) == (0, 1, "range", member), "v0 joins without KIP-394"
        assert [m for m, _ in members] == [member]

        assignment = b"\x00\x00\x00\x00\x00\x00\x00\x00"
        w = Writer().string(group).i32(generation).string(member)
        w.array([member], lambda ww, m: ww.string(m).i32(len(assignment)).raw(assignment))
        r = kw.call(sock, API_SYNC_GROUP, 0, bytes(w.buf), 2)
        assert r.i16() == 0 and r.i32() == len(assignment) and r._take(len(assignment)) == assignment

        r = kw.call(sock, API_HEARTBEAT, 0, bytes(Writer().string(group).i32(generation).string(member).buf), 3)
        assert r.i16() == 0
        r = kw.call(sock, API_HEARTBEAT, 0, bytes(Writer().string(group).i32(generation).string("x").buf), 4)
        assert r.i16() == UNKNOWN_MEMBER_ID

        r = kw.call(sock, API_DESCRIBE_GROUPS, 0, bytes(string_array(Writer(), [group]).buf), 5)
        [(error, group_id, state, protocol_type, protocol_data, described)] = r.array(
            lambda g: (g.i16(), g.string(), g.string(), g.string(), g.string(),
                       g.array(lambda m: (m.string(), m.string(), m.string(), m._take(m.i32()), m._take(m.i32())))))
        assert (error, group_id, state, protocol_type, protocol_data) == (0, group, "Stable", "consumer", "range")
        assert [(m[0], m[2], m[4]) for m in described] == [(member, "/127.0.0.1", assignment)]

        r = kw.call(sock, API_LIST_GROUPS, 0, b"", 6)
        assert r.i16() == 0
        assert (group, "consumer") in r.array(lambda g: (g.string(), g.string()))

        r = kw.call(sock, API_LEAVE_GROUP, 0, bytes(Writer().string(group).string(member).buf), 7)
        assert r.i16() == 0
        r = kw.call(sock, API_DELETE_GROUPS, 0, bytes(string_array(Writer(), [group]).buf), 8)
        r.i32()  # throttle
        assert r.array(lambda g: (g.string(), g.i16())) == [(group, 0)]


def describe_topic_configs_v0(port, topic, names):
    w = Writer().array([topic], lambda ww, t: string_array(ww.i8(2).string(t), names))
    r = call(port, API_DESCRIBE_CONFIGS, 0, w)
    r.i32()  # throttle
    [configs] = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.string(),
                                   x.array(lambda c: (c.string(), c.string(), c.i8(), c.i8(), c.i8())))[4])
    return {c[0]: c[1] for c in configs}


def test_admin_apis_v0(module_broker):
    """CreatePartitions, AlterConfigs and DescribeCluster at v0."""
    port = module_broker.port
    topic = unique_topic("adm0")
    assert create_topic_v0(port, topic, 1) == 0

    def new_partitions(count, validate_only):
        w = Writer().array([topic], lambda ww, t: ww.string(t).i32(count).i32(-1)).i32(30000)
        r = call(port, API_CREATE_PARTITIONS, 0, w.i8(1 if validate_only else 0))
        r.i32()  # throttle
        return r.array(lambda t: (t.string(), t.i16(), t.string()))

    assert new_partitions(3, True) == [(topic, 0, None)]
    assert new_partitions(3, False) == [(topic, 0, None)]
    assert new_partitions(2, False)[0][1] == 37  # INVALID_PARTITIONS: never fewer
    r = call(port, kw.API_METADATA, 0, string_array(Writer(), [topic]))
    r.array(lambda b: (b.i32(), b.string(), b.i32()))
    [(error, _name, partitions)] = r.array(lambda t: (t.i16(), t.string(), t.array(
        lambda p: (p.i16(), p.i32(), p.i32(), p.array(lambda x: x.i32()), p.array(lambda x: x.i32())))))
    assert error == 0 and sorted(p[1] for p in partitions) == [0, 1, 2]

    w = Writer().array([topic], lambda ww, t: ww.i8(2).string(t).array(
        [("retention.ms", "1000")], lambda www, c: www.string(c[0]).string(c[1]))).i8(0)
    r = call(port, API_ALTER_CONFIGS, 0, w)
    r.i32()  # throttle
    assert r.array(lambda x: (x.i16(), x.string(), x.i8(), x.string())) == [(0, None, 2, topic)]
    assert describe_topic_configs_v0(port, topic, ["retention.ms"]) == {"retention.ms": "1000"}

    with kw.connect(port) as sock:  # flexible in every version: header v2, response header v1
        r = kw.call(sock, API_DESCRIBE_CLUSTER, 0, bytes(Writer().i8(0).no_tags().buf), 9, flexible=True)
    r.i32()  # throttle
    error, message, cluster_id, controller = r.i16(), r.compact_string(), r.compact_string(), r.i32()

    def broker(b):
        out = (b.i32(), b.compact_string(), b.i32(), b.compact_string())
        b.skip_tags()
        return out

    brokers = r.compact_array(broker)
    assert (error, message, controller) == (0, None, 1) and cluster_id
    assert brokers == [(1, "127.0.0.1", port, None)]
