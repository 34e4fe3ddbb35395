#!/usr/bin/env python3
"""Writes a compile database with one entry per source file from a unity build's.

A unity build (SLUICE_UNITY_BUILD) compiles generated `unity_N_cxx.cxx` files
that #include several sources each, so its compile_commands.json names those
and not the sources clang-tidy is asked about. Each source here gets the
command of the unity file that includes it (same flags, the source as input).
Entries of sources compiled on their own are kept as they are.

Usage: expand_unity_compile_db.py <build dir> <output dir>
"""
import json
import pathlib
import re
import sys

INCLUDE = re.compile(r'^#include "(?P<path>[^"]+)"', re.MULTILINE)


def expand(entry):
    unity = pathlib.Path(entry["file"])
    if "/Unity/unity_" not in str(unity):
        return [entry]
    sources = INCLUDE.findall(unity.read_text())
    return [dict(entry, file=source, command=entry["command"].replace(str(unity), source))
            for source in sources]


def main():
    build, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    entries = json.loads((build / "compile_commands.json").read_text())
    # A source built twice (a layer and its ASan twin) gets the plain command.
    entries.sort(key=lambda entry: "-fsanitize" in entry["command"])
    expanded, seen = [], set()
    for entry in entries:
        for one in expand(entry):
            if one["file"] not in seen:
                seen.add(one["file"])
                expanded.append(one)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compile_commands.json").write_text(json.dumps(expanded, indent=1))


if __name__ == "__main__":
    main()
