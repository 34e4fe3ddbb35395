"""Test certificates made with the openssl CLI (3.0) in a temp dir.

A CA signs the broker's certificate (SAN IP:127.0.0.1 and DNS:localhost, so
librdkafka's default ssl.endpoint.identification.algorithm=https, Python's
hostname check and node's checkServerIdentity all pass) and the client
certificate of `CN=alice,OU=eng,O=Sluice`. An expired client certificate comes
from `openssl ca -startdate/-enddate` (openssl 3.0's `x509 -req` has no
-not_before/-not_after; those came in 3.4), with a minimal CA config. A second
CA ("rogue") that the broker does not trust signs a client certificate with the
same subject as alice's, so a test shows the DN alone is not trusted.

Keys are PKCS#8 PEM (what Kafka's PEM keystores take); the encrypted variant is
PKCS#8 with AES-256 and KEY_PASSWORD. The broker's key is RSA 2048, the kind most
Kafka keystores hold; the CAs and client certificates use EC P-256 keys, which every
client here takes and which openssl makes in milliseconds where an RSA 2048 key takes
up to a second (the set is made in each pytest process, one per ctest suite).

Run as a script (`python3 certs.py DIR`) to make a set by hand.
"""

import os
import subprocess
import sys
from dataclasses import dataclass

KEY_PASSWORD = "keystore-secret"
ALICE_DN = "CN=alice,OU=eng,O=Sluice"  # RFC 2253 order, as Kafka prints the principal


@dataclass
class Certs:
    dir: str
    ca: str                  # CA certificate (truststore / ssl.ca.location)
    ca_key: str
    server_cert: str         # broker certificate only
    server_key: str          # unencrypted PKCS#8 key
    server_chain: str        # server cert + CA cert
    server_pem: str          # key + server cert + CA cert in one file (ssl.keystore.location)
    server_key_encrypted: str
    server_pem_encrypted: str  # encrypted key + chain in one file (with ssl.key.password)
    key_password: str
    alice_cert: str
    alice_key: str
    alice_pem: str           # alice key + cert in one file (kafka-python takes certfile+keyfile)
    expired_cert: str
    expired_key: str
    rogue_ca: str            # a CA the broker does not trust
    rogue_cert: str          # CN=alice,OU=eng,O=Sluice signed by the rogue CA
    rogue_key: str


def _openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({p.returncode}):\n"
                           f"{p.stderr.decode(errors='replace')}")
    return p.stdout


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _read(path):
    with open(path) as f:
        return f.read()


KEY_ALGORITHMS = {"RSA": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                  "EC": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]}


def _key(d, name, algorithm="EC"):
    path = os.path.join(d, f"{name}.key")
    _openssl("genpkey", *KEY_ALGORITHMS[algorithm], "-out", path, cwd=d)
    return path


EXTENSIONS = """\
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
authorityKeyIdentifier = keyid

[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
"""


def _ca(d, name, subject):
    key = _key(d, name)
    cert = os.path.join(d, f"{name}.pem")
    _openssl("req", "-x509", "-new", "-key", key, "-subj", subject, "-days", "3650", "-sha256",
             "-config", os.path.join(d, "ext.cnf"), "-extensions", "ca_ext", "-out", cert, cwd=d)
    return cert, key


def _signed(d, name, subject, ca_cert, ca_key, ext, algorithm="EC"):
    key = _key(d, name, algorithm)
    csr = os.path.join(d, f"{name}.csr")
    cert = os.path.join(d, f"{name}.pem")
    _openssl("req", "-new", "-key", key, "-subj", subject, "-out", csr, cwd=d)
    _openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
             "-days", "825", "-sha256", "-extfile", os.path.join(d, "ext.cnf"), "-extensions", ext,
             "-out", cert, cwd=d)
    return cert, key


