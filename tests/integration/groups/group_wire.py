"""Raw group-coordinator requests (non-flexible versions, written by hand from Kafka's
schemas), on kafka_wire's framing: for tests that send what no client would, and for
bench/group_bench.py. Each function takes an open socket (kafka_wire.connect)."""

import itertools

import kafka_wire
from kafka_wire import Writer

API_OFFSET_COMMIT = 8
API_OFFSET_FETCH = 9
API_JOIN_GROUP = 11
API_HEARTBEAT = 12
API_LEAVE_GROUP = 13
API_SYNC_GROUP = 14
API_DELETE_GROUPS = 42
API_OFFSET_DELETE = 47

# Kafka's error codes the tests expect.
NONE = 0
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79
GROUP_SUBSCRIBED_TO_TOPIC = 86

_correlation = itertools.count(1000)


def _bytes(w, data):
    w.i32(len(data)).raw(data)


def _read_bytes(r):
    n = r.i32()
    return b"" if n < 0 else r._take(n)


def consumer_subscription(topics):
    """ConsumerProtocolSubscription v0: the metadata a consumer sends in JoinGroup."""
    w = Writer().i16(0).array(topics, lambda w, t: w.string(t))
    _bytes(w, b"")  # user data
    return bytes(w.buf)


def consumer_assignment(topic, partitions):
    """ConsumerProtocolAssignment v0 for one topic."""
    w = Writer().i16(0).array([topic], lambda w, t: w.string(t).array(partitions, lambda w, p: w.i32(p)))
    _bytes(w, b"")
    return bytes(w.buf)


def join_group_body(group, member_id="", topics=("t",), session_timeout_ms=10000, rebalance_timeout_ms=10000,
                    instance_id=None, protocol="range", version=5):
    """JoinGroup v3-5 body (v3 and v4 have no group_instance_id; v3 joins without KIP-394)."""
    w = Writer().string(group).i32(session_timeout_ms).i32(rebalance_timeout_ms).string(member_id)
    if version >= 5:
        w.string(instance_id)
    w.string("consumer")
    w.array([protocol], lambda w, name: (w.string(name), _bytes(w, consumer_subscription(list(topics)))))
    return bytes(w.buf)


def parse_join_group(r, version=5):
    r.i32()  # throttle
    out = {"error": r.i16(), "generation": r.i32(), "protocol": r.string(), "leader": r.string(),
           "member_id": r.string()}
    instance = (lambda m: m.string()) if version >= 5 else (lambda m: None)
    out["members"] = r.array(lambda m: (m.string(), instance(m), _read_bytes(m)))
    return out


def join_group(sock, group, **options):
    """JoinGroup v5; returns a dict (error, generation, protocol, leader, member_id, members)."""
    r = kafka_wire.call(sock, API_JOIN_GROUP, 5, join_group_body(group, **options), next(_correlation))
    return parse_join_group(r)


def join_new_member(sock, group, **options):
    """A dynamic member through KIP-394's two steps; returns the second answer."""
    first = join_group(sock, group, **options)
    if first["error"] != MEMBER_ID_REQUIRED:
        return first
    return join_group(sock, group, member_id=first["member_id"], **options)


def sync_group_body(group, generation, member_id, assignments=(), instance_id=None):
    """SyncGroup v3 body with [(member_id, bytes)]."""
    w = Writer().string(group).i32(generation).string(member_id).string(instance_id)
    w.array(list(assignments), lambda w, a: (w.string(a[0]), _bytes(w, a[1])))
    return bytes(w.buf)


def parse_sync_group(r):
    r.i32()
    return r.i16(), _read_bytes(r)


def sync_group(sock, group, generation, member_id, assignments=(), instance_id=None):
    """SyncGroup v3; returns (error, assignment bytes)."""
    body = sync_group_body(group, generation, member_id, assignments, instance_id)
    return parse_sync_group(kafka_wire.call(sock, API_SYNC_GROUP, 3, body, next(_correlation)))


