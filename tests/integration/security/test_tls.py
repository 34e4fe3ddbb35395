"""TLS listeners (ssl.client.auth=none): kcat, confluent-kafka, kafka-python and
kafkajs round trips over SSL; the keystore as one PEM file, as an encrypted key
with ssl.key.password (listener-prefixed, on a custom listener name) and inline
(with an inline truststore);
clients that do not trust the CA, plaintext clients and TLS 1.1 are refused."""

import json
import socket
import ssl
import time

import pytest

import kafka_wire
from clients import (TLS_FAILURE_CODES, Identity, ck_conf, ck_refused, ck_round_trip, high_watermark,
                     kafkajs, kcat, kcat_read, kp_conf, kp_round_trip, new_topic)
pytest_plugins = ["security_harness"]  # fixtures: certs, sec_broker, sec_broker_factory


def _read(path):
    with open(path) as f:
        return f.read()


def broker_config(certs):
    listeners = {"SSL": "SSL", "ENCRYPTED": "SSL"}
    overrides = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": certs.server_pem,
        "listener.name.encrypted.ssl.keystore.type": "PEM",
        "listener.name.encrypted.ssl.keystore.location": certs.server_pem_encrypted,
        "listener.name.encrypted.ssl.key.password": certs.key_password,
    }
    return listeners, overrides


def trusting(certs):
    return Identity(ca=certs.ca)


def test_kcat_lists_the_ssl_endpoint_and_round_trips(sec_broker, certs):
    topic = new_topic(sec_broker, "tls-kcat")
    md = kcat(sec_broker, "SSL", trusting(certs), "-L", "-J", "-t", topic)
    assert md.returncode == 0, md.stderr.decode(errors="replace")
    brokers = {b["id"]: b["name"] for b in json.loads(md.stdout)["brokers"]}
    # Metadata over a listener names the broker's endpoint of that same listener.
    assert brokers == {1: sec_broker.addr("SSL")}, brokers
    p = kcat(sec_broker, "SSL", trusting(certs), "-P", "-t", topic, "-p", "0", "-X", "acks=all",
             input_bytes=b"one\ntwo\nthree\n")
    assert p.returncode == 0 and b"ERROR" not in p.stderr, p.stderr.decode(errors="replace")
    values, c = kcat_read(sec_broker, "SSL", trusting(certs), topic)
    assert c.returncode == 0, c.stderr.decode(errors="replace")
    assert values == ["one", "two", "three"]


def test_confluent_kafka_round_trip(sec_broker, certs):
    topic = new_topic(sec_broker, "tls-ck")
    ck_round_trip(ck_conf(sec_broker, "SSL", trusting(certs)), topic, 20)


def test_kafka_python_round_trip(sec_broker, certs):
    topic = new_topic(sec_broker, "tls-kp")
    kp_round_trip(kp_conf(sec_broker, "SSL", trusting(certs)), topic, 20)


def test_kafkajs_round_trip(sec_broker, certs):
    topic = new_topic(sec_broker, "tls-js")
    result = kafkajs(sec_broker, "SSL", trusting(certs), topic, count=10)
    assert result["ok"], result
    assert result["read"] == [f"js-{i}" for i in range(10)]


def test_encrypted_key_with_key_password_on_a_custom_listener(sec_broker, certs):
    topic = new_topic(sec_broker, "tls-encrypted")
    ck_round_trip(ck_conf(sec_broker, "ENCRYPTED", trusting(certs)), topic, 5)


def test_inline_pem_keystore_and_truststore(sec_broker_factory, certs):
    """ssl.keystore.key + ssl.keystore.certificate.chain and ssl.truststore.certificates
    given as PEM text (own broker: the PEM text would fill every other test's report)."""
    b = sec_broker_factory({"SSL": "SSL"}, {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.key": _read(certs.server_key),
        "ssl.keystore.certificate.chain": _read(certs.server_chain),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.certificates": _read(certs.ca),
        "ssl.client.auth": "required",
    })
    alice = Identity(ca=certs.ca, cert=certs.alice_cert, key=certs.alice_key)
    ck_round_trip(ck_conf(b, "SSL", alice), new_topic(b, "tls-inline"), 5)


def test_client_that_does_not_trust_the_ca_is_refused(sec_broker, certs):
    topic = new_topic(sec_broker, "tls-untrusted")
    # librdkafka: SSL handshake failed ... certificate verify failed.
    errors = ck_refused(ck_conf(sec_broker, "SSL", Identity(ca=certs.rogue_ca)), topic)
    assert {e.code() for e in errors} <= TLS_FAILURE_CODES, errors
    assert any("verify failed" in e.str() or "SSL" in e.str() for e in errors), errors
    # Python's TLS: the broker's certificate does not verify.
    ctx = ssl.create_default_context(cafile=certs.rogue_ca)
    with pytest.raises(ssl.SSLCertVerificationError):
        with ctx.wrap_socket(kafka_wire.connect(sec_broker.ports["SSL"]), server_hostname="127.0.0.1"):
            pass
    js = kafkajs(sec_broker, "SSL", Identity(ca=certs.rogue_ca), topic)
    assert not js["ok"] and js["read"] == [], js
    assert high_watermark(sec_broker, topic) == 0


