"""A full disk (issue 12, finding 5): `sluice serve` with log.dirs on a small tmpfs
this test mounts, filled to the last byte by an acks=all producer. Produce is then
refused with KAFKA_STORAGE_ERROR (retriable: Kafka's own answer for a full disk), every
acknowledged record stays readable, /v1/health and the gauges say the dir is full;
DeleteRecords and DeleteTopics free space and appends resume without a restart; a
restart loses nothing acknowledged. The metadata log shares the tmpfs (the default
layout): DeleteTopics commits into the space it keeps reserved past its end.

Needs root (mount); skipped otherwise."""

import os
import subprocess
import time

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_wire
from conftest import free_port, kcat_bin, run

TMPFS_BYTES = 4 * 1024 * 1024
VALUE_BYTES = 8 * 1024
TIMEOUT_S = 30


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs at <tmp>/disk, unmounted at teardown (after the brokers stop:
    broker_factory is set up after it, so torn down before)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(mount_point)], check=True)
    try:
        yield str(mount_point)
    finally:
        if subprocess.run(["umount", str(mount_point)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], check=True)


def value(topic, index, size):
    return f"{topic}-{index:06d}-".encode().ljust(size, b"x")


class Produced:
    """Produces with acks=all and no client retries, so a refusal comes back as the
    broker's error code; remembers what was acknowledged."""

    def __init__(self, bootstrap):
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                                  "retries": 0, "message.timeout.ms": TIMEOUT_S * 1000})
        self.acked = {}   # topic -> {offset: value}
        self.errors = []  # error codes of refused messages
        self.sent = {}

    def _report(self, err, msg):
        if err is not None:
            self.errors.append(err.code())
        else:
            self.acked.setdefault(msg.topic(), {})[msg.offset()] = msg.value()

    def send(self, topic, count, size=VALUE_BYTES):
        """Sends `count` messages and waits for their reports; returns how many were refused."""
        before = len(self.errors)
        for _ in range(count):
            index = self.sent.get(topic, 0)
            self.sent[topic] = index + 1
            self.producer.produce(topic, value(topic, index, size), partition=0, on_delivery=self._report)
        assert self.producer.flush(TIMEOUT_S) == 0, "delivery reports missing"
        return len(self.errors) - before

    def fill(self, topic):
        """Produces until the broker refuses even a 64-byte message: not one page of the
        tmpfs is left (a file's last page may still take a small write, hence the
        shrinking sizes), so any 8 KiB append needs a page there is not."""
        for count, size, tries in ((8, VALUE_BYTES, 2 * TMPFS_BYTES // VALUE_BYTES // 8),
                                   (1, VALUE_BYTES, 8), (1, 64, 200)):
            for _ in range(tries):
                if self.send(topic, count, size):
                    break
            else:
                pytest.fail(f"{TMPFS_BYTES} bytes of tmpfs never filled ({count} x {size} bytes)")


def wait_for_space(produced, timeout_s=10.0):
    """One-record sends until one is acknowledged: the space freed by a
    deletion comes back when its background unlinks ran, which a loaded
    machine may delay past the deletion's answer."""
    deadline = time.monotonic() + timeout_s
    while produced.send("keep", 1) != 0:
        assert time.monotonic() < deadline, f"appends did not resume within {timeout_s} s"
        time.sleep(0.1)


def consume(bootstrap, topic):
    """{offset: value} of every record of partition 0 (kcat: no consumer group, so
    nothing is written to the full disk)."""
    out = run([kcat_bin(), "-C", "-b", bootstrap, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
               "-f", "%o %s\n"], timeout_s=TIMEOUT_S).stdout
    records = {}
    for line in out.split(b"\n"):
        if line:
            offset, payload = line.split(b" ", 1)
            records[int(offset)] = payload
    return records


def health(port):
    import json
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def gauge(port, name):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return None


def assert_all_acked_readable(bootstrap, produced, topic, from_offset=0):
    records = consume(bootstrap, topic)
    acked = {o: v for o, v in produced.acked.get(topic, {}).items() if o >= from_offset}
    missing = sorted(o for o in acked if records.get(o) != acked[o])
    assert not missing, f"{topic}: {len(missing)} acknowledged records unreadable, first {missing[:5]}"


def test_full_disk_refuses_appends_keeps_reads_and_resumes_when_space_is_freed(small_disk, broker_factory):
    admin_port = free_port()
    b = broker_factory({"log.dirs": os.path.join(small_disk, "logs"),
                        "log.segment.bytes": str(256 * 1024),
                        "admin.listener": f"127.0.0.1:{admin_port}"})
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in ("keep", "bulk", "doomed")],
                                      operation_timeout=10).values():
        future.result(timeout=TIMEOUT_S)
    produced = Produced(b.bootstrap)
    assert produced.send("keep", 8) == 0

    # Full: appends refused with Kafka's (retriable) error, everywhere.
    produced.fill("bulk")
    assert produced.send("keep", 1) == 1
    assert set(produced.errors) == {KafkaError.KAFKA_STORAGE_ERROR}, produced.errors
    status, body = health(admin_port)
    assert status == 200 and body["status"] == "degraded", body
    assert body["log_dirs"][0]["state"] == "full" and "No space left" in body["reason"], body
    assert gauge(admin_port, "sluice_log_dir_full") == 1
    assert gauge(admin_port, "sluice_log_dir_offline") == 0
    # Reads of everything acknowledged go on.
    assert_all_acked_readable(b.bootstrap, produced, "keep")
    assert_all_acked_readable(b.bootstrap, produced, "bulk")

    # DeleteRecords frees the segments at once (their unlinks run right after
    # the answer, off the partition lock); appends resume, no restart.
    bulk_end = max(produced.acked["bulk"]) + 1
    assert kafka_wire.delete_records(b.port, "bulk", {0: bulk_end}) == {0: (0, bulk_end)}
    wait_for_space(produced)
    assert produced.send("keep", 4) == 0
    assert health(admin_port)[1]["status"] == "ready"
    assert gauge(admin_port, "sluice_log_dir_full") == 0

    # Full again; deleting a topic frees its space at once too.
    produced.fill("doomed")
    assert produced.send("keep", 1) == 1
    for future in admin.delete_topics(["doomed"], operation_timeout=10).values():
        future.result(timeout=TIMEOUT_S)
    wait_for_space(produced)
    assert produced.send("keep", 4) == 0
    assert health(admin_port)[1]["status"] == "ready"
    assert_all_acked_readable(b.bootstrap, produced, "keep")

    # A restart loses nothing acknowledged.
    b.restart()
    assert_all_acked_readable(b.bootstrap, produced, "keep")
    assert_all_acked_readable(b.bootstrap, produced, "bulk", from_offset=bulk_end)
    assert produced.send("keep", 1) == 0
    assert b.alive()