def heartbeat(sock, group, generation, member_id, instance_id=None):
    """Heartbeat v3; returns the error code."""
    w = Writer().string(group).i32(generation).string(member_id).string(instance_id)
    r = kafka_wire.call(sock, API_HEARTBEAT, 3, bytes(w.buf), next(_correlation))
    r.i32()
    return r.i16()


def leave_group(sock, group, member_ids):
    """LeaveGroup v3 (batched); returns (error, [(member_id, error)])."""
    w = Writer().string(group).array(list(member_ids), lambda w, m: (w.string(m), w.string(None)))
    r = kafka_wire.call(sock, API_LEAVE_GROUP, 3, bytes(w.buf), next(_correlation))
    r.i32()
    error = r.i16()
    return error, r.array(lambda m: (m.string(), m.string(), m.i16()))


def offset_commit_body(group, offsets, generation=-1, member_id=""):
    """OffsetCommit v7 body of {(topic, partition): offset}."""
    by_topic = {}
    for (topic, partition), offset in sorted(offsets.items()):
        by_topic.setdefault(topic, []).append((partition, offset))

    def partition(w, item):
        w.i32(item[0]).i64(item[1]).i32(-1).string("")

    w = Writer().string(group).i32(generation).string(member_id).string(None)
    w.array(list(by_topic.items()), lambda w, t: (w.string(t[0]), w.array(t[1], partition)))
    return bytes(w.buf)


def parse_offset_commit(r):
    r.i32()
    out = {}
    for name, parts in r.array(lambda t: (t.string(), t.array(lambda p: (p.i32(), p.i16())))):
        for index, error in parts:
            out[(name, index)] = error
    return out


def offset_commit(sock, group, offsets, generation=-1, member_id=""):
    """OffsetCommit v7; returns {(topic, partition): error}."""
    body = offset_commit_body(group, offsets, generation, member_id)
    return parse_offset_commit(kafka_wire.call(sock, API_OFFSET_COMMIT, 7, body, next(_correlation)))


def offset_fetch(sock, group, topic, partitions):
    """OffsetFetch v5; returns (error, {partition: committed offset})."""
    w = Writer().string(group).array([topic], lambda w, t: (w.string(t), w.array(list(partitions), lambda w, p: w.i32(p))))
    r = kafka_wire.call(sock, API_OFFSET_FETCH, 5, bytes(w.buf), next(_correlation))
    r.i32()
    offsets = {}
    for _name, parts in r.array(lambda t: (t.string(), t.array(
            lambda p: (p.i32(), p.i64(), p.i32(), p.string(), p.i16())))):
        for index, offset, _epoch, _metadata, _error in parts:
            offsets[index] = offset
    return r.i16(), offsets


def pipeline(sock, api_key, version, bodies, parse):
    """Sends every request before reading any answer (the broker answers a connection's
    requests in order); returns the parsed answers."""
    first = 1  # correlation ids only need to be unique on the connection
    frames = b"".join(kafka_wire.frame(kafka_wire.request_header(api_key, version, first + i) + body)
                      for i, body in enumerate(bodies))
    sock.sendall(frames)
    out = []
    for i in range(len(bodies)):
        payload = kafka_wire.read_frame(sock)
        if payload is None:
            raise ConnectionError(f"connection closed after {i} of {len(bodies)} answers")
        r = kafka_wire.Reader(payload)
        got = r.i32()
        if got != first + i:
            raise ValueError(f"correlation id {got}, expected {first + i}")
        out.append(parse(r))
    return out


def delete_groups(sock, groups):
    """DeleteGroups v1; returns {group: error}."""
    w = Writer().array(list(groups), lambda w, g: w.string(g))
    r = kafka_wire.call(sock, API_DELETE_GROUPS, 1, bytes(w.buf), next(_correlation))
    r.i32()
    return dict(r.array(lambda g: (g.string(), g.i16())))


