"""Client configurations and round trips for the security tests: confluent-kafka
(librdkafka 2.0.2), kafka-python 2.0.2, kcat and kafkajs (tests/clients/js/
security_client.js), each pointed at one listener of a security broker."""

import json
import os
import shutil
import subprocess
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import REPO_ROOT, kcat_bin, unique_topic

TIMEOUT_S = 20
JS_DIR = os.path.join(REPO_ROOT, "tests", "clients", "js")

# librdkafka's local error codes for a refused TLS handshake / connection.
TLS_FAILURE_CODES = {KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN}


class Identity:
    """What a client presents: TLS trust and certificate, SASL mechanism and credentials."""

    def __init__(self, ca=None, cert=None, key=None, mechanism=None, user=None, password=None):
        self.ca, self.cert, self.key = ca, cert, key
        self.mechanism, self.user, self.password = mechanism, user, password


def protocol_of(broker, listener):
    return broker.protocols[listener]


def ck_conf(broker, listener, ident=None, **extra):
    ident = ident or Identity()
    conf = {"bootstrap.servers": broker.addr(listener),
            "security.protocol": protocol_of(broker, listener).lower(),
            "socket.connection.setup.timeout.ms": 5000}
    if ident.ca:
        conf["ssl.ca.location"] = ident.ca
    if ident.cert:
        conf["ssl.certificate.location"] = ident.cert
        conf["ssl.key.location"] = ident.key
    if ident.mechanism:
        conf.update({"sasl.mechanism": ident.mechanism, "sasl.username": ident.user,
                     "sasl.password": ident.password})
    conf.update(extra)
    return conf


def kp_conf(broker, listener, ident=None, **extra):
    ident = ident or Identity()
    conf = {"bootstrap_servers": broker.addr(listener),
            "security_protocol": protocol_of(broker, listener), "request_timeout_ms": 15000}
    if ident.ca:
        conf["ssl_cafile"] = ident.ca
    if ident.cert:
        conf["ssl_certfile"] = ident.cert
        conf["ssl_keyfile"] = ident.key
    if ident.mechanism:
        conf.update({"sasl_mechanism": ident.mechanism, "sasl_plain_username": ident.user,
                     "sasl_plain_password": ident.password})
    conf.update(extra)
    return conf


def kcat_args(broker, listener, ident=None):
    return [f"{k}={v}" for k, v in ck_conf(broker, listener, ident).items() if k != "bootstrap.servers"]


def kcat(broker, listener, ident, *args, input_bytes=None, timeout_s=30):
    cmd = [kcat_bin(), "-b", broker.addr(listener)]
    for setting in kcat_args(broker, listener, ident):
        cmd += ["-X", setting]
    cmd += list(args)
    return subprocess.run(cmd, input=input_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout_s)


# Topic set-up and checks go through the PLAINTEXT listener every security broker keeps.

_admins = {}


def plain_admin(broker):
    if broker.bootstrap not in _admins:
        _admins[broker.bootstrap] = AdminClient({"bootstrap.servers": broker.bootstrap})
    return _admins[broker.bootstrap]


def new_topic(broker, prefix="sec", partitions=1):
    topic = unique_topic(prefix)
    plain_admin(broker).create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=TIMEOUT_S)
    return topic


def high_watermark(broker, topic, partition=0):
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "sec-it-hw"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=TIMEOUT_S)[1]
    finally:
        c.close()


def ck_produce(conf, topic, values, timeout_s=TIMEOUT_S):
    """Produces values (acks=all) to partition 0; fails the test on any delivery error."""
    failures = []
    p = Producer({**conf, "acks": "all", "linger.ms": 5, "message.timeout.ms": timeout_s * 1000})
    for v in values:
        p.produce(topic, value=v.encode(), partition=0,
                  on_delivery=lambda err, msg: err and failures.append(err))
    left = p.flush(timeout_s + 5)
    assert left == 0 and not failures, f"{left} undelivered, errors {failures[:3]}"


