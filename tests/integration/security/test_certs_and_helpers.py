"""The suite's own tools, without a broker: the certificates behave as the broker
tests assume (checked with a Python TLS server in a thread: alice verifies, the
expired and rogue-CA certificates and a missing one are refused under a required
client certificate, the encrypted keystore opens with its password), the SCRAM
client matches RFC 7677's example, and the new kafka_wire requests encode as
Kafka's schemas say."""

import base64
import socket
import ssl
import subprocess
import threading

import pytest

import kafka_wire
import sasl_client
from certs import ALICE_DN, subject_rfc2253
pytest_plugins = ["security_harness"]  # fixtures: certs, sec_broker, sec_broker_factory


def test_subjects_and_validity(certs):
    assert subject_rfc2253(certs.alice_cert) == ALICE_DN
    assert subject_rfc2253(certs.rogue_cert) == ALICE_DN  # same DN, untrusted issuer

    def verify(cert, ca):
        return subprocess.run(["openssl", "verify", "-CAfile", ca, cert], capture_output=True, text=True)

    assert verify(certs.server_cert, certs.ca).returncode == 0
    assert verify(certs.alice_cert, certs.ca).returncode == 0
    expired = verify(certs.expired_cert, certs.ca)
    assert expired.returncode != 0 and "expired" in expired.stdout + expired.stderr
    assert verify(certs.rogue_cert, certs.ca).returncode != 0
    san = subprocess.run(["openssl", "x509", "-in", certs.server_cert, "-noout", "-ext", "subjectAltName"],
                         capture_output=True, text=True).stdout
    assert "IP Address:127.0.0.1" in san and "DNS:localhost" in san
    with open(certs.server_pem) as f:
        pem = f.read()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----") and pem.count("BEGIN CERTIFICATE") == 2
    with open(certs.server_pem_encrypted) as f:
        assert f.read().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")


class TlsServer:
    """Accepts TLS connections, answers each first 4 bytes with b"pong"."""

    def __init__(self, certs, require_client_cert):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs.server_pem_encrypted, password=certs.key_password)
        ctx.load_verify_locations(certs.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
        self.ctx = ctx
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(raw, server_side=True) as s:
                    if s.recv(4):
                        s.sendall(b"pong")
            except (ssl.SSLError, OSError):
                pass

    def close(self):
        self.listener.close()


def ping(port, ca, cert=None, key=None):
    ctx = sasl_client.tls_context(ca, cert, key)
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                         server_hostname="127.0.0.1") as s:
        s.sendall(b"ping")
        return s.recv(4)


@pytest.fixture
def mtls_server(certs):
    server = TlsServer(certs, require_client_cert=True)
    yield server
    server.close()


def test_alice_verifies_against_the_ca(certs, mtls_server):
    assert ping(mtls_server.port, certs.ca, certs.alice_cert, certs.alice_key) == b"pong"


@pytest.mark.parametrize("who", ["none", "expired", "rogue"])
def test_bad_client_certificates_fail_the_handshake(certs, mtls_server, who):
    cert, key = {"none": (None, None), "expired": (certs.expired_cert, certs.expired_key),
                 "rogue": (certs.rogue_cert, certs.rogue_key)}[who]
    with pytest.raises((ssl.SSLError, ConnectionError)):
        assert ping(mtls_server.port, certs.ca, cert, key) == b"pong"


def test_client_trusting_another_ca_refuses_the_server(certs, mtls_server):
    with pytest.raises(ssl.SSLCertVerificationError):
        ping(mtls_server.port, certs.rogue_ca, certs.alice_cert, certs.alice_key)


def test_scram_sha_256_matches_rfc_7677():
    client = sasl_client.ScramClient("SCRAM-SHA-256", "user", "pencil")
    client.nonce = "rOprNGfwEbeRWgbNEkqO"
    client.first_bare = f"n=user,r={client.nonce}"
    assert client.first() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    assert client.final(server_first) == (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                          b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    client.verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")


def test_salted_password_is_pbkdf2():
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    up = sasl_client.scram_upsertion("user", "SCRAM-SHA-256", "pencil", 4096, salt)
    assert up[:4] == ("user", kafka_wire.SCRAM_SHA_256, 4096, salt) and len(up[4]) == 32
    assert len(sasl_client.scram_upsertion("u", "SCRAM-SHA-512", "p")[4]) == 64


class FakeSocket:
    """Records what is sent; answers with one canned response frame."""

    def __init__(self, response_body, correlation_id, flexible):
        header = kafka_wire.Writer().i32(correlation_id)
        if flexible:
            header.no_tags()
        self.inbox = kafka_wire.frame(bytes(header.buf) + response_body)
        self.sent = b""

    def sendall(self, data):
        self.sent += data

    def recv(self, n):
        out, self.inbox = self.inbox[:n], self.inbox[n:]
        return out


def test_alter_user_scram_credentials_encoding():
    response = (kafka_wire.Writer().i32(0).compact_array(
        [("alice", 0, None)], lambda w, r: w.compact_string(r[0]).i16(r[1]).compact_string(r[2]).no_tags())
        .no_tags())
    sock = FakeSocket(bytes(response.buf), 51, flexible=True)
    got = kafka_wire.alter_user_scram_credentials(sock, [("alice", 1, 4096, b"salt", b"x" * 32)], [("bob", 2)])
    assert got == {"alice": (0, None)}
    r = kafka_wire.Reader(sock.sent[4:])
    assert (r.i16(), r.i16(), r.i32(), r.string()) == (51, 0, 51, "sluice-it")
    r.skip_tags()
    deletions = r.compact_array(lambda x: (x.compact_string(), x.i8(), x.skip_tags())[:2])
    upsertions = r.compact_array(lambda x: (x.compact_string(), x.i8(), x.i32(), x.compact_bytes(),
                                            x.compact_bytes(), x.skip_tags())[:5])
    r.skip_tags()
    assert deletions == [("bob", 2)] and upsertions == [("alice", 1, 4096, b"salt", b"x" * 32)]
    assert r.remaining() == 0


def test_describe_user_scram_credentials_decoding():
    w = kafka_wire.Writer().i32(0).i16(0).compact_string(None)
    w.compact_array([("alice", [(1, 4096), (2, 8192)])], lambda w, u: (
        w.compact_string(u[0]).i16(0).compact_string(None),
        w.compact_array(u[1], lambda w, c: w.i8(c[0]).i32(c[1]).no_tags()), w.no_tags()))
    w.no_tags()
    sock = FakeSocket(bytes(w.buf), 50, flexible=True)
    assert kafka_wire.describe_user_scram_credentials(sock, ["alice"]) == \
        (0, {"alice": (0, [(1, 4096), (2, 8192)])})


@pytest.mark.parametrize("version", [0, 1, 2])
def test_sasl_authenticate_decoding(version):
    flexible = version >= 2
    w = kafka_wire.Writer().i16(58)
    if flexible:
        w.compact_string("no").compact_bytes(b"")
    else:
        w.string("no").bytes_(b"")
    if version >= 1:
        w.i64(2000)
    if flexible:
        w.no_tags()
    sock = FakeSocket(bytes(w.buf), 102, flexible=flexible)
    got = kafka_wire.sasl_authenticate(sock, b"\0a\0b", version)
    assert got == {"error": 58, "message": "no", "token": b"",
                   "session_lifetime_ms": 2000 if version >= 1 else 0}
