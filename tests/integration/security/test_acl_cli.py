"""Managing ACLs: `sluice acl add|list|remove` (kafka-acls.sh's flags and --list
output), CreateAcls / DescribeAcls / DeleteAcls from kafka-python 2.0.2's
KafkaAdminClient as the super user admin, and as alice, who may not ALTER (nor
DESCRIBE) the cluster: CLUSTER_AUTHORIZATION_FAILED (31). A broker without
authorizer.class.name answers SECURITY_DISABLED (54) and allows everything. ACLs
live in the metadata log: they survive a restart (last test of the module)."""

import pytest
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern,
                         ResourcePatternFilter, ResourceType)
from kafka.errors import ClusterAuthorizationFailedError, NoError, SecurityDisabledError

import acl_helpers as A
from acl_helpers import allow, conf, entry, list_blocks, resource_header
from clients import ck_round_trip, high_watermark, new_topic
from conftest import unique_topic
pytest_plugins = ["security_harness"]  # fixtures: certs, sec_broker, sec_broker_factory


UNIQUE = unique_topic("usage")


def broker_config(certs):
    return A.broker_settings(authorizer=True)


def topic_filter(name, pattern=ACLResourcePatternType.LITERAL, principal=None):
    """kafka-python 2.0.2: ANY operation / permission, host None (any)."""
    return ACLFilter(principal=principal, host=None, operation=ACLOperation.ANY,
                     permission_type=ACLPermissionType.ANY,
                     resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, name, pattern))


def read_acl(principal, topic, pattern=ACLResourcePatternType.LITERAL, operation=ACLOperation.READ,
             permission=ACLPermissionType.ALLOW):
    return ACL(principal=principal, host="*", operation=operation, permission_type=permission,
               resource_pattern=ResourcePattern(ResourceType.TOPIC, topic, pattern))


def sorted_blocks(text):
    """list_blocks with each block's entries in order (the CLI need not keep one)."""
    return {header: sorted(entries) for header, entries in list_blocks(text).items()}


def acl_tuple(a):
    return (a.principal, a.host, a.operation, a.permission_type, a.resource_pattern.resource_type,
            a.resource_pattern.resource_name, a.resource_pattern.pattern_type)


# ---- sluice acl list -------------------------------------------------------------------------

def test_list_prints_kafka_acls_format(sec_broker):
    topic, group, txn = unique_topic("ls"), unique_topic("ls-grp"), unique_topic("ls-txn")
    allow(sec_broker, "User:alice", ["Read"], "--topic", topic)
    allow(sec_broker, "User:bob", ["Write", "Describe"], "--topic", topic)
    A.deny(sec_broker, "User:bob", ["Read"], "--topic", topic)
    allow(sec_broker, "User:alice", ["Read"], "--group", group)
    allow(sec_broker, "User:alice", ["Write"], "--transactional-id", txn)
    allow(sec_broker, "User:alice", ["Write"], "--topic", topic + "-", pattern="prefixed")
    allow(sec_broker, "User:carol", ["IdempotentWrite"], "--cluster")

    _, out, _ = A.acl(sec_broker, "list", "--topic", topic)
    blocks = list_blocks(out)
    assert list(blocks) == [resource_header("TOPIC", topic)], out
    assert sorted(blocks[resource_header("TOPIC", topic)]) == sorted([
        entry("User:alice", "READ"), entry("User:bob", "WRITE"), entry("User:bob", "DESCRIBE"),
        entry("User:bob", "READ", "DENY")]), out

    _, out, _ = A.acl(sec_broker, "list")
    blocks = list_blocks(out)
    assert blocks.get(resource_header("GROUP", group)) == [entry("User:alice", "READ")], out
    assert blocks.get(resource_header("TRANSACTIONAL_ID", txn)) == [entry("User:alice", "WRITE")], out
    assert blocks.get(resource_header("TOPIC", topic + "-", "PREFIXED")) == [entry("User:alice", "WRITE")], out
    assert entry("User:carol", "IDEMPOTENT_WRITE") in blocks.get(resource_header("CLUSTER", "kafka-cluster"), []), out
    assert len(blocks.get(resource_header("TOPIC", topic), [])) == 4, out

    # --resource-pattern-type prefixed lists the prefixed pattern only; match lists the
    # literal and prefixed patterns that apply to a topic name.
    _, out, _ = A.acl(sec_broker, "list", "--topic", topic + "-", "--resource-pattern-type", "prefixed")
    assert list(list_blocks(out)) == [resource_header("TOPIC", topic + "-", "PREFIXED")], out
    _, out, _ = A.acl(sec_broker, "list", "--topic", topic + "-x", "--resource-pattern-type", "match")
    assert resource_header("TOPIC", topic + "-", "PREFIXED") in list_blocks(out), out


