"""Small things users trip on (issue 12, finding 9), with no broker needed: where the
usage and errors go, exit codes, and one-line messages for bad numbers."""

import subprocess

import pytest

import conftest as harness


def sluice(*args):
    return subprocess.run([harness.sluice_bin(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=30)


def test_no_subcommand_prints_usage_on_stderr_and_fails():
    p = sluice()
    assert p.returncode == 2
    assert p.stdout == b""
    assert b"Usage: sluice" in p.stderr and b"serve" in p.stderr


def test_help_still_succeeds_on_stdout():
    p = sluice("--help")
    assert p.returncode == 0
    assert b"Usage: sluice" in p.stdout


@pytest.mark.parametrize("args, flag", [
    (["consume", "t", "-n", "0"], "--count"),
    (["consume", "t", "-p", "-1"], "--partition"),
    (["topic", "list", "--timeout", "0"], "--timeout"),
    (["topic", "add-partitions", "t", "0"], "count"),
    (["produce", "t", "-p", "-2"], "--partition"),
])
def test_number_flag_errors_are_one_short_line(args, flag):
    p = sluice(*args)
    assert p.returncode == 2
    assert p.stdout == b""
    lines = p.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert flag in lines[0], lines[0]
    assert len(lines[0]) < 200, lines[0]  # not the largest double in 300 digits
    assert "17976931348623157" not in lines[0]


def test_consume_negative_offset_says_what_an_offset_is():
    p = sluice("consume", "t", "--offset", "-5", "-b", f"127.0.0.1:{harness.free_port()}", "--timeout", "1")
    assert p.returncode == 2
    line = p.stderr.decode().strip()
    assert "--offset" in line and "-5" in line and "0 or above" in line, line
    assert "Invalid argument" not in line


def test_set_with_a_stray_list_item_says_how_to_write_a_list(tmp_path):
    # `--set listeners=PLAINTEXT://a:1, CONTROLLER://b:2`: the space makes the second
    # item an argument of its own.
    p = subprocess.run([harness.sluice_bin(), "serve", "--set", "listeners=PLAINTEXT://127.0.0.1:1,",
                        "CONTROLLER://127.0.0.1:2", "--set", f"log.dirs={tmp_path}/d"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=30)
    assert p.returncode == 2
    line = p.stderr.decode().strip()
    assert "got 'CONTROLLER://127.0.0.1:2'" in line and "no space after the commas" in line, line
    assert not (tmp_path / "d").exists()