def offset_delete(sock, group, topic, partitions):
    """OffsetDelete v0; returns (error, {partition: error})."""
    w = Writer().string(group).array([topic], lambda w, t: (w.string(t), w.array(list(partitions), lambda w, p: w.i32(p))))
    r = kafka_wire.call(sock, API_OFFSET_DELETE, 0, bytes(w.buf), next(_correlation))
    error = r.i16()
    r.i32()
    parts = {}
    for _name, answers in r.array(lambda t: (t.string(), t.array(lambda p: (p.i32(), p.i16())))):
        parts.update(dict(answers))
    return error, parts


# Transactions (KIP-98, KIP-447): TxnOffsetCommit and OffsetFetch's require_stable.
API_TXN_OFFSET_COMMIT = 28
UNKNOWN_TOPIC_OR_PARTITION = 3
OFFSET_METADATA_TOO_LARGE = 12
FENCED_INSTANCE_ID = 82
UNSTABLE_OFFSET_COMMIT = 88


def txn_offset_commit(sock, group, offsets, producer_id, producer_epoch=0, transactional_id="txn",
                      generation=-1, member_id="", instance_id=None, metadata="", version=3):
    """TxnOffsetCommit v2 (classic framing) or v3 (flexible, with the member as Streams
    sends it) of {(topic, partition): offset}; returns {(topic, partition): error}."""
    by_topic = {}
    for (topic, partition), offset in sorted(offsets.items()):
        by_topic.setdefault(topic, []).append((partition, offset))
    flexible = version >= 3
    w = Writer()
    if not flexible:
        w.string(transactional_id).string(group).i64(producer_id).i16(producer_epoch)
        w.array(list(by_topic.items()), lambda w, t: (w.string(t[0]), w.array(
            t[1], lambda w, p: w.i32(p[0]).i64(p[1]).i32(-1).string(metadata))))
    else:
        w.compact_string(transactional_id).compact_string(group).i64(producer_id).i16(producer_epoch)
        w.i32(generation).compact_string(member_id).compact_string(instance_id)
        w.compact_array(list(by_topic.items()), lambda w, t: (w.compact_string(t[0]), w.compact_array(
            t[1], lambda w, p: w.i32(p[0]).i64(p[1]).i32(-1).compact_string(metadata).no_tags()), w.no_tags()))
        w.no_tags()
    r = kafka_wire.call(sock, API_TXN_OFFSET_COMMIT, version, bytes(w.buf), next(_correlation), flexible=flexible)
    r.i32()  # throttle
    out = {}
    if not flexible:
        for name, parts in r.array(lambda t: (t.string(), t.array(lambda p: (p.i32(), p.i16())))):
            for index, error in parts:
                out[(name, index)] = error
        return out

    def partition(p):
        answer = (p.i32(), p.i16())
        p.skip_tags()
        return answer

    def topic(t):
        answer = (t.compact_string(), t.compact_array(partition))
        t.skip_tags()
        return answer

    for name, parts in r.compact_array(topic):
        for index, error in parts:
            out[(name, index)] = error
    return out


def offset_fetch_v7(sock, group, topic, partitions, require_stable):
    """OffsetFetch v7 (flexible, require_stable); returns (group error,
    {partition: (committed offset, error)})."""
    w = Writer().compact_string(group)
    w.compact_array([topic], lambda w, t: (w.compact_string(t), w.compact_array(
        list(partitions), lambda w, p: w.i32(p)), w.no_tags()))
    w.i8(1 if require_stable else 0).no_tags()
    r = kafka_wire.call(sock, API_OFFSET_FETCH, 7, bytes(w.buf), next(_correlation), flexible=True)
    r.i32()

    def partition(p):
        index, offset, _epoch, _metadata, error = p.i32(), p.i64(), p.i32(), p.compact_string(), p.i16()
        p.skip_tags()
        return index, (offset, error)

    def read_topic(t):
        answer = (t.compact_string(), t.compact_array(partition))
        t.skip_tags()
        return answer

    out = {}
    for _name, parts in r.compact_array(read_topic):
        out.update(dict(parts))
    return r.i16(), out