@pytest.mark.parametrize("args", [
    ["--operation", "Read", "--topic", "T"],                                   # no principal
    ["--allow-principal", "User:alice", "--operation", "Read"],               # no resource
    ["--allow-principal", "User:alice", "--operation", "Read", "--topic", "T",
     "--resource-pattern-type", "match"],                                     # not a concrete pattern
    ["--allow-principal", "User:alice", "--operation", "Write", "--group", "T"],  # not a group operation
], ids=["no-principal", "no-resource", "match-pattern", "write-on-group"])
def test_add_refuses_what_kafka_acls_refuses(sec_broker, args):
    """kafka-acls.sh's usage errors: a non-zero exit, nothing added."""
    args = [UNIQUE if a == "T" else a for a in args]
    code, out, err = A.acl(sec_broker, "add", *args, check=False)
    assert code != 0, f"sluice acl add {' '.join(args)} exited 0:\n{out}"
    _, out, _ = A.acl(sec_broker, "list")
    assert UNIQUE not in out, out


def test_remove_then_list_is_empty_and_access_gone(sec_broker):
    topic = new_topic(sec_broker, "cli-rm")
    allow(sec_broker, "User:alice", ["Write", "Describe", "Read"], "--topic", topic)
    allow(sec_broker, "User:alice", ["Read"], "--group", "sec-it")
    ck_round_trip(conf(sec_broker, "alice"), topic, 3)
    A.acl(sec_broker, "remove", "--allow-principal", "User:alice", "--operation", "Write", "--topic", topic)
    _, out, _ = A.acl(sec_broker, "list", "--topic", topic)
    assert sorted(list_blocks(out).get(resource_header("TOPIC", topic), [])) == sorted(
        [entry("User:alice", "DESCRIBE"), entry("User:alice", "READ")]), out
    A.assert_produce_refused(conf(sec_broker, "alice"), topic)
    # remove with no principal / operation: every ACL of the resource.
    A.acl(sec_broker, "remove", "--topic", topic)
    _, out, _ = A.acl(sec_broker, "list", "--topic", topic)
    assert list_blocks(out).get(resource_header("TOPIC", topic), []) == [], out
    assert A.metadata_as(sec_broker, "alice", [topic]) == {topic: A.ERR_TOPIC_AUTHORIZATION_FAILED}
    assert high_watermark(sec_broker, topic) == 3


# ---- kafka-python 2.0.2 KafkaAdminClient ----------------------------------------------------

def test_kafka_python_create_describe_delete_as_admin(sec_broker):
    topic = new_topic(sec_broker, "kp-acl")
    admin = A.kp_admin(sec_broker, "admin")
    try:
        wanted = [read_acl("User:alice", topic),
                  read_acl("User:alice", topic, operation=ACLOperation.DESCRIBE),
                  read_acl("User:bob", topic, permission=ACLPermissionType.DENY),
                  read_acl("User:alice", topic + "-", ACLResourcePatternType.PREFIXED, ACLOperation.WRITE)]
        result = admin.create_acls(wanted)
        assert result["failed"] == [] and len(result["succeeded"]) == 4, result

        acls, error = admin.describe_acls(topic_filter(topic))
        assert error is NoError
        assert sorted(map(acl_tuple, acls)) == sorted(map(acl_tuple, wanted[:3])), acls
        acls, error = admin.describe_acls(topic_filter(topic + "-", ACLResourcePatternType.ANY))
        assert list(map(acl_tuple, acls)) == [acl_tuple(wanted[3])], acls
        acls, _ = admin.describe_acls(topic_filter(topic, principal="User:bob"))
        assert list(map(acl_tuple, acls)) == [acl_tuple(wanted[2])], acls

        # The CLI sees what the admin client made.
        _, out, _ = A.acl(sec_broker, "list", "--topic", topic)
        assert sorted(list_blocks(out).get(resource_header("TOPIC", topic), [])) == sorted(
            [entry("User:alice", "READ"), entry("User:alice", "DESCRIBE"), entry("User:bob", "READ", "DENY")]), out
        # ... and the broker enforces them: alice reads (assign, no group), bob does not see the topic.
        assert A.metadata_as(sec_broker, "alice", [topic]) == {topic: 0}
        assert A.metadata_as(sec_broker, "bob", [topic]) == {topic: A.ERR_TOPIC_AUTHORIZATION_FAILED}

        [(flt, matched, error)] = admin.delete_acls([topic_filter(topic, principal="User:alice")])
        assert error is NoError
        assert sorted(acl_tuple(a) for a, _ in matched) == sorted(map(acl_tuple, wanted[:2])), matched
        assert all(e is NoError for _, e in matched), matched
        acls, _ = admin.describe_acls(topic_filter(topic))
        assert list(map(acl_tuple, acls)) == [acl_tuple(wanted[2])], acls
        admin.delete_acls([topic_filter(topic), topic_filter(topic + "-", ACLResourcePatternType.PREFIXED)])
        assert admin.describe_acls(topic_filter(topic, ACLResourcePatternType.ANY))[0] == []
    finally:
        admin.close()


