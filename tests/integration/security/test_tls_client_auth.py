"""ssl.client.auth on two listeners of one broker: REQUIRED (required) refuses a
client without a certificate, with an expired one, or with one from a CA the
truststore does not hold (even with alice's DN); alice's certificate gets in with
every client. REQUESTED (requested) lets a client without a certificate in, and
alice's too."""

import ssl

import pytest

import kafka_wire
from clients import (TLS_FAILURE_CODES, Identity, ck_conf, ck_refused, ck_round_trip, high_watermark,
                     kafkajs, kcat_read, kp_conf, kp_refused, kp_round_trip, new_topic)
pytest_plugins = ["security_harness"]  # fixtures: certs, sec_broker, sec_broker_factory


def broker_config(certs):
    listeners = {"REQUIRED": "SSL", "REQUESTED": "SSL"}
    overrides = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": certs.server_pem,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": certs.ca,
        "listener.name.required.ssl.client.auth": "required",
        "listener.name.requested.ssl.client.auth": "requested",
    }
    return listeners, overrides


def alice(certs):
    return Identity(ca=certs.ca, cert=certs.alice_cert, key=certs.alice_key)


def anonymous(certs):
    return Identity(ca=certs.ca)


def expired(certs):
    return Identity(ca=certs.ca, cert=certs.expired_cert, key=certs.expired_key)


def rogue(certs):
    return Identity(ca=certs.ca, cert=certs.rogue_cert, key=certs.rogue_key)


def raw_api_versions(port, ca, cert=None, key=None):
    """ApiVersions v0 over TLS; raises (SSL or connection error) when refused. With
    TLS 1.3 the client's handshake ends before the server checks the client's
    certificate, so the refusal may show only at the first read."""
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    with ctx.wrap_socket(kafka_wire.connect(port), server_hostname="127.0.0.1") as s:
        return kafka_wire.parse_api_versions_v0(kafka_wire.call(s, kafka_wire.API_API_VERSIONS, 0, b"", 1))


def test_required_lets_alice_in_with_every_client(sec_broker, certs):
    topic = new_topic(sec_broker, "mtls-alice")
    ck_round_trip(ck_conf(sec_broker, "REQUIRED", alice(certs)), topic, 10, tag="ck")
    values, p = kcat_read(sec_broker, "REQUIRED", alice(certs), topic)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert values == [f"ck-{i}" for i in range(10)]
    kp_topic = new_topic(sec_broker, "mtls-alice-kp")
    kp_round_trip(kp_conf(sec_broker, "REQUIRED", alice(certs)), kp_topic, 10)
    js_topic = new_topic(sec_broker, "mtls-alice-js")
    js = kafkajs(sec_broker, "REQUIRED", alice(certs), js_topic, count=5)
    assert js["ok"] and js["read"] == [f"js-{i}" for i in range(5)], js


@pytest.mark.parametrize("who", ["anonymous", "expired", "rogue"])
def test_required_refuses(sec_broker, certs, who):
    ident = {"anonymous": anonymous, "expired": expired, "rogue": rogue}[who](certs)
    topic = new_topic(sec_broker, f"mtls-{who}")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        raw_api_versions(sec_broker.ports["REQUIRED"], ident.ca, ident.cert, ident.key)
    errors = ck_refused(ck_conf(sec_broker, "REQUIRED", ident), topic)
    assert {e.code() for e in errors} <= TLS_FAILURE_CODES, errors
    kp_refused(kp_conf(sec_broker, "REQUIRED", ident), topic)
    js = kafkajs(sec_broker, "REQUIRED", ident, topic)
    assert not js["ok"] and js["read"] == [], js
    assert high_watermark(sec_broker, topic) == 0


@pytest.mark.parametrize("who", ["anonymous", "alice"])
def test_requested_lets_both_in(sec_broker, certs, who):
    ident = anonymous(certs) if who == "anonymous" else alice(certs)
    error, _ = raw_api_versions(sec_broker.ports["REQUESTED"], ident.ca, ident.cert, ident.key)
    assert error == 0
    topic = new_topic(sec_broker, f"mtls-req-{who}")
    ck_round_trip(ck_conf(sec_broker, "REQUESTED", ident), topic, 5)


def test_requested_still_refuses_an_untrusted_certificate(sec_broker, certs):
    """`requested` makes the certificate optional, not its verification: one that
    is presented must chain to the truststore (Kafka: the SSLEngine's wantClientAuth)."""
    ident = rogue(certs)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        raw_api_versions(sec_broker.ports["REQUESTED"], ident.ca, ident.cert, ident.key)