def test_plaintext_client_on_the_ssl_port_gets_nothing(sec_broker):
    """A Kafka request sent in clear to a TLS listener is not served: the broker
    closes the connection (or sends a TLS alert), never a Kafka answer."""
    with kafka_wire.connect(sec_broker.ports["SSL"]) as sock:
        sock.sendall(kafka_wire.frame(kafka_wire.request_header(kafka_wire.API_API_VERSIONS, 0, 1)))
        sock.settimeout(5)
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            data = b""
    assert not data or data[0] == 0x15, f"a Kafka answer in clear: {data[:32]!r}"  # 0x15: TLS alert


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls_1_2_and_1_3_are_enabled(sec_broker, certs, version):
    ctx = ssl.create_default_context(cafile=certs.ca)
    ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, version)
    with ctx.wrap_socket(kafka_wire.connect(sec_broker.ports["SSL"]), server_hostname="127.0.0.1") as s:
        error, versions = kafka_wire.parse_api_versions_v0(
            kafka_wire.call(s, kafka_wire.API_API_VERSIONS, 0, b"", 1))
        assert error == 0 and kafka_wire.API_METADATA in versions


def test_tls_1_1_is_refused(sec_broker, certs):
    """ssl.enabled.protocols defaults to TLSv1.2,TLSv1.3."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(certs.ca)
    ctx.set_ciphers("ALL:@SECLEVEL=0")  # lets this OpenSSL offer TLS 1.1 at all
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionError)):
        with ctx.wrap_socket(kafka_wire.connect(sec_broker.ports["SSL"]), server_hostname="127.0.0.1"):
            pass


def _tls_handshake(port, ca):
    """True when a TLS handshake verifying the broker against `ca` succeeds."""
    ctx = ssl.create_default_context(cafile=ca)
    try:
        with ctx.wrap_socket(kafka_wire.connect(port), server_hostname="127.0.0.1"):
            return True
    except ssl.SSLCertVerificationError:
        return False


def _poll(condition, what, timeout_s=15):
    """The broker looks at its keystore files on a new connection at most once a
    second: poll with new connections instead of sleeping a guessed interval."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.1)


def test_keystore_reload_without_restart(sec_broker_factory, certs, tmp_path):
    """A keystore file replaced while the broker runs serves later connections
    (checked at most once a second); a broken file keeps the previous one."""
    import shutil

    from certs import _ca, _read, _signed, _write  # the same openssl recipes

    keystore = str(tmp_path / "keystore.pem")
    shutil.copy(certs.server_pem, keystore)
    b = sec_broker_factory({"SSL": "SSL"}, {"ssl.keystore.type": "PEM", "ssl.keystore.location": keystore})
    port = b.ports["SSL"]
    ck_round_trip(ck_conf(b, "SSL", trusting(certs)), new_topic(b, "tls-reload"), 3, tag="before")

    # A broken keystore: logged, and the current certificates keep serving every
    # connection, including the ones that made the broker look at the file.
    _write(keystore, "not a pem file\n")

    def broken_keystore_seen():
        assert _tls_handshake(port, certs.ca), "a handshake failed while the keystore file was broken"
        return "new connections keep the previous certificates" in b.logs()

    _poll(broken_keystore_seen, "the broker logs that it keeps the previous certificates")
    ck_round_trip(ck_conf(b, "SSL", trusting(certs)), new_topic(b, "tls-reload"), 3, tag="broken")

    # A new CA and server certificate: new clients must trust the new CA.
    d = str(tmp_path)
    _write(str(tmp_path / "ext.cnf"), _read(f"{certs.dir}/ext.cnf"))
    new_ca, new_ca_key = _ca(d, "new-ca", "/O=Sluice/OU=test/CN=Sluice Reload CA")
    new_cert, new_key = _signed(d, "new-server", "/O=Sluice/CN=localhost", new_ca, new_ca_key, "server_ext")
    _write(keystore, _read(new_key) + _read(new_cert) + _read(new_ca))
    _poll(lambda: _tls_handshake(port, new_ca), "the broker serves the new certificate")
    ck_round_trip(ck_conf(b, "SSL", Identity(ca=new_ca)), new_topic(b, "tls-reload"), 3, tag="after")
    assert "TLS keystore or truststore changed" in b.logs()
