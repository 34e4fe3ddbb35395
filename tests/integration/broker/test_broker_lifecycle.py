"""Another broker's lifecycle against a running node's controller listener (issue 15):
BrokerRegistration (62), BrokerHeartbeat (63) and UnregisterBroker (64) as raw frames,
answered with Kafka's errors. A second broker id registers fenced, is unfenced by a
heartbeat once it has caught up with its registration, appears in Metadata and
DescribeCluster, and is fenced again (gone from both, as Kafka leaves fenced brokers out)
once it stops heartbeating for broker.session.timeout.ms."""

import struct
import time
import uuid

import pytest

import conftest as harness
import kafka_wire as kw

API_BROKER_REGISTRATION = 62
API_BROKER_HEARTBEAT = 63
API_UNREGISTER_BROKER = 64
API_DESCRIBE_CLUSTER = 60

ERR_STALE_BROKER_EPOCH = 77
ERR_DUPLICATE_BROKER_REGISTRATION = 101
ERR_BROKER_ID_NOT_REGISTERED = 102
ERR_INCONSISTENT_CLUSTER_ID = 104

SESSION_TIMEOUT_MS = 2000


@pytest.fixture
def node(broker_factory):
    b = broker_factory(start=False)
    b.controller_port = harness.free_port()
    b.overrides["listeners"] = f"PLAINTEXT://127.0.0.1:{b.port},CONTROLLER://127.0.0.1:{b.controller_port}"
    b.overrides["listener.security.protocol.map"] = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    b.overrides["broker.session.timeout.ms"] = str(SESSION_TIMEOUT_MS)
    return b.start()


def register(port, broker_id, cluster_id, incarnation, listener_port, rack=None):
    """BrokerRegistration v3 (flexible); returns (error_code, broker_epoch)."""
    def listener(w, _):
        w.compact_string("PLAINTEXT").compact_string("127.0.0.1").raw(struct.pack(">H", listener_port))
        w.i16(0).no_tags()

    # What this build supports: a new cluster finalizes transaction.version 2,
    # and a broker without it is refused (UNSUPPORTED_VERSION), as Kafka's.
    def feature(w, supported):
        w.compact_string(supported[0]).i16(supported[1]).i16(supported[2]).no_tags()

    features = [("metadata.version", 1, 20), ("transaction.version", 0, 2)]
    body = (kw.Writer().i32(broker_id).compact_string(cluster_id).raw(incarnation.bytes)
            .compact_array([None], listener).compact_array(features, feature).compact_string(rack)
            .i8(0)                       # is_migrating_zk_broker (v1+)
            .compact_array([], None)     # log_dirs (v2+)
            .i64(-1)                     # previous_broker_epoch (v3+)
            .no_tags())
    with kw.connect(port) as sock:
        r = kw.call(sock, API_BROKER_REGISTRATION, 3, bytes(body.buf), 21, flexible=True)
        r.i32()  # throttle
        return r.i16(), r.i64()


def heartbeat(port, broker_id, epoch, metadata_offset, want_fence=False, want_shutdown=False):
    """BrokerHeartbeat v0; returns {"error", "caught_up", "fenced", "shutdown"}."""
    body = (kw.Writer().i32(broker_id).i64(epoch).i64(metadata_offset)
            .i8(1 if want_fence else 0).i8(1 if want_shutdown else 0).no_tags())
    with kw.connect(port) as sock:
        r = kw.call(sock, API_BROKER_HEARTBEAT, 0, bytes(body.buf), 22, flexible=True)
        r.i32()  # throttle
        return {"error": r.i16(), "caught_up": r.i8() != 0, "fenced": r.i8() != 0,
                "shutdown": r.i8() != 0}


def unregister(port, broker_id):
    """UnregisterBroker v0; returns (error_code, error_message)."""
    body = kw.Writer().i32(broker_id).no_tags()
    with kw.connect(port) as sock:
        r = kw.call(sock, API_UNREGISTER_BROKER, 0, bytes(body.buf), 23, flexible=True)
        r.i32()  # throttle
        return r.i16(), r.compact_string()


