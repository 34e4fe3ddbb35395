"""ACLs on DescribeTransactions (api 65) and ListTransactions (api 66), as Kafka's
KafkaApis checks them: DescribeTransactions answers TRANSACTIONAL_ID_AUTHORIZATION_FAILED
(53) for a transactional id the principal may not DESCRIBE and shows a transaction's
partitions only for topics the principal may DESCRIBE; ListTransactions lists only the
transactions whose transactional id the principal may DESCRIBE.

Two transactions are left open (Ongoing) by confluent-kafka producers on the PLAINTEXT
listener (User:ANONYMOUS, a super user), each with partitions of two topics: alice may
DESCRIBE the transactional id tx-visible and the topic `shown`, nothing else. Her raw
requests go over SASL_PLAINTEXT (PLAIN login); the super user's go over PLAINTEXT and
see everything. bob, with no ACL at all, sees nothing. The requests are raw frames
(confluent-kafka 1.7 has no transaction admin API), read field by field from the
schemas (both APIs are flexible from v0)."""

import time

import pytest
from confluent_kafka import Producer

import acl_helpers as A
import kafka_wire
from acl_helpers import allow
from clients import new_topic
from kafka_wire import Writer, call

pytest_plugins = ["security_harness"]  # fixtures: certs, sec_broker, sec_broker_factory

API_DESCRIBE_TRANSACTIONS = 65
API_LIST_TRANSACTIONS = 66
ERR_CONCURRENT_TRANSACTIONS = 51
# Answers a coordinator gives while it loads or finishes a state change: retried, as
# admin clients do.
RETRIABLE = {A.ERR_COORDINATOR_LOAD_IN_PROGRESS, ERR_CONCURRENT_TRANSACTIONS}

VISIBLE, HIDDEN = "tx-visible", "tx-hidden"
PARTITIONS = (0, 1)
# Longer than the module can take, so the broker does not abort the open transactions
# under the tests (librdkafka's default is 60 s).
TXN_TIMEOUT_MS = 180000


def broker_config(certs):
    return A.broker_settings(authorizer=True)


# ---- raw frames on a given connection (the txn suite's helpers open their own PLAINTEXT one)

_correlation = [600]


def _next():
    _correlation[0] += 1
    return _correlation[0]


def describe_transactions(sock, ids):
    """DescribeTransactions v0: [{error, id, state, timeout_ms, start_ms, producer_id,
    epoch, topics: [(topic, [partitions])]}] in the order of the answer. Topics stay a
    list so that a topic named twice (the schema's mapKey forbids it) is seen."""
    body = Writer().compact_array(list(ids), lambda w, s: w.compact_string(s)).no_tags()
    r = call(sock, API_DESCRIBE_TRANSACTIONS, 0, bytes(body.buf), _next(), flexible=True)
    r.i32()  # throttle

    def topic(t):
        name, partitions = t.compact_string(), t.compact_array(lambda x: x.i32())
        t.skip_tags()
        return name, partitions

    def state(s):
        # dict displays evaluate left to right: the schema's field order.
        out = {"error": s.i16(), "id": s.compact_string(), "state": s.compact_string(),
               "timeout_ms": s.i32(), "start_ms": s.i64(), "producer_id": s.i64(),
               "epoch": s.i16(), "topics": s.compact_array(topic)}
        s.skip_tags()
        return out

    states = r.compact_array(state)
    r.skip_tags()
    assert r.remaining() == 0, f"{r.remaining()} bytes after the DescribeTransactions answer"
    return states


def list_transactions(sock, version=0, states=(), producer_ids=()):
    """ListTransactions v0/v1: (error, unknown state filters, {id: (producer id, state)})."""
    w = (Writer().compact_array(list(states), lambda w, s: w.compact_string(s))
         .compact_array(list(producer_ids), lambda w, p: w.i64(p)))
    if version >= 1:
        w.i64(-1)  # DurationFilter: none
    w.no_tags()
    r = call(sock, API_LIST_TRANSACTIONS, version, bytes(w.buf), _next(), flexible=True)
    r.i32()  # throttle
    error = r.i16()
    unknown = r.compact_array(lambda x: x.compact_string())

    def listing(x):
        out = (x.compact_string(), x.i64(), x.compact_string())
        x.skip_tags()
        return out

    listed = r.compact_array(listing)
    r.skip_tags()
    assert r.remaining() == 0, f"{r.remaining()} bytes after the ListTransactions answer"
    by_id = {tid: (pid, st) for tid, pid, st in listed}
    assert len(by_id) == len(listed), f"a transactional id listed twice: {listed}"
    return error, unknown, by_id


