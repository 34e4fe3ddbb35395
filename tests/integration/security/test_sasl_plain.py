"""SASL_PLAINTEXT with PLAIN, users in the listener-prefixed sasl.jaas.config: every
client's round trip (kafka-python speaks SaslHandshake v0 with bare tokens,
librdkafka and kafkajs v1 with SaslAuthenticate); a wrong password or unknown user
is refused with SASL_AUTHENTICATION_FAILED and Kafka's message, and writes nothing;
a mechanism that is not enabled; requests before authentication close the
connection. Users in a JAAS file (sluice.sasl.jaas.file) with a listener section;
a SASL listener with no mechanism Sluice supports fails the start."""

import subprocess

import pytest
from confluent_kafka import KafkaError

import conftest as harness
import kafka_wire
import sasl_client
from clients import (Identity, ck_conf, ck_refused, ck_round_trip, high_watermark, kafkajs, kcat,
                     kcat_read, kp_conf, kp_refused, kp_round_trip, new_topic)
pytest_plugins = ["security_harness"]  # fixtures: certs, sec_broker, sec_broker_factory

PLAIN_FAILED = "Authentication failed: Invalid username or password"
JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'user_alice="alice-secret" user_admin="admin-secret";')


def broker_config(certs):
    return {"SASL_PLAINTEXT": "SASL_PLAINTEXT"}, {
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
    }


def alice(password="alice-secret", user="alice", mechanism="PLAIN"):
    return Identity(mechanism=mechanism, user=user, password=password)


def port(b):
    return b.ports["SASL_PLAINTEXT"]


def test_confluent_kafka_round_trip(sec_broker):
    ck_round_trip(ck_conf(sec_broker, "SASL_PLAINTEXT", alice()), new_topic(sec_broker, "plain-ck"), 20)


def test_kcat_round_trip(sec_broker):
    topic = new_topic(sec_broker, "plain-kcat")
    p = kcat(sec_broker, "SASL_PLAINTEXT", alice(), "-P", "-t", topic, "-p", "0", input_bytes=b"a\nb\n")
    assert p.returncode == 0 and b"ERROR" not in p.stderr, p.stderr.decode(errors="replace")
    values, c = kcat_read(sec_broker, "SASL_PLAINTEXT", alice(), topic)
    assert values == ["a", "b"], c.stderr.decode(errors="replace")


def test_kafka_python_round_trip(sec_broker):
    """kafka-python 2.0.2: SaslHandshake v0, then the PLAIN token as a bare frame,
    answered by an empty bare frame."""
    kp_round_trip(kp_conf(sec_broker, "SASL_PLAINTEXT", alice()), new_topic(sec_broker, "plain-kp"), 20)


def test_kafkajs_round_trip(sec_broker):
    topic = new_topic(sec_broker, "plain-js")
    js = kafkajs(sec_broker, "SASL_PLAINTEXT", alice(), topic, count=10)
    assert js["ok"] and js["read"] == [f"js-{i}" for i in range(10)], js


@pytest.mark.parametrize("version", [0, 1, 2])
def test_raw_saslauthenticate_success(sec_broker, version):
    sock, answer = sasl_client.login(port(sec_broker), "PLAIN", "alice", "alice-secret", version=version)
    with sock:
        assert answer["error"] == 0, answer
        assert answer["token"] in (b"", None)
        md = kafka_wire.parse_api_versions_v0(kafka_wire.call(sock, kafka_wire.API_API_VERSIONS, 0, b"", 9))
        assert md[0] == 0
        r = kafka_wire.call(sock, kafka_wire.API_METADATA, 1, bytes(kafka_wire.Writer().i32(0).buf), 10)
        assert r.array(lambda b: (b.i32(), b.string(), b.i32(), b.string())) == \
            [(1, "127.0.0.1", port(sec_broker), None)]


def test_raw_handshake_v0_then_bare_tokens(sec_broker):
    with kafka_wire.connect(port(sec_broker)) as sock:
        error, mechanisms = kafka_wire.sasl_handshake(sock, "PLAIN", version=0)
        assert (error, mechanisms) == (0, ["PLAIN"])
        kafka_wire.send_raw_token(sock, b"\0alice\0alice-secret")
        assert kafka_wire.read_frame(sock) == b""  # an empty token: authenticated
        r = kafka_wire.call(sock, kafka_wire.API_METADATA, 1, bytes(kafka_wire.Writer().i32(0).buf), 10)
        assert r.array(lambda b: b.i32()) == [1]
    with kafka_wire.connect(port(sec_broker)) as sock:
        kafka_wire.sasl_handshake(sock, "PLAIN", version=0)
        kafka_wire.send_raw_token(sock, b"\0alice\0wrong")
        assert kafka_wire.connection_closed(sock), "a failed v0 authentication must close the connection"


