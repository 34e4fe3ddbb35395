"""librdkafka before 2.8 (Debian's 2.0.2: kcat, confluent-kafka-python, the `sluice` CLI)
compresses with gzip, snappy or lz4 only if ApiVersions advertises Produce from v0
(KAFKA-18659); otherwise it logs "Broker does not support compression type" and sends
uncompressed batches. Each test reads the codec bits of the batches the broker stored
(raw Fetch v4, legacy_wire.stored_batches). Also librdkafka speaking the old protocol
itself (api.version.request=false, broker.version.fallback 0.9 / 0.10: Produce and Fetch
v1 with magic 0, v2 with magic 1; magic 0 lz4 with KAFKA-3160's framing)."""

import pytest

import legacy_wire as lw
from conftest import kcat_bin, run, sluice_bin, unique_topic

BROKER_OVERRIDES = {"auto.create.topics.enable": "true", "num.partitions": "1"}

CODEC_BITS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3}
COUNT = 200
TIMEOUT_S = 30


def lines(count=COUNT):
    # Compressible values, so a compressing client does compress them.
    return [f"key-{i}:value {i:05d} " + "compressible " * 8 for i in range(count)]


def stored_codecs(broker, topic):
    batches = lw.stored_batches(broker.port, topic, 0)
    assert sum(b[2] for b in batches) == COUNT, batches
    return {b[1] & 0x07 for b in batches}


def kcat_produce(broker, topic, args):
    p = run([kcat_bin(), "-P", "-b", broker.bootstrap, "-t", topic, "-p", "0", "-K", ":",
             "-X", "linger.ms=20", "-X", "message.timeout.ms=20000", *args],
            input_bytes=("\n".join(lines()) + "\n").encode(), timeout_s=60)
    stderr = p.stderr.decode(errors="replace")
    assert "not support compression" not in stderr, stderr
    assert "ERROR" not in stderr, stderr


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4"])
@pytest.mark.parametrize("form", ["-z", "-X"])
def test_kcat_compresses(module_broker, codec, form):
    topic = unique_topic(f"kcat-{codec}")
    lw.create_topic(module_broker.port, topic)
    args = ["-z", codec] if form == "-z" else ["-X", f"compression.codec={codec}"]
    kcat_produce(module_broker, topic, args)
    assert stored_codecs(module_broker, topic) == {CODEC_BITS[codec]}


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4"])
def test_confluent_kafka_python_compresses(module_broker, codec):
    from confluent_kafka import Producer
    topic = unique_topic(f"ck-{codec}")
    lw.create_topic(module_broker.port, topic)
    logs = []
    producer = Producer({"bootstrap.servers": module_broker.bootstrap, "compression.codec": codec,
                         "linger.ms": 20, "logger": _Collect(logs)})
    for line in lines():
        key, value = line.split(":", 1)
        producer.produce(topic, key=key.encode(), value=value.encode(), partition=0)
    assert producer.flush(TIMEOUT_S) == 0
    assert not [m for m in logs if "not support compression" in m], logs
    assert stored_codecs(module_broker, topic) == {CODEC_BITS[codec]}


class _Collect:
    """A logging.Logger stand-in for librdkafka's log lines."""

    def __init__(self, out):
        self.out = out

    def log(self, _level, fmt, *args):
        self.out.append(fmt % args if args else fmt)


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4"])
def test_cli_compression_flag_compresses(module_broker, codec):
    topic = unique_topic(f"cli-{codec}")
    lw.create_topic(module_broker.port, topic)
    p = run([sluice_bin(), "produce", topic, "-b", module_broker.bootstrap, "--key-separator", ":",
             "--compression", codec, "-p", "0"], input_bytes=("\n".join(lines()) + "\n").encode(), timeout_s=60)
    assert "not support compression" not in p.stderr.decode(errors="replace")
    assert stored_codecs(module_broker, topic) == {CODEC_BITS[codec]}


@pytest.mark.parametrize("fallback,magic", [("0.9.0.1", 0), ("0.10.0.0", 1)])
@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4"])
def test_librdkafka_speaking_old_protocol_round_trips(module_broker, fallback, magic, codec):
    """librdkafka writes and reads legacy message sets itself when told the broker is
    0.9 / 0.10: its magic 0 lz4 carries the broken descriptor checksum, which the
    broker must accept and also write back the same way."""
    old = ["-X", "api.version.request=false", "-X", f"broker.version.fallback={fallback}"]
    topic = unique_topic(f"old-{magic}-{codec}")
    lw.create_topic(module_broker.port, topic)
    kcat_produce(module_broker, topic, ["-z", codec, *old])
    assert stored_codecs(module_broker, topic) == {CODEC_BITS[codec]}
    # From offset 0, not "beginning": that would need ListOffsets v0 (not this test's matter).
    out = run([kcat_bin(), "-C", "-b", module_broker.bootstrap, "-t", topic, "-p", "0", "-o", "0",
               "-e", "-q", "-f", "%o:%k:%s\n", *old], timeout_s=60).stdout.decode()
    expected = [f"{i}:{line}" for i, line in enumerate(lines())]
    assert out.splitlines() == expected
