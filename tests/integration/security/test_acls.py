"""ACL enforcement as users see it (StandardAuthorizer, KafkaApis' checks), with
confluent-kafka 1.7 / librdkafka 2.0.2 and raw Metadata on a SASL_PLAINTEXT
listener (PLAIN users admin, alice, bob, carol, dave, erin; admin and the PLAINTEXT
listener's User:ANONYMOUS are super users). ACLs are added with `sluice acl add`
over PLAINTEXT, as kafka-acls.sh would. Without an ACL nothing is allowed
(allow.everyone.if.no.acl.found defaults to false): alice can neither produce nor
consume, nor see the topic in Metadata. Literal, prefixed and wildcard topic ACLs,
deny over allow, group READ, transactional ids, idempotence with WRITE on a topic
(KIP-679), CREATE / DELETE for topic administration, `sluice acl remove`.

One broker for the module; every test uses its own topics (and groups), so the ACLs
one test adds do not reach another's resources (carol's wildcard is carol's only)."""

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import NewTopic

import acl_helpers as A
from acl_helpers import allow, conf, deny
from clients import ck_produce, high_watermark, new_topic
from conftest import unique_topic
pytest_plugins = ["security_harness"]  # fixtures: certs, sec_broker, sec_broker_factory

def broker_config(certs):
    return A.broker_settings(authorizer=True)


def admin_writes(broker, topic, n=3):
    """n values into partition 0, as the super user on PLAINTEXT."""
    values = [f"m-{i}" for i in range(n)]
    ck_produce({"bootstrap.servers": broker.bootstrap}, topic, values)
    return values


# ---- no ACL: nothing is allowed --------------------------------------------------------

def test_without_acl_alice_cannot_produce(sec_broker):
    topic = new_topic(sec_broker, "noacl-p")
    A.assert_produce_refused(conf(sec_broker, "alice"), topic)
    assert high_watermark(sec_broker, topic) == 0, "a refused producer's message was written"
    # The super user on the SASL listener still writes (the listener itself works).
    A.assert_produces(conf(sec_broker, "admin"), topic, 2)
    assert high_watermark(sec_broker, topic) == 2


def test_without_acl_alice_cannot_consume(sec_broker):
    topic = new_topic(sec_broker, "noacl-c")
    admin_writes(sec_broker, topic)
    for subscribe in (True, False):
        values, errors = A.consume_outcome(conf(sec_broker, "alice"), topic, unique_topic("g-noacl"), 3,
                                           subscribe=subscribe)
        assert values == [], f"alice read {values} without an ACL"
        # Subscribing: the group's FindCoordinator / JoinGroup answers 30 or the topic's
        # Metadata 29; assigning: librdkafka still looks up the group's coordinator (30),
        # Metadata / Fetch answer 29.
        assert A.codes(errors) & {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED}, \
            f"subscribe={subscribe}: no authorization error reported, got {[e.str() for e in errors]}"


def test_without_acl_metadata_hides_the_topic(sec_broker):
    topic = new_topic(sec_broker, "noacl-md")
    assert topic in A.metadata_as(sec_broker, "admin"), "the super user must see every topic"
    assert topic not in A.metadata_as(sec_broker, "alice"), "Metadata for all topics listed one alice may not DESCRIBE"
    assert A.metadata_as(sec_broker, "alice", [topic]) == {topic: A.ERR_TOPIC_AUTHORIZATION_FAILED}
    listed = A.ck_admin(sec_broker, "alice").list_topics(timeout=A.WAIT_S).topics
    assert topic not in listed, "confluent-kafka list_topics as alice lists a topic she may not describe"


# ---- literal ACLs added with sluice acl --------------------------------------------------

