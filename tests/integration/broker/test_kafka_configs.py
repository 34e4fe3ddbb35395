"""Configs as a Kafka 3.x user sees them (issue 14, points 4 and 5), through
confluent-kafka's AdminClient and raw IncrementalAlterConfigs frames:

- every broker setting Kafka 3.9 knows is accepted where Kafka accepts it,
  stored and described (a start-up or alter log line says where Sluice does
  not act on it); Kafka's read-only ones answer INVALID_REQUEST as Kafka's
  DynamicBrokerConfig.validateConfigs does;
- a server.properties full of Kafka settings starts the broker;
- topic configs deprecated in 3.x but accepted then are accepted and mapped;
- DescribeConfigs' synonyms follow ConfigHelper.configSynonyms.
"""

import time

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic

import kafka_wire
from conftest import unique_topic

TIMEOUT_S = 30
OP_SET = 0
ERR_INVALID_REQUEST = 42
ERR_INVALID_TIMESTAMP = 32


def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def describe(client, resource_type, name):
    resource = ConfigResource(resource_type, name)
    return client.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)


def source_of(entry):
    return ConfigSource(int(getattr(entry.source, "value", entry.source)))


def log_text(broker):
    with open(broker.log_path, errors="replace") as f:
        return f.read()


def wait_for_log(broker, text, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in log_text(broker):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in the broker's log")


def test_kafka_broker_settings_are_accepted_described_and_logged(broker):
    client = admin(broker)
    # Dynamic in Kafka (DynamicThreadPool, DynamicListenerConfig): accepted,
    # though Sluice does not act on them yet.
    assert kafka_wire.incremental_alter_configs(
        broker.port, kafka_wire.RESOURCE_BROKER, "", [("background.threads", OP_SET, "4")]) == (0, None)
    assert kafka_wire.incremental_alter_configs(
        broker.port, kafka_wire.RESOURCE_BROKER, "1",
        [("sasl.kerberos.min.time.before.relogin", OP_SET, "120000")]) == (0, None)
    configs = describe(client, ConfigResource.Type.BROKER, "1")
    background = configs["background.threads"]
    assert (background.value, source_of(background)) == ("4", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG)
    relogin = configs["sasl.kerberos.min.time.before.relogin"]
    assert (relogin.value, source_of(relogin)) == ("120000", ConfigSource.DYNAMIC_BROKER_CONFIG)
    assert not relogin.is_read_only
    # Described with Kafka's default where nothing set it.
    assert configs["zookeeper.session.timeout.ms"].value == "18000"
    assert configs["zookeeper.session.timeout.ms"].is_read_only
    wait_for_log(broker, "broker config background.threads stored; Sluice does not act on it")


def test_kafka_read_only_and_per_broker_settings_are_refused_as_kafka_does(broker):
    error, message = kafka_wire.incremental_alter_configs(
        broker.port, kafka_wire.RESOURCE_BROKER, "1", [("log.retention.hours", OP_SET, "1")])
    assert (error, message) == (ERR_INVALID_REQUEST,
                                "Cannot update these configs dynamically: Set(log.retention.hours)")
    error, message = kafka_wire.incremental_alter_configs(
        broker.port, kafka_wire.RESOURCE_BROKER, "",
        [("sasl.kerberos.min.time.before.relogin", OP_SET, "1")])
    assert error == ERR_INVALID_REQUEST
    assert "broker id must be specified" in message
    error, _ = kafka_wire.incremental_alter_configs(
        broker.port, kafka_wire.RESOURCE_BROKER, "", [("background.threads", OP_SET, "many")])
    assert error == ERR_INVALID_REQUEST
    # Kafka stores names it does not know; Sluice too, with a log line.
    assert kafka_wire.incremental_alter_configs(
        broker.port, kafka_wire.RESOURCE_BROKER, "1", [("my.plugin.setting", OP_SET, "x")]) == (0, None)
    wait_for_log(broker, "broker config my.plugin.setting stored, but neither Kafka nor Sluice knows it")


def test_a_kafka_server_properties_starts_the_broker(broker_factory):
    broker = broker_factory({
        "zookeeper.connect": "localhost:2181",
        "background.threads": "10",
        "num.replica.fetchers": "2",
        "group.initial.rebalance.delay.ms": "0",
        "ssl.endpoint.identification.algorithm": "https",
    })
    assert "zookeeper.connect is a Kafka setting Sluice accepts but does not act on" in log_text(broker)
    configs = describe(admin(broker), ConfigResource.Type.BROKER, "1")
    assert source_of(configs["num.replica.fetchers"]) == ConfigSource.STATIC_BROKER_CONFIG


def test_deprecated_topic_configs_are_accepted_and_mapped(broker):
    client = admin(broker)
    topic = unique_topic("deprecated")
    created = client.create_topics([NewTopic(topic, 1, 1, config={
        "message.timestamp.difference.max.ms": "60000",
        "message.format.version": "2.8-IV1",
    })], operation_timeout=10)
    created[topic].result(timeout=TIMEOUT_S)
    wait_for_log(broker, "message.timestamp.difference.max.ms is deprecated")
    configs = describe(client, ConfigResource.Type.TOPIC, topic)
    assert configs["message.format.version"].value == "2.8-IV1"
    assert configs["message.timestamp.difference.max.ms"].value == "60000"
    # The deprecated bound applies where the successors are not set: a record
    # two hours old is refused (message.timestamp.before.max.ms is unbounded).
    delivered = []
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all",
                         "message.timeout.ms": 10000, "retries": 0})
    now_ms = int(time.time() * 1000)
    # One batch each (a batch is refused whole).
    for value, timestamp in ((b"old", now_ms - 2 * 3600 * 1000), (b"fresh", now_ms)):
        producer.produce(topic, value=value, timestamp=timestamp,
                         on_delivery=lambda err, msg: delivered.append(err))
        assert producer.flush(TIMEOUT_S) == 0
    codes = sorted(err.code() if err else 0 for err in delivered)
    assert codes == [0, KafkaError.INVALID_TIMESTAMP]
    # An invalid version is INVALID_CONFIG, as in Kafka.
    bad = unique_topic("badversion")
    with_bad = client.create_topics([NewTopic(bad, 1, 1, config={"message.format.version": "9.9"})],
                                    operation_timeout=10)
    try:
        with_bad[bad].result(timeout=TIMEOUT_S)
        raise AssertionError("message.format.version=9.9 was accepted")
    except KafkaException as e:
        assert e.args[0].code() == KafkaError.INVALID_CONFIG


def test_synonyms_are_listed_as_kafka_lists_them(broker_factory):
    broker = broker_factory({"log.retention.ms": "86400000"})
    client = admin(broker)
    topic = unique_topic("synonyms")
    client.create_topics([NewTopic(topic, 1, 1)], operation_timeout=10)[topic].result(timeout=TIMEOUT_S)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entry = client.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)["retention.ms"]
    listed = [(s.name, s.value, ConfigSource(int(getattr(s.source, "value", s.source))))
              for s in entry.synonyms.values()]
    assert listed == [("log.retention.ms", "86400000", ConfigSource.STATIC_BROKER_CONFIG),
                      ("log.retention.hours", "168", ConfigSource.DEFAULT_CONFIG)]
    # With log.retention.ms set nowhere, Kafka lists no synonym for retention.ms.
    plain = broker_factory()
    other = unique_topic("plain")
    plain_client = admin(plain)
    plain_client.create_topics([NewTopic(other, 1, 1)], operation_timeout=10)[other].result(timeout=TIMEOUT_S)
    resource = ConfigResource(ConfigResource.Type.TOPIC, other)
    entry = plain_client.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)["retention.ms"]
    assert entry.value == "604800000"
    assert list(entry.synonyms.values()) == []
