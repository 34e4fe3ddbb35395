"""Clusters of real `sluice serve` processes on loopback, for the tests and
benchmarks of issue 15: N combined broker+controller nodes, or C controller-only
nodes plus B broker-only nodes; each node formatted with `sluice storage format`
under one cluster id; the active controller found with DescribeQuorum; any node
killed (-9), stopped or restarted; and links between nodes routed through
fault-injecting TCP proxies (`LinkProxy`) that a test cuts and heals."""

import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import kafka_wire  # noqa: E402
from conftest import free_port, log_tail, sluice_bin, thread_stacks  # noqa: E402

from confluent_kafka import KafkaException  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

API_DESCRIBE_QUORUM = 55


def _describe_quorum(port, timeout_s):
    """DescribeQuorum v0 of __cluster_metadata-0: (top-level error, the partition's fields:
    index, error, leader id, epoch, high watermark, voters, observers)."""
    w = kafka_wire.Writer()
    w.compact_array(["__cluster_metadata"], lambda w2, name: (
        w2.compact_string(name),
        w2.compact_array([0], lambda w3, p: (w3.i32(p), w3.no_tags())),
        w2.no_tags()))
    w.no_tags()
    with kafka_wire.connect(port) as sock:
        sock.settimeout(timeout_s)
        r = kafka_wire.call(sock, API_DESCRIBE_QUORUM, 0, bytes(w.buf), 1, flexible=True)
    top_error = r.i16()
    topics = r.compact_array(lambda r2: (r2.compact_string(), r2.compact_array(lambda r3: (
        r3.i32(), r3.i16(), r3.i32(), r3.i32(), r3.i64(),
        r3.compact_array(lambda r4: (r4.i32(), r4.i64(), r4.skip_tags())),
        r3.compact_array(lambda r4: (r4.i32(), r4.i64(), r4.skip_tags())),
        r3.skip_tags()))))
    return top_error, topics[0][1][0]


def describe_quorum(port, timeout_s=2.0):
    """(error, leader id, epoch, high watermark)."""
    top_error, partition = _describe_quorum(port, timeout_s)
    return top_error or partition[1], partition[2], partition[3], partition[4]


def quorum_members(port, timeout_s=2.0):
    """(error, leader id, voter ids, observer ids)."""
    top_error, partition = _describe_quorum(port, timeout_s)
    return (top_error or partition[1], partition[2], sorted(v[0] for v in partition[5]),
            sorted(o[0] for o in partition[6]))



# How long a cluster node may take to stop on SIGTERM: a node whose quorum
# went first (the last of a cluster stopped one by one) waits out its
# controlled shutdown (bounded by broker.session.timeout.ms, 9 s by default)
# and a commit that cannot reach a majority (check-quorum, 3 s) before it
# stops. Kafka's broker waits up to 5 minutes there.
CLUSTER_STOP_TIMEOUT_S = 20.0

# Brokers fenced within seconds of their last heartbeat, so a test sees
# failover soon (Kafka's defaults: 9000 / 2000 ms).
FAST_FENCING = {"broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500"}

