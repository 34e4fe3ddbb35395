"""PLAINTEXT, SSL and SASL_SSL listeners on one broker (SASL_SSL with its own
listener-prefixed encrypted keystore and PLAIN users): a record written over any
one is read over the others, and each listener's Metadata names its own endpoint."""

import pytest

from clients import Identity, ck_conf, ck_consume, ck_produce, new_topic
pytest_plugins = ["security_harness"]  # fixtures: certs, sec_broker, sec_broker_factory

LISTENERS = ["PLAINTEXT", "SSL", "SASL_SSL"]
JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'user_alice="alice-secret";')


def broker_config(certs):
    return {"SSL": "SSL", "SASL_SSL": "SASL_SSL"}, {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": certs.server_pem,
        "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
        "listener.name.sasl_ssl.ssl.keystore.location": certs.server_pem_encrypted,
        "listener.name.sasl_ssl.ssl.key.password": certs.key_password,
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_ssl.plain.sasl.jaas.config": JAAS,
    }


def conf(broker, certs, listener):
    ident = {"PLAINTEXT": Identity(), "SSL": Identity(ca=certs.ca),
             "SASL_SSL": Identity(ca=certs.ca, mechanism="PLAIN", user="alice", password="alice-secret")}[listener]
    return ck_conf(broker, listener, ident)


@pytest.mark.parametrize("writer", LISTENERS)
def test_written_over_one_read_over_the_others(sec_broker, certs, writer):
    topic = new_topic(sec_broker, f"multi-{writer.lower()}")
    values = [f"{writer}-{i}" for i in range(10)]
    ck_produce(conf(sec_broker, certs, writer), topic, values)
    for reader in LISTENERS:
        assert ck_consume(conf(sec_broker, certs, reader), topic, len(values)) == values, reader


def test_metadata_names_the_endpoint_of_the_listener_asked(sec_broker, certs):
    from confluent_kafka.admin import AdminClient
    for listener in LISTENERS:
        md = AdminClient(conf(sec_broker, certs, listener)).list_topics(timeout=20)
        assert {b.id: (b.host, b.port) for b in md.brokers.values()} == \
            {1: ("127.0.0.1", sec_broker.ports[listener])}, listener