@pytest.mark.parametrize("user,password,message", [
    ("alice", "wrong", PLAIN_FAILED),
    ("mallory", "alice-secret", PLAIN_FAILED),
    ("alice", "", "Authentication failed: password not specified"),
    ("", "alice-secret", "Authentication failed: username not specified"),
])
def test_bad_credentials_refused_with_kafkas_error(sec_broker, user, password, message):
    with kafka_wire.connect(port(sec_broker)) as sock:
        assert kafka_wire.sasl_handshake(sock, "PLAIN")[0] == 0
        answer = kafka_wire.sasl_authenticate(sock, f"\0{user}\0{password}".encode(), version=1)
        assert answer["error"] == kafka_wire.ERR_SASL_AUTHENTICATION_FAILED, answer
        assert answer["message"] == message
        assert kafka_wire.connection_closed(sock), "the broker must close after a failed authentication"


def test_wrong_password_refused_by_every_client_and_nothing_written(sec_broker):
    topic = new_topic(sec_broker, "plain-wrong")
    bad = alice(password="not-alice-secret")
    # librdkafka 2.0.2 reports a SaslAuthenticate error as the local _AUTHENTICATION
    # (not the broker's SASL_AUTHENTICATION_FAILED), with the broker's message.
    errors = ck_refused(ck_conf(sec_broker, "SASL_PLAINTEXT", bad), topic)
    assert any(e.code() == KafkaError._AUTHENTICATION and PLAIN_FAILED in e.str() for e in errors), errors
    kp_refused(kp_conf(sec_broker, "SASL_PLAINTEXT", bad), topic)
    js = kafkajs(sec_broker, "SASL_PLAINTEXT", bad, topic)
    assert not js["ok"] and js["error"] in ("KafkaJSSASLAuthenticationError", "KafkaJSNonRetriableError"), js
    p = kcat(sec_broker, "SASL_PLAINTEXT", bad, "-P", "-t", topic, "-p", "0", "-X", "message.timeout.ms=3000",
             input_bytes=b"x\n")
    assert p.returncode != 0 or b"ERROR" in p.stderr, p.stderr.decode(errors="replace")
    assert high_watermark(sec_broker, topic) == 0
    # alice with her password still gets in.
    assert sasl_client.can_login(port(sec_broker), "PLAIN", "alice", "alice-secret")


def test_mechanism_not_enabled(sec_broker):
    with kafka_wire.connect(port(sec_broker)) as sock:
        error, mechanisms = kafka_wire.sasl_handshake(sock, "SCRAM-SHA-256")
        assert (error, mechanisms) == (kafka_wire.ERR_UNSUPPORTED_SASL_MECHANISM, ["PLAIN"])
        assert kafka_wire.connection_closed(sock)
    with kafka_wire.connect(port(sec_broker)) as sock:
        error, mechanisms = kafka_wire.sasl_handshake(sock, "NO-SUCH-MECHANISM")
        assert error == kafka_wire.ERR_UNSUPPORTED_SASL_MECHANISM and mechanisms == ["PLAIN"]
    topic = new_topic(sec_broker, "plain-mech")
    errors = ck_refused(ck_conf(sec_broker, "SASL_PLAINTEXT", alice(mechanism="SCRAM-SHA-256")), topic)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors


