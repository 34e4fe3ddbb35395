#!/usr/bin/env python3
"""Fails when a src/ layer includes a header of a layer it may not depend on.

The allowed dependencies are DESIGN.md's layering: data flows one way and a
lower layer never includes a higher one. Run by ctest as `layering`.
"""
import pathlib
import re
import sys

ALLOWED = {
    "base": set(),
    "protocol": {"base"},
    "record": {"base"},
    "storage": {"base", "record"},
    "net": {"base", "protocol"},
    "cluster": {"base", "protocol", "record", "storage"},
    "group": {"base", "protocol", "record", "storage", "cluster"},
    "txn": {"base", "protocol", "record", "storage", "cluster"},
    "security": {"base", "protocol"},
    "broker": {"base", "protocol", "record", "storage", "net", "cluster", "group", "txn",
               "security"},
    "admin": {"base", "protocol", "record", "storage", "net", "cluster", "group", "txn",
              "security", "broker"},
    "connect": {"base"},
    "streams": {"base"},
    "cli": None,  # the entry point may use every layer
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')


def main(src_root: str) -> int:
    root = pathlib.Path(src_root)
    problems = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in {".h", ".cc", ".h.in"}:
            continue
        layer = path.relative_to(root).parts[0]
        if layer not in ALLOWED:
            problems.append(f"{path}: folder '{layer}' is not a layer of DESIGN.md")
            continue
        allowed = ALLOWED[layer]
        if allowed is None:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = INCLUDE.match(line)
            if match and match.group(1) != layer and match.group(1) not in allowed:
                problems.append(f"{path}:{number}: layer '{layer}' may not include "
                                f"'{match.group(1)}/'")
    for problem in problems:
        print(problem)
    print(f"layering: {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
