"""Kafka's validation where Sluice used to accept what Kafka refuses (issue 14, point 3),
as raw frames; each test names the Kafka function whose answer it checks."""

import struct

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.record.util import calc_crc32c

import hostile_wire as hw
import kafka_wire as kw
from conftest import unique_topic
from groups import group_wire as gw

INVALID_REQUEST = 42
POLICY_VIOLATION = 44
INVALID_RECORD = 87
UNKNOWN_TOPIC_OR_PARTITION = 3

# Record batch v2 header positions (after baseOffset, batchLength, epoch, magic, crc, attributes).
LAST_OFFSET_DELTA_AT = 23
RECORD_COUNT_AT = 57
CRC_AT = 17


def create_topic(broker, config=None, partitions=1):
    name = unique_topic("valid")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1, config=config or {})])[name].result(timeout=30)
    return name


def latest_offset(port, topic):
    return kw.list_offsets_v7(port, topic, {0: -1})[0][2]


def with_header_field(batch, at, fmt, value):
    """The batch with one header field rewritten and its CRC fixed, as a client would send it."""
    out = bytearray(batch)
    struct.pack_into(fmt, out, at, value)
    struct.pack_into(">I", out, CRC_AT, calc_crc32c(bytes(out[hw.BATCH_ATTRIBUTES_AT:])))
    return bytes(out)


def test_keyless_record_in_a_compacted_topic(module_broker):
    """LogValidator.validateRecord -> validateKey: INVALID_RECORD, nothing appended."""
    port = module_broker.port
    topic = create_topic(module_broker, {"cleanup.policy": "compact"})
    assert hw.produce_v3(port, topic, 0, hw.record_batch([(b"k", b"v"), (None, b"no key")]))[0] == INVALID_RECORD
    assert hw.produce_v3(port, topic, 0, hw.record_batch([(None, b"no key")]))[0] == INVALID_RECORD
    assert latest_offset(port, topic) == 0
    assert hw.produce_v3(port, topic, 0, hw.record_batch([(b"k", b"v"), (b"k2", None)])) == (0, 0)
    # A topic that deletes, not compacts, takes keyless records.
    plain = create_topic(module_broker)
    assert hw.produce_v3(port, plain, 0, hw.record_batch([(None, b"v")])) == (0, 0)


def test_batch_base_offset_must_be_zero(module_broker):
    """UnifiedLog.analyzeAndValidateRecords: a client's v2 batch starts at offset 0."""
    port = module_broker.port
    topic = create_topic(module_broker)
    assert hw.produce_v3(port, topic, 0, hw.record_batch([(b"k", b"v")], base_offset=5))[0] == INVALID_RECORD
    assert latest_offset(port, topic) == 0


@pytest.mark.parametrize("field_at, value", [
    (LAST_OFFSET_DELTA_AT, 5),   # offsets span 6 records, the batch holds 2
    (LAST_OFFSET_DELTA_AT, -1),  # an empty offset range
    (RECORD_COUNT_AT, 0),        # a count of nothing
])
def test_batch_offset_range_must_match_its_count(module_broker, field_at, value):
    """LogValidator.validateBatch: lastOffsetDelta + 1 == record count > 0, else INVALID_RECORD."""
    port = module_broker.port
    topic = create_topic(module_broker)
    batch = with_header_field(hw.record_batch([(b"a", b"1"), (b"b", b"2")]), field_at, ">i", value)
    assert hw.produce_v3(port, topic, 0, batch)[0] == INVALID_RECORD
    assert latest_offset(port, topic) == 0


def test_delete_records_needs_the_delete_policy(module_broker):
    """Partition.deleteRecordsOnLeader (ReplicaManager.deleteRecords): POLICY_VIOLATION
    unless cleanup.policy includes delete."""
    port = module_broker.port
    compacted = create_topic(module_broker, {"cleanup.policy": "compact"})
    assert hw.produce_v3(port, compacted, 0, hw.record_batch([(b"k", b"v")] * 3)) == (0, 0)
    assert kw.delete_records(port, compacted, {0: 2}) == {0: (POLICY_VIOLATION, -1)}
    assert kw.list_offsets_v7(port, compacted, {0: -2})[0][2] == 0, "the log start moved"
    both = create_topic(module_broker, {"cleanup.policy": "compact,delete"})
    assert hw.produce_v3(port, both, 0, hw.record_batch([(b"k", b"v")] * 3)) == (0, 0)
    assert kw.delete_records(port, both, {0: 2}) == {0: (0, 2)}


def test_offset_commit_for_an_unknown_topic(module_broker):
    """KafkaApis.handleOffsetCommitRequest: a topic or partition the metadata does not
    know gets UNKNOWN_TOPIC_OR_PARTITION and nothing is stored; the others commit."""
    port = module_broker.port
    topic = create_topic(module_broker)
    missing = unique_topic("missing")
    group = unique_topic("valid-group")
    assert kw.find_coordinator(port, group)[0] == 0
    with kw.connect(port, timeout_s=30) as sock:
        answers = gw.offset_commit(sock, group, {(topic, 0): 5, (topic, 3): 6, (missing, 0): 7})
        assert answers == {(topic, 0): 0, (topic, 3): UNKNOWN_TOPIC_OR_PARTITION,
                           (missing, 0): UNKNOWN_TOPIC_OR_PARTITION}
        assert gw.offset_fetch(sock, group, topic, [0, 3]) == (0, {0: 5, 3: -1})
        assert gw.offset_fetch(sock, group, missing, [0]) == (0, {0: -1})


def api_versions_v3(port, name, version):
    body = kw.Writer().compact_string(name).compact_string(version).no_tags()
    with kw.connect(port) as sock:
        r = kw.call(sock, kw.API_API_VERSIONS, 3, bytes(body.buf), 3, flexible=True)
        error = r.i16()

        def key(k):
            out = (k.i16(), k.i16(), k.i16())
            k.skip_tags()
            return out

        return error, r.compact_array(key)


@pytest.mark.parametrize("name, version", [
    ("-starts-with-dash", "1.0"), ("ends.with.dot.", "1.0"), ("has space", "1.0"), ("", "1.0"),
    ("librdkafka", "2.0+git"), ("librdkafka", ""), ("under_score", "1"),
])
def test_api_versions_v3_client_software_pattern(module_broker, name, version):
    """ApiVersionsRequest.isValid: name and version match
    [a-zA-Z0-9](?:[a-zA-Z0-9\\-.]*[a-zA-Z0-9])?, else INVALID_REQUEST with no APIs."""
    assert api_versions_v3(module_broker.port, name, version) == (INVALID_REQUEST, [])


def test_api_versions_v3_valid_client_software(module_broker):
    for name, version in [("apache-kafka-java", "3.9.0"), ("a", "1"), ("confluent-kafka-python", "2.3.0-rdkafka-2.3.0")]:
        error, keys = api_versions_v3(module_broker.port, name, version)
        assert error == 0 and kw.API_API_VERSIONS in [k[0] for k in keys], (name, version)
