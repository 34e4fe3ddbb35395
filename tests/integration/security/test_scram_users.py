"""SCRAM-SHA-256 and SCRAM-SHA-512 over SASL_PLAINTEXT and SASL_SSL, users kept in
the metadata log: created with `sluice user create` and with a raw
AlterUserScramCredentials (neither confluent-kafka 1.7 / librdkafka 2.0.2 nor
kafka-python 2.0.2 can send it), listed with `sluice user list` and
DescribeUserScramCredentials; every client logs in; a wrong password is refused
with Kafka's message; a deleted user (or mechanism) no longer logs in; iterations
outside 4096..16384 are refused."""

import subprocess

import pytest
from confluent_kafka import KafkaError

import conftest as harness
import kafka_wire
import sasl_client
from clients import (Identity, ck_conf, ck_refused, ck_round_trip, high_watermark, kafkajs, kp_conf,
                     kp_round_trip, new_topic)
pytest_plugins = ["security_harness"]  # fixtures: certs, sec_broker, sec_broker_factory

MECHANISMS = ["SCRAM-SHA-256", "SCRAM-SHA-512"]
LISTENERS = ["SASL_PLAINTEXT", "SASL_SSL"]
ERR_UNACCEPTABLE_CREDENTIAL = 93


def broker_config(certs):
    return {"SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL"}, {
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": certs.server_pem,
    }


def sluice_user(broker, *args, check=True):
    cmd = [harness.sluice_bin(), "user", *args, "-b", broker.bootstrap]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr.decode(errors='replace')}")
    return p


def tls_for(broker, listener, certs):
    return sasl_client.tls_context(certs.ca) if listener == "SASL_SSL" else None


def can_login(broker, listener, certs, mechanism, user, password):
    return sasl_client.can_login(broker.ports[listener], mechanism, user, password,
                                 tls=tls_for(broker, listener, certs))


def upsert(broker, *upsertions, deletions=()):
    with kafka_wire.connect(broker.port) as sock:
        return kafka_wire.alter_user_scram_credentials(sock, upsertions, deletions)


def describe(broker, users=None):
    with kafka_wire.connect(broker.port) as sock:
        return kafka_wire.describe_user_scram_credentials(sock, users)


def ident(broker, listener, certs, mechanism, user, password):
    return Identity(ca=certs.ca if listener == "SASL_SSL" else None, mechanism=mechanism, user=user,
                    password=password)


def test_cli_create_list_delete(sec_broker, certs):
    sluice_user(sec_broker, "create", "cli-alice", "--password", "cli-secret", "--mechanism", "SCRAM-SHA-256")
    listed = sluice_user(sec_broker, "list").stdout.decode()
    line = next((line for line in listed.splitlines() if "cli-alice" in line), None)
    assert line is not None and "SCRAM-SHA-256" in line, listed
    assert "SCRAM-SHA-512" not in line, listed
    assert "cli-secret" not in listed
    error, users = describe(sec_broker, ["cli-alice"])
    assert error == 0 and users["cli-alice"] == (0, [(kafka_wire.SCRAM_SHA_256, 4096)]), users
    assert can_login(sec_broker, "SASL_PLAINTEXT", certs, "SCRAM-SHA-256", "cli-alice", "cli-secret")
    # No SCRAM-SHA-512 credential was made for her.
    assert not can_login(sec_broker, "SASL_PLAINTEXT", certs, "SCRAM-SHA-512", "cli-alice", "cli-secret")
    topic = new_topic(sec_broker, "scram-cli")
    ck_round_trip(ck_conf(sec_broker, "SASL_PLAINTEXT",
                          ident(sec_broker, "SASL_PLAINTEXT", certs, "SCRAM-SHA-256", "cli-alice", "cli-secret")),
                  topic, 5)

    sluice_user(sec_broker, "create", "cli-alice", "--password", "cli-512", "--mechanism", "SCRAM-SHA-512",
                "--iterations", "8192")
    _, users = describe(sec_broker, ["cli-alice"])
    assert sorted(users["cli-alice"][1]) == [(kafka_wire.SCRAM_SHA_256, 4096), (kafka_wire.SCRAM_SHA_512, 8192)]
    assert can_login(sec_broker, "SASL_SSL", certs, "SCRAM-SHA-512", "cli-alice", "cli-512")

    sluice_user(sec_broker, "delete", "cli-alice", "--mechanism", "SCRAM-SHA-512")
    assert not can_login(sec_broker, "SASL_SSL", certs, "SCRAM-SHA-512", "cli-alice", "cli-512")
    assert can_login(sec_broker, "SASL_SSL", certs, "SCRAM-SHA-256", "cli-alice", "cli-secret")
    sluice_user(sec_broker, "delete", "cli-alice")
    assert not can_login(sec_broker, "SASL_PLAINTEXT", certs, "SCRAM-SHA-256", "cli-alice", "cli-secret")
    assert "cli-alice" not in sluice_user(sec_broker, "list").stdout.decode()
    error, users = describe(sec_broker, ["cli-alice"])
    assert users["cli-alice"][0] == kafka_wire.ERR_RESOURCE_NOT_FOUND, users


