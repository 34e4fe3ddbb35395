"""KIP-368 with connections.max.reauth.ms=2000 on a SASL_PLAINTEXT listener: a raw
client sees session_lifetime_ms in SaslAuthenticate v1+, is disconnected when it
sends a request after the lifetime, and keeps its connection by re-authenticating
(same principal only). librdkafka 2.0.2 cannot re-authenticate (KIP-368 came in
librdkafka 2.2.0): its producer is disconnected every ~2 s and must still deliver
everything across 6 s; kafkajs 2.2.4 re-authenticates in band."""

import time

import pytest
from confluent_kafka import Producer

import kafka_wire
import sasl_client
from clients import Identity, ck_conf, ck_consume, kafkajs, new_topic
pytest_plugins = ["security_harness"]  # fixtures: certs, sec_broker, sec_broker_factory

REAUTH_MS = 2000
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


@pytest.mark.parametrize("version", [1, 2])
def test_session_lifetime_and_disconnect_after_it(sec_broker, version):
    start = time.monotonic()
    sock, answer = sasl_client.login(port(sec_broker), "PLAIN", "alice", "alice-secret", version=version)
    with sock:
        assert answer["error"] == 0, answer
        assert 0 < answer["session_lifetime_ms"] <= REAUTH_MS, answer
        assert metadata(sock, 20)[0][0] == 1
        time.sleep(max(0.0, start + answer["session_lifetime_ms"] / 1000 + 0.5 - time.monotonic()))
        sock.sendall(kafka_wire.frame(kafka_wire.request_header(kafka_wire.API_METADATA, 1, 21)
                                      + METADATA_V1_NO_TOPICS))
        assert kafka_wire.connection_closed(sock), "a request after the session's lifetime was answered"


def test_saslauthenticate_v0_sessions_expire_too(sec_broker):
    """v0 cannot carry the lifetime, but the session still ends (Kafka closes
    connections of clients that cannot re-authenticate)."""
    sock, answer = sasl_client.login(port(sec_broker), "PLAIN", "alice", "alice-secret", version=0)
    with sock:
        assert answer["error"] == 0
        assert metadata(sock, 30)[0][0] == 1
        time.sleep(REAUTH_MS / 1000 + 0.5)
        sock.sendall(kafka_wire.frame(kafka_wire.request_header(kafka_wire.API_METADATA, 1, 31)
                                      + METADATA_V1_NO_TOPICS))
        assert kafka_wire.connection_closed(sock)


def test_reauthentication_keeps_the_connection(sec_broker):
    sock, answer = sasl_client.login(port(sec_broker), "PLAIN", "alice", "alice-secret")
    with sock:
        assert answer["error"] == 0
        for round_ in range(3):  # ~3.6 s in all, past the first session's end
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


def test_librdkafka_producer_keeps_producing_across_expiries(sec_broker):
    topic = new_topic(sec_broker, "reauth-ck")
    conf = ck_conf(sec_broker, "SASL_PLAINTEXT", Identity(mechanism="PLAIN", user="alice", password="alice-secret"))
    failures, errors = [], []
    p = Producer({**conf, "acks": "all", "enable.idempotence": True, "linger.ms": 0,
                  "message.timeout.ms": 20000, "error_cb": errors.append})
    values = []
    end = time.monotonic() + 6
    while time.monotonic() < end:
        v = f"r-{len(values)}"
        values.append(v)
        p.produce(topic, value=v.encode(), partition=0, on_delivery=lambda err, m: err and failures.append(err))
        p.poll(0.1)
    assert p.flush(25) == 0 and not failures, (failures[:3], errors[:3])
    assert ck_consume(conf, topic, len(values)) == values
    # No authentication error on the reconnections (disconnects themselves are expected).
    assert not [e for e in errors if "uthenticat" in e.str()], errors


def test_kafkajs_reauthenticates_in_band(sec_broker):
    topic = new_topic(sec_broker, "reauth-js")
    js = kafkajs(sec_broker, "SASL_PLAINTEXT", Identity(mechanism="PLAIN", user="alice", password="alice-secret"),
                 topic, mode="produce-for", run_ms=6000)
    assert js["ok"] and js["sent"] >= 30, js
