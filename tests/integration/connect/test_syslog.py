"""The syslog source on a real worker, fed by the real `logger` command
(util-linux, Debian's bsdutils): a standalone worker runs
SyslogSourceConnector on a free port (UDP, then TCP), `logger --rfc5424` and
`logger --rfc3164` send to 127.0.0.1 on it, and each message arrives in the
topic as one record whose value (JsonConverter, schemas off) holds the
parsed fields: format, facility, severity, host, appName, processId,
messageId, structured data, message and the sender's address."""

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conftest as harness  # noqa: E402
from conftest import unique_topic  # noqa: E402
from connect_harness import (JSON_CONVERTER, consume_all, create, module_worker, rest,  # noqa: E402,F401
                             wait_state)

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
SYSLOG = "io.confluent.connect.syslog.SyslogSourceConnector"
LOGGER = shutil.which("logger")
# logger writes the host name whole for RFC 5424 and up to its first dot for 3164.
HOSTS = (socket.gethostname(), socket.gethostname().split(".")[0])

pytestmark = pytest.mark.skipif(LOGGER is None, reason="logger(1) not installed (scripts/install-deps: bsdutils)")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_syslog(port, name, listener, topic):
    syslog_port = free_udp_port() if listener == "UDP" else harness.free_port()
    create(port, name, {"connector.class": SYSLOG, "syslog.listener": listener,
                        "syslog.port": str(syslog_port), "syslog.listen.address": "127.0.0.1",
                        "topic": topic, "value.converter": JSON_CONVERTER,
                        "value.converter.schemas.enable": "false"})
    wait_state(port, name, "RUNNING", ["RUNNING"])
    return syslog_port


def logger(port, transport, protocol, message, *extra):
    """One message through logger(1) to 127.0.0.1:port."""
    cmd = [LOGGER, protocol, "-n", "127.0.0.1", "-P", str(port), transport, *extra, message]
    subprocess.run(cmd, check=True, timeout=10)


def values(bootstrap, topic, count):
    return [json.loads(m.value()) for m in consume_all(bootstrap, topic, count)]


@pytest.mark.parametrize("transport", ["--udp", "--tcp"])
def test_rfc5424_messages_arrive_parsed(module_worker, transport):
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    listener = "UDP" if transport == "--udp" else "TCP"
    topic = unique_topic(f"syslog5424-{listener.lower()}")
    name = f"syslog5424-{listener.lower()}"
    syslog_port = start_syslog(port, name, listener, topic)
    try:
        logger(syslog_port, transport, "--rfc5424", "disk almost full", "-t", "backup",
               "-p", "local0.err", "--msgid", "DISK", "--sd-id", "quota@32473",
               "--sd-param", 'used="97"', "-i")
        logger(syslog_port, transport, "--rfc5424", "second one", "-t", "backup", "-p", "user.info")
        first, second = values(bootstrap, topic, 2)
        assert first["format"] == "RFC5424", first
        assert first["facility"] == 16 and first["severity"] == 3, first
        assert first["version"] == 1, first
        assert first["host"] in HOSTS, first
        assert first["appName"] == "backup", first
        assert first["processId"] and first["processId"].isdigit(), first
        assert first["messageId"] == "DISK", first
        assert '[quota@32473 used="97"]' in first["structuredData"], first
        assert first["message"] == "disk almost full", first
        assert first["remoteAddress"] == "127.0.0.1", first
        assert first["date"] is not None and first["rawMessage"].startswith("<131>1 "), first
        assert second["facility"] == 1 and second["severity"] == 6, second
        assert second["message"] == "second one", second
    finally:
        rest(port, "DELETE", f"/connectors/{name}")


@pytest.mark.parametrize("transport", ["--udp", "--tcp"])
def test_rfc3164_messages_arrive_parsed(module_worker, transport):
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    listener = "UDP" if transport == "--udp" else "TCP"
    topic = unique_topic(f"syslog3164-{listener.lower()}")
    name = f"syslog3164-{listener.lower()}"
    syslog_port = start_syslog(port, name, listener, topic)
    try:
        logger(syslog_port, transport, "--rfc3164", "link is down", "-t", "netd", "-p", "daemon.warning")
        (record,) = values(bootstrap, topic, 1)
        assert record["format"] == "RFC3164", record
        assert record["facility"] == 3 and record["severity"] == 4, record
        assert record["host"] in HOSTS, record
        assert record["appName"] == "netd", record
        assert record["message"] == "link is down", record
        assert record["remoteAddress"] == "127.0.0.1", record
        assert record["date"] is not None, record
        assert record["rawMessage"].startswith("<28>"), record
    finally:
        rest(port, "DELETE", f"/connectors/{name}")


def test_octet_counted_tcp_frames(module_worker):
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    topic = unique_topic("syslog-octets")
    syslog_port = start_syslog(port, "syslog-octets", "TCP", topic)
    try:
        for text in ("one", "two words", "three"):
            logger(syslog_port, "--tcp", "--rfc5424", text, "--octet-count", "-t", "oc")
        got = values(bootstrap, topic, 3)
        assert [v["message"] for v in got] == ["one", "two words", "three"], got
        assert all(v["appName"] == "oc" for v in got), got
    finally:
        rest(port, "DELETE", "/connectors/syslog-octets")