@pytest.mark.parametrize("listener", LISTENERS)
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_wire_created_user_with_librdkafka_and_kafka_python(sec_broker, certs, mechanism, listener):
    user = f"wire-{mechanism[-3:]}-{listener.lower()}"
    result = upsert(sec_broker, sasl_client.scram_upsertion(user, mechanism, "wire-secret"))
    assert result == {user: (0, None)}, result
    me = ident(sec_broker, listener, certs, mechanism, user, "wire-secret")
    ck_round_trip(ck_conf(sec_broker, listener, me), new_topic(sec_broker, "scram-ck"), 10)
    kp_round_trip(kp_conf(sec_broker, listener, me), new_topic(sec_broker, "scram-kp"), 10)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_kafkajs_logs_in(sec_broker, certs, mechanism):
    user = f"js-{mechanism[-3:]}"
    assert upsert(sec_broker, sasl_client.scram_upsertion(user, mechanism, "js-secret"))[user][0] == 0
    topic = new_topic(sec_broker, "scram-js")
    js = kafkajs(sec_broker, "SASL_SSL", ident(sec_broker, "SASL_SSL", certs, mechanism, user, "js-secret"),
                 topic, count=5)
    assert js["ok"] and js["read"] == [f"js-{i}" for i in range(5)], js


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_wrong_password_refused(sec_broker, certs, mechanism):
    user = f"wrong-{mechanism[-3:]}"
    upsert(sec_broker, sasl_client.scram_upsertion(user, mechanism, "right-secret"))
    sock, answer = sasl_client.login(sec_broker.ports["SASL_PLAINTEXT"], mechanism, user, "wrong-secret")
    with sock:
        assert answer["error"] == kafka_wire.ERR_SASL_AUTHENTICATION_FAILED, answer
        assert answer["message"] == ("Authentication failed during authentication due to invalid credentials "
                                     f"with SASL mechanism {mechanism}"), answer
        assert kafka_wire.connection_closed(sock)
    # An unknown user gets the same answer (no way to tell users from passwords).
    sock, answer = sasl_client.login(sec_broker.ports["SASL_PLAINTEXT"], mechanism, "nobody", "x")
    with sock:
        assert answer["error"] == kafka_wire.ERR_SASL_AUTHENTICATION_FAILED, answer
    topic = new_topic(sec_broker, "scram-wrong")
    errors = ck_refused(ck_conf(sec_broker, "SASL_SSL",
                                ident(sec_broker, "SASL_SSL", certs, mechanism, user, "wrong-secret")), topic)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    assert high_watermark(sec_broker, topic) == 0


def test_deleted_user_cannot_open_a_new_connection(sec_broker, certs):
    mechanism = "SCRAM-SHA-512"
    upsert(sec_broker, sasl_client.scram_upsertion("leaver", mechanism, "leaver-secret"))
    assert can_login(sec_broker, "SASL_SSL", certs, mechanism, "leaver", "leaver-secret")
    result = upsert(sec_broker, deletions=[("leaver", kafka_wire.SCRAM_SHA_512)])
    assert result == {"leaver": (0, None)}, result
    assert not can_login(sec_broker, "SASL_SSL", certs, mechanism, "leaver", "leaver-secret")
    assert not can_login(sec_broker, "SASL_PLAINTEXT", certs, mechanism, "leaver", "leaver-secret")


@pytest.mark.parametrize("iterations", [4095, 16385])
def test_iterations_outside_kafkas_bounds_are_refused(sec_broker, iterations):
    user = f"iter-{iterations}"
    result = upsert(sec_broker, sasl_client.scram_upsertion(user, "SCRAM-SHA-256", "s", iterations=iterations))
    assert result[user][0] == ERR_UNACCEPTABLE_CREDENTIAL, result
    assert describe(sec_broker, [user])[1][user][0] == kafka_wire.ERR_RESOURCE_NOT_FOUND


def test_a_scram_user_is_not_a_plain_user(sec_broker):
    """PLAIN is not enabled on this broker: SCRAM credentials do not open PLAIN."""
    with kafka_wire.connect(sec_broker.ports["SASL_PLAINTEXT"]) as sock:
        error, mechanisms = kafka_wire.sasl_handshake(sock, "PLAIN")
        assert error == kafka_wire.ERR_UNSUPPORTED_SASL_MECHANISM
        assert sorted(mechanisms) == MECHANISMS
