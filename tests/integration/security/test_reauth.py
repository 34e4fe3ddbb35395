"""KIP-368 with connections.max.reauth.ms=2000 on a SASL_PLAINTEXT listener: a raw
client sees session_lifetime_ms in SaslAuthenticate v1+, is disconnected when it
sends a request after the lifetime, and keeps its connection by re-authenticating
(same principal only). librdkafka 2.0.2 cannot re-authenticate (KIP-368 came in
librdkafka 2.2.0): its producer is disconnected every ~2 s and must still deliver
everything across two session ends; kafkajs 2.2.4 re-authenticates in band.

Waiting is most of this file's time, so the waits are shared: the v0/v1/v2 sessions
expire together, and the kafkajs producer runs while the librdkafka one does."""

import time

from confluent_kafka import Producer

import kafka_wire
import sasl_client
from clients import Identity, ck_conf, ck_consume, new_topic, start_kafkajs
pytest_plugins = ["security_harness"]  # fixtures: certs, sec_broker, sec_broker_factory

# The session lifetime: short enough to see it end several times, long enough that a
# login on a loaded 2-core machine ends well inside it.
REAUTH_MS = 2000
# How long the clients produce: past two session ends (and reconnections or
# re-authentications), plus a margin for the first login.
CLIENT_RUN_S = 2.5 * REAUTH_MS / 1000
JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'user_alice="alice-secret" user_admin="admin-secret";')


def broker_config(certs):
    return {"SASL_PLAINTEXT": "SASL_PLAINTEXT"}, {
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "connections.max.reauth.ms": str(REAUTH_MS),
    }


METADATA_V1_NO_TOPICS = bytes(kafka_wire.Writer().i32(0).buf)


def metadata(sock, correlation_id):
    r = kafka_wire.call(sock, kafka_wire.API_METADATA, 1, METADATA_V1_NO_TOPICS, correlation_id)
    return r.array(lambda b: (b.i32(), b.string(), b.i32(), b.string()))


def port(b):
    return b.ports["SASL_PLAINTEXT"]


def test_session_lifetime_and_disconnect_after_it(sec_broker):
    """SaslAuthenticate v1/v2 carry session_lifetime_ms; v0 cannot, but its session
    ends too (Kafka closes connections of clients that cannot re-authenticate). A
    request after the lifetime closes the connection, without an answer."""
    sessions = {}
    try:
        for version in (0, 1, 2):
            sock, answer = sasl_client.login(port(sec_broker), "PLAIN", "alice", "alice-secret", version=version)
            sessions[version] = sock
            # Each session began before its answer came, so it ends before this + REAUTH_MS.
            last_login = time.monotonic()
            assert answer["error"] == 0, (version, answer)
            if version >= 1:
                assert 0 < answer["session_lifetime_ms"] <= REAUTH_MS, (version, answer)
            assert metadata(sock, 20 + version)[0][0] == 1, version
        time.sleep(max(0.0, last_login + REAUTH_MS / 1000 + 0.5 - time.monotonic()))
        for version, sock in sessions.items():
            sock.sendall(kafka_wire.frame(kafka_wire.request_header(kafka_wire.API_METADATA, 1, 30 + version)
                                          + METADATA_V1_NO_TOPICS))
            assert kafka_wire.connection_closed(sock), \
                f"SaslAuthenticate v{version}: a request after the session's lifetime was answered"
    finally:
        for sock in sessions.values():
            sock.close()


def test_reauthentication_keeps_the_connection(sec_broker):
    sock, answer = sasl_client.login(port(sec_broker), "PLAIN", "alice", "alice-secret")
    with sock:
        assert answer["error"] == 0
        for round_ in range(2):  # ~2.4 s in all, past the first session's end
            time.sleep(1.2)
            again = sasl_client.authenticate(sock, "PLAIN", "alice", "alice-secret")
            assert again["error"] == 0 and 0 < again["session_lifetime_ms"] <= REAUTH_MS, again
            assert metadata(sock, 40 + round_)[0][0] == 1
        # Re-authentication must keep the principal: another user is refused.
        try:
            other = sasl_client.authenticate(sock, "PLAIN", "admin", "admin-secret")
            assert other["error"] == kafka_wire.ERR_SASL_AUTHENTICATION_FAILED, other
        except ConnectionError:
            pass
        assert kafka_wire.connection_closed(sock)


def test_clients_keep_producing_across_expiries(sec_broker):
    """librdkafka 2.0.2 is disconnected at each session end and must reconnect and
    deliver everything; kafkajs (in a node process meanwhile) re-authenticates in band."""
    alice = Identity(mechanism="PLAIN", user="alice", password="alice-secret")
    topic, js_topic = new_topic(sec_broker, "reauth-ck"), new_topic(sec_broker, "reauth-js")
    conf = ck_conf(sec_broker, "SASL_PLAINTEXT", alice)
    with start_kafkajs(sec_broker, "SASL_PLAINTEXT", alice, js_topic, mode="produce-for",
                       run_ms=int(CLIENT_RUN_S * 1000)) as js_run:
        failures, errors = [], []
        p = Producer({**conf, "acks": "all", "enable.idempotence": True, "linger.ms": 0,
                      "message.timeout.ms": 20000, "error_cb": errors.append})
        values = []
        end = time.monotonic() + CLIENT_RUN_S
        while time.monotonic() < end:
            v = f"r-{len(values)}"
            values.append(v)
            p.produce(topic, value=v.encode(), partition=0, on_delivery=lambda err, m: err and failures.append(err))
            p.poll(0.1)
        assert p.flush(25) == 0 and not failures, (failures[:3], errors[:3])
        assert ck_consume(conf, topic, len(values)) == values
        # No authentication error on the reconnections (disconnects themselves are expected).
        assert not [e for e in errors if "uthenticat" in e.str()], errors
        js = js_run.result()
    # One send every 100 ms: at least half of them across the session ends.
    assert js["ok"] and js["sent"] >= CLIENT_RUN_S * 5, js
