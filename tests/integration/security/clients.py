"""Client configurations and round trips for the security tests: confluent-kafka
(librdkafka 2.0.2), kafka-python 2.0.2, kcat and kafkajs (tests/clients/js/
security_client.js), each pointed at one listener of a security broker."""

import json
import os
import shutil
import subprocess
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import REPO_ROOT, kcat_bin, unique_topic

TIMEOUT_S = 20
JS_DIR = os.path.join(REPO_ROOT, "tests", "clients", "js")

# librdkafka's local error codes for a refused TLS handshake / connection.
TLS_FAILURE_CODES = {KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN}

# Where the consumers here start reading: offset 0 is the beginning of the tests'
# topics (made for the test, nothing deleted). OFFSET_BEGINNING / `-o beginning` would
# make librdkafka 2.0.2 send a ListOffsets first, which it does only after a 500 ms timer.
FIRST_OFFSET = 0


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


def kcat_read(broker, listener, ident, topic):
    """kcat's consumer over `listener`: partition 0 from the beginning to its end ->
    (values, completed process)."""
    p = kcat(broker, listener, ident, "-C", "-t", topic, "-p", "0", "-o", str(FIRST_OFFSET), "-e", "-q")
    return p.stdout.decode().split(), p


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


def ck_producer(conf, timeout_s=TIMEOUT_S):
    """A Producer that has had its first Metadata answer (for a client that gets in).
    When the first message comes while the Metadata request librdkafka 2.0.2 sends on
    connecting is in flight, it asks for the topic only on its next 1 s timer tick:
    more than half of the producers made just before producing lost a second to that."""
    p = Producer(conf)
    p.list_topics(timeout=timeout_s)
    return p


def ck_produce(conf, topic, values, timeout_s=TIMEOUT_S):
    """Produces values (acks=all) to partition 0; fails the test on any delivery error."""
    failures = []
    p = ck_producer({**conf, "acks": "all", "linger.ms": 5, "message.timeout.ms": timeout_s * 1000})
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
        c.assign([TopicPartition(topic, 0, FIRST_OFFSET)])
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


class KafkajsRun:
    """A running tests/clients/js/security_client.js (start_kafkajs); result() waits
    for it and returns its JSON result line. A context manager: leaving it kills a
    run whose result was not taken."""

    def __init__(self, proc, timeout_s):
        self.proc, self.timeout_s = proc, timeout_s

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        """A test that failed before result() leaves no node process behind."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def result(self):
        try:
            out, err = self.proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise AssertionError(f"security_client.js did not finish within {self.timeout_s} s")
        out, err = out.decode(errors="replace"), err.decode(errors="replace")
        lines = [line for line in out.splitlines() if line.startswith("{")]
        assert lines, f"security_client.js printed no result (exit {self.proc.returncode}):\n" \
                      f"{out[-2000:]}\n{err[-3000:]}"
        return json.loads(lines[-1])


def start_kafkajs(broker, listener, ident, topic, mode="roundtrip", count=10, run_ms=0, timeout_s=60):
    """Starts security_client.js without waiting (a test can drive another client
    meanwhile); kafkajs() below is start + result."""
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
    proc = subprocess.Popen([node, "security_client.js"], cwd=JS_DIR, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    return KafkajsRun(proc, timeout_s)


def kafkajs(broker, listener, ident, topic, mode="roundtrip", count=10, run_ms=0, timeout_s=60):
    """Runs tests/clients/js/security_client.js; returns its JSON result line:
    {"ok": bool, "error": name, "message": str, "sent": n, "read": [values]}."""
    return start_kafkajs(broker, listener, ident, topic, mode, count, run_ms, timeout_s).result()