def describe_cluster_brokers(port):
    """DescribeCluster v0: {broker_id: (host, port)}."""
    body = kw.Writer().i8(0).no_tags()
    with kw.connect(port) as sock:
        r = kw.call(sock, API_DESCRIBE_CLUSTER, 0, bytes(body.buf), 24, flexible=True)
        r.i32()  # throttle
        assert r.i16() == 0
        r.compact_string()  # error message
        r.compact_string()  # cluster id
        r.i32()  # controller id

        def broker(b):
            out = (b.i32(), b.compact_string(), b.i32())
            b.compact_string()  # rack
            b.skip_tags()
            return out

        return {broker_id: (host, p) for broker_id, host, p in r.compact_array(broker)}


def metadata_brokers(port):
    return {broker_id: (host, p) for broker_id, host, p in kw.metadata_v12(port, None, False)["brokers"]}


def wait_for(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_lifecycle_apis_are_served_on_the_controller_listener(node):
    _, controller_apis = kw.api_versions(node.controller_port)
    for api in (API_BROKER_REGISTRATION, API_BROKER_HEARTBEAT, API_UNREGISTER_BROKER):
        assert api in controller_apis
    _, broker_apis = kw.api_versions(node.port)
    assert API_BROKER_REGISTRATION not in broker_apis and API_BROKER_HEARTBEAT not in broker_apis
    assert API_UNREGISTER_BROKER in broker_apis  # Kafka's schema lists both listeners


def test_second_broker_registers_is_unfenced_then_fenced_when_silent(node):
    cluster_id = kw.metadata_v12(node.port, None, False)["cluster_id"]
    incarnation = uuid.uuid4()
    assert register(node.controller_port, 2, "another-cluster", incarnation, 19092)[0] == \
        ERR_INCONSISTENT_CLUSTER_ID

    error, epoch = register(node.controller_port, 2, cluster_id, incarnation, 19092)
    assert error == 0 and epoch > 0
    # Registered but fenced: not in Metadata yet.
    assert set(metadata_brokers(node.port)) == {1}

    behind = heartbeat(node.controller_port, 2, epoch, epoch - 1)
    assert behind == {"error": 0, "caught_up": False, "fenced": True, "shutdown": False}
    assert heartbeat(node.controller_port, 2, epoch - 1, epoch)["error"] == ERR_STALE_BROKER_EPOCH
    caught_up = heartbeat(node.controller_port, 2, epoch, epoch)
    assert caught_up == {"error": 0, "caught_up": True, "fenced": False, "shutdown": False}

    assert metadata_brokers(node.port)[2] == ("127.0.0.1", 19092)
    assert describe_cluster_brokers(node.port)[2] == ("127.0.0.1", 19092)
    # Another process may not take the id while the session lives.
    assert register(node.controller_port, 2, cluster_id, uuid.uuid4(), 19093)[0] == \
        ERR_DUPLICATE_BROKER_REGISTRATION

    # Kept alive by heartbeats for longer than a session...
    for _ in range(6):
        time.sleep(SESSION_TIMEOUT_MS / 4000)
        assert heartbeat(node.controller_port, 2, epoch, epoch)["fenced"] is False
    assert 2 in metadata_brokers(node.port)
    # ...then silent: fenced after the session timeout, gone from both answers.
    silent_since = time.monotonic()
    wait_for(lambda: 2 not in metadata_brokers(node.port), 15, "broker 2 to be fenced")
    assert time.monotonic() - silent_since >= SESSION_TIMEOUT_MS / 1000 - 0.2
    assert 2 not in describe_cluster_brokers(node.port)
    assert set(metadata_brokers(node.port)) == {1}
    assert "fencing broker 2 because its session has timed out" in harness.log_tail(node.log_path, 20000)

    # Fenced, the id is free for a new incarnation; unregistering removes it.
    error, new_epoch = register(node.controller_port, 2, cluster_id, uuid.uuid4(), 19093)
    assert error == 0 and new_epoch > epoch
    assert unregister(node.controller_port, 2) == (0, None)
    error, message = unregister(node.controller_port, 2)
    assert error == ERR_BROKER_ID_NOT_REGISTERED
    assert message == "Broker ID 2 is not currently registered"
    assert heartbeat(node.controller_port, 2, new_epoch, new_epoch)["error"] == ERR_STALE_BROKER_EPOCH
    # The node itself serves on throughout.
    assert set(metadata_brokers(node.port)) == {1}
