"""The admin HTTP port off loopback (src/admin/README.md, "Authentication"):
`admin.authentication` auto asks HTTP Basic credentials of a SCRAM user when the port
binds a non-loopback address (0.0.0.0 here, reached through 127.0.0.1), and is refused
to everyone (401) until a user exists; a wrong password or an unknown user is 401, the
right one 200, under either SCRAM mechanism; no password reaches the log. With
Kafka's StandardAuthorizer the caller's ACLs decide: a user without DESCRIBE sees no
topic and no cluster, POST /v1/topics and DELETE /v1/topics/{t} are refused (403,
Kafka's error names) and change nothing; a prefixed CREATE ACL lets a user create
its own topics only; a super user creates and deletes. `mtls` serves HTTPS to client
certificates of the trusted CA only, naming the caller by ssl.principal.mapping.rules.
On a cluster of three, writes sent to a node that is not the active controller are
forwarded (the broker's own CreateTopics/DeleteTopics path). Users are made with
`sluice user create`, ACLs with `sluice acl add`, both on the PLAINTEXT listener,
whose User:ANONYMOUS is a super user."""

import base64
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

import conftest as harness
from conftest import free_port, unique_topic

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "security"))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from certs import make_certs  # noqa: E402
from cluster_harness import Cluster  # noqa: E402

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
TIMEOUT_S = 30
PASSWORDS = {"root": "root-secret", "alice": "alice-secret", "bob": "bob-secret",
             "carol": "carol-secret"}


# --- HTTP ---

