"""Helpers of the ACL tests (test_acls.py, test_acl_cli.py): the broker settings
(a PLAINTEXT listener whose User:ANONYMOUS is a super user, a SASL_PLAINTEXT
listener with PLAIN users), `sluice acl`, and what a user sees from real clients:
confluent-kafka (librdkafka 2.0.2) producers and consumers that report their
errors instead of failing the test, a raw Metadata v1 on an authenticated
connection, kafka-python 2.0.2's KafkaAdminClient."""

import subprocess
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

import conftest as harness
import kafka_wire
import sasl_client
from clients import Identity, ck_conf, ck_producer, kp_conf

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
LISTENER = "SASL_PLAINTEXT"
PASSWORDS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret",
             "carol": "carol-secret", "dave": "dave-secret", "erin": "erin-secret"}
JAAS = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
        + " ".join(f'user_{u}="{p}"' for u, p in PASSWORDS.items()) + ";")
WAIT_S = 10

# Kafka's error codes (clients/src/main/java/org/apache/kafka/common/protocol/Errors.java).
ERR_COORDINATOR_LOAD_IN_PROGRESS = 14
ERR_TOPIC_AUTHORIZATION_FAILED = 29
ERR_GROUP_AUTHORIZATION_FAILED = 30
ERR_CLUSTER_AUTHORIZATION_FAILED = 31
ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
ERR_SECURITY_DISABLED = 54
API_INIT_PRODUCER_ID = 22


