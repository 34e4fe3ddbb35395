"""Bad input on raw sockets. Kafka's answers, which Sluice must match:
- a frame it cannot parse (garbage, unknown API key, a body that does not decode, an
  API or version it does not serve) closes the connection (Kafka's Processor turns the
  parse error into a channel close);
- a size above socket.request.max.bytes, or a negative size, closes the connection;
- ApiVersions at a version it does not know is answered, in the v0 response format,
  with UNSUPPORTED_VERSION (35) and the ApiVersions range it serves, and the
  connection stays open.
After every case the broker is alive and a real client (kcat -L) works."""

import random
import socket
import struct

import pytest

import kafka_wire as kw
from conftest import kcat_works

MAX_REQUEST_BYTES = 1 << 20
BROKER_OVERRIDES = {"socket.request.max.bytes": str(MAX_REQUEST_BYTES)}


@pytest.fixture
def b(module_broker):
    yield module_broker
    assert module_broker.alive(), "broker process died"
    error, versions = kw.api_versions(module_broker.port)
    assert error == 0 and kw.API_API_VERSIONS in versions
    assert kcat_works(module_broker.bootstrap), "kcat -L failed after the bad input"


@pytest.fixture(scope="module")
def served(module_broker):
    """{api_key: (min, max)} as the broker advertises them."""
    error, versions = kw.api_versions(module_broker.port)
    assert error == 0
    return versions


def send_and_expect_close(port, data, what):
    with kw.connect(port) as sock:
        sock.sendall(data)
        assert kw.connection_closed(sock), f"{what}: connection still open (or answered) after 5 s"


def test_http_request_is_refused(b):
    # "GET " read as a size is ~1.1 GB: above the frame limit.
    send_and_expect_close(b.port, b"GET / HTTP/1.1\r\nHost: sluice\r\n\r\n", "HTTP request")


def test_random_bytes_in_a_frame(b):
    rng = random.Random(4242)
    for _ in range(5):
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        send_and_expect_close(b.port, kw.frame(payload), f"garbage frame {payload[:8].hex()}")


def test_random_bytes_without_framing(b):
    rng = random.Random(7)
    for _ in range(5):
        data = bytes(rng.randrange(256) for _ in range(1000))
        with kw.connect(b.port) as sock:
            sock.sendall(data)
            sock.settimeout(1.0)
            try:
                answer = sock.recv(4)
            except (socket.timeout, ConnectionResetError):
                answer = b""
            assert answer == b"", f"the broker answered garbage with {answer!r}"


def test_truncated_frame_then_close(b):
    request = kw.request_header(kw.API_API_VERSIONS, 0, 5)
    for cut in [1, 3, 4, 4 + len(request) - 1]:
        with kw.connect(b.port) as sock:
            sock.sendall(kw.frame(request)[:cut])
        # A frame that stops short gets no answer while the connection stays up.
    with kw.connect(b.port) as sock:
        sock.sendall(struct.pack(">i", 1000) + b"\x00" * 10)
        sock.settimeout(1.0)
        with pytest.raises(socket.timeout):
            sock.recv(1)


def test_oversized_length_closes(b):
    send_and_expect_close(b.port, struct.pack(">i", MAX_REQUEST_BYTES + 1), "size above the limit")
    send_and_expect_close(b.port, struct.pack(">i", 0x7FFFFFFF), "size 2^31-1")
    send_and_expect_close(b.port, struct.pack(">i", -1), "negative size")
    send_and_expect_close(b.port, struct.pack(">i", 0), "empty frame")


def test_request_at_the_limit_is_read(b):
    # A frame of exactly socket.request.max.bytes is not refused for its size: an
    # ApiVersions v3 whose client software name fills the frame is answered.
    header = kw.request_header(kw.API_API_VERSIONS, 3, 77, flexible=True)
    tail = bytes(kw.Writer().compact_string("1.0").no_tags().buf)
    name_len = MAX_REQUEST_BYTES - len(header) - len(tail) - 3  # a 3-byte uvarint length
    body = kw.Writer().uvarint(name_len + 1).raw(b"a" * name_len).raw(tail)
    payload = header + bytes(body.buf)
    assert len(payload) == MAX_REQUEST_BYTES
    with kw.connect(b.port) as sock:
        sock.sendall(kw.frame(payload))
        answer = kw.read_frame(sock)
        assert answer is not None, "connection closed on a frame at the size limit"
        assert struct.unpack(">i", answer[:4])[0] == 77