class LinkProxy:
    """A TCP forwarder from a local port to `target_port`, on threads.
    cut() closes every forwarded connection and closes new ones at once
    (the peer sees a refused/reset link); heal() forwards again.

    With `refuse=True` a cut stops listening instead, so that new connections
    are refused as by a dead host rather than accepted and closed: librdkafka
    takes a connection closed during its ApiVersion request for a pre-0.10
    broker, and an idempotent producer that sees only such a broker fails
    fatally (_UNSUPPORTED_FEATURE). Listener proxies of brokers use it.

    swallow_answers(hold_s) drops what the target answers (requests still
    reach it) for `hold_s` seconds, then cuts every connection and heals: a
    client sees requests sent, never acknowledged, and the link lost, the
    case where a producer cannot know whether its write was stored."""

    def __init__(self, target_port, refuse=False):
        self.target_port = target_port
        self.refuse = refuse
        self.lock = threading.Lock()
        self.is_cut = False
        self.closed = False
        self.swallowing = False
        self.swallowed_bytes = 0
        self.pairs = []
        self.port = 0
        self._listen()

    def _listen(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 10
        while True:
            try:
                listener.bind(("127.0.0.1", self.port or self._unused_port()))
                break
            except OSError:  # taken (first bind), or the old listener's port not free yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()

    def _unused_port(self):
        """0 (the kernel picks) unless the proxy refuses when cut: then a port
        below the ephemeral range, which the kernel never gives an outgoing
        connection, so that heal() can listen on it again."""
        if not self.refuse:
            return 0
        try:
            with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
                low = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            low = 32768
        return random.randrange(max(1024, low - 12000), low)

    def cut(self):
        with self.lock:
            was_cut, self.is_cut = self.is_cut, True
            pairs, self.pairs = self.pairs, []
        if self.refuse and not was_cut:
            self._stop_listening()
        for pair in pairs:
            self._close(pair)

    def heal(self):
        with self.lock:
            was_cut, self.is_cut = self.is_cut, False
        if self.refuse and was_cut and not self.closed:
            self._listen()

    def swallow_answers(self, hold_s):
        """Drops the target's answers for `hold_s` seconds (blocking), then
        cuts every connection and heals."""
        with self.lock:
            self.swallowing = True
        time.sleep(hold_s)
        self.cut()
        with self.lock:
            self.swallowing = False
        self.heal()

    def close(self):
        self.closed = True
        self.cut()
        self._stop_listening()

    def _stop_listening(self):
        # shutdown() first: on Linux, close() alone leaves a thread blocked in
        # accept() holding the socket, still listening on the port.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()

    @staticmethod
    def _close(pair):
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept_loop(self, listener):
        while not self.closed:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self.lock:
                cut = self.is_cut
            if cut:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            with self.lock:
                self.pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair):
        client, upstream = pair
        peer = {client: upstream, upstream: client}
        try:
            while True:
                ready, _, _ = select.select([client, upstream], [], [], 0.5)
                with self.lock:
                    if pair not in self.pairs:
                        return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        raise OSError("closed")
                    if s is upstream:
                        with self.lock:
                            swallow = self.swallowing
                        if swallow:
                            self.swallowed_bytes += len(data)
                            continue
                    peer[s].sendall(data)
        except (OSError, ValueError):
            with self.lock:
                if pair in self.pairs:
                    self.pairs.remove(pair)
            self._close(pair)


class Node:
    """One member of a Cluster: its id, roles, and the conftest Broker process."""

    def __init__(self, node_id, roles, process, controller_port):
        self.id = node_id
        self.roles = roles
        self.process = process
        self.controller_port = controller_port

    @property
    def is_broker(self):
        return "broker" in self.roles

    @property
    def is_controller(self):
        return "controller" in self.roles

    @property
    def bootstrap(self):
        return self.process.bootstrap

    def alive(self):
        return self.process.alive()

    def start(self):
        return self.process.start()

    def stop(self):
        return self.process.stop()

    def kill9(self):
        self.process.kill9()

    def logs(self):
        return self.process.logs()

    def __getattr__(self, name):
        # The rest is the process's (its overrides, ports, admin_port...).
        return getattr(self.process, name)


