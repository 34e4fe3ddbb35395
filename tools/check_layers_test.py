#!/usr/bin/env python3
"""Tests of tools/check_layers.py on small made-up src/ trees. Run by ctest
as `layering_check_test`."""
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import check_layers  # noqa: E402


def make_tree(root: pathlib.Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


class CheckLayersTest(unittest.TestCase):
    def run_check(self, files: dict[str, str]) -> int:
        with tempfile.TemporaryDirectory() as directory:
            make_tree(pathlib.Path(directory), files)
            return check_layers.main(directory)

    def test_allowed_includes_pass(self):
        self.assertEqual(0, self.run_check({
            "base/a.h": "#pragma once\n",
            "net/b.cc": '#include "base/a.h"\n#include "protocol/messages/x.h"\n',
            "cli/client/c.cc": '#include "cli/bench/d.h"\n#include "cli/number_checks.h"\n',
            "cli/main.cc": '#include "server/serve.h"\n#include "broker/broker.h"\n',
        }))

    def test_lower_layer_including_higher_fails(self):
        self.assertEqual(1, self.run_check({"net/b.cc": '#include "broker/handlers.h"\n'}))

    def test_client_tools_including_the_broker_fail(self):
        self.assertEqual(1, self.run_check({"cli/client/c.cc": '#include "broker/broker.h"\n'}))
        self.assertEqual(1, self.run_check({"cli/client/c.cc": '#include "server/serve.h"\n'}))
        self.assertEqual(1, self.run_check({"cli/bench/c.cc": '#include "net/server.h"\n'}))

    def test_only_the_entry_point_may_include_everything(self):
        self.assertEqual(1, self.run_check({"cli/other.cc": '#include "broker/broker.h"\n'}))

    def test_unknown_folder_fails_even_without_sources(self):
        self.assertEqual(1, self.run_check({"raft/notes.md": "x\n"}))
        self.assertEqual(1, self.run_check({"net/sim/a.h": "#pragma once\n"}))

    def test_source_outside_every_folder_fails(self):
        self.assertEqual(1, self.run_check({"stray.cc": "\n"}))

    def test_include_of_no_known_folder_fails(self):
        self.assertEqual(1, self.run_check({"net/b.cc": '#include "nowhere/x.h"\n'}))


if __name__ == "__main__":
    unittest.main()
