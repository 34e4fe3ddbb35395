#!/usr/bin/env python3
"""Checks tests/fixtures/clients/*.bin against manifest.json.

An independent decoder (it shares no code with fake_broker.py): every fixture
must parse to its last byte as the request its manifest entry names, and
every Produce fixture must hold one v2 record batch with a valid CRC-32C,
the manifest's codec in its attributes, and, once decompressed, exactly the
manifest's records (keys, values, headers, and timestamps where fixed).

Decompression uses gzip (stdlib) and, when installed, the snappy, lz4 and
zstandard modules; a codec whose module is missing is reported, not failed.
"""

import gzip
import json
import os
import struct
import sys

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
FLEXIBLE_FROM = {0: 9, 3: 9, 18: 3, 22: 2}
XERIAL_MAGIC = b"\x82SNAPPY\x00"


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.flex = False

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("truncated at %d (want %d)" % (self.pos, n))
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def i8(self): return self.unpack(">b")
    def i16(self): return self.unpack(">h")
    def i32(self): return self.unpack(">i")
    def u32(self): return self.unpack(">I")
    def i64(self): return self.unpack(">q")

    def uvarint(self):
        shift = value = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def varint(self):
        v = self.uvarint()
        return (v >> 1) ^ -(v & 1)

    def string(self, force_classic=False):
        if self.flex and not force_classic:
            n = self.uvarint() - 1
        else:
            n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def bytes_(self):
        n = self.uvarint() - 1 if self.flex else self.i32()
        return None if n < 0 else self.take(n)

    def array_len(self):
        return self.uvarint() - 1 if self.flex else self.i32()

    def tags(self):
        if not self.flex:
            return 0
        count = self.uvarint()
        for _ in range(count):
            self.uvarint()
            self.take(self.uvarint())
        return count

    def at_end(self):
        return self.pos == len(self.data)


def parse_header(data):
    r = Reader(data)
    h = {"api_key": r.i16(), "api_version": r.i16(), "correlation_id": r.i32()}
    h["client_id"] = r.string(force_classic=True)
    r.flex = h["api_version"] >= FLEXIBLE_FROM.get(h["api_key"], 1 << 16)
    h["header_version"] = 2 if r.flex else 1
    h["header_tag_count"] = r.tags()
    return h, r


def parse_api_versions(r, version):
    body = {}
    if version >= 3:
        body["client_software_name"] = r.string()
        body["client_software_version"] = r.string()
        r.tags()
    return body


def parse_metadata(r, version):
    n = r.array_len()
    topics = None
    if n >= 0:
        topics = []
        for _ in range(n):
            if version >= 10:
                r.take(16)
            topics.append(r.string())
            r.tags()
    body = {"topics": topics}
    if version >= 4:
        body["allow_auto_topic_creation"] = bool(r.i8())
    if 8 <= version <= 10:
        body["include_cluster_authorized_operations"] = bool(r.i8())
    if version >= 8:
        body["include_topic_authorized_operations"] = bool(r.i8())
    r.tags()
    return body


def parse_produce(r, version):
    body = {"transactional_id": r.string() if version >= 3 else None}
    body["acks"] = r.i16()
    body["timeout_ms"] = r.i32()
    body["topics"] = []
    for _ in range(r.array_len()):
        name = r.string()
        parts = []
        for _ in range(r.array_len()):
            parts.append({"partition": r.i32(), "records": r.bytes_()})
            r.tags()
        r.tags()
        body["topics"].append({"name": name, "partitions": parts})
    r.tags()
    return body


BODY_PARSERS = {18: parse_api_versions, 3: parse_metadata, 0: parse_produce}


def parse_request(data):
    """(header, body) of a whole request; raises unless every byte is used."""
    header, r = parse_header(data)
    body = BODY_PARSERS[header["api_key"]](r, header["api_version"])
    if not r.at_end():
        raise ValueError("%d trailing bytes" % (len(data) - r.pos))
    return header, body


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def decompress(codec, payload):
    """(bytes or None when the module is missing, snappy framing or None)."""
    if codec == "none":
        return payload, None
    if codec == "gzip":
        return gzip.decompress(payload), None
    try:
        if codec == "snappy":
            import snappy
            if payload.startswith(XERIAL_MAGIC):
                r = Reader(payload)
                r.take(16)  # magic, version, compatible version
                out = b""
                while not r.at_end():
                    out += snappy.uncompress(r.take(r.i32()))
                return out, "xerial"
            return snappy.uncompress(payload), "raw"
        if codec == "lz4":
            import lz4.frame
            return lz4.frame.decompress(payload), None
        if codec == "zstd":
            import zstandard
            return zstandard.ZstdDecompressor().decompressobj().decompress(
                payload), None
    except ImportError:
        return None, ("xerial" if payload.startswith(XERIAL_MAGIC) else
                      "raw" if codec == "snappy" else None)
    raise ValueError("unknown codec " + codec)


