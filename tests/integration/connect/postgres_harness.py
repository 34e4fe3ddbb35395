"""A private PostgreSQL server for the JDBC connector tests (and bench/):
Debian's binaries (/usr/lib/postgresql/<version>/bin), a data directory in a
temporary directory, a free port on 127.0.0.1, trust authentication. The
server refuses to run as root, so as root it runs as the `postgres` system
user (runuser) with a data directory that user owns. SQL goes through psql
(-At: unaligned, tuples only), so no Python driver is needed."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def postgres_bin_dir():
    """The newest installed server's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bin_dir=None):
        self.bin_dir = bin_dir or postgres_bin_dir()
        if self.bin_dir is None:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        self.root = tempfile.mkdtemp(prefix="sluice-pg-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.port = _free_port()
        self.log_path = os.path.join(self.root, "postgres.log")
        self.proc = None
        self.as_root = os.geteuid() == 0

    def _command(self, args):
        return (["runuser", "-u", "postgres", "--"] if self.as_root else []) + args

    def start(self):
        os.makedirs(self.data)
        if self.as_root:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.data, "postgres")
        subprocess.run(self._command([os.path.join(self.bin_dir, "initdb"), "-D", self.data, "-U",
                                      "postgres", "--auth=trust", "-E", "UTF8", "--no-sync",
                                      "--locale=C"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self.run_server()

    def run_server(self):
        """Starts the server on the existing data directory (again after halt())."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self._command([os.path.join(self.bin_dir, "postgres"), "-D", self.data, "-p", str(self.port),
                           "-k", self.root, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                           "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]),
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}:\n{self.log()}")
            ready = subprocess.run([os.path.join(self.bin_dir, "pg_isready"), "-h", "127.0.0.1", "-p",
                                    str(self.port), "-U", "postgres"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if ready.returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"postgres not ready within 30 s:\n{self.log()}")

    def halt(self):
        """Fast shutdown (SIGINT to the postmaster: clients are disconnected),
        SIGKILL after 15 s; returns once postmaster.pid is gone, so that
        run_server() can start again on the same data directory."""
        pid_file = os.path.join(self.data, "postmaster.pid")
        postmaster = None
        try:
            with open(pid_file) as f:
                postmaster = int(f.readline())
        except (FileNotFoundError, ValueError):
            pass
        if postmaster is not None:
            try:
                os.kill(postmaster, signal.SIGINT)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        while os.path.exists(pid_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        if os.path.exists(pid_file) and postmaster is not None:
            try:
                os.kill(postmaster, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self):
        """halt(), then the directory is removed."""
        self.halt()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-4000:].decode(errors="replace")
        except FileNotFoundError:
            return ""

    def jdbc_url(self, database="postgres"):
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{database}"

    def uri(self, database="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement, database="postgres"):
        """Runs SQL with psql; the rows as lists of strings (NULL is '')."""
        out = subprocess.run([os.path.join(self.bin_dir, "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                              "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-At",
                              "-F", "\t", "-c", statement],
                             check=False, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed ({out.returncode}): {out.stderr}\nSQL: {statement}")
        return [line.split("\t") for line in out.stdout.splitlines()]