def retried(request):
    """request() again while an answer carries a retriable coordinator error (briefly)."""
    deadline = time.monotonic() + A.WAIT_S
    while True:
        answer = request()
        errors = ({s["error"] for s in answer} if isinstance(answer, list) else {answer[0]})
        if not errors & RETRIABLE or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def topics_of(state):
    """{topic: sorted partitions}, after checking that no topic is named twice."""
    names = [name for name, _ in state["topics"]]
    assert len(names) == len(set(names)), f"{state['id']}: a topic named twice in {state['topics']}"
    return {name: sorted(partitions) for name, partitions in state["topics"]}


def describe_as(sock, ids):
    states = retried(lambda: describe_transactions(sock, ids))
    assert [s["id"] for s in states] == list(ids), f"asked {list(ids)}, answered {states}"
    return {s["id"]: s for s in states}


# ---- the open transactions ---------------------------------------------------------------

def open_transaction(broker, transactional_id, topics):
    """A super-user producer that begins a transaction, writes to both partitions of each
    topic and flushes without committing: the coordinator holds it Ongoing with those
    partitions (librdkafka adds them with AddPartitionsToTxn before producing)."""
    failures = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": transactional_id,
                  "transaction.timeout.ms": TXN_TIMEOUT_MS, "message.timeout.ms": A.WAIT_S * 1000,
                  "linger.ms": 5})
    p.init_transactions(A.WAIT_S)
    p.begin_transaction()
    for topic in topics:
        for partition in PARTITIONS:
            p.produce(topic, value=f"{transactional_id}-{partition}".encode(), partition=partition,
                      on_delivery=lambda err, msg: err and failures.append(err))
    left = p.flush(A.WAIT_S + 5)
    assert left == 0 and not failures, f"{transactional_id}: {left} undelivered, errors {failures}"
    return p


@pytest.fixture(scope="module")
def txns(sec_broker):
    """(shown topic, secret topic) with both transactions open. alice may DESCRIBE
    tx-visible and the shown topic only."""
    versions = kafka_wire.api_versions(sec_broker.port)[1]
    for api in (API_DESCRIBE_TRANSACTIONS, API_LIST_TRANSACTIONS):
        assert api in versions, f"ApiVersions does not advertise api {api}"
    shown = new_topic(sec_broker, "txn-shown", partitions=len(PARTITIONS))
    secret = new_topic(sec_broker, "txn-secret", partitions=len(PARTITIONS))
    producers = {tid: open_transaction(sec_broker, tid, [shown, secret]) for tid in (VISIBLE, HIDDEN)}
    allow(sec_broker, "User:alice", ["Describe"], "--transactional-id", VISIBLE)
    allow(sec_broker, "User:alice", ["Describe"], "--topic", shown)
    yield shown, secret
    # Aborting ends them cleanly before the broker stops (an error here is the broker's);
    # dropping the producers then destroys them, so none is left reconnecting to a
    # stopped broker.
    for p in producers.values():
        p.abort_transaction(A.WAIT_S)
    producers.clear()


def list_versions(broker):
    return range(kafka_wire.api_versions(broker.port)[1][API_LIST_TRANSACTIONS][1] + 1)


# ---- DescribeTransactions ----------------------------------------------------------------

def test_super_user_describes_both_with_all_partitions(sec_broker, txns):
    shown, secret = txns
    with kafka_wire.connect(sec_broker.port) as sock:
        states = describe_as(sock, [VISIBLE, HIDDEN])
    for tid in (VISIBLE, HIDDEN):
        s = states[tid]
        assert (s["error"], s["state"], s["timeout_ms"]) == (0, "Ongoing", TXN_TIMEOUT_MS), s
        assert s["producer_id"] >= 0 and s["epoch"] >= 0 and s["start_ms"] > 0, s
        assert topics_of(s) == {shown: list(PARTITIONS), secret: list(PARTITIONS)}, s
    assert states[VISIBLE]["producer_id"] != states[HIDDEN]["producer_id"]