def test_unknown_api_key_closes(b):
    for key in [0x7FFF, 1000, -1]:
        send_and_expect_close(b.port, kw.frame(kw.request_header(key, 0, 9)), f"api key {key}")


def test_known_but_unserved_api_closes(b, served):
    unserved = [k for k in range(0, 75) if k not in served]
    if not unserved:
        pytest.fail("the broker advertises every API key 0..74; pick another case")
    key = unserved[0]
    send_and_expect_close(b.port, kw.frame(kw.request_header(key, 0, 9)), f"unserved api key {key}")


def test_undecodable_body_closes(b):
    # Metadata v1 claiming 2^31-1 topics in a 4-byte body.
    payload = kw.request_header(kw.API_METADATA, 1, 3) + struct.pack(">i", 0x7FFFFFFF)
    send_and_expect_close(b.port, kw.frame(payload), "metadata with a bad array length")
    # ApiVersions v3 with a client software name longer than the frame.
    payload = kw.request_header(kw.API_API_VERSIONS, 3, 4, flexible=True) + b"\x7f" + b"ab"
    send_and_expect_close(b.port, kw.frame(payload), "api versions v3 with a cut string")


def test_unsupported_api_versions_version_gets_v0_answer(b, served):
    lo, hi = served[kw.API_API_VERSIONS]
    assert lo == 0 and hi >= 3, f"ApiVersions served {lo}..{hi}"
    for version in [hi + 1, 127]:
        with kw.connect(b.port) as sock:
            # A newer client sends a flexible header and a body this broker cannot know.
            body = kw.Writer().compact_string("future-client").compact_string("9.9").no_tags()
            sock.sendall(kw.frame(kw.request_header(kw.API_API_VERSIONS, version, 42, flexible=True)
                                  + bytes(body.buf)))
            payload = kw.read_frame(sock)
            assert payload is not None, f"v{version}: closed instead of answering"
            r = kw.Reader(payload)
            assert r.i32() == 42
            error, keys = kw.parse_api_versions_v0(r)
            assert error == kw.ERR_UNSUPPORTED_VERSION
            assert keys.get(kw.API_API_VERSIONS) == (lo, hi), keys
            assert r.remaining() == 0, "the fallback answer is in the v0 format (no throttle time)"
            # The connection stays usable: the client retries with a version it can use.
            r = kw.call(sock, kw.API_API_VERSIONS, 0, b"", 43)
            error, keys = kw.parse_api_versions_v0(r)
            assert error == 0 and kw.API_METADATA in keys


def test_unsupported_version_of_other_api_closes(b, served):
    assert kw.API_METADATA in served and kw.API_PRODUCE in served, f"served: {served}"
    lo, hi = served[kw.API_METADATA]
    send_and_expect_close(b.port, kw.frame(kw.request_header(kw.API_METADATA, hi + 1, 5, flexible=True)
                                           + b"\x01\x01\x00"), f"Metadata v{hi + 1}")
    lo, hi = served[kw.API_PRODUCE]
    if lo > 0:
        send_and_expect_close(b.port, kw.frame(kw.request_header(kw.API_PRODUCE, lo - 1, 6) + b"\x00" * 16),
                              f"Produce v{lo - 1}")


def test_pipelined_requests_are_answered_in_order(b):
    with kw.connect(b.port) as sock:
        sock.sendall(b"".join(kw.frame(kw.request_header(kw.API_API_VERSIONS, 0, cid)) for cid in range(100, 110)))
        for cid in range(100, 110):
            payload = kw.read_frame(sock)
            assert payload is not None
            assert struct.unpack(">i", payload[:4])[0] == cid


def test_good_request_then_bad_one(b):
    with kw.connect(b.port) as sock:
        sock.sendall(kw.frame(kw.request_header(kw.API_API_VERSIONS, 0, 1))
                     + kw.frame(kw.request_header(0x7FFF, 0, 2)))
        payload = kw.read_frame(sock)
        assert payload is not None and struct.unpack(">i", payload[:4])[0] == 1, \
            "the request before the bad one is answered"
        assert kw.connection_closed(sock)


def test_many_connections_at_once(b):
    socks = [kw.connect(b.port) for _ in range(300)]
    try:
        for i, s in enumerate(socks):
            s.sendall(kw.frame(kw.request_header(kw.API_API_VERSIONS, 0, i)))
        for i, s in enumerate(socks):
            payload = kw.read_frame(s)
            assert payload is not None and struct.unpack(">i", payload[:4])[0] == i
    finally:
        for s in socks:
            s.close()