def test_write_and_describe_let_alice_produce_but_not_bob(sec_broker):
    topic = new_topic(sec_broker, "lit-p")
    allow(sec_broker, "User:alice", ["Write", "Describe"], "--topic", topic)
    A.assert_produces(conf(sec_broker, "alice"), topic, 5)
    assert high_watermark(sec_broker, topic) == 5
    A.assert_produce_refused(conf(sec_broker, "bob"), topic)
    assert high_watermark(sec_broker, topic) == 5
    # DESCRIBE makes the topic visible to alice only.
    assert A.metadata_as(sec_broker, "alice", [topic]) == {topic: 0}
    assert topic in A.metadata_as(sec_broker, "alice")
    assert topic not in A.metadata_as(sec_broker, "bob")
    assert A.metadata_as(sec_broker, "bob", [topic]) == {topic: A.ERR_TOPIC_AUTHORIZATION_FAILED}


def test_read_on_topic_and_group_let_alice_consume_in_a_group(sec_broker):
    topic, group = new_topic(sec_broker, "lit-c"), unique_topic("grp-alice")
    values = admin_writes(sec_broker, topic, 4)
    allow(sec_broker, "User:alice", ["Read"], "--topic", topic)
    allow(sec_broker, "User:alice", ["Read"], "--group", group)
    got, errors = A.consume_outcome(conf(sec_broker, "alice"), topic, group, 4, wait_s=20, stop_on_error=False)
    assert got == values, f"alice read {got}; errors {[e.str() for e in errors]}"
    # bob has neither: refused on the same topic and group, reads nothing.
    got, errors = A.consume_outcome(conf(sec_broker, "bob"), topic, group, 4)
    assert got == [] and A.codes(errors) & {KafkaError.TOPIC_AUTHORIZATION_FAILED,
                                            KafkaError.GROUP_AUTHORIZATION_FAILED}, (got, errors)


@pytest.mark.parametrize("group_ops", [[], ["Describe"]], ids=["no-group-acl", "describe-only"])
def test_group_without_read_is_refused(sec_broker, group_ops):
    """READ on the topic but not on the group: FindCoordinator (DESCRIBE group) or
    JoinGroup (READ group) answers GROUP_AUTHORIZATION_FAILED (30)."""
    topic, group = new_topic(sec_broker, "grp-noread"), unique_topic("grp-noread")
    admin_writes(sec_broker, topic, 2)
    allow(sec_broker, "User:alice", ["Read", "Describe"], "--topic", topic)
    if group_ops:
        allow(sec_broker, "User:alice", group_ops, "--group", group)
    got, errors = A.consume_outcome(conf(sec_broker, "alice"), topic, group, 2)
    assert got == [], f"alice read {got} in a group she may not READ"
    assert KafkaError.GROUP_AUTHORIZATION_FAILED in A.codes(errors), [e.str() for e in errors]


# ---- prefixed, wildcard, deny ---------------------------------------------------------------

def test_prefixed_topic_acl(sec_broker):
    allow(sec_broker, "User:alice", ["Write", "Describe"], "--topic", "pay-", pattern="prefixed")
    paid, other = new_topic(sec_broker, "pay"), new_topic(sec_broker, "payroll")  # pay-<..>, payroll-<..>
    A.assert_produces(conf(sec_broker, "alice"), paid, 3)
    assert high_watermark(sec_broker, paid) == 3
    A.assert_produce_refused(conf(sec_broker, "alice"), other)
    A.assert_produce_refused(conf(sec_broker, "bob"), paid)
    assert high_watermark(sec_broker, other) == 0


def test_wildcard_topic_acl(sec_broker):
    """`--topic '*'` for carol reaches every topic, for carol only."""
    allow(sec_broker, "User:carol", ["Write", "Describe"], "--topic", "*")
    for prefix in ("wild-a", "wild-b"):
        topic = new_topic(sec_broker, prefix)
        A.assert_produces(conf(sec_broker, "carol"), topic, 2)
        A.assert_produce_refused(conf(sec_broker, "bob"), topic)
        assert high_watermark(sec_broker, topic) == 2
        assert topic in A.metadata_as(sec_broker, "carol")


