#!/usr/bin/env python3
"""The broker's CPU per Metadata request for one topic (issue 13, point 4).

Sends N Metadata requests for one topic, one at a time on one connection
(raw protocol: the version is the one asked, no client library's own
refreshes), and reads the broker's utime+stime from /proc/<pid>/stat before
and after. Figures: bench/RESULTS.md, "Metadata answers from cached topic parts".

  bench/metadata_requests.py <broker pid> <host:port> <topic> [requests=500] [version=12]
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "integration"))
import kafka_wire  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metadata_request(topic, version, correlation_id):
    flexible = version >= 9  # header v2, compact arrays and strings, tagged fields
    body = kafka_wire.Writer()
    if flexible:
        body.compact_array([topic], lambda w, name: w.raw(bytes(16)).compact_string(name).no_tags())
    else:
        body.array([topic], lambda w, name: w.string(name))
    if version >= 4:
        body.i8(0)  # no auto-creation
    if 8 <= version <= 10:
        body.i8(0)  # no cluster operations
    if version >= 8:
        body.i8(0)  # no topic operations
    if flexible:
        body.no_tags()
    header = kafka_wire.request_header(3, version, correlation_id, "metadata-bench", flexible)
    return kafka_wire.frame(header + bytes(body.buf))


def main():
    pid, address, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    requests = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    version = int(sys.argv[5]) if len(sys.argv) > 5 else 12
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    answer_bytes = 0
    # One request first: the connection is set up and any first-time work done.
    sock.sendall(metadata_request(topic, version, 0))
    kafka_wire.read_frame(sock)
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    for i in range(requests):
        sock.sendall(metadata_request(topic, version, i + 1))
        answer_bytes = len(kafka_wire.read_frame(sock))
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu_before
    print(f"v{version} {requests} requests, answer {answer_bytes} bytes: broker CPU {cpu:.2f} s "
          f"= {cpu / requests * 1e6:.0f} us/request, wall {elapsed:.2f} s "
          f"({elapsed / requests * 1e6:.0f} us/request), load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
