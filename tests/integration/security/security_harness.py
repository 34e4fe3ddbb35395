"""Harness of the security suite, on top of the root conftest.py (its Broker class,
broker_factory fixture and helpers are reused). Not a conftest.py: a second
conftest module outside a package would shadow the root one's `import conftest`
(the cluster suite's cluster_harness.py is a plain module, too). Test modules load
it as a plugin, `pytest_plugins = ["security_harness"]`, so its fixtures are
registered once per pytest process (the session-scoped `certs` is made once).

A security broker always keeps a PLAINTEXT listener on `broker.port` (the root
harness probes readiness there with ApiVersions v0) and adds the listeners a test
asks for on other free ports: `broker.addr("SSL")`. After start-up a preflight
checks that each SSL/SASL_SSL listener completes a TLS handshake and each SASL
listener answers SaslHandshake for its mechanism; a broker that cannot (a build
without TLS/SASL) fails the test at once with a message naming the listener,
instead of letting clients wait out their timeouts.
"""

import os
import socket
import ssl
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kafka_wire  # noqa: E402
from certs import make_certs  # noqa: E402
from conftest import Broker, _attach_logs_on_failure, _finish, free_port, log_tail  # noqa: E402

PREFLIGHT_TIMEOUT_S = 5.0
TLS_PROTOCOLS = ("SSL", "SASL_SSL")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")


class LazyCerts:
    """certs.py's Certs, made on the first attribute read: the modules whose brokers
    have no TLS listener (SASL_PLAINTEXT only) never run openssl."""

    def __init__(self, make_dir):
        self._make_dir = make_dir
        self._made = None

    def __getattr__(self, name):  # only for names not set in __init__
        if self._made is None:
            self._made = make_certs(self._make_dir())
        return getattr(self._made, name)


_certs = None


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """CA, broker keystores, alice / expired / rogue-CA client certificates (certs.py),
    made once per pytest process, when first used (the cache also covers a module
    that imports the fixture directly)."""
    global _certs
    if _certs is None:
        _certs = LazyCerts(lambda: str(tmp_path_factory.mktemp("certs")))
    return _certs


# Settings every security broker starts with (a test's overrides win). Kafka's 3 s
# group.initial.rebalance.delay.ms would hold each group consumer here (kafkajs round
# trips, ACL group tests) for 3 s before its first assignment; these tests check who
# gets in, not the delay.
BASE_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}


def configure_listeners(broker, listeners):
    """listeners: {name: protocol}. Names other than the four protocol names get a
    listener.security.protocol.map entry. Sets broker.ports / broker.protocols, and
    BASE_OVERRIDES where the test set nothing else."""
    for key, value in BASE_OVERRIDES.items():
        broker.overrides.setdefault(key, value)
    broker.ports = {"PLAINTEXT": broker.port}
    broker.protocols = {"PLAINTEXT": "PLAINTEXT"}
    for name, protocol in listeners.items():
        if name != "PLAINTEXT":
            broker.ports[name] = free_port()
        broker.protocols[name] = protocol
    broker.overrides["listeners"] = ",".join(f"{n}://127.0.0.1:{p}" for n, p in broker.ports.items())
    custom = {n: p for n, p in broker.protocols.items() if n != p}
    if custom and "listener.security.protocol.map" not in broker.overrides:
        mapping = dict((p, p) for p in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"))
        mapping.update(custom)
        broker.overrides["listener.security.protocol.map"] = ",".join(f"{n}:{p}" for n, p in mapping.items())
    broker.addr = lambda name: f"127.0.0.1:{broker.ports[name]}"
    return broker


def enabled_mechanisms(broker, name):
    value = (broker.overrides.get(f"listener.name.{name.lower()}.sasl.enabled.mechanisms")
             or broker.overrides.get("sasl.enabled.mechanisms") or "GSSAPI")
    return [m.strip() for m in value.split(",") if m.strip()]


def _preflight_listener(broker, name, certs):
    protocol = broker.protocols[name]
    port = broker.ports[name]
    sock = kafka_wire.connect(port, PREFLIGHT_TIMEOUT_S)
    try:
        if protocol in TLS_PROTOCOLS:
            ctx = ssl.create_default_context(cafile=certs.ca)
            ctx.load_cert_chain(certs.alice_cert, certs.alice_key)
            try:
                sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
            except (ssl.SSLError, OSError) as e:
                return f"no TLS handshake ({e!r})"
        if protocol in SASL_PROTOCOLS:
            mechanism = enabled_mechanisms(broker, name)[0]
            try:
                error, mechanisms = kafka_wire.sasl_handshake(sock, mechanism)
            except (OSError, ValueError, ConnectionError) as e:
                return f"no SaslHandshake answer for {mechanism} ({e!r})"
            if error != kafka_wire.ERR_NONE:
                return f"SaslHandshake {mechanism} answered error {error}, mechanisms {mechanisms}"
        else:
            try:
                error, versions = kafka_wire.parse_api_versions_v0(
                    kafka_wire.call(sock, kafka_wire.API_API_VERSIONS, 0, b"", 1))
            except (OSError, ValueError, ConnectionError) as e:
                return f"no ApiVersions answer ({e!r})"
            if error != kafka_wire.ERR_NONE:
                return f"ApiVersions answered error {error}"
        return None
    except socket.timeout:
        return "timed out"
    finally:
        sock.close()


def start_checked(broker, certs):
    """Starts the broker, then the preflight of every non-PLAINTEXT listener."""
    broker.start()
    for name, protocol in broker.protocols.items():
        if protocol == "PLAINTEXT":
            continue
        problem = _preflight_listener(broker, name, certs)
        if problem:
            broker.kill9()
            pytest.fail(f"broker does not serve {protocol} on listener {name} "
                        f"({broker.addr(name)}): {problem}.\n{' '.join(broker.command())}\n"
                        f"{log_tail(broker.log_path, 3000)}", pytrace=False)
    return broker


@pytest.fixture
def sec_broker_factory(broker_factory, certs):
    """make(listeners={name: protocol}, overrides={...}) -> a started, preflighted broker
    (stopped at teardown by the root broker_factory)."""
    def make(listeners, overrides=None):
        b = configure_listeners(broker_factory(overrides, start=False), listeners)
        return start_checked(b, certs)
    return make


@pytest.fixture(scope="module")
def sec_broker(request, tmp_path_factory, certs):
    """One broker per module, from the module's `broker_config(certs)` ->
    (listeners, overrides)."""
    listeners, overrides = request.module.broker_config(certs)
    b = configure_listeners(Broker(str(tmp_path_factory.mktemp("sec-broker")), overrides), listeners)
    start_checked(b, certs)  # a broker that fails here is already stopped
    try:
        yield b
    finally:
        _finish(b, check_clean_exit=True)


@pytest.fixture(autouse=True)
def _sec_broker_logs(request):
    yield
    b = request.node.funcargs.get("sec_broker")
    if b is not None:
        _attach_logs_on_failure(request, b)
        if b.crashed():
            pytest.fail(f"the shared broker died during this test (exit {b.proc.returncode}):\n"
                        f"{log_tail(b.log_path)}")
