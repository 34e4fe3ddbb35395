#!/usr/bin/env python3
"""Fails when a src/ folder includes a header of a folder it may not depend on,
or when src/ has a folder this file does not know.

The allowed dependencies are DESIGN.md's layering: data flows one way and a
lower layer never includes a higher one. Every folder under src/, sub-folders
included, has a rule here: a new folder fails the check until someone decides
what it may use. An include names the folder of the included file
("cli/client/common.h" is folder cli/client); generated headers
("protocol/messages/...") belong to the longest known folder they start with.
Run by ctest as `layering`; tools/check_layers_test.py tests this file.
"""
import pathlib
import re
import sys

BROKER_SIDE = {"base", "protocol", "record", "storage", "net", "cluster", "coordinator", "group", "txn",
               "security", "broker", "admin"}
ALLOWED = {
    "base": set(),
    "protocol": {"base"},
    "protocol/schema": set(),  # JSON schemas only
    "record": {"base"},
    "storage": {"base", "record"},
    "net": {"base", "protocol"},
    # net: the quorum's and (later) the replica fetchers' Kafka-protocol client.
    # security: the controller derives SCRAM keys from AlterUserScramCredentials' salted passwords.
    "cluster": {"base", "protocol", "record", "storage", "net", "security", "cluster/raft"},
    # KRaft's state machine: plain logic, so the simulator runs it as is.
    "cluster/raft": {"base"},
    # The runtime coordinators (groups, transactions) run on, and their
    # topics (appends with acks=all, creation, leadership following): generic.
    "coordinator": {"base", "protocol", "record", "storage", "cluster"},
    "group": {"base", "protocol", "record", "storage", "cluster", "coordinator"},
    "txn": {"base", "protocol", "record", "storage", "net", "cluster", "coordinator"},
    "security": {"base", "protocol"},
    "broker": {"base", "protocol", "record", "storage", "net", "cluster", "coordinator", "group", "txn",
               "security"},
    "admin": {"base", "protocol", "record", "storage", "net", "cluster", "coordinator", "group", "txn",
              "security", "broker"},
    # `sluice serve`: the broker process.
    "server": BROKER_SIDE,
    "connect": {"base"},
    # The worker (tasks, offsets, REST) and the connectors, on the foundation.
    # net: a distributed worker's group membership (net/group_member.h, JoinGroup
    # with the "connect" protocol type) speaks the Kafka protocol itself, which
    # librdkafka cannot do for a custom group protocol.
    "connect/runtime": {"base", "connect", "connect/connectors", "net"},
    "connect/connectors": {"base", "connect"},
    # net, protocol: a stream thread's group membership (net/group_member.h:
    # JoinGroup with the "stream" assignment protocol, Kafka Streams' own
    # assignor on the leader, its bytes the consumer protocol's) speaks the
    # Kafka protocol itself, which librdkafka cannot do for a custom
    # assignor; the rest of streams is a client over librdkafka.
    "streams": {"base", "net", "protocol"},
    # The client tools use nothing of the broker: they work against any Kafka
    # cluster. Folder cli holds only the entry point and flag helpers.
    "cli": {"base"},
    "cli/bench": {"base", "cli"},
    # security: SCRAM's client side (`sluice user create` salts the password).
    "cli/client": {"base", "protocol", "security", "cli", "cli/bench"},
}
# Files that may include every folder: the binary's entry point, which
# registers the client tools and `serve`.
ENTRY_POINTS = {"cli/main.cc"}
SOURCE_SUFFIXES = (".h", ".cc", ".h.in")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+/[^"]*)"')


def folder_of(relative: pathlib.PurePosixPath) -> str:
    return str(relative.parent)


def owning_folder(include: str) -> str | None:
    """The known folder an included path belongs to (longest prefix)."""
    parts = include.split("/")[:-1]
    while parts:
        candidate = "/".join(parts)
        if candidate in ALLOWED:
            return candidate
        parts.pop()
    return None


def check_file(path: pathlib.Path, relative: pathlib.PurePosixPath) -> list[str]:
    if str(relative) in ENTRY_POINTS:
        return []
    folder = folder_of(relative)
    allowed = ALLOWED[folder]
    problems = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = INCLUDE.match(line)
        if not match:
            continue
        target = owning_folder(match.group(1))
        if target is None:
            problems.append(f"{path}:{number}: includes '{match.group(1)}' of no known folder")
        elif target != folder and target not in allowed:
            problems.append(f"{path}:{number}: folder '{folder}' may not include '{target}/'")
    return problems


def main(src_root: str) -> int:
    root = pathlib.Path(src_root)
    problems = []
    for path in sorted(root.rglob("*")):
        relative = pathlib.PurePosixPath(path.relative_to(root).as_posix())
        if path.is_dir():
            if str(relative) not in ALLOWED:
                problems.append(f"{path}: folder '{relative}' has no rule in tools/check_layers.py "
                                "(is it a layer of DESIGN.md?)")
            continue
        if not path.name.endswith(SOURCE_SUFFIXES):
            continue
        if folder_of(relative) not in ALLOWED:
            if folder_of(relative) == ".":
                problems.append(f"{path}: a source file outside every folder")
            continue  # its folder is reported above
        problems.extend(check_file(path, relative))
    for problem in problems:
        print(problem)
    print(f"layering: {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