def http(port, method, path, user=None, password=None, body=None, host="127.0.0.1",
         content_type="application/json"):
    """(status, headers, parsed JSON body or text); HTTP errors are answers too."""
    headers = {}
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        headers["Content-Type"] = content_type
    request = urllib.request.Request(f"http://{host}:{port}{path}", data=data, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as r:
            status, answer_headers, text = r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        status, answer_headers, text = e.code, e.headers, e.read().decode()
    try:
        return status, answer_headers, json.loads(text)
    except ValueError:
        return status, answer_headers, text


def as_user(port, user, method="GET", path="/v1/health", body=None):
    return http(port, method, path, user, PASSWORDS[user], body)


def wait_for(check, what, timeout_s=TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# --- the broker's own tools ---

def sluice(broker, *args):
    cmd = [harness.sluice_bin(), *args, "-b", broker.bootstrap]
    p = subprocess.run(cmd, input=b"y\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=TIMEOUT_S)
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr.decode()[-2000:]}"
    return p.stdout.decode()


def create_user(broker, admin_port, user, mechanism="SCRAM-SHA-256"):
    sluice(broker, "user", "create", user, "--password", PASSWORDS[user], "--mechanism", mechanism)
    # The user reaches the admin port with the metadata image.
    wait_for(lambda: as_user(admin_port, user)[0] == 200, f"{user} to be accepted")


def allow(broker, principal, operation, *resource):
    sluice(broker, "acl", "add", "--allow-principal", principal, "--operation", operation, *resource)


def topics_of(broker):
    """Topic names as the PLAINTEXT super user sees them."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    return set(admin.list_topics(timeout=TIMEOUT_S).topics)


def create_topic(broker, topic):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=TIMEOUT_S)


def admin_broker(broker_factory, host, **overrides):
    admin_port = free_port()
    b = broker_factory({"admin.listener": f"{host}:{admin_port}", **overrides})
    return b, admin_port


# --- authentication ---

def test_non_loopback_bind_requires_scram_credentials(broker_factory):
    broker, port = admin_broker(broker_factory, "0.0.0.0")
    # No user exists yet: everyone is refused, with the challenge and a JSON error.
    for path in ("/v1/health", "/metrics", "/v1/topics", "/v1/cluster"):
        status, headers, body = http(port, "GET", path)
        assert status == 401, (path, status, body)
        assert headers.get("WWW-Authenticate") == 'Basic realm="sluice"', headers
        assert body["error"] == "SASL_AUTHENTICATION_FAILED", body
    status, _, body = as_user(port, "alice")
    assert status == 401, body
    with open(broker.log_path, errors="replace") as log:
        text = log.read()
    assert "no SCRAM user exists yet" in text and "authentication against the SCRAM users" in text

    create_user(broker, port, "alice")
    create_user(broker, port, "bob", mechanism="SCRAM-SHA-512")
    status, _, body = as_user(port, "alice")
    assert status == 200 and body["status"] == "ready", body
    status, _, text = as_user(port, "bob", path="/metrics")
    assert status == 200 and "sluice_requests_total" in text
    # A wrong password, an unknown user, a malformed header: 401.
    assert http(port, "GET", "/v1/health", "alice", "alice-secreT")[0] == 401
    assert http(port, "GET", "/v1/health", "bob", PASSWORDS["alice"])[0] == 401
    assert http(port, "GET", "/v1/health", "mallory", "alice-secret")[0] == 401
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/health",
                                     headers={"Authorization": "Basic not-base64!"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=TIMEOUT_S)
    assert refused.value.code == 401
    # Repeated successes are served from the cache; repeated failures are logged rate-limited.
    for _ in range(20):
        assert as_user(port, "alice")[0] == 200
        assert http(port, "GET", "/v1/health", "alice", "wr0ng-pa55word")[0] == 401
    with open(broker.log_path, errors="replace") as log:
        text = log.read()
    assert "authentication failed for user 'alice'" in text
    assert text.count("authentication failed for user") < 10, text[-3000:]
    for password in [*PASSWORDS.values(), "alice-secreT", "wr0ng-pa55word"]:
        assert password not in text


def test_without_authorizer_an_authenticated_user_creates_and_deletes(broker_factory):
    broker, port = admin_broker(broker_factory, "0.0.0.0")
    create_user(broker, port, "alice")
    topic = unique_topic("admin-auth")
    status, _, body = as_user(port, "alice", "POST", "/v1/topics",
                              {"name": topic, "partitions": 2, "configs": {"retention.ms": "60000"}})
    assert status == 201, body
    assert body["name"] == topic and body["partitions"] == 2 and body["replication_factor"] == 1, body
    topic_id = body["topic_id"]
    assert topic_id and topic_id != "AAAAAAAAAAAAAAAAAAAAAA", body
    assert topic in topics_of(broker)
    status, _, body = as_user(port, "alice", path=f"/v1/topics/{topic}")
    assert status == 200 and body["configs"]["retention.ms"] == "60000", body
    status, _, body = as_user(port, "alice", "POST", "/v1/topics", {"name": topic})
    assert status == 409 and body["error"] == "TOPIC_ALREADY_EXISTS", body
    # Bad bodies: 400 INVALID_REQUEST, or the controller's own validation errors.
    for bad in ({"partitions": 1}, {"name": topic, "partition": 1}, {"name": 7},
                {"name": "x", "configs": {"retention.ms": 1}}, b"not json"):
        status, _, body = as_user(port, "alice", "POST", "/v1/topics", bad)
        assert status == 400 and body["error"] == "INVALID_REQUEST", (bad, body)
    # What a web page can make a browser send without a CORS preflight: refused.
    status, _, body = http(port, "POST", "/v1/topics", "alice", PASSWORDS["alice"],
                           {"name": unique_topic("admin-auth")}, content_type="text/plain")
    assert status == 415 and body["error"] == "INVALID_REQUEST", body
    status, _, body = as_user(port, "alice", "POST", "/v1/topics", {"name": "bad name!"})
    assert status == 400 and body["error"] == "INVALID_TOPIC_EXCEPTION", body
    status, _, body = as_user(port, "alice", "POST", "/v1/topics",
                              {"name": unique_topic("admin-auth"), "replication_factor": 3})
    assert status == 400 and body["error"] == "INVALID_REPLICATION_FACTOR", body
    status, _, body = as_user(port, "alice", "DELETE", f"/v1/topics/{topic}")
    assert status == 200 and body == {"name": topic, "topic_id": topic_id}, body
    wait_for(lambda: topic not in topics_of(broker), f"{topic} to be deleted")
    status, _, body = as_user(port, "alice", "DELETE", f"/v1/topics/{topic}")
    assert status == 404 and body["error"] == "UNKNOWN_TOPIC_OR_PARTITION", body
    # Unauthenticated writes are refused before anything is parsed.
    status, _, body = http(port, "POST", "/v1/topics", body={"name": unique_topic("admin-auth")})
    assert status == 401, body


def test_loopback_bind_stays_open_unless_basic_is_asked(broker_factory):
    _, open_port = admin_broker(broker_factory, "127.0.0.2")
    status, _, body = http(open_port, "GET", "/v1/health", host="127.0.0.2")
    assert status == 200, body
    broker, port = admin_broker(broker_factory, "127.0.0.2", **{"admin.authentication": "basic"})
    assert http(port, "GET", "/v1/health", host="127.0.0.2")[0] == 401


# --- authorization ---

@pytest.fixture
def acl_broker(broker_factory):
    broker, port = admin_broker(broker_factory, "0.0.0.0", **{
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:ANONYMOUS;User:root",
    })
    for user in PASSWORDS:
        create_user(broker, port, user)
    return broker, port


def test_acls_filter_reads_and_refuse_writes(acl_broker):
    broker, port = acl_broker
    seen, hidden = unique_topic("admin-acl-seen"), unique_topic("admin-acl-hidden")
    create_topic(broker, seen)
    create_topic(broker, hidden)
    allow(broker, "User:bob", "Describe", "--topic", seen)

    # alice has no ACL: no topic, no cluster, no partitions; /metrics and health stay open.
    status, _, body = as_user(port, "alice", path="/v1/topics")
    assert status == 200 and body == [], body
    status, _, body = as_user(port, "alice", path=f"/v1/topics/{seen}")
    assert status == 404 and body["error"] == "UNKNOWN_TOPIC_OR_PARTITION", body
    for path in ("/v1/cluster", "/v1/partitions"):
        status, _, body = as_user(port, "alice", path=path)
        assert status == 403 and body["error"] == "CLUSTER_AUTHORIZATION_FAILED", (path, body)
    assert as_user(port, "alice", path="/metrics")[0] == 200
    assert as_user(port, "alice")[0] == 200
    status, _, body = as_user(port, "alice", path="/v1/groups")
    assert status == 200 and body == [], body
    status, _, body = as_user(port, "alice", path="/v1/groups/some-group")
    assert status == 403 and body["error"] == "GROUP_AUTHORIZATION_FAILED", body

    # bob may DESCRIBE one topic: he sees it (without its configs: no DESCRIBE_CONFIGS).
    status, _, body = as_user(port, "bob", path="/v1/topics")
    assert status == 200 and [t["name"] for t in body] == [seen], body
    status, _, body = as_user(port, "bob", path=f"/v1/topics/{seen}")
    assert status == 200 and body["name"] == seen and body["configs"] is None, body
    assert as_user(port, "bob", path=f"/v1/topics/{hidden}")[0] == 404

    # Writes without CREATE / DELETE: 403 with Kafka's error, and nothing changes.
    wanted = unique_topic("admin-acl-new")
    status, _, body = as_user(port, "alice", "POST", "/v1/topics", {"name": wanted})
    assert status == 403 and body["error"] == "TOPIC_AUTHORIZATION_FAILED", body
    status, _, body = as_user(port, "bob", "DELETE", f"/v1/topics/{seen}")
    assert status == 403 and body["error"] == "TOPIC_AUTHORIZATION_FAILED", body
    status, _, body = as_user(port, "alice", "DELETE", f"/v1/topics/{hidden}")
    assert status == 403 and body["error"] == "TOPIC_AUTHORIZATION_FAILED", body
    topics = topics_of(broker)
    assert wanted not in topics and seen in topics and hidden in topics, topics


def commit_offsets(broker, group, topics):
    """Offset 0 of partition 0 of each topic committed for `group` (a simple consumer
    group, as the PLAINTEXT super user)."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(t, 0, 0) for t in topics], asynchronous=False)
    finally:
        consumer.close()


def test_acls_filter_groups_and_their_offsets(acl_broker):
    broker, port = acl_broker
    seen, hidden = unique_topic("admin-acl-seen"), unique_topic("admin-acl-hidden")
    create_topic(broker, seen)
    create_topic(broker, hidden)
    mine, other = unique_topic("admin-group-bob"), unique_topic("admin-group-other")
    commit_offsets(broker, mine, [seen, hidden])
    commit_offsets(broker, other, [seen])
    allow(broker, "User:bob", "Describe", "--group", mine)
    allow(broker, "User:bob", "Describe", "--topic", seen)

    status, _, body = as_user(port, "bob", path="/v1/groups")
    assert status == 200 and [g["group_id"] for g in body] == [mine], body
    status, _, body = as_user(port, "bob", path=f"/v1/groups/{mine}")
    assert status == 200 and [o["topic"] for o in body["offsets"]] == [seen], body
    status, _, body = as_user(port, "bob", path=f"/v1/groups/{other}")
    assert status == 403 and body["error"] == "GROUP_AUTHORIZATION_FAILED", body
    # DESCRIBE on the cluster lists every group (Kafka's ListGroups).
    allow(broker, "User:bob", "Describe", "--cluster")
    status, _, body = as_user(port, "bob", path="/v1/groups")
    assert {mine, other} <= {g["group_id"] for g in body}, body
    status, _, body = as_user(port, "root", path=f"/v1/groups/{mine}")
    assert status == 200 and sorted(o["topic"] for o in body["offsets"]) == sorted([seen, hidden]), body


def test_prefixed_create_acl_and_a_super_user(acl_broker):
    broker, port = acl_broker
    # carol may CREATE and DELETE (which implies DESCRIBE) topics starting with "carol-".
    allow(broker, "User:carol", "Create", "--topic", "carol-", "--resource-pattern-type", "prefixed")
    allow(broker, "User:carol", "Delete", "--topic", "carol-", "--resource-pattern-type", "prefixed")
    own, other = unique_topic("carol-"), unique_topic("admin-acl-other")
    status, _, body = as_user(port, "carol", "POST", "/v1/topics", {"name": own})
    assert status == 201 and body["name"] == own, body
    status, _, body = as_user(port, "carol", "POST", "/v1/topics", {"name": other})
    assert status == 403 and body["error"] == "TOPIC_AUTHORIZATION_FAILED", body
    assert own in topics_of(broker) and other not in topics_of(broker)
    status, _, body = as_user(port, "carol", "DELETE", f"/v1/topics/{own}")
    assert status == 200, body

    # root is a super user: creates, sees and deletes anything.
    mine = unique_topic("admin-acl-root")
    status, _, body = as_user(port, "root", "POST", "/v1/topics", {"name": mine, "partitions": 3})
    assert status == 201 and body["partitions"] == 3, body
    status, _, body = as_user(port, "root", path="/v1/topics")
    assert mine in [t["name"] for t in body], body
    assert as_user(port, "root", path="/v1/cluster")[0] == 200
    status, _, body = as_user(port, "root", "DELETE", f"/v1/topics/{mine}")
    assert status == 200 and body["name"] == mine, body
    wait_for(lambda: mine not in topics_of(broker) and own not in topics_of(broker),
             "the topics to be deleted")


# --- mTLS ---

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """The security suite's CA, broker keystore and client certificates (security/certs.py)."""
    return make_certs(str(tmp_path_factory.mktemp("admin-certs")))


def https_get(port, path, context):
    """(status, parsed JSON or text) over HTTPS with `context` (client certificate or none)."""
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=context) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def client_context(certs, cert=None, key=None):
    context = ssl.create_default_context(cafile=certs.ca)
    if cert:
        context.load_cert_chain(cert, key)
    return context


def test_mtls_names_the_caller_by_its_certificate(broker_factory, certs):
    broker, port = admin_broker(broker_factory, "0.0.0.0", **{
        "admin.authentication": "mtls",
        "admin.ssl.keystore.location": certs.server_pem,
        "admin.ssl.truststore.location": certs.ca,
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]+),.*$/$1/,DEFAULT",
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:ANONYMOUS",
    })
    alice = client_context(certs, certs.alice_cert, certs.alice_key)
    wait_for(lambda: https_get(port, "/v1/health", alice)[0] == 200, "the broker to be attached")
    topic = unique_topic("admin-mtls")
    create_topic(broker, topic)
    # The certificate CN=alice,OU=eng,O=Sluice maps to User:alice, who has no ACL yet.
    status, body = https_get(port, "/v1/topics", alice)
    assert status == 200 and body == [], body
    allow(broker, "User:alice", "Describe", "--topic", topic)
    status, body = https_get(port, "/v1/topics", alice)
    assert status == 200 and [t["name"] for t in body] == [topic], body

    # No certificate, a certificate of a CA the port does not trust, or plain HTTP: no answer.
    for context in (client_context(certs), client_context(certs, certs.rogue_cert, certs.rogue_key)):
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            https_get(port, "/v1/health", context)
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        http(port, "GET", "/v1/health")
    with open(broker.log_path, errors="replace") as log:
        assert "HTTPS with a client certificate is required" in log.read()