def parse_records(data, count):
    r = Reader(data)
    records = []
    for _ in range(count):
        length = r.varint()
        start = r.pos
        r.i8()  # attributes
        ts_delta = r.varint()
        r.varint()  # offset delta
        klen = r.varint()
        key = None if klen < 0 else r.take(klen).decode()
        vlen = r.varint()
        value = None if vlen < 0 else r.take(vlen).decode()
        headers = []
        for _ in range(r.varint()):
            hk = r.take(r.varint()).decode()
            hvlen = r.varint()
            hv = None if hvlen < 0 else r.take(hvlen).decode()
            headers.append({"key": hk, "value": hv})
        if r.pos - start != length:
            raise ValueError("record length mismatch")
        records.append({"key": key, "value": value, "headers": headers,
                        "timestamp_delta": ts_delta})
    if not r.at_end():
        raise ValueError("bytes after the last record")
    return records


def parse_batch(data):
    """The one v2 record batch in `data`, decoded as far as modules allow."""
    r = Reader(data)
    batch = {"base_offset": r.i64()}
    length = r.i32()
    if length != len(data) - 12:
        raise ValueError("batch length %d, have %d" % (length, len(data) - 12))
    batch["partition_leader_epoch"] = r.i32()
    batch["magic"] = r.i8()
    crc = r.u32()
    if crc != crc32c(data[21:]):
        raise ValueError("CRC-32C mismatch")
    attributes = r.i16()
    batch["attributes"] = attributes
    batch["codec"] = CODECS[attributes & 7]
    batch["last_offset_delta"] = r.i32()
    batch["base_timestamp"] = r.i64()
    batch["max_timestamp"] = r.i64()
    batch["producer_id"] = r.i64()
    batch["producer_epoch"] = r.i16()
    batch["base_sequence"] = r.i32()
    count = r.i32()
    batch["record_count"] = count
    payload = data[r.pos:]
    plain, framing = decompress(batch["codec"], payload)
    batch["snappy_framing"] = framing
    batch["records"] = None if plain is None else parse_records(plain, count)
    return batch


def check_entry(fixtures, entry):
    """Problems with one manifest entry, [] when it holds."""
    with open(os.path.join(fixtures, entry["file"]), "rb") as f:
        data = f.read()
    header, body = parse_request(data)
    problems = []
    for field in ("api_key", "api_version", "client_id"):
        if header[field] != entry[field]:
            problems.append("%s is %r, manifest says %r"
                            % (field, header[field], entry[field]))
    if header["api_key"] == 3 and body["topics"] != entry["metadata_topics"]:
        problems.append("metadata topics %r" % body["topics"])
    if header["api_key"] != 0:
        return problems

    topics = body["topics"]
    if len(topics) != 1 or len(topics[0]["partitions"]) != 1:
        return problems + ["expected one topic with one partition"]
    if topics[0]["name"] != entry["topic"]:
        problems.append("topic %r" % topics[0]["name"])
    part = topics[0]["partitions"][0]
    if part["partition"] != entry["partition"]:
        problems.append("partition %r" % part["partition"])
    batch = parse_batch(part["records"])
    if batch["magic"] != 2:
        problems.append("magic %d" % batch["magic"])
    if batch["codec"] != entry["codec"]:
        problems.append("codec %s" % batch["codec"])
    expected = entry["expected_records"]
    if batch["record_count"] != len(expected):
        problems.append("record count %d" % batch["record_count"])
    if batch["snappy_framing"] != entry.get("snappy_framing"):
        problems.append("snappy framing %r" % batch["snappy_framing"])
    if batch["records"] is None:
        print("  note: %s not decompressed (module missing)" % entry["file"])
        return problems
    for got, want in zip(batch["records"], expected):
        for field in ("key", "value", "headers"):
            if got[field] != want[field]:
                problems.append("record %s %r != %r"
                                % (field, got[field], want[field]))
        if want["timestamp_ms"] is not None:
            ts = batch["base_timestamp"] + got["timestamp_delta"]
            if ts != want["timestamp_ms"]:
                problems.append("timestamp %d != %d" % (ts, want["timestamp_ms"]))
    return problems


def main():
    fixtures = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
        "fixtures", "clients")
    with open(os.path.join(fixtures, "manifest.json")) as f:
        manifest = json.load(f)
    listed = {e["file"] for e in manifest["files"]}
    on_disk = {n for n in os.listdir(fixtures) if n.endswith(".bin")}
    failed = 0
    for name in sorted(on_disk ^ listed):
        print("FAIL %s: on disk or in manifest, not both" % name)
        failed += 1
    for entry in manifest["files"]:
        if entry["file"] not in on_disk:
            continue
        try:
            problems = check_entry(fixtures, entry)
        except (ValueError, KeyError, OSError) as e:
            problems = ["parse error: %s" % e]
        if problems:
            failed += 1
            print("FAIL %s: %s" % (entry["file"], "; ".join(problems)))
        else:
            print("ok   %s" % entry["file"])
    passed = len(manifest["files"]) - failed
    print("%d passed, %d failed" % (max(passed, 0), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
