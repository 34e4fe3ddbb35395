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
import struct
import sys
import time


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def uvarint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def metadata_request(topic, version, correlation_id):
    name = topic.encode()
    client = b"metadata-bench"
    header = struct.pack(">hhih", 3, version, correlation_id, len(client)) + client
    if version >= 9:  # flexible: header v2, compact arrays and strings, tagged fields
        header += uvarint(0)
        body = uvarint(2) + bytes(16) + uvarint(len(name) + 1) + name + uvarint(0)
        body += b"\x00\x00" + uvarint(0)  # no auto-creation, no topic operations
    else:
        body = struct.pack(">ih", 1, len(name)) + name
        if version >= 4:
            body += b"\x00"
        if version >= 8:
            body += b"\x00\x00"
    message = header + body
    return struct.pack(">i", len(message)) + message


def read_exactly(sock, size):
    chunks = []
    while size > 0:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("broker closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def main():
    pid, address, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    requests = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    version = int(sys.argv[5]) if len(sys.argv) > 5 else 12
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    answer_bytes = 0
    # One request first: the connection is set up and any first-time work done.
    sock.sendall(metadata_request(topic, version, 0))
    read_exactly(sock, struct.unpack(">i", read_exactly(sock, 4))[0])
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    for i in range(requests):
        sock.sendall(metadata_request(topic, version, i + 1))
        size = struct.unpack(">i", read_exactly(sock, 4))[0]
        read_exactly(sock, size)
        answer_bytes = size
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu_before
    print(f"v{version} {requests} requests, answer {answer_bytes} bytes: broker CPU {cpu:.2f} s "
          f"= {cpu / requests * 1e6:.0f} us/request, wall {elapsed:.2f} s "
          f"({elapsed / requests * 1e6:.0f} us/request), load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