# --- a cluster: writes sent to a node that is not the active controller ---

def test_writes_on_a_follower_node_are_forwarded_to_the_active_controller(broker_factory):
    ports = {i: free_port() for i in (1, 2, 3)}
    cluster = Cluster(broker_factory, combined=3, node_settings={
        i: {"admin.listener": f"0.0.0.0:{port}"} for i, port in ports.items()})
    try:
        cluster.wait_brokers_listed()
        leader, _ = cluster.agreed_leader()
        follower = next(i for i in ports if i != leader)
        other = next(i for i in ports if i not in (leader, follower))
        create_user(cluster.node(follower), ports[follower], "alice")
        wait_for(lambda: as_user(ports[other], "alice")[0] == 200, "alice on every node")
        topic = unique_topic("admin-forwarded")
        status, _, body = as_user(ports[follower], "alice", "POST", "/v1/topics",
                                  {"name": topic, "partitions": 3})
        assert status == 201 and body["partitions"] == 3, body
        wait_for(lambda: as_user(ports[other], "alice", path=f"/v1/topics/{topic}")[0] == 200,
                 f"{topic} on node {other}")
        status, _, body = as_user(ports[other], "alice", "DELETE", f"/v1/topics/{topic}")
        assert status == 200 and body["name"] == topic, body
        wait_for(lambda: as_user(ports[leader], "alice", path=f"/v1/topics/{topic}")[0] == 404,
                 f"{topic} gone from the active controller's node")
    finally:
        cluster.close()