def test_deny_wins_over_allow(sec_broker):
    """User:* may WRITE and DESCRIBE the topic, alice is denied WRITE: bob writes,
    alice (who still sees the topic) is refused by Produce."""
    topic = new_topic(sec_broker, "deny")
    allow(sec_broker, "User:*", ["Write", "Describe"], "--topic", topic)
    try:
        deny(sec_broker, "User:alice", ["Write"], "--topic", topic)
        A.assert_produces(conf(sec_broker, "bob"), topic, 2)
        A.assert_produce_refused(conf(sec_broker, "alice"), topic)
        assert high_watermark(sec_broker, topic) == 2
        assert A.metadata_as(sec_broker, "alice", [topic]) == {topic: 0}
    finally:
        # User:*'s WRITE would give every user "WRITE on some topic" (KIP-679) for the
        # InitProducerId test below.
        A.acl(sec_broker, "remove", "--allow-principal", "User:*", "--operation", "Write",
              "--operation", "Describe", "--topic", topic, check=False)


# ---- transactions and idempotence ----------------------------------------------------------

def test_transactional_id_needs_write(sec_broker):
    topic, txn_id = new_topic(sec_broker, "txn"), unique_topic("txn-alice")
    allow(sec_broker, "User:alice", ["Write", "Describe"], "--topic", topic)
    p = Producer(conf(sec_broker, "alice", **{"transactional.id": txn_id, "message.timeout.ms": 10000}))
    with pytest.raises(KafkaException) as info:
        p.init_transactions(A.WAIT_S)
    err = info.value.args[0]
    assert err.code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, \
        f"init_transactions without WRITE on the transactional id: {err.name()} {err.str()}"
    del p
    allow(sec_broker, "User:alice", ["Write", "Describe"], "--transactional-id", txn_id)
    p = Producer(conf(sec_broker, "alice", **{"transactional.id": txn_id, "message.timeout.ms": 10000}))
    p.init_transactions(A.WAIT_S)
    p.begin_transaction()
    for i in range(3):
        p.produce(topic, value=f"t-{i}".encode(), partition=0)
    p.commit_transaction(A.WAIT_S)
    # 3 records + the commit marker. The markers are written after EndTxn is
    # answered (as Kafka's coordinator does), and the reader's read_committed
    # ListOffsets sees the stable offset: wait for the marker, not a race.
    deadline = time.time() + 10
    while high_watermark(sec_broker, topic) != 4 and time.time() < deadline:
        time.sleep(0.1)
    assert high_watermark(sec_broker, topic) == 4


def test_idempotent_producer_with_write_on_the_topic(sec_broker):
    """KIP-679: InitProducerId without a transactional id is allowed to a principal
    with WRITE on any topic (no IDEMPOTENT_WRITE on the cluster needed)."""
    topic = new_topic(sec_broker, "idem")
    allow(sec_broker, "User:alice", ["Write", "Describe"], "--topic", topic)
    A.assert_produces(conf(sec_broker, "alice"), topic, 5, **{"enable.idempotence": True})
    assert high_watermark(sec_broker, topic) == 5


def test_init_producer_id_without_write_anywhere(sec_broker):
    """Without a transactional id, InitProducerId needs IDEMPOTENT_WRITE on the cluster or
    WRITE on some topic: erin, who may only DESCRIBE a topic, gets
    CLUSTER_AUTHORIZATION_FAILED (31); IdempotentWrite on the cluster lets her in. (Raw:
    librdkafka 2.0.2 would retry the refused InitProducerId until the message times out.)"""
    topic = new_topic(sec_broker, "idem-erin")
    allow(sec_broker, "User:erin", ["Describe"], "--topic", topic)
    error, _ = A.init_producer_id_as(sec_broker, "erin")
    assert error == A.ERR_CLUSTER_AUTHORIZATION_FAILED, f"InitProducerId answered {error}"
    allow(sec_broker, "User:erin", ["IdempotentWrite"], "--cluster")
    error, producer_id = A.init_producer_id_as(sec_broker, "erin")
    assert error == 0 and producer_id >= 0, (error, producer_id)


