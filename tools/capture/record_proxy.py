#!/usr/bin/env python3
"""A TCP proxy in front of a real broker that records the request frames clients send.

It exists to seed the fuzzers with what real clients say in whole sessions
(groups, admin calls, fetches), not only the produce path fake_broker.py can
answer: clients talk to a real `sluice serve` through it and get real answers.

Each request frame is written as received, without the 4-byte size prefix, to
<out>/<client id>-<api>-v<version>-<hash>.bin, where the hash covers the frame
with its correlation id zeroed, so a heartbeat repeated a hundred times is kept
once. At most --per-name frames are kept per (client id, api, version).

Metadata answers carry the broker's own address; clients would bypass the
proxy after their first Metadata call. So the proxy rewrites nothing and
instead requires the broker to advertise the proxy's address
(advertised.listeners), which capture_sessions.sh sets.

Python standard library only.
"""

import argparse
import hashlib
import os
import re
import socket
import struct
import sys
import threading

API_NAMES = {
    0: "produce", 1: "fetch", 2: "listoffsets", 3: "metadata", 8: "offsetcommit",
    9: "offsetfetch", 10: "findcoordinator", 11: "joingroup", 12: "heartbeat",
    13: "leavegroup", 14: "syncgroup", 15: "describegroups", 16: "listgroups",
    17: "saslhandshake", 18: "apiversions", 19: "createtopics", 20: "deletetopics",
    21: "deleterecords", 22: "initproducerid", 23: "offsetforleaderepoch",
    24: "addpartitionstotxn", 25: "addoffsetstotxn", 26: "endtxn", 28: "txnoffsetcommit",
    29: "describeacls", 32: "describeconfigs", 33: "alterconfigs", 35: "describelogdirs",
    37: "createpartitions", 42: "deletegroups", 44: "incrementalalterconfigs",
    47: "offsetdelete", 60: "describecluster", 61: "describeproducers",
}


class Recorder:
    def __init__(self, out_dir, per_name):
        self.out_dir = out_dir
        self.per_name = per_name
        self.lock = threading.Lock()
        self.seen = set()
        self.count_by_name = {}
        os.makedirs(out_dir, exist_ok=True)

    def record(self, frame):
        if len(frame) < 10:
            return
        api_key, version, _correlation, client_len = struct.unpack(">hhih", frame[:10])
        client = frame[10:10 + client_len].decode(errors="replace") if client_len > 0 else "anonymous"
        client = re.sub(r"[^A-Za-z0-9_.]+", "_", client)[:40] or "anonymous"
        name = f"{client}-{API_NAMES.get(api_key, f'api{api_key}')}-v{version}"
        digest = hashlib.sha1(frame[:4] + b"\0\0\0\0" + frame[8:]).hexdigest()[:12]
        with self.lock:
            if digest in self.seen or self.count_by_name.get(name, 0) >= self.per_name:
                return
            self.seen.add(digest)
            self.count_by_name[name] = self.count_by_name.get(name, 0) + 1
        with open(os.path.join(self.out_dir, f"{name}-{digest}.bin"), "wb") as f:
            f.write(frame)


def read_exactly(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return bytes(data)


def pump_requests(client, upstream, recorder):
    try:
        while True:
            size_bytes = read_exactly(client, 4)
            frame = read_exactly(client, struct.unpack(">i", size_bytes)[0])
            recorder.record(frame)
            upstream.sendall(size_bytes + frame)
    except (OSError, ConnectionError, struct.error):
        pass
    finally:
        shut_down(client, upstream)


def pump_responses(upstream, client):
    try:
        while True:
            data = upstream.recv(65536)
            if not data:
                break
            client.sendall(data)
    except OSError:
        pass
    finally:
        shut_down(client, upstream)


def shut_down(*sockets):
    """Ends both directions of a proxied connection, whichever side ended first."""
    for s in sockets:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen-port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of the real broker")
    parser.add_argument("--out", required=True)
    parser.add_argument("--per-name", type=int, default=4)
    args = parser.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    recorder = Recorder(args.out, args.per_name)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.listen_port))
    listener.listen(64)
    print(f"record_proxy: 127.0.0.1:{args.listen_port} -> {args.upstream}", file=sys.stderr, flush=True)
    while True:
        client, _ = listener.accept()
        upstream = socket.create_connection((host, int(port)))
        threading.Thread(target=pump_requests, args=(client, upstream, recorder), daemon=True).start()
        threading.Thread(target=pump_responses, args=(upstream, client), daemon=True).start()


if __name__ == "__main__":
    main()
