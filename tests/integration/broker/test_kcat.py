"""kcat (librdkafka) against Sluice: metadata, 100,000 keyed messages with headers per
codec, and the consumer's start-offset forms (beginning, end, -N, absolute, s@time)."""

import random
import subprocess
import time

import pytest

from conftest import kcat_bin, kcat_metadata, run, unique_topic

BROKER_OVERRIDES = {"num.partitions": "3", "auto.create.topics.enable": "true"}

MESSAGES_PER_CODEC = 100_000
HEADERS = [("trace", "abc-123"), ("origin", "kcat test")]
CODECS = ["gzip", "snappy", "lz4", "zstd"]
FORMAT = r"%p\t%o\t%k\t%s\t%h\n"


def produce(bootstrap, topic, lines, extra=()):
    cmd = [kcat_bin(), "-P", "-b", bootstrap, "-t", topic, "-K", ":",
           "-X", "acks=all", "-X", "linger.ms=20", "-X", "message.timeout.ms=30000"]
    for k, v in HEADERS:
        cmd += ["-H", f"{k}={v}"]
    cmd += list(extra)
    p = run(cmd, input_bytes=("\n".join(lines) + "\n").encode(), timeout_s=120)
    stderr = p.stderr.decode(errors="replace")
    assert "% ERROR" not in stderr and "delivery failed" not in stderr.lower(), \
        f"kcat produce reported:\n{stderr[-3000:]}"


def consume(bootstrap, topic, offset_spec, extra=(), timeout_s=120):
    """Consumes from offset_spec to the end of every partition; returns parsed rows."""
    cmd = [kcat_bin(), "-C", "-b", bootstrap, "-t", topic, "-o", offset_spec, "-e", "-q",
           "-f", FORMAT] + list(extra)
    out = run(cmd, timeout_s=timeout_s).stdout.decode()
    rows = []
    for line in out.split("\n"):
        if not line:
            continue
        p, o, k, v, h = line.split("\t")
        rows.append((int(p), int(o), k, v, h))
    return rows


def make_messages(n, seed):
    """Keyed lines `key:value`; values carry their sequence number and compressible filler."""
    rng = random.Random(seed)
    alphabet = "abcdefghij0123456789 .-_=+"
    lines, expected = [], []
    for i in range(n):
        key = f"key-{rng.randrange(997)}"
        filler = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        value = f"seq={i:07d};{filler}"
        lines.append(f"{key}:{value}")
        expected.append((key, value))
    return lines, expected


def test_metadata_lists_broker_topic_and_partitions(module_broker):
    topic = unique_topic("meta")
    produce(module_broker.bootstrap, topic, ["k:v"])
    md = kcat_metadata(module_broker.bootstrap, topic)
    brokers = {b["id"]: b["name"] for b in md["brokers"]}
    assert brokers == {1: module_broker.bootstrap}, md
    topics = {t["topic"]: t for t in md["topics"]}
    assert topic in topics, md
    t = topics[topic]
    assert "error" not in t, t
    parts = sorted(t["partitions"], key=lambda p: p["partition"])
    assert [p["partition"] for p in parts] == [0, 1, 2], t
    for p in parts:
        assert p["leader"] == 1, p
        assert [r["id"] for r in p["replicas"]] == [1], p
        assert [r["id"] for r in p["isrs"]] == [1], p
    # Listing every topic includes the new one, too.
    all_md = kcat_metadata(module_broker.bootstrap)
    assert topic in {t["topic"] for t in all_md["topics"]}