# ---- topic administration -----------------------------------------------------------------

def test_creating_a_topic_needs_create(sec_broker):
    admin = A.ck_admin(sec_broker, "alice")
    refused = unique_topic("mk-refused")
    err = A.admin_future_error(admin.create_topics([NewTopic(refused, 1, 1)])[refused])
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    assert not A.topic_exists(sec_broker, refused)
    # CREATE on the literal topic.
    mine = unique_topic("mk-literal")
    allow(sec_broker, "User:alice", ["Create"], "--topic", mine)
    assert A.admin_future_error(admin.create_topics([NewTopic(mine, 1, 1)])[mine]) is None
    assert A.topic_exists(sec_broker, mine)
    # CREATE on the cluster: any topic (dave).
    allow(sec_broker, "User:dave", ["Create"], "--cluster")
    any_name = unique_topic("mk-cluster")
    dave = A.ck_admin(sec_broker, "dave")  # held: a dropped client fails its futures (_DESTROY)
    err = A.admin_future_error(dave.create_topics([NewTopic(any_name, 2, 1)])[any_name])
    assert err is None, err
    assert A.topic_exists(sec_broker, any_name)


def test_deleting_a_topic_needs_delete(sec_broker):
    topic = new_topic(sec_broker, "rm")
    admin = A.ck_admin(sec_broker, "alice")
    allow(sec_broker, "User:alice", ["Describe"], "--topic", topic)
    err = A.admin_future_error(admin.delete_topics([topic])[topic])
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    assert A.topic_exists(sec_broker, topic)
    allow(sec_broker, "User:alice", ["Delete"], "--topic", topic)
    assert A.admin_future_error(admin.delete_topics([topic])[topic]) is None
    assert not A.topic_exists(sec_broker, topic)


# ---- sluice acl remove ---------------------------------------------------------------------

def test_acl_remove_takes_the_access_away(sec_broker):
    topic = new_topic(sec_broker, "rm-acl")
    allow(sec_broker, "User:alice", ["Write", "Describe"], "--topic", topic)
    A.assert_produces(conf(sec_broker, "alice"), topic, 2)
    A.acl(sec_broker, "remove", "--allow-principal", "User:alice", "--operation", "Write",
          "--operation", "Describe", "--topic", topic)
    _, out, _ = A.acl(sec_broker, "list", "--topic", topic)
    assert A.list_blocks(out).get(A.resource_header("TOPIC", topic), []) == [], out
    A.assert_produce_refused(conf(sec_broker, "alice"), topic)  # a new connection
    assert high_watermark(sec_broker, topic) == 2


# ---- Metadata's topic operations: the asker's own ------------------------------------

def test_each_user_gets_its_own_topic_operations(sec_broker):
    """The topic's part of a Metadata answer is encoded once per metadata image and
    shared by every asker (broker/metadata_answer.h); its authorized operations are
    the asker's: interleaved requests of alice (WRITE) and bob (READ) each get theirs."""
    topic = new_topic(sec_broker, "ops-per-user", partitions=3)
    allow(sec_broker, "User:alice", ["Write"], "--topic", topic)
    allow(sec_broker, "User:bob", ["Read"], "--topic", topic)
    read, write, describe = 1 << 3, 1 << 4, 1 << 8
    answers = {}
    for user in ("alice", "bob", "alice", "bob"):
        error, operations, partitions = A.topic_operations_as(sec_broker, user, topic)
        assert error == 0, f"{user}: error {error}"
        assert operations & describe, f"{user}: {operations:#x} lacks DESCRIBE (implied)"
        if user == "alice":
            assert operations & write and not operations & read, f"alice: {operations:#x}"
        else:
            assert operations & read and not operations & write, f"bob: {operations:#x}"
        answers.setdefault(user, partitions)
        assert partitions == answers[user]
    assert answers["alice"] == answers["bob"], "the shared part differs between users"
