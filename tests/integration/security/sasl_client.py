"""A SASL client on raw sockets (PLAIN and SCRAM-SHA-256/512, RFC 4616 / RFC 5802),
written from the RFCs, for what the installed clients cannot show: the
SaslAuthenticate answer itself (error message, session_lifetime_ms), the
connection state after a failure, KIP-368 expiry, and SCRAM credentials computed
for AlterUserScramCredentials."""

import base64
import hashlib
import hmac
import os
import ssl

import kafka_wire

MECHANISM_IDS = {"SCRAM-SHA-256": kafka_wire.SCRAM_SHA_256, "SCRAM-SHA-512": kafka_wire.SCRAM_SHA_512}
_HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


def salted_password(mechanism, password, salt, iterations):
    """SCRAM's Hi(): PBKDF2 with the mechanism's hash (what AlterUserScramCredentials carries)."""
    return hashlib.pbkdf2_hmac(_HASHES[mechanism], password.encode(), salt, iterations)


def scram_upsertion(user, mechanism, password, iterations=4096, salt=None):
    salt = salt or os.urandom(16)
    return (user, MECHANISM_IDS[mechanism], iterations, salt,
            salted_password(mechanism, password, salt, iterations))


class ScramClient:
    def __init__(self, mechanism, user, password):
        self.hash = _HASHES[mechanism]
        self.user = user
        self.password = password
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n={user.replace('=', '=3D').replace(',', '=2C')},r={self.nonce}"
        self.server_signature = None

    def first(self):
        return ("n,," + self.first_bare).encode()

    def final(self, server_first):
        text = server_first.decode()
        fields = dict(kv.split("=", 1) for kv in text.split(","))
        if not fields["r"].startswith(self.nonce):
            raise ValueError(f"server nonce does not extend the client's: {text}")
        salt = base64.b64decode(fields["s"])
        iterations = int(fields["i"])
        salted = hashlib.pbkdf2_hmac(self.hash, self.password.encode(), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", self.hash).digest()
        stored_key = hashlib.new(self.hash, client_key).digest()
        without_proof = f"c=biws,r={fields['r']}"
        auth_message = f"{self.first_bare},{text},{without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, self.hash).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", self.hash).digest()
        self.server_signature = hmac.new(server_key, auth_message, self.hash).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final):
        text = server_final.decode()
        if not text.startswith("v="):
            raise ValueError(f"server-final-message is an error: {text}")
        if base64.b64decode(text[2:]) != self.server_signature:
            raise ValueError("server signature does not match: the server does not know the password")


def connect(port, tls_context=None, timeout_s=5.0):
    sock = kafka_wire.connect(port, timeout_s)
    if tls_context is not None:
        sock = tls_context.wrap_socket(sock, server_hostname="127.0.0.1")
    return sock


def tls_context(ca, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def authenticate(sock, mechanism, user, password, version=1):
    """SaslHandshake v1 then SaslAuthenticate `version` rounds on an open socket.
    Returns the last SaslAuthenticate answer (a dict, see kafka_wire.sasl_authenticate);
    its "error" is non-zero on failure. Raises ConnectionError if the broker closes
    the connection instead of answering."""
    error, mechanisms = kafka_wire.sasl_handshake(sock, mechanism, version=1)
    if error != kafka_wire.ERR_NONE:
        return {"error": error, "message": f"handshake: enabled {mechanisms}", "token": None,
                "session_lifetime_ms": 0, "mechanisms": mechanisms}
    if mechanism == "PLAIN":
        return kafka_wire.sasl_authenticate(sock, f"\0{user}\0{password}".encode(), version)
    scram = ScramClient(mechanism, user, password)
    first = kafka_wire.sasl_authenticate(sock, scram.first(), version, correlation_id=103)
    if first["error"] != kafka_wire.ERR_NONE:
        return first
    final = kafka_wire.sasl_authenticate(sock, scram.final(first["token"]), version, correlation_id=104)
    if final["error"] == kafka_wire.ERR_NONE:
        scram.verify(final["token"])
    return final


def login(port, mechanism, user, password, version=1, tls=None):
    """A new connection, authenticated; returns (socket, SaslAuthenticate answer)."""
    sock = connect(port, tls)
    try:
        answer = authenticate(sock, mechanism, user, password, version)
    except BaseException:
        sock.close()
        raise
    return sock, answer


def can_login(port, mechanism, user, password, tls=None):
    """True when a new connection authenticates; False when the broker refuses
    (error answer or closed connection)."""
    try:
        sock, answer = login(port, mechanism, user, password, tls=tls)
    except ConnectionError:
        return False
    with sock:
        return answer["error"] == kafka_wire.ERR_NONE