def ck_consume(conf, topic, count, timeout_s=TIMEOUT_S):
    """Values of partition 0 from the beginning until `count` read or end of partition."""
    c = Consumer({**conf, "group.id": "sec-it", "enable.auto.commit": False,
                  "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    out = []
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF and len(out) >= count:
                    break
                if m.error().code() != KafkaError._PARTITION_EOF:
                    raise AssertionError(f"consume error: {m.error()}")
                continue
            out.append(m.value().decode())
    finally:
        c.close()
    return out


def ck_round_trip(conf, topic, n=10, tag="ck"):
    values = [f"{tag}-{i}" for i in range(n)]
    ck_produce(conf, topic, values)
    got = ck_consume(conf, topic, n)
    assert got == values
    return values


def ck_refused(conf, topic, wait_s=10):
    """A producer that must not get in: returns the errors its error_cb saw (at least
    one within wait_s), after checking nothing was delivered."""
    errors, delivered = [], []
    p = Producer({**conf, "acks": "all", "message.timeout.ms": wait_s * 1000,
                  "error_cb": errors.append, "reconnect.backoff.ms": 200})
    p.produce(topic, value=b"must-not-be-written", partition=0,
              on_delivery=lambda err, msg: err is None and delivered.append(msg))
    deadline = time.monotonic() + wait_s
    while not errors and time.monotonic() < deadline:
        p.poll(0.2)
    p.purge()
    p.flush(2)
    assert not delivered, "a refused client's message was delivered"
    assert errors, f"no error reported within {wait_s} s"
    return errors


def kp_round_trip(conf, topic, n=10, tag="kp"):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KTP
    values = [f"{tag}-{i}" for i in range(n)]
    p = KafkaProducer(acks="all", **conf)
    try:
        for f in [p.send(topic, value=v.encode(), partition=0) for v in values]:
            f.get(timeout=TIMEOUT_S)
    finally:
        p.close(timeout=5)
    c = KafkaConsumer(group_id=None, enable_auto_commit=False, auto_offset_reset="earliest", **conf)
    got = []
    try:
        c.assign([KTP(topic, 0)])
        c.seek_to_beginning()
        deadline = time.monotonic() + TIMEOUT_S
        while len(got) < n and time.monotonic() < deadline:
            for records in c.poll(timeout_ms=500).values():
                got.extend(r.value.decode() for r in records)
    finally:
        c.close()
    assert got == values
    return values


def kp_refused(conf, topic):
    """kafka-python must fail to bootstrap or to send; returns the exception."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError as KPError
    with pytest.raises((KPError, OSError)) as info:
        p = KafkaProducer(acks="all", max_block_ms=5000, api_version_auto_timeout_ms=3000, **conf)
        try:
            p.send(topic, b"must-not-be-written", partition=0).get(timeout=10)
        finally:
            p.close(timeout=2)
    return info.value


def kafkajs(broker, listener, ident, topic, mode="roundtrip", count=10, run_ms=0, timeout_s=60):
    """Runs tests/clients/js/security_client.js; returns its JSON result line:
    {"ok": bool, "error": name, "message": str, "sent": n, "read": [values]}."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (scripts/install-deps installs nodejs)")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "kafkajs")):
        pytest.fail(f"kafkajs is not installed: run `npm ci` in {JS_DIR}")
    env = dict(os.environ, SLUICE_BOOTSTRAP=broker.addr(listener), SLUICE_TOPIC=topic, SLUICE_MODE=mode,
               SLUICE_COUNT=str(count), SLUICE_RUN_MS=str(run_ms),
               SLUICE_PROTOCOL=protocol_of(broker, listener))
    for var, value in (("SLUICE_SSL_CA", ident.ca), ("SLUICE_SSL_CERT", ident.cert),
                       ("SLUICE_SSL_KEY", ident.key), ("SLUICE_SASL_MECHANISM", ident.mechanism),
                       ("SLUICE_SASL_USER", ident.user), ("SLUICE_SASL_PASSWORD", ident.password)):
        if value:
            env[var] = value
    p = subprocess.run([node, "security_client.js"], cwd=JS_DIR, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout_s)
    lines = [line for line in p.stdout.decode(errors="replace").splitlines() if line.startswith("{")]
    assert lines, f"security_client.js printed no result (exit {p.returncode}):\n" \
                  f"{p.stdout.decode(errors='replace')[-2000:]}\n{p.stderr.decode(errors='replace')[-3000:]}"
    return json.loads(lines[-1])
