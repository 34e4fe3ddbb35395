#!/usr/bin/env python3
"""Sends mutated real-client requests to a live `sluice serve` and checks it survives.

The seeds are request frames real clients sent in whole sessions
(tests/fuzz/corpus/live/, written by tools/capture/capture_sessions.sh) and the
produce-path captures of tests/fixtures/clients/. Each iteration takes a seed,
mutates it the way a broken client or a flipped bit on the wire would (bit
flips, bytes set to boundary values, int16/int32 fields set to boundary or
huge counts, cut short, bytes inserted), frames it with its true size and sends
it. Whatever the broker answers is fine: an answer, an error, or a closed
connection. What is not fine:

- the process exits (a crash or an abort), or
- it stops answering ApiVersions within --liveness-timeout (a hang), or
- it does not stop within 10 s of SIGTERM, or exits non-zero, or
- it cannot start again on the data dir the run left behind.

On failure the frames sent since the last good liveness check are written to
--keep-failures (one file per frame, without the size prefix, the format of
tests/fuzz/regressions/) and the seed and iteration are printed, so the run can
be replayed exactly: mutations depend only on --seed and the corpus.

Usage: live_broker_fuzz.py --sluice build/sluice [--iterations N] [--seconds S] [--seed N]
Python standard library only.
"""

import argparse
import glob
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_CORPORA = [os.path.join(HERE, "corpus", "live"), os.path.join(REPO, "tests", "fixtures", "clients")]

INT32_BOUNDARIES = [0, 1, -1, 2, 0x7FFFFFFF, -0x80000000, 0x7FFF, 0x8000, 0xFFFF, 10000, 10001,
                    32514, 100000, 1000000, 0x10000000]
INT16_BOUNDARIES = [0, 1, -1, 0x7FFF, -0x8000, 255, 256, 1000]
BYTE_BOUNDARIES = [0x00, 0x01, 0x7F, 0x80, 0xFF]
HEADER_BYTES = 8  # api key, api version, correlation id: mutated only sometimes


def load_corpus(dirs):
    seeds = []
    for directory in dirs:
        for path in sorted(glob.glob(os.path.join(directory, "*.bin"))):
            with open(path, "rb") as f:
                data = f.read()
            if len(data) >= HEADER_BYTES:
                seeds.append((os.path.basename(path), data))
    return seeds