class Cluster:
    """`combined` broker+controller nodes, or `controllers` controller-only
    nodes (ids 1..C, a CONTROLLER listener only) and `brokers` broker-only
    nodes (ids C+1..), all in one cluster id. `settings` go to every node.
    `proxied` lists pairs of controller ids whose link goes through a
    LinkProxy in each direction (see link()). `proxy_brokers` puts every
    broker behind proxies too: its advertised listener is a LinkProxy to its
    real one (clients and other brokers' replica fetchers reach it only through
    it) and it dials each controller through one; isolate() cuts them all.
    `node_settings` maps a node id to settings for that node only (e.g. its
    broker.rack), over `settings`."""

    def __init__(self, broker_factory, combined=3, controllers=0, brokers=0, settings=None,
                 proxied=(), proxy_brokers=False, start=True, node_settings=None):
        if controllers:
            roles = ["controller"] * controllers + ["broker"] * brokers
        else:
            roles = ["broker,controller"] * combined
        ids = list(range(1, len(roles) + 1))
        self.broker_factory = broker_factory
        self.controller_ports = {i: free_port() for i, r in zip(ids, roles) if "controller" in r}
        self.proxies = {}
        for a, b in proxied:
            self.proxies[(a, b)] = LinkProxy(self.controller_ports[b])
            self.proxies[(b, a)] = LinkProxy(self.controller_ports[a])
        if proxy_brokers:
            self._proxy_controller_links([i for i, r in zip(ids, roles) if "broker" in r])
        self.listener_proxies = {}
        self.cluster_id = subprocess.run([sluice_bin(), "storage", "random-uuid"], check=True,
                                         capture_output=True).stdout.decode().strip()
        self.nodes = []
        for node_id, role in zip(ids, roles):
            overrides = {
                "node.id": str(node_id),
                "process.roles": role,
                "controller.listener.names": "CONTROLLER",
                "controller.quorum.voters": self._voters_seen_by(node_id),
            }
            overrides.update(settings or {})
            overrides.update((node_settings or {}).get(node_id, {}))
            process = broker_factory(overrides, start=False)
            process.stop_timeout_s = CLUSTER_STOP_TIMEOUT_S
            cport = self.controller_ports.get(node_id)
            listeners = []
            if "broker" in role:
                listeners.append(f"PLAINTEXT://127.0.0.1:{process.port}")
            if cport:
                listeners.append(f"CONTROLLER://127.0.0.1:{cport}")
            if "broker" not in role:
                # The harness probes readiness with ApiVersions on `port`:
                # a controller-only node answers it on its CONTROLLER listener.
                process.port = cport
            process.overrides["listeners"] = ",".join(listeners)
            if proxy_brokers and "broker" in role:
                proxy = self.listener_proxies[node_id] = LinkProxy(process.port, refuse=True)
                process.overrides["advertised.listeners"] = f"PLAINTEXT://127.0.0.1:{proxy.port}"
            process.overrides["listener.security.protocol.map"] = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
            self.nodes.append(Node(node_id, role, process, cport))
            self.format(process)
        if start:
            self.start_all()

    def _proxy_controller_links(self, broker_ids):
        """A LinkProxy for each broker -> controller link that has none yet (a
        combined node reaches its own controller directly)."""
        for b in broker_ids:
            for c in self.controller_ports:
                if c != b and (b, c) not in self.proxies:
                    self.proxies[(b, c)] = LinkProxy(self.controller_ports[c])

    def proxied_bootstrap(self):
        """bootstrap.servers through every broker's listener proxy."""
        return ",".join(f"127.0.0.1:{p.port}" for p in self.listener_proxies.values())

    def isolate(self, node_id):
        """Cuts every proxied link of `node_id`: its advertised listener (clients,
        followers fetching from it) and its links to and from controllers. Its
        own replica fetches from other brokers' listeners are not cut (they go
        through those brokers' proxies, which others use too)."""
        for (a, b), proxy in self.proxies.items():
            if node_id in (a, b):
                proxy.cut()
        if node_id in self.listener_proxies:
            self.listener_proxies[node_id].cut()

    def heal_all(self):
        for proxy in list(self.proxies.values()) + list(self.listener_proxies.values()):
            proxy.heal()

    def add_bootstrapped_node(self, roles="controller", settings=None):
        """A new node (the next id; `roles` "controller" or "broker") started
        with no controller.quorum.voters and controller.quorum.bootstrap.servers
        naming every controller: it finds the leader through them and follows
        the quorum as an observer (a controller until it is added, KIP-853)."""
        node_id = len(self.nodes) + 1
        bootstrap = ",".join(f"127.0.0.1:{self.controller_ports[c.id]}" for c in self.controllers)
        overrides = {
            "node.id": str(node_id),
            "process.roles": roles,
            "controller.listener.names": "CONTROLLER",
            "controller.quorum.voters": "",
            "controller.quorum.bootstrap.servers": bootstrap,
        }
        overrides.update(settings or {})
        process = self.broker_factory(overrides, start=False)
        process.stop_timeout_s = CLUSTER_STOP_TIMEOUT_S
        cport = None
        if "controller" in roles:
            cport = free_port()
            self.controller_ports[node_id] = cport
            process.port = cport
            process.overrides["listeners"] = f"CONTROLLER://127.0.0.1:{cport}"
        else:
            process.overrides["listeners"] = f"PLAINTEXT://127.0.0.1:{process.port}"
        process.overrides["listener.security.protocol.map"] = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
        node = Node(node_id, roles, process, cport)
        self.nodes.append(node)
        self.format(process, ["--no-initial-controllers"] if cport else [])
        node.start()
        return node

    def move_controller(self, node):
        """Restarts controller-only `node` with its CONTROLLER listener on a new
        port (a voter that moved: it tells the leader with UpdateRaftVoter)."""
        node.stop()
        cport = free_port()
        self.controller_ports[node.id] = cport
        node.controller_port = cport
        node.process.port = cport
        node.overrides["listeners"] = f"CONTROLLER://127.0.0.1:{cport}"
        node.start()

    def properties_file(self, node):
        """`node`'s settings as a server.properties (what kafka-metadata-quorum.sh's
        --command-config reads)."""
        path = os.path.join(node.workdir, f"node-{node.id}.properties")
        with open(path, "w") as f:
            for key, value in node.overrides.items():
                f.write(f"{key}={value}\n")
        return path

    @staticmethod
    def directory_id(node):
        """The directory id in `node`'s meta.properties (its KIP-853 replica key)."""
        with open(os.path.join(node.overrides["log.dirs"], "meta.properties")) as f:
            for line in f:
                if line.startswith("directory.id="):
                    return line.strip().split("=", 1)[1]
        raise AssertionError(f"no directory.id for node {node.id}")

    def _voters_seen_by(self, node_id):
        def address(voter):
            proxy = self.proxies.get((node_id, voter))
            return proxy.port if proxy else self.controller_ports[voter]
        return ",".join(f"{v}@127.0.0.1:{address(v)}" for v in sorted(self.controller_ports))

    def format(self, process, extra=()):
        """`sluice storage format`, as an operator does before the first start."""
        config = os.path.join(process.workdir, "server.properties")
        open(config, "w").close()
        command = [sluice_bin(), "storage", "format", "--cluster-id", self.cluster_id, "--config", config,
                   *extra]
        for key, value in process.overrides.items():
            command += ["--set", f"{key}={value}"]
        done = subprocess.run(command, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()

    def start_all(self):
        """Starts every stopped node; controllers first, so brokers find a quorum."""
        for node in sorted(self.nodes, key=lambda n: not n.is_controller):
            if not node.alive():
                node.start()

    def node(self, node_id):
        return self.nodes[node_id - 1]

    @property
    def brokers(self):
        return [n for n in self.nodes if n.is_broker]

    @property
    def controllers(self):
        return [n for n in self.nodes if n.is_controller]

    def link(self, a, b):
        """The two proxies of the a<->b link (a's view of b, b's view of a)."""
        return self.proxies[(a, b)], self.proxies[(b, a)]

    def close(self):
        """Stops every live node at once (as an operator stopping the cluster
        does), asserting each exits 0 on SIGTERM within CLUSTER_STOP_TIMEOUT_S. One by
        one, the last nodes would each lose their quorum first and wait out
        their bounded controlled shutdown."""
        live = [n.process for n in self.nodes if n.alive()]
        for process in live:
            process.stopped_on_purpose = True
            process.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + CLUSTER_STOP_TIMEOUT_S
        slow = []
        for process in live:
            try:
                code = process.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                process.exit_codes.append(code)
                assert code == 0, f"node exited with {code} on SIGTERM:\n{log_tail(process.log_path)}"
            except subprocess.TimeoutExpired:
                slow.append((process, thread_stacks(process.proc.pid)))
                process.kill9()
        for proxy in list(self.proxies.values()) + list(self.listener_proxies.values()):
            proxy.close()
        assert not slow, (f"{len(slow)} node(s) did not stop within {CLUSTER_STOP_TIMEOUT_S} s of SIGTERM:\n"
                          + "\n".join(f"{log_tail(p.log_path)}\nthreads:\n{stacks}" for p, stacks in slow))

    def quorum_views(self, exclude=()):
        """{controller id: (error, leader, epoch, high watermark)} of live controllers that answer."""
        views = {}
        for node in self.controllers:
            if node.id in exclude or not node.alive():
                continue
            try:
                views[node.id] = describe_quorum(node.controller_port)
            except (OSError, ValueError, ConnectionError, IndexError):
                pass
        return views

    def leader(self, timeout_s=30, exclude=()):
        """(id, epoch) of a controller that answers DescribeQuorum naming itself leader (waits for one)."""
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            views = self.quorum_views(exclude)
            last = views
            for node_id, (error, leader, epoch, _) in views.items():
                if error == 0 and leader == node_id:
                    return leader, epoch
            time.sleep(0.05)
        pytest.fail(f"no quorum leader within {timeout_s} s (last answers {last})")

    def agreed_leader(self, timeout_s=30, exclude=()):
        """(id, epoch) once every live controller names the same leader in the same epoch."""
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            views = self.quorum_views(exclude)
            last = views
            live = [n for n in self.controllers if n.id not in exclude and n.alive()]
            seen = {(v[1], v[2]) for v in views.values() if v[0] == 0}
            if len(views) == len(live) and len(seen) == 1:
                leader, epoch = seen.pop()
                if leader in views:
                    return leader, epoch
            time.sleep(0.1)
        pytest.fail(f"controllers do not agree on a leader within {timeout_s} s (last answers {last})")

    def wait_brokers_listed(self, timeout_s=20):
        """Until every live broker lists every live broker in Metadata, so that
        tests start from a registered, unfenced cluster (placement and clients
        see all brokers)."""
        ids = {n.id for n in self.brokers if n.alive()}
        for node in self.brokers:
            if node.alive():
                wait_for(lambda: self.brokers_seen_by(node) == ids, timeout_s,
                         f"node {node.id} does not list all brokers {sorted(ids)}")
        return ids

    def topics_on(self, node):
        """The topics `node` answers in Metadata (none while it cannot answer)."""
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        try:
            return set(admin.list_topics(timeout=5).topics)
        except KafkaException:
            return set()

    def brokers_seen_by(self, node):
        """Broker ids in `node`'s Metadata answer (None while it cannot answer)."""
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        try:
            return set(admin.list_topics(timeout=5).brokers)
        except KafkaException:
            return None


def create_topic(node, name, partitions=2, config=None, timeout_s=40):
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                            config=config or {})],
                                  operation_timeout=20, request_timeout=30)
    futures[name].result(timeout=timeout_s)


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} within {timeout_s} s")


@pytest.fixture
def make_cluster(broker_factory):
    """Makes Clusters, each closed at teardown (all its nodes stopped at
    once, as an operator stops a cluster: one by one, the last nodes would
    lose their quorum first and wait out their controlled shutdown). A test
    module imports it from here to use it."""
    made = []

    def make(**kwargs):
        cluster = Cluster(broker_factory, **kwargs)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.close()