def test_requests_before_authentication_close_the_connection(sec_broker):
    metadata_v1 = bytes(kafka_wire.Writer().i32(-1).buf)
    # ApiVersions is served before authentication (clients ask it first) ...
    error, versions = kafka_wire.api_versions(port(sec_broker))
    assert error == 0 and kafka_wire.API_SASL_HANDSHAKE in versions and kafka_wire.API_SASL_AUTHENTICATE in versions
    # ... Metadata is not: the connection closes without an answer (IllegalSaslStateException).
    with kafka_wire.connect(port(sec_broker)) as sock:
        sock.sendall(kafka_wire.frame(kafka_wire.request_header(kafka_wire.API_METADATA, 1, 7) + metadata_v1))
        assert kafka_wire.connection_closed(sock), "Metadata was answered before authentication"
    # Nor after a handshake without the authentication (Kafka may first send an
    # ILLEGAL_SASL_STATE error answer there; the connection closes either way).
    with kafka_wire.connect(port(sec_broker)) as sock:
        assert kafka_wire.sasl_handshake(sock, "PLAIN")[0] == 0
        sock.sendall(kafka_wire.frame(kafka_wire.request_header(kafka_wire.API_METADATA, 1, 8) + metadata_v1))
        assert kafka_wire.closes_after_answers(sock), "the connection stayed open after Metadata before authentication"
    # SaslAuthenticate without a handshake first is out of order, too (Kafka closes
    # without an answer; an ILLEGAL_SASL_STATE answer is tolerated).
    with kafka_wire.connect(port(sec_broker)) as sock:
        try:
            answer = kafka_wire.sasl_authenticate(sock, b"\0alice\0alice-secret")
            assert answer["error"] == kafka_wire.ERR_ILLEGAL_SASL_STATE, answer
        except ConnectionError:
            pass
        assert kafka_wire.closes_after_answers(sock)


JAAS_FILE = """\
// Sections as Kafka's -Djava.security.auth.login.config file takes them.
KafkaServer {
    org.apache.kafka.common.security.plain.PlainLoginModule required
    user_bob="bob-secret";
};

sasl_plaintext.KafkaServer {
    org.apache.kafka.common.security.plain.PlainLoginModule required
    username="ignored-on-the-broker"
    password="ignored"
    user_carol="carol-secret"
    user_dave="dave-secret";
};
"""


def test_users_from_a_jaas_file(sec_broker_factory, tmp_path):
    """The listener's own section (sasl_plaintext.KafkaServer) serves SASL_PLAINTEXT;
    the other listener (OTHER, also SASL_PLAINTEXT) falls back to KafkaServer."""
    jaas = tmp_path / "kafka_server_jaas.conf"
    jaas.write_text(JAAS_FILE)
    b = sec_broker_factory({"SASL_PLAINTEXT": "SASL_PLAINTEXT", "OTHER": "SASL_PLAINTEXT"},
                           {"sasl.enabled.mechanisms": "PLAIN", "sluice.sasl.jaas.file": str(jaas)})
    main, other = b.ports["SASL_PLAINTEXT"], b.ports["OTHER"]
    assert sasl_client.can_login(main, "PLAIN", "carol", "carol-secret")
    assert sasl_client.can_login(main, "PLAIN", "dave", "dave-secret")
    assert not sasl_client.can_login(main, "PLAIN", "bob", "bob-secret")
    assert not sasl_client.can_login(main, "PLAIN", "carol", "bob-secret")
    assert sasl_client.can_login(other, "PLAIN", "bob", "bob-secret")
    assert not sasl_client.can_login(other, "PLAIN", "carol", "carol-secret")
    topic = new_topic(b, "jaas-file")
    ck_round_trip(ck_conf(b, "SASL_PLAINTEXT", alice(user="carol", password="carol-secret")), topic, 5)
    # Passwords are never logged.
    with open(b.log_path, "rb") as f:
        log = f.read()
    assert b"carol-secret" not in log and b"bob-secret" not in log


def test_sasl_listener_without_a_supported_mechanism_fails_to_start(tmp_path):
    """Kafka's default sasl.enabled.mechanisms is GSSAPI, which Sluice does not
    support: a SASL listener left at the default cannot start."""
    plain_port, sasl_port = harness.free_port(), harness.free_port()
    cmd = [harness.sluice_bin(), "serve",
           "--set", f"listeners=PLAINTEXT://127.0.0.1:{plain_port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}",
           "--set", f"log.dirs={tmp_path / 'data'}", "--set", "node.id=1", "--set", "admin.listener="]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10, cwd=str(tmp_path))
    except subprocess.TimeoutExpired:
        pytest.fail("sluice serve kept running with a SASL listener whose only mechanism is GSSAPI")
    out = p.stdout.decode(errors="replace")
    assert p.returncode != 0, out
    assert "GSSAPI" in out or "sasl.enabled.mechanisms" in out, out
