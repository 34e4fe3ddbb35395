"""A log dir that is really lost (issue 12, finding 5): `sluice serve` with two log
dirs; an operator removes a partition's directory, so its next segment roll fails and
that dir goes offline. /v1/health answers 503 with the reason, the
sluice_log_dir_offline gauge says which dir, and the other dir keeps serving. When the
last dir is lost too, the broker stops as Kafka does ("Shutdown broker because all log
dirs in ... have failed", exit 1)."""

import json
import os
import shutil
import time
import urllib.error
import urllib.request

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

import legacy_wire
from conftest import free_port, kcat_bin, log_tail, run

TIMEOUT_S = 30
VALUE = b"v" * 8192


def health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def gauge(port, name, dir_path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(f'{name}{{dir="{dir_path}"}} '):
                return float(line.rsplit(" ", 1)[1])
    return None


def produce_until_refused(bootstrap, topic, partition, max_messages=64):
    """Sends one message at a time (acks=all, no client retries) until one is refused;
    returns its error code, or None if all were acknowledged."""
    errors = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "retries": 0, "linger.ms": 0,
                  "message.timeout.ms": 10000})
    for _ in range(max_messages):
        p.produce(topic, VALUE, partition=partition, on_delivery=lambda err, msg: errors.append(err))
        p.flush(TIMEOUT_S)
        if errors[-1] is not None:
            return errors[-1].code()
    return None


def dir_of(dirs, partition_dir):
    return next(d for d in dirs if os.path.isdir(os.path.join(d, partition_dir)))


def test_a_lost_dir_is_reported_and_losing_every_dir_stops_the_broker(broker_factory, tmp_path):
    admin_port = free_port()
    dirs = [str(tmp_path / "d1"), str(tmp_path / "d2")]
    b = broker_factory({"log.dirs": ",".join(dirs), "metadata.log.dir": str(tmp_path / "metadata"),
                        "log.segment.bytes": str(64 * 1024), "admin.listener": f"127.0.0.1:{admin_port}"})
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("t", 2, 1)], operation_timeout=10)["t"].result(timeout=TIMEOUT_S)
    lost, kept = dir_of(dirs, "t-0"), dir_of(dirs, "t-1")
    assert lost != kept, "the two partitions should be placed in different dirs"
    assert produce_until_refused(b.bootstrap, "t", 1, max_messages=4) is None

    shutil.rmtree(os.path.join(lost, "t-0"))  # the next roll cannot create its segment
    assert produce_until_refused(b.bootstrap, "t", 0) == 56  # KAFKA_STORAGE_ERROR
    # Fetch v0-5 clients do not know KAFKA_STORAGE_ERROR: Kafka 3.9 answers them
    # NOT_LEADER_OR_FOLLOWER (6), after which they look for the leader again.
    assert legacy_wire.fetch(b.port, 3, "t", 0, 0)[0] == 6
    status, body = health(admin_port)
    assert status == 503 and body["status"] == "log_dir_offline", body
    assert lost in body["reason"], body
    assert gauge(admin_port, "sluice_log_dir_offline", lost) == 1
    assert gauge(admin_port, "sluice_log_dir_offline", kept) == 0
    # The other dir serves on: produce and read.
    assert produce_until_refused(b.bootstrap, "t", 1, max_messages=2) is None
    out = run([kcat_bin(), "-C", "-b", b.bootstrap, "-t", "t", "-p", "1", "-o", "beginning", "-e", "-q",
               "-f", "%o\n"], timeout_s=TIMEOUT_S).stdout
    assert out.split() == [str(i).encode() for i in range(6)]

    shutil.rmtree(os.path.join(kept, "t-1"))
    produce_until_refused(b.bootstrap, "t", 1)
    deadline = time.monotonic() + TIMEOUT_S
    while b.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.proc.poll() == 1, f"the broker should halt with 1:\n{log_tail(b.log_path)}"
    b.stopped_on_purpose = True
    assert "Shutdown broker because all log dirs in " + ", ".join(dirs) + " have failed" in log_tail(b.log_path)