def test_kafka_python_as_alice_is_not_allowed_to_manage_acls(sec_broker):
    topic = new_topic(sec_broker, "kp-alice")
    admin = A.kp_admin(sec_broker, "alice")
    try:
        result = admin.create_acls([read_acl("User:alice", topic)])
        assert result["succeeded"] == [] and [e for _, e in result["failed"]] == [ClusterAuthorizationFailedError], \
            result
        # DescribeAcls needs DESCRIBE on the cluster: kafka-python raises the error.
        with pytest.raises(ClusterAuthorizationFailedError):
            admin.describe_acls(topic_filter(topic))
        [(_, matched, error)] = admin.delete_acls([topic_filter(topic)])
        assert error is ClusterAuthorizationFailedError and matched == [], (matched, error)
    finally:
        admin.close()
    _, out, _ = A.acl(sec_broker, "list", "--topic", topic)
    assert list_blocks(out).get(resource_header("TOPIC", topic), []) == [], out
    assert A.metadata_as(sec_broker, "alice", [topic]) == {topic: A.ERR_TOPIC_AUTHORIZATION_FAILED}
    # With ALTER on the cluster she may.
    allow(sec_broker, "User:alice", ["Alter"], "--cluster")
    admin = A.kp_admin(sec_broker, "alice")
    try:
        result = admin.create_acls([read_acl("User:alice", topic, operation=ACLOperation.DESCRIBE)])
        assert result["failed"] == [], result
    finally:
        admin.close()
    assert A.metadata_as(sec_broker, "alice", [topic]) == {topic: 0}
    A.acl(sec_broker, "remove", "--allow-principal", "User:alice", "--operation", "Alter", "--cluster")


# ---- without an authorizer -------------------------------------------------------------------

def test_without_authorizer_acl_apis_answer_security_disabled(sec_broker_factory):
    listeners, overrides = A.broker_settings(authorizer=False)
    b = sec_broker_factory(listeners, overrides)
    topic = new_topic(b, "noauth")
    admin = A.kp_admin(b, "admin")
    try:
        result = admin.create_acls([read_acl("User:alice", topic)])
        assert [e for _, e in result["failed"]] == [SecurityDisabledError], result
        with pytest.raises(SecurityDisabledError):
            admin.describe_acls(topic_filter(topic))
        [(_, matched, error)] = admin.delete_acls([topic_filter(topic)])
        assert error is SecurityDisabledError, (matched, error)
    finally:
        admin.close()
    code, out, err = A.acl(b, "list", check=False)
    assert code != 0, f"sluice acl list without an authorizer exited 0:\n{out}"
    # No authorization at all: alice and bob do as they please.
    ck_round_trip(conf(b, "alice"), topic, 3, tag="alice")
    A.assert_produces(conf(b, "bob"), topic, 2)
    assert topic in A.metadata_as(b, "bob")


# ---- persistence (last: restarts the module's broker) ----------------------------------------

def test_acls_survive_a_restart(sec_broker):
    topic = new_topic(sec_broker, "persist")
    prefix = unique_topic("persist-pfx") + "-"
    allow(sec_broker, "User:alice", ["Write", "Describe"], "--topic", topic)
    allow(sec_broker, "User:bob", ["Write", "Describe"], "--topic", prefix, pattern="prefixed")
    A.deny(sec_broker, "User:carol", ["Describe"], "--topic", topic)
    A.acl(sec_broker, "remove", "--deny-principal", "User:carol", "--operation", "Describe", "--topic", topic)
    _, before, _ = A.acl(sec_broker, "list")
    sec_broker.restart()
    _, after, _ = A.acl(sec_broker, "list")
    assert sorted_blocks(after) == sorted_blocks(before), f"before:\n{before}\nafter:\n{after}"
    assert sorted(list_blocks(after).get(resource_header("TOPIC", topic), [])) == sorted(
        [entry("User:alice", "WRITE"), entry("User:alice", "DESCRIBE")])
    A.assert_produces(conf(sec_broker, "alice"), topic, 2)
    A.assert_produce_refused(conf(sec_broker, "bob"), topic)
    other = new_topic(sec_broker, prefix.rstrip("-"))  # prefix + "<pid>-<ns>"
    assert other.startswith(prefix)
    A.assert_produces(conf(sec_broker, "bob"), other, 2)