def mutate(rng, frame):
    """One to four mutations of a copy of `frame`, mostly past the header so the
    frame reaches the handler of its API."""
    data = bytearray(frame)
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        if not data:
            break
        low = 0 if rng.random() < 0.1 else min(HEADER_BYTES, len(data) - 1)
        at = rng.randrange(low, len(data))
        kind = rng.randrange(7)
        if kind == 0:  # bit flips
            for _ in range(rng.randint(1, 4)):
                bit_at = rng.randrange(low, len(data))
                data[bit_at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data[at] = rng.choice(BYTE_BOUNDARIES)
        elif kind == 2 and at + 4 <= len(data):  # a count, length or id
            data[at:at + 4] = struct.pack(">i", _as_int32(rng.choice(INT32_BOUNDARIES)))
        elif kind == 3 and at + 2 <= len(data):
            data[at:at + 2] = struct.pack(">h", _as_int16(rng.choice(INT16_BOUNDARIES)))
        elif kind == 4:  # cut short
            del data[at:]
        elif kind == 5:  # bytes inserted (lengths and varints out of step)
            data[at:at] = bytes(rng.choice(BYTE_BOUNDARIES) for _ in range(rng.randint(1, 8)))
        else:  # a run of bytes removed
            del data[at:at + rng.randint(1, 16)]
    return bytes(data)


def _as_int32(value):
    return (value + 0x80000000) % 0x100000000 - 0x80000000


def _as_int16(value):
    return (value + 0x8000) % 0x10000 - 0x8000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_frame(sock):
    header = _read_exactly(sock, 4)
    if header is None:
        return None
    return _read_exactly(sock, struct.unpack(">i", header)[0])


def _read_exactly(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def api_versions_ok(port, timeout_s):
    """ApiVersions v0 answered (any error code) on a new connection within timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=max(0.1, deadline - time.monotonic())) as s:
                body = struct.pack(">hhih", 18, 0, 7, 4) + b"live"
                s.sendall(struct.pack(">i", len(body)) + body)
                answer = read_frame(s)
                if answer is not None and struct.unpack(">i", answer[:4])[0] == 7:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


class BrokerProcess:
    def __init__(self, sluice, workdir, extra_settings):
        self.sluice = sluice
        self.workdir = workdir
        self.port = free_port()
        self.settings = {"listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
                         "log.dirs": os.path.join(workdir, "data"), "node.id": "1", "admin.listener": ""}
        self.settings.update(extra_settings)
        self.proc = None
        self.log_path = None
        self.starts = 0

    def start(self, ready_timeout_s):
        self.starts += 1
        self.log_path = os.path.join(self.workdir, f"broker-{self.starts}.log")
        command = [self.sluice, "serve"] + [arg for k, v in self.settings.items() for arg in ("--set", f"{k}={v}")]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=self.workdir)
        return api_versions_ok(self.port, ready_timeout_s) and self.alive()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s=10.0):
        """Exit code after SIGTERM, or None if it had to be killed."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def log_tail(self, max_bytes=4000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - max_bytes))
                return f.read().decode(errors="replace")
        except OSError as error:
            return f"<no log: {error}>"


class Sender:
    """One connection reused until the broker closes it or keeps an answer back."""

    def __init__(self, port, answer_timeout_s):
        self.port = port
        self.answer_timeout_s = answer_timeout_s
        self.sock = None
        self.outcomes = {"answered": 0, "closed": 0, "no answer in time": 0, "connect failed": 0}

    def send(self, frame):
        try:
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=2.0)
            self.sock.settimeout(self.answer_timeout_s)
            self.sock.sendall(struct.pack(">i", len(frame)) + frame)
            answer = read_frame(self.sock)
            if answer is None:
                self._drop("closed")
            else:
                self.outcomes["answered"] += 1
        except socket.timeout:
            self._drop("no answer in time")  # acks=0, long polls, or held answers: a new connection
        except ConnectionRefusedError:
            self._drop("connect failed")
        except OSError:
            self._drop("closed")

    def _drop(self, outcome):
        self.outcomes[outcome] += 1
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def keep_failure(directory, frames):
    os.makedirs(directory, exist_ok=True)
    for i, (name, data) in enumerate(frames):
        with open(os.path.join(directory, f"frame-{i:03d}-{name}"), "wb") as f:
            f.write(data)


def run(args):
    seeds = load_corpus(args.corpus or DEFAULT_CORPORA)
    if not seeds:
        print("live_broker_fuzz: no seeds found", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    workdir = tempfile.mkdtemp(prefix="sluice-live-fuzz-")
    broker = BrokerProcess(os.path.abspath(args.sluice), workdir,
                           dict(setting.split("=", 1) for setting in args.set))
    failure = None
    iteration = 0
    recent = []
    started_at = time.monotonic()
    try:
        if not broker.start(args.liveness_timeout):
            print(f"live_broker_fuzz: the broker did not start:\n{broker.log_tail()}", file=sys.stderr)
            return 1
        sender = Sender(broker.port, args.answer_timeout)
        while iteration < args.iterations and time.monotonic() - started_at < args.seconds:
            name, seed = seeds[rng.randrange(len(seeds))]
            frame = mutate(rng, seed)
            recent.append((f"iter{iteration}-{name}", frame))
            sender.send(frame)
            iteration += 1
            if iteration % args.check_every == 0:
                failure = check_alive(broker, args.liveness_timeout)
                if failure:
                    break
                recent = []
        sender.close()
        if not failure:
            failure = check_alive(broker, args.liveness_timeout)
        if not failure:
            failure = check_stop_and_restart(broker, args.liveness_timeout)
            recent = []
        print(f"live_broker_fuzz: seed {args.seed}, {iteration} mutated frames from {len(seeds)} seeds in "
              f"{time.monotonic() - started_at:.1f} s: " +
              ", ".join(f"{count} {outcome}" for outcome, count in sender.outcomes.items()))
        if failure:
            print(f"live_broker_fuzz: FAILED after iteration {iteration}: {failure}\n"
                  f"--- broker log (tail) ---\n{broker.log_tail()}", file=sys.stderr)
            if recent:
                keep_failure(args.keep_failures, recent)
                print(f"live_broker_fuzz: the {len(recent)} frames sent since the last good check are in "
                      f"{args.keep_failures}; the last one: {recent[-1][1].hex()}", file=sys.stderr)
            return 1
        return 0
    finally:
        if broker.alive():
            broker.proc.kill()
            broker.proc.wait()
        if failure:
            print(f"live_broker_fuzz: the broker's data dir and logs are kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def check_alive(broker, timeout_s):
    if not broker.alive():
        return f"the broker exited with {broker.proc.returncode}"
    if not api_versions_ok(broker.port, timeout_s):
        return f"the broker did not answer ApiVersions within {timeout_s} s"
    return None


def check_stop_and_restart(broker, timeout_s):
    code = broker.stop()
    if code is None:
        return "the broker did not stop within 10 s of SIGTERM"
    if code != 0:
        return f"the broker exited with {code} on SIGTERM"
    if not broker.start(timeout_s):
        return "the broker did not start again on the data the run left"
    code = broker.stop()
    if code != 0:
        return f"the restarted broker exited with {code} on SIGTERM"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sluice", required=True, help="path to the sluice binary")
    parser.add_argument("--iterations", type=int, default=10**9)
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget (the run stops at either bound)")
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--corpus", action="append", help="seed dirs (default: corpus/live and the client fixtures)")
    parser.add_argument("--check-every", type=int, default=50, help="frames between liveness checks")
    parser.add_argument("--answer-timeout", type=float, default=0.3, help="seconds to wait for one answer")
    parser.add_argument("--liveness-timeout", type=float, default=20.0)
    parser.add_argument("--keep-failures", default=os.path.join(tempfile.gettempdir(), "sluice-live-fuzz-failure"))
    parser.add_argument("--set", action="append", default=[], help="broker setting key=value (repeatable)")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**31)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