def test_alice_describes_only_what_she_may(sec_broker, txns):
    shown, secret = txns
    with kafka_wire.connect(sec_broker.port) as sock:
        full = describe_as(sock, [VISIBLE])[VISIBLE]
    with A.login(sec_broker, "alice") as sock:
        states = describe_as(sock, [VISIBLE, HIDDEN])
    visible, hidden = states[VISIBLE], states[HIDDEN]
    # The transaction itself is hers to see, as the super user sees it ...
    assert visible["error"] == 0 and visible["state"] == "Ongoing", visible
    for field in ("producer_id", "epoch", "timeout_ms", "start_ms"):
        assert visible[field] == full[field], f"{field}: alice {visible}, super user {full}"
    # ... but only the partitions of the topic she may DESCRIBE.
    assert topics_of(visible) == {shown: list(PARTITIONS)}, \
        f"alice saw {visible['topics']}; {secret} must be left out"
    # tx-hidden: refused.
    assert hidden["error"] == A.ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, hidden
    # Nothing of it shown: no partitions, no state, and only a placeholder producer id
    # (Kafka leaves the field's default 0; -1 says "none" as for an unknown id).
    assert hidden["topics"] == [] and hidden["state"] in ("", None), hidden
    assert hidden["producer_id"] in (-1, 0) and hidden["epoch"] in (-1, 0), hidden


def test_alice_asking_in_the_other_order(sec_broker, txns):
    """The refusal is per id and kept in request order, whichever comes first."""
    shown, _ = txns
    with A.login(sec_broker, "alice") as sock:
        states = describe_as(sock, [HIDDEN, VISIBLE])
    assert states[HIDDEN]["error"] == A.ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, states
    assert states[VISIBLE]["error"] == 0 and topics_of(states[VISIBLE]) == {shown: list(PARTITIONS)}, states


def test_bob_without_acls_describes_nothing(sec_broker, txns):
    with A.login(sec_broker, "bob") as sock:
        states = describe_as(sock, [VISIBLE, HIDDEN])
    for tid in (VISIBLE, HIDDEN):
        assert states[tid]["error"] == A.ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, states[tid]
        assert states[tid]["topics"] == [], states[tid]


# ---- ListTransactions --------------------------------------------------------------------

def test_super_user_lists_both(sec_broker, txns):
    with kafka_wire.connect(sec_broker.port) as sock:
        full = describe_as(sock, [VISIBLE, HIDDEN])
        for version in list_versions(sec_broker):
            error, unknown, listed = retried(lambda: list_transactions(sock, version))
            assert (error, unknown) == (0, []), f"v{version}: {error} {unknown}"
            assert listed == {tid: (full[tid]["producer_id"], "Ongoing") for tid in (VISIBLE, HIDDEN)}, \
                f"v{version}: {listed}"


def test_alice_lists_only_tx_visible(sec_broker, txns):
    with kafka_wire.connect(sec_broker.port) as sock:
        full = describe_as(sock, [VISIBLE, HIDDEN])
    with A.login(sec_broker, "alice") as sock:
        for version in list_versions(sec_broker):
            error, unknown, listed = retried(lambda: list_transactions(sock, version))
            assert (error, unknown) == (0, []), f"v{version}: {error} {unknown}"
            assert listed == {VISIBLE: (full[VISIBLE]["producer_id"], "Ongoing")}, f"v{version}: {listed}"
        # Filters pick among what she may see: tx-hidden's producer id finds nothing,
        # the state filter still leaves tx-hidden out.
        error, _, listed = retried(lambda: list_transactions(sock, producer_ids=[full[HIDDEN]["producer_id"]]))
        assert (error, listed) == (0, {}), listed
        error, _, listed = retried(lambda: list_transactions(sock, states=["Ongoing"]))
        assert error == 0 and set(listed) == {VISIBLE}, listed


def test_bob_without_acls_lists_nothing(sec_broker, txns):
    with A.login(sec_broker, "bob") as sock:
        error, unknown, listed = retried(lambda: list_transactions(sock))
    assert (error, unknown, listed) == (0, [], {}), (error, unknown, listed)