def _expired(d, name, subject, ca_cert, ca_key):
    """A client certificate valid only in January 2020, through `openssl ca`."""
    key = _key(d, name)
    csr = os.path.join(d, f"{name}.csr")
    cert = os.path.join(d, f"{name}.pem")
    _openssl("req", "-new", "-key", key, "-subj", subject, "-out", csr, cwd=d)
    db = os.path.join(d, "ca-db")
    os.makedirs(os.path.join(db, "new"), exist_ok=True)
    _write(os.path.join(db, "index.txt"), "")
    _write(os.path.join(db, "serial"), "1000\n")
    config = os.path.join(d, "ca.cnf")
    _write(config, f"""\
[ca]
default_ca = test_ca

[test_ca]
dir = {db}
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
certificate = {ca_cert}
private_key = {ca_key}
default_md = sha256
policy = any_policy
unique_subject = no
copy_extensions = none
x509_extensions = client_ext

[any_policy]
commonName = supplied
organizationalUnitName = optional
organizationName = optional

{EXTENSIONS}""")
    _openssl("ca", "-batch", "-config", config, "-notext", "-preserveDN", "-startdate", "20200101000000Z",
             "-enddate", "20200201000000Z", "-in", csr, "-out", cert, cwd=d)
    return cert, key


def make_certs(d):
    """Makes every file in directory d (created if needed); returns a Certs."""
    os.makedirs(d, exist_ok=True)
    _write(os.path.join(d, "ext.cnf"), "[req]\ndistinguished_name = dn\n[dn]\n\n" + EXTENSIONS)
    ca, ca_key = _ca(d, "ca", "/O=Sluice/OU=test/CN=Sluice Test CA")
    server_cert, server_key = _signed(d, "server", "/O=Sluice/CN=localhost", ca, ca_key, "server_ext", "RSA")
    chain = os.path.join(d, "server-chain.pem")
    _write(chain, _read(server_cert) + _read(ca))
    server_pem = os.path.join(d, "server-keystore.pem")
    _write(server_pem, _read(server_key) + _read(chain))
    enc_key = os.path.join(d, "server-encrypted.key")
    _openssl("pkcs8", "-topk8", "-in", server_key, "-v2", "aes-256-cbc", "-passout", f"pass:{KEY_PASSWORD}",
             "-out", enc_key, cwd=d)
    enc_pem = os.path.join(d, "server-keystore-encrypted.pem")
    _write(enc_pem, _read(enc_key) + _read(chain))
    alice_cert, alice_key = _signed(d, "alice", "/O=Sluice/OU=eng/CN=alice", ca, ca_key, "client_ext")
    alice_pem = os.path.join(d, "alice-bundle.pem")
    _write(alice_pem, _read(alice_key) + _read(alice_cert))
    expired_cert, expired_key = _expired(d, "expired", "/O=Sluice/OU=eng/CN=expired", ca, ca_key)
    rogue_ca, rogue_ca_key = _ca(d, "rogue-ca", "/O=Sluice/OU=test/CN=Sluice Test CA")
    rogue_cert, rogue_key = _signed(d, "rogue-alice", "/O=Sluice/OU=eng/CN=alice", rogue_ca, rogue_ca_key,
                                    "client_ext")
    return Certs(dir=d, ca=ca, ca_key=ca_key, server_cert=server_cert, server_key=server_key,
                 server_chain=chain, server_pem=server_pem, server_key_encrypted=enc_key,
                 server_pem_encrypted=enc_pem, key_password=KEY_PASSWORD, alice_cert=alice_cert,
                 alice_key=alice_key, alice_pem=alice_pem, expired_cert=expired_cert,
                 expired_key=expired_key, rogue_ca=rogue_ca, rogue_cert=rogue_cert, rogue_key=rogue_key)


def subject_rfc2253(cert):
    """The subject as openssl prints it in RFC 2253 form (CN first)."""
    out = _openssl("x509", "-in", cert, "-noout", "-subject", "-nameopt", "RFC2253", cwd=os.path.dirname(cert))
    return out.decode().strip().removeprefix("subject=")


if __name__ == "__main__":
    print(make_certs(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "certs")))
