#!/usr/bin/env python3
"""Writes tests/fixtures/clients/manifest.json for the captured .bin files.

Expected records come from golden_messages.json (what the clients were told
to send), never from the captures, so verify_fixtures.py checks the captures
against intent. Facts that only the capture knows (client software name,
metadata topics asked for, snappy framing) are read from the files.
"""

import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify_fixtures as vf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
API_NAMES = {0: "Produce", 3: "Metadata", 18: "ApiVersions"}
NAME_RE = re.compile(r"^(?P<client>.+)-(?P<api>[a-z]+)-v(?P<version>\d+)"
                     r"(?:-(?P<codec>[a-z0-9]+))?\.bin$")


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              check=False).stdout + ""
    except OSError:
        return ""


def client_versions(python):
    kcat = run(["kcat", "-V"])
    m = re.search(r"Version (\S+).*librdkafka (\S+)", kcat)
    versions = {
        "kcat": {"version": "kcat %s, librdkafka %s" % m.groups() if m else None,
                 "source": "Debian package kcat (links librdkafka1)"},
        "kafka-python": {
            "version": "kafka-python " + run(
                [python, "-c", "import kafka; print(kafka.__version__)"]).strip(),
            "source": "Debian package python3-kafka"},
    }
    js = os.path.join(REPO, "tests", "clients", "js", "node_modules")
    parts = []
    for pkg in ("kafkajs", "kafkajs-snappy", "lz4js"):
        try:
            with open(os.path.join(js, pkg, "package.json")) as f:
                parts.append("%s %s" % (pkg, json.load(f)["version"]))
        except OSError:
            parts.append(pkg + " (not installed)")
    versions["kafkajs"] = {"version": ", ".join(parts),
                           "source": "npm, pinned in tests/clients/js/package-lock.json"}
    return versions


def entry_for(fixtures, name, golden, versions):
    m = NAME_RE.match(name)
    if not m:
        raise ValueError("unexpected fixture name " + name)
    with open(os.path.join(fixtures, name), "rb") as f:
        header, body = vf.parse_request(f.read())
    client = m.group("client")
    e = {
        "file": name,
        "client": client,
        "client_version": versions[client]["version"],
        "api_key": header["api_key"],
        "api_name": API_NAMES[header["api_key"]],
        "api_version": header["api_version"],
        "request_header_version": header["header_version"],
        "correlation_id": header["correlation_id"],
        "client_id": header["client_id"],
        "size_bytes": os.path.getsize(os.path.join(fixtures, name)),
        "codec": None,
        "topic": None,
        "partition": None,
        "expected_records": None,
    }
    if header["api_key"] == 18:
        e.update({k: body[k] for k in body})
    elif header["api_key"] == 3:
        e["metadata_topics"] = body["topics"]
        if "allow_auto_topic_creation" in body:
            e["allow_auto_topic_creation"] = body["allow_auto_topic_creation"]
    elif header["api_key"] == 0:
        part = body["topics"][0]["partitions"][0]
        batch = vf.parse_batch(part["records"])
        e["codec"] = m.group("codec")
        e["topic"] = golden["topic"]
        e["partition"] = golden["partition"]
        e["acks"] = body["acks"]
        e["transactional_id"] = body["transactional_id"]
        if e["codec"] == "snappy":
            e["snappy_framing"] = batch["snappy_framing"]
        fixed_ts = client != "kcat"  # kcat cannot set timestamps
        e["expected_records"] = [
            {"key": r["key"], "value": r["value"], "headers": r["headers"],
             "timestamp_ms": r["timestamp_ms"] if fixed_ts else None}
            for r in golden["records"]]
    return e


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--skipped", help="tsv: client, codec, reason")
    parser.add_argument("--python", default="/usr/bin/python3")
    args = parser.parse_args()
    with open(os.path.join(HERE, "golden_messages.json")) as f:
        golden = json.load(f)
    versions = client_versions(args.python)
    names = sorted(n for n in os.listdir(args.fixtures) if n.endswith(".bin"))
    skipped = []
    if args.skipped:
        with open(args.skipped) as f:
            for line in f:
                client, codec, reason = line.rstrip("\n").split("\t")
                skipped.append({"client": client, "codec": codec,
                                "reason": reason})
    manifest = {
        "about": "Request frames captured from real clients by "
                 "tools/capture/capture_all.sh; each .bin is one frame "
                 "without its 4-byte size prefix. See README.md.",
        "clients": versions,
        "skipped": skipped,
        "files": [entry_for(args.fixtures, n, golden, versions) for n in names],
    }
    with open(os.path.join(args.fixtures, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print("manifest: %d files, %d skipped" % (len(names), len(skipped)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
