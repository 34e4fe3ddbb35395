#!/usr/bin/env python3
"""Condenses Kafka's schemas into src/protocol/schema/*.json.

Reads every `*.json` of Kafka's `messages/` folder (JSON with `//` comments)
and keeps only what the codec generator needs: names, types, version ranges,
tags, defaults and the flags that change the encoding. The prose (`about`) is
dropped. The output is committed, so the build never needs the source folder.

With the default arguments it also condenses the sibling folders
`metadata-records/` (into metadata_records.json, namespace "metadata") and
`coordinator-records/` (into coordinator_records.json, namespace
"coordinator"); the generator puts those in sluice::protocol::<namespace>.

Usage: condense.py [SOURCE_DIR] [OUTPUT_FILE]
"""

import json
import pathlib
import re
import sys

DEFAULT_SOURCE = "/work/shared/kafka-protocol/messages"
DEFAULT_OUTPUT = pathlib.Path(__file__).resolve().parents[2] / "src/protocol/schema/messages.json"

MESSAGE_KEYS = ["name", "type", "apiKey", "validVersions", "flexibleVersions",
                "latestVersionUnstable", "listeners"]
FIELD_KEYS = ["name", "type", "versions", "nullableVersions", "taggedVersions", "tag",
              "default", "flexibleVersions", "mapKey", "ignorable", "zeroCopy", "entityType"]


def strip_comments(text):
    """Removes `//` comments that are outside JSON strings."""
    out_lines = []
    for line in text.splitlines():
        in_string = False
        escaped = False
        cut = len(line)
        for i, ch in enumerate(line):
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = not in_string
            elif not in_string and line.startswith("//", i):
                cut = i
                break
        out_lines.append(line[:cut])
    return "\n".join(out_lines)


def condense_field(field):
    out = {key: field[key] for key in FIELD_KEYS if key in field}
    if "versions" not in out and "taggedVersions" in out:
        # A tagged-only field (TransactionLogValue's) exists in its tagged versions.
        out["versions"] = out["taggedVersions"]
    if "tag" in out:
        out["tag"] = int(out["tag"])
    if "default" in out and isinstance(out["default"], bool):
        out["default"] = "true" if out["default"] else "false"
    if "default" in out:
        out["default"] = str(out["default"])
    if "fields" in field:
        out["fields"] = [condense_field(f) for f in field["fields"]]
    return out


def condense_message(spec):
    out = {key: spec[key] for key in MESSAGE_KEYS if key in spec}
    out["fields"] = [condense_field(f) for f in spec.get("fields", [])]
    if "commonStructs" in spec:
        out["commonStructs"] = [
            {"name": s["name"], "versions": s.get("versions", "0+"),
             "fields": [condense_field(f) for f in s["fields"]]}
            for s in spec["commonStructs"]]
    return out


# Record schemas condensed next to messages.json when run with defaults:
# (source folder beside messages/, output file, C++ namespace).
RECORD_SETS = [
    ("metadata-records", "metadata_records.json", "metadata"),
    ("coordinator-records", "coordinator_records.json", "coordinator"),
]


def condense_folder(source, output, source_note, namespace=None):
    messages = []
    for path in sorted(source.glob("*.json")):
        spec = json.loads(strip_comments(path.read_text()))
        messages.append(condense_message(spec))
    messages.sort(key=lambda m: (m.get("apiKey", 1 << 16), m["type"], m["name"]))
    header = {"source": f"Apache Kafka {source_note} (condensed by tools/protocol/condense.py)"}
    if namespace is not None:
        header["namespace"] = namespace
    header["messages"] = messages
    text = json.dumps(header, indent=1, sort_keys=False) + "\n"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {len(messages)} messages to {output}")


def main():
    source = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SOURCE)
    output = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUTPUT)
    condense_folder(source, output, "clients/src/main/resources/common/message")
    if len(sys.argv) > 2:
        return
    for folder, file_name, namespace in RECORD_SETS:
        records = source.parent / folder
        if records.is_dir():
            condense_folder(records, output.parent / file_name, folder, namespace)


if __name__ == "__main__":
    main()