def broker_settings(authorizer=True):
    """(listeners, overrides) of an ACL test broker."""
    overrides = {"sasl.enabled.mechanisms": "PLAIN",
                 "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS}
    if authorizer:
        overrides["authorizer.class.name"] = AUTHORIZER
        overrides["super.users"] = "User:ANONYMOUS;User:admin"
    return {LISTENER: LISTENER}, overrides


def ident(user):
    return Identity(mechanism="PLAIN", user=user, password=PASSWORDS[user])


def conf(broker, user, **extra):
    """confluent-kafka settings of `user` on the SASL listener."""
    return ck_conf(broker, LISTENER, ident(user), **extra)


def kp(broker, user, **extra):
    """kafka-python settings of `user` on the SASL listener."""
    return kp_conf(broker, LISTENER, ident(user), **extra)


# ---- sluice acl ------------------------------------------------------------------------

def acl(broker, *args, check=True, timeout_s=30):
    """`sluice acl <args> -b <PLAINTEXT listener>` (User:ANONYMOUS, a super user there).
    Answers a confirmation prompt with y (kafka-acls.sh --remove asks unless --force)."""
    cmd = [harness.sluice_bin(), "acl", *args, "-b", broker.bootstrap]
    p = subprocess.run(cmd, input=b"y\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout_s)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if check:
        assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}:\n{out[-2000:]}\n{err[-2000:]}"
    return p.returncode, out, err


def allow(broker, principal, operations, *resource, pattern=None):
    """Adds ALLOW ACLs: allow(b, "User:alice", ["Write", "Describe"], "--topic", "t")."""
    args = ["add", "--allow-principal", principal]
    for op in operations:
        args += ["--operation", op]
    if pattern:
        args += ["--resource-pattern-type", pattern]
    return acl(broker, *args, *resource)


def deny(broker, principal, operations, *resource):
    args = ["add", "--deny-principal", principal]
    for op in operations:
        args += ["--operation", op]
    return acl(broker, *args, *resource)


def list_blocks(text):
    """`sluice acl list` output as kafka-acls.sh --list prints it ->
    {resource header line: [stripped ACL lines]}. kafka-acls.sh prints
    "Current ACLs for resource `R`: \\n \\t(acl)\\n\\t(acl) \\n": entries are compared
    without the surrounding blanks."""
    blocks, current = {}, None
    for line in text.splitlines():
        if line.startswith("Current ACLs for resource "):
            current = line.rstrip()
            blocks[current] = []
        elif line.strip() and current is not None:
            blocks[current].append(line.strip())
    return blocks


def resource_header(resource_type, name, pattern="LITERAL"):
    return (f"Current ACLs for resource `ResourcePattern(resourceType={resource_type}, name={name}, "
            f"patternType={pattern})`:")


def entry(principal, operation, permission="ALLOW", host="*"):
    return f"(principal={principal}, host={host}, operation={operation}, permissionType={permission})"


# ---- confluent-kafka as a user -----------------------------------------------------------

def produce_outcome(conf_, topic, n=3, wait_s=WAIT_S, expect_refusal=False, **extra):
    """Produces n values (no explicit partition, so a topic-level metadata error fails
    them at once). Returns ([delivery error or None per message], [error_cb errors]).
    A producer expected to get through is connected first (clients.ck_producer); one
    expected to be refused is not: once connected, librdkafka 2.0.2 would fail its
    messages only on its 1 s timer tick, and asking for the topic's Metadata first
    would make produce() itself raise instead of reporting each message's error."""
    results, errors = [], []
    settings = {**conf_, "acks": "all", "linger.ms": 5, "message.timeout.ms": wait_s * 1000,
                "error_cb": errors.append, **extra}
    p = Producer(settings) if expect_refusal else ck_producer(settings, wait_s)
    for i in range(n):
        p.produce(topic, value=f"v-{i}".encode(), on_delivery=lambda err, msg: results.append(err))
    left = p.flush(wait_s + 5)
    assert left == 0, f"{left} messages neither delivered nor failed after {wait_s + 5} s"
    return results, errors


def assert_produces(conf_, topic, n=3, **extra):
    results, errors = produce_outcome(conf_, topic, n, **extra)
    failed = [e for e in results if e is not None]
    assert len(results) == n and not failed, f"delivery errors {failed[:3]}, client errors {errors[:3]}"


def assert_produce_refused(conf_, topic, code=KafkaError.TOPIC_AUTHORIZATION_FAILED, n=2):
    """Every message fails with `code` (librdkafka 2.0.2 fails a topic whose Metadata
    answers TOPIC_AUTHORIZATION_FAILED permanently, and a partition whose Produce
    answers it)."""
    results, errors = produce_outcome(conf_, topic, n, expect_refusal=True)
    assert results and all(e is not None for e in results), \
        f"a message of a refused producer was delivered: {results}"
    assert all(e.code() == code for e in results), \
        f"delivery errors {[(e.name(), e.str()) for e in results]}, expected {KafkaError(code).name()}"
    return results


def consume_outcome(conf_, topic, group, count, wait_s=WAIT_S, stop_on_error=True, subscribe=True):
    """A consumer of `group` (subscribed, or assigned partition 0 from the beginning).
    Reads until `count` values, an error (when stop_on_error), or wait_s.
    Returns (values, [KafkaError]) without the end-of-partition events."""
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition
    values, errors = [], []
    c = Consumer({**conf_, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.partition.eof": False, "session.timeout.ms": 6000,
                  "error_cb": errors.append})
    try:
        if subscribe:
            c.subscribe([topic])
        else:
            c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + wait_s
        while len(values) < count and time.monotonic() < deadline:
            if errors and stop_on_error:
                break
            m = c.poll(0.3)
            if m is None:
                continue
            if m.error():
                errors.append(m.error())
                continue
            values.append(m.value().decode())
    finally:
        c.close()
    return values, errors


def codes(errors):
    return {e.code() for e in errors}


def ck_admin(broker, user):
    return AdminClient(conf(broker, user))


def admin_future_error(future, timeout_s=WAIT_S):
    """None if the admin future succeeded, else its KafkaError."""
    try:
        future.result(timeout=timeout_s)
        return None
    except KafkaException as e:
        return e.args[0]


def topic_exists(broker, topic):
    """Seen as the super user on PLAINTEXT."""
    from clients import plain_admin
    return topic in plain_admin(broker).list_topics(timeout=WAIT_S).topics


# ---- raw Metadata v1 as a user ----------------------------------------------------------

def login(broker, user):
    """A new connection on the SASL listener, authenticated as `user` (PLAIN)."""
    sock, answer = sasl_client.login(broker.ports[LISTENER], "PLAIN", user, PASSWORDS[user])
    if answer["error"] != 0:
        sock.close()
        raise AssertionError(f"{user} could not log in: {answer}")
    return sock


def init_producer_id_as(broker, user, transactional_id=None):
    """InitProducerId v0 as `user`: (error code, producer id). COORDINATOR_LOAD_IN_PROGRESS
    (14: Kafka's answer while it fetches a block of producer ids) is retried, as clients do."""
    deadline = time.monotonic() + WAIT_S
    with login(broker, user) as sock:
        for attempt in range(1000):
            body = kafka_wire.Writer().string(transactional_id).i32(60000).buf
            r = kafka_wire.call(sock, API_INIT_PRODUCER_ID, 0, bytes(body), 22 + attempt)
            r.i32()  # throttle
            error, producer_id = r.i16(), r.i64()
            if error != ERR_COORDINATOR_LOAD_IN_PROGRESS or time.monotonic() > deadline:
                return error, producer_id
            time.sleep(0.1)


def metadata_as(broker, user, topics=None):
    """Metadata v1 on a new connection authenticated as `user` (SaslHandshake v1 +
    SaslAuthenticate v1, PLAIN). topics None asks for every topic. Returns
    {topic name: error code}. v1 requests no auto-creation flag; ask only for
    topics that exist."""
    with login(broker, user) as sock:
        w = kafka_wire.Writer()
        if topics is None:
            w.i32(-1)
        else:
            w.array(list(topics), lambda w, t: w.string(t))
        r = kafka_wire.call(sock, kafka_wire.API_METADATA, 1, bytes(w.buf), 31)
        r.array(lambda b: (b.i32(), b.string(), b.i32(), b.string()))  # brokers
        r.i32()  # controller id

        def partition(p):
            p.i16(), p.i32(), p.i32()
            p.array(lambda x: x.i32())
            p.array(lambda x: x.i32())

        def topic(t):
            error, name = t.i16(), t.string()
            t.i8()  # is_internal
            t.array(partition)
            return name, error

        return dict(r.array(topic))


def topic_operations_as(broker, user, topic):
    """Metadata v12 for `topic` with include_topic_authorized_operations, on a new
    connection authenticated as `user`: (error code, authorized operations bit field,
    {partition: (leader, replicas, isr)})."""
    with login(broker, user) as sock:
        w = kafka_wire.Writer()
        w.compact_array([topic], lambda w, t: w.raw(b"\x00" * 16).compact_string(t).no_tags())
        w.i8(0).i8(1).no_tags()  # no auto-creation; the topic's operations
        r = kafka_wire.call(sock, kafka_wire.API_METADATA, 12, bytes(w.buf), 32, flexible=True)
        r.i32()  # throttle

        def broker_entry(b):
            b.i32(), b.compact_string(), b.i32(), b.compact_string()
            b.skip_tags()

        def int_array(a):
            return a.compact_array(lambda x: x.i32())

        def partition(p):
            p.i16()
            index, leader = p.i32(), p.i32()
            p.i32()  # leader epoch
            out = (index, (leader, int_array(p), int_array(p)))
            int_array(p)  # offline replicas
            p.skip_tags()
            return out

        def topic_entry(t):
            error = t.i16()
            t.compact_string(), t._take(16), t.i8()
            partitions = dict(t.compact_array(partition))
            operations = t.i32()
            t.skip_tags()
            return error, operations, partitions

        r.compact_array(broker_entry)
        r.compact_string(), r.i32()  # cluster id, controller id
        (answer,) = r.compact_array(topic_entry)
        return answer


# ---- kafka-python 2.0.2 admin -------------------------------------------------------------

def kp_admin(broker, user):
    from kafka.admin import KafkaAdminClient
    return KafkaAdminClient(client_id=f"acl-it-{user}", **kp(broker, user))