@pytest.mark.parametrize("codec", CODECS)
def test_keyed_messages_with_headers_round_trip(module_broker, codec):
    topic = unique_topic(f"codec-{codec}")
    lines, expected = make_messages(MESSAGES_PER_CODEC, seed=CODECS.index(codec))
    produce(module_broker.bootstrap, topic, lines, extra=["-z", codec])
    rows = consume(module_broker.bootstrap, topic, "beginning")

    assert len(rows) == MESSAGES_PER_CODEC, f"consumed {len(rows)} of {MESSAGES_PER_CODEC}"
    header_text = ",".join(f"{k}={v}" for k, v in HEADERS)
    seen = set()
    key_partition = {}
    by_partition = {}
    for p, o, k, v, h in rows:
        seq = int(v[4:11])
        assert seq not in seen, f"seq {seq} consumed twice (partition {p} offset {o})"
        seen.add(seq)
        assert (k, v) == expected[seq], f"partition {p} offset {o}: got {(k, v)!r}, produced {expected[seq]!r}"
        assert h == header_text, f"partition {p} offset {o}: headers {h!r}"
        assert key_partition.setdefault(k, p) == p, f"key {k} in partitions {key_partition[k]} and {p}"
        by_partition.setdefault(p, []).append((o, seq))
    assert set(by_partition) <= {0, 1, 2}
    assert len(by_partition) >= 2, "keys of 997 values all landed in one partition"
    for p, entries in by_partition.items():
        offsets = [o for o, _ in entries]
        assert offsets == list(range(len(entries))), f"partition {p}: offsets not 0..n-1 in order"
        seqs = [s for _, s in entries]
        assert seqs == sorted(seqs), f"partition {p}: messages out of produce order"


def test_start_offsets(module_broker):
    bootstrap = module_broker.bootstrap
    topic = unique_topic("offsets")
    produce(bootstrap, topic, [f"k{i}:early-{i}" for i in range(50)], extra=["-p", "0"])
    time.sleep(0.05)
    boundary_ms = int(time.time() * 1000)
    time.sleep(0.05)
    produce(bootstrap, topic, [f"k{i}:later-{i}" for i in range(20)], extra=["-p", "0"])

    everything = consume(bootstrap, topic, "beginning", ["-p", "0"])
    assert [(o, v) for _, o, _, v, _ in everything] == \
        [(i, f"early-{i}") for i in range(50)] + [(50 + i, f"later-{i}") for i in range(20)]

    last10 = consume(bootstrap, topic, "-10", ["-p", "0"])
    assert [o for _, o, _, _, _ in last10] == list(range(60, 70))

    from20 = consume(bootstrap, topic, "20", ["-p", "0"])
    assert [o for _, o, _, _, _ in from20] == list(range(20, 70))

    by_time = consume(bootstrap, topic, f"s@{boundary_ms}", ["-p", "0"])
    assert [(o, v) for _, o, _, v, _ in by_time] == [(50 + i, f"later-{i}") for i in range(20)]

    after_all = consume(bootstrap, topic, f"s@{int(time.time() * 1000) + 60_000}", ["-p", "0"])
    assert after_all == [], "a timestamp after every message starts at the end"

    assert consume(bootstrap, topic, "end", ["-p", "0"]) == []


def test_end_offset_reads_only_new_messages(module_broker):
    bootstrap = module_broker.bootstrap
    topic = unique_topic("tail")
    produce(bootstrap, topic, [f"k:old-{i}" for i in range(30)], extra=["-p", "0"])
    cmd = [kcat_bin(), "-C", "-b", bootstrap, "-t", topic, "-p", "0", "-o", "end", "-c", "3", "-q",
           "-f", FORMAT]
    tail = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The consumer's start is racy, so keep producing until it has its three.
        deadline = time.monotonic() + 30
        n = 0
        while tail.poll() is None and time.monotonic() < deadline:
            produce(bootstrap, topic, [f"k:new-{n}"], extra=["-p", "0"])
            n += 1
            time.sleep(0.3)
        out, err = tail.communicate(timeout=10)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
    assert tail.returncode == 0, err.decode(errors="replace")
    rows = [line.split("\t") for line in out.decode().split("\n") if line]
    assert len(rows) == 3, rows
    offsets = [int(r[1]) for r in rows]
    assert offsets[0] >= 30 and offsets == list(range(offsets[0], offsets[0] + 3)), rows
    assert all(r[3].startswith("new-") for r in rows), rows
