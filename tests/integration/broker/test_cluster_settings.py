"""KRaft roles and settings (issue 15, point 1): each misconfiguration refused at start with
Kafka's message naming the setting (exit 2); `sluice storage random-uuid / format / info`
and their refusals (exit 1); a node with process.roles set refuses unformatted dirs and,
once formatted, starts and serves real clients; the lone default node (process.roles
unset) still formats itself."""

import os
import re
import subprocess

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

import conftest as harness

EXIT_TIMEOUT_S = 30


def sluice(*args, cwd=None):
    return subprocess.run([harness.sluice_bin(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, cwd=cwd, timeout=EXIT_TIMEOUT_S)


def serve_expecting_exit(settings, cwd):
    args = ["serve"]
    for key, value in settings.items():
        args += ["--set", f"{key}={value}"]
    return sluice(*args, cwd=cwd)


def write_properties(path, settings):
    with open(path, "w") as f:
        f.write("# written by test_cluster_settings.py\n")
        for key, value in settings.items():
            f.write(f"{key}={value}\n")
    return str(path)


def cluster_node(tmp_path, **changes):
    """A combined node 1, sole voter, PLAINTEXT + CONTROLLER listeners, its own dirs."""
    port, controller_port = harness.free_port(), harness.free_port()
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "log.dirs": f"{tmp_path}/data-a,{tmp_path}/data-b",
        "metadata.log.dir": f"{tmp_path}/metadata",
        "admin.listener": "",
    }
    settings.update(changes)
    return settings


def random_uuid():
    p = sluice("storage", "random-uuid")
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode().strip()


def read_meta_properties(directory):
    values = {}
    with open(os.path.join(directory, "meta.properties")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                key, _, value = line.strip().partition("=")
                values[key] = value
    return values


# --- misconfigurations: exit 2, one error naming the setting ---

MISCONFIGURATIONS = [
    ("controller not among voters", {"node.id": "5"},
     "If process.roles contains the 'controller' role, the node id 5 must be included in the set of voters "
     "controller.quorum.voters="),
    ("controller.listener.names empty", {"controller.listener.names": ""},
     "controller.listener.names must contain at least one value appearing in the 'listeners' configuration "
     "when running the KRaft controller role"),
    ("controller without its listener", {"listeners": "PLAINTEXT://127.0.0.1:{port}"},
     "controller.listener.names must contain at least one value appearing in the 'listeners' configuration"),
    ("broker-only with a controller listener", {"process.roles": "broker", "node.id": "2"},
     "controller.listener.names must not contain a value appearing in the 'listeners' configuration when "
     "running KRaft with just the broker role"),
    ("broker-only advertising a controller listener",
     {"process.roles": "broker", "node.id": "2", "listeners": "PLAINTEXT://127.0.0.1:{port}",
      "advertised.listeners": "PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port}"},
     "advertised.listeners must not contain the controller listener CONTROLLER"),
    ("broker-only with controller.listener.names empty",
     {"process.roles": "broker", "node.id": "2", "listeners": "PLAINTEXT://127.0.0.1:{port}",
      "controller.listener.names": ""},
     "controller.listener.names must contain at least one value when running KRaft with just the broker role"),
    ("inter-broker listener not among listeners",
     {"inter.broker.listener.name": "INTERNAL",
      "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT"},
     "inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options "
     "based on currently configured listeners are PLAINTEXT"),
    ("inter-broker listener is the controller listener", {"inter.broker.listener.name": "CONTROLLER"},
     "inter.broker.listener.name must not be a controller listener"),
    ("both inter-broker settings",
     {"inter.broker.listener.name": "PLAINTEXT", "security.inter.broker.protocol": "PLAINTEXT"},
     "Only one of inter.broker.listener.name and security.inter.broker.protocol should be set."),
    ("neither voters nor bootstrap servers", {"controller.quorum.voters": ""},
     "If using process.roles, either controller.quorum.bootstrap.servers must contain the set of bootstrap "
     "controllers or controller.quorum.voters must contain a parseable set of controllers."),
    ("voter without @", {"controller.quorum.voters": "1:127.0.0.1:9093"},
     "Invalid configuration value for controller.quorum.voters. Each entry should be in the form "
     "`{id}@{host}:{port}`."),
    ("voter id not a number", {"controller.quorum.voters": "x@127.0.0.1:9093"},
     "Failed to parse voter ID as an integer from x"),
    ("voter without port", {"controller.quorum.voters": "1@127.0.0.1"},
     "Failed to parse host name from entry 1@127.0.0.1 for the configuration controller.quorum.voters"),
    ("node.id unset", {"node.id": None},
     "Missing configuration `node.id` which is required when `process.roles` is defined "
     "(i.e. when running in KRaft mode)."),
    ("node.id negative", {"node.id": "-1"}, "node.id"),
    ("unknown role", {"process.roles": "broker,voter"}, "process.roles"),
    ("advertising 0.0.0.0", {"advertised.listeners": "PLAINTEXT://0.0.0.0:{port},CONTROLLER://127.0.0.1:{port}"},
     "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address."),
]


def misconfigured(tmp_path, changes):
    settings = cluster_node(tmp_path)
    port = re.search(r"PLAINTEXT://127\.0\.0\.1:(\d+)", settings["listeners"]).group(1)
    for key, value in changes.items():
        if value is None:
            settings.pop(key)
        else:
            settings[key] = value.replace("{port}", port)
    return settings


def test_each_misconfiguration_is_refused_at_start_naming_the_setting(tmp_path):
    for name, changes, message in MISCONFIGURATIONS:
        settings = misconfigured(tmp_path, changes)
        p = serve_expecting_exit(settings, str(tmp_path))
        error = p.stderr.decode()
        assert p.returncode == 2, f"{name}: exit {p.returncode}\n{error}"
        assert "invalid configuration: " in error and message in error, f"{name}:\n{error}"
        assert p.stdout == b""
        # Refused before anything was written.
        assert not os.path.exists(f"{tmp_path}/metadata"), name


def test_storage_format_refuses_a_misconfiguration_with_exit_1(tmp_path):
    config = write_properties(tmp_path / "server.properties", misconfigured(tmp_path, {"node.id": "5"}))
    p = sluice("storage", "format", "--cluster-id", random_uuid(), "--config", config)
    assert p.returncode == 1, p.stderr.decode()
    assert "must be included in the set of voters controller.quorum.voters" in p.stderr.decode()
    assert not os.path.exists(f"{tmp_path}/metadata")


# --- sluice storage ---

def test_random_uuid_prints_kafka_style_ids():
    ids = {random_uuid() for _ in range(5)}
    assert len(ids) == 5
    for id_ in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", id_), id_
        assert not id_.startswith("-")


def test_format_writes_every_dir_then_refuses_unless_ignore_formatted(tmp_path):
    settings = cluster_node(tmp_path)
    config = write_properties(tmp_path / "server.properties", settings)
    cluster_id = random_uuid()
    p = sluice("storage", "format", "--cluster-id", cluster_id, "--config", config)
    assert p.returncode == 0, p.stderr.decode()
    out = p.stdout.decode()
    for directory in ("data-a", "data-b"):
        assert f"Formatting data directory {tmp_path}/{directory} with cluster.id {cluster_id}" in out, out
    assert f"Formatting metadata directory {tmp_path}/metadata" in out, out
    directory_ids = set()
    for directory in ("data-a", "data-b", "metadata"):
        meta = read_meta_properties(tmp_path / directory)
        assert meta["version"] == "1"
        assert meta["node.id"] == "1"
        assert meta["cluster.id"] == cluster_id
        directory_ids.add(meta["directory.id"])
    assert len(directory_ids) == 3

    again = sluice("storage", "format", "-t", cluster_id, "-c", config)
    assert again.returncode == 1
    assert (f"Log directory {tmp_path}/data-a is already formatted. Use --ignore-formatted to ignore this "
            "directory and format the others.") in again.stderr.decode()

    # A new dir added to log.dirs: --ignore-formatted formats just that one.
    settings["log.dirs"] += f",{tmp_path}/data-c"
    config = write_properties(tmp_path / "server.properties", settings)
    ignored = sluice("storage", "format", "--cluster-id", cluster_id, "--config", config, "--ignore-formatted")
    assert ignored.returncode == 0, ignored.stderr.decode()
    assert f"{tmp_path}/data-c" in ignored.stdout.decode()
    assert f"{tmp_path}/data-a" not in ignored.stdout.decode()
    assert read_meta_properties(tmp_path / "data-c")["cluster.id"] == cluster_id
    done = sluice("storage", "format", "--cluster-id", cluster_id, "--config", config, "-g")
    assert done.returncode == 0
    assert "All of the log directories are already formatted." in done.stdout.decode()

    # Another cluster's id is refused even with --ignore-formatted.
    other = sluice("storage", "format", "--cluster-id", random_uuid(), "--config", config, "-g")
    assert other.returncode == 1
    assert f"Invalid cluster.id in: {tmp_path}/data-a/meta.properties" in other.stderr.decode()

    info = sluice("storage", "info", "--config", config)
    assert info.returncode == 0, info.stdout.decode()
    text = info.stdout.decode()
    assert "Found log directories:" in text
    for directory in ("data-a", "data-b", "data-c", "metadata"):
        assert f"  {tmp_path}/{directory}: {{cluster.id={cluster_id}, directory.id=" in text, text
        assert f"node.id=1, version=1}}" in text


def test_format_refuses_an_invalid_cluster_id(tmp_path):
    config = write_properties(tmp_path / "server.properties", cluster_node(tmp_path))
    for bad in ("not-a-uuid", "AAAAAAAAAAAAAAAAAAAAAA"):
        p = sluice("storage", "format", "--cluster-id", bad, "--config", config)
        assert p.returncode == 1
        assert f"Cluster ID string {bad}" in p.stderr.decode(), p.stderr.decode()
    assert not os.path.exists(f"{tmp_path}/data-a/meta.properties")
    missing = sluice("storage", "format", "--config", config)
    assert missing.returncode == 2  # a usage error: --cluster-id is required


def test_info_reports_unformatted_and_mismatched_dirs(tmp_path):
    settings = cluster_node(tmp_path)
    config = write_properties(tmp_path / "server.properties", settings)
    p = sluice("storage", "info", "--config", config)
    assert p.returncode == 1
    assert f"{tmp_path}/data-a does not exist" in p.stdout.decode()

    only_a = write_properties(tmp_path / "a.properties", dict(settings, **{"log.dirs": f"{tmp_path}/data-a",
                                                                            "metadata.log.dir": f"{tmp_path}/data-a"}))
    assert sluice("storage", "format", "-t", random_uuid(), "-c", only_a).returncode == 0
    only_b = write_properties(tmp_path / "b.properties", dict(settings, **{"log.dirs": f"{tmp_path}/data-b",
                                                                            "metadata.log.dir": f"{tmp_path}/data-b"}))
    assert sluice("storage", "format", "-t", random_uuid(), "-c", only_b).returncode == 0
    os.makedirs(tmp_path / "metadata")
    p = sluice("storage", "info", "--config", config)
    assert p.returncode == 1
    out = p.stdout.decode()
    assert "Mismatched cluster IDs between storage directories." in out, out
    assert f"{tmp_path}/metadata is not formatted." in out, out

    # And serve refuses the same dirs: they disagree on cluster.id.
    p = serve_expecting_exit(dict(settings, **{"metadata.log.dir": f"{tmp_path}/data-a"}), str(tmp_path))
    assert p.returncode == 1
    assert "cluster.id" in p.stderr.decode() and f"{tmp_path}/data-b" in p.stderr.decode(), p.stderr.decode()


# --- start: formatted or not ---

def test_a_node_with_roles_refuses_unformatted_dirs_naming_them(tmp_path):
    settings = cluster_node(tmp_path)
    p = serve_expecting_exit(settings, str(tmp_path))
    error = p.stderr.decode()
    assert p.returncode == 1, error
    assert "cannot start: " in error
    assert f"{tmp_path}/data-a" in error and "not formatted" in error and "sluice storage format" in error, error
    assert not os.path.exists(f"{tmp_path}/data-a/meta.properties")
    assert not os.path.exists(f"{tmp_path}/metadata/meta.properties")


def test_formatted_node_with_roles_starts_and_serves_clients(tmp_path, broker_factory):
    b = broker_factory(start=False)
    settings = cluster_node(tmp_path)
    settings["listeners"] = settings["listeners"].replace(
        settings["listeners"].split(",")[0], f"PLAINTEXT://127.0.0.1:{b.port}")
    config = write_properties(tmp_path / "server.properties", settings)
    cluster_id = random_uuid()
    p = sluice("storage", "format", "--cluster-id", cluster_id, "--config", config)
    assert p.returncode == 0, p.stderr.decode()

    b.overrides = settings
    b.start()
    metadata = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10)
    assert metadata.cluster_id == cluster_id
    assert [broker.id for broker in metadata.brokers.values()] == [1]

    topic = harness.unique_topic("kraft")
    producer = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    for i in range(10):
        producer.produce(topic, value=f"m{i}".encode())
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "kraft-settings",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values = []
    try:
        while len(values) < 10:
            message = consumer.poll(15)
            assert message is not None, f"only {values} consumed"
            assert message.error() is None, message.error()
            values.append(message.value().decode())
    finally:
        consumer.close()
    assert values == [f"m{i}" for i in range(10)]

    # A restart keeps the formatted identity.
    b.restart()
    assert AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10).cluster_id == cluster_id
    for directory in ("data-a", "data-b", "metadata"):
        assert read_meta_properties(tmp_path / directory)["cluster.id"] == cluster_id


def test_the_lone_default_node_still_formats_itself(broker):
    meta = read_meta_properties(broker.data_dir)
    assert meta["node.id"] == "1" and meta["version"] == "1"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", meta["cluster.id"])
    broker.restart()
    assert read_meta_properties(broker.data_dir) == meta


def test_the_lone_default_node_ignores_voters_and_says_so(broker_factory):
    b = broker_factory({"controller.quorum.voters": "1@127.0.0.1:1,2@127.0.0.1:2"})
    log = harness.log_tail(b.log_path)
    assert "process.roles unset, a cluster of one" in log, log
    assert ("controller.quorum.voters is ignored: process.roles is not set, so this node is a cluster of one"
            in log), log


def test_format_of_a_controller_without_voters_needs_no_initial_controllers(tmp_path):
    # Kafka's StorageTool: a controller with controller.quorum.bootstrap.servers
    # and no voter list joins an existing quorum (KIP-853), said explicitly.
    settings = cluster_node(tmp_path)
    settings["controller.quorum.voters"] = ""
    settings["controller.quorum.bootstrap.servers"] = "127.0.0.1:9"
    config = write_properties(tmp_path / "server.properties", settings)
    cluster_id = random_uuid()
    p = sluice("storage", "format", "--cluster-id", cluster_id, "--config", config)
    assert p.returncode == 1
    assert ("Because controller.quorum.voters is not set on this controller, you must specify one of the "
            "following: --standalone, --initial-controllers, or --no-initial-controllers.") in p.stderr.decode()
    assert not os.path.exists(f"{tmp_path}/metadata/meta.properties")
    ok = sluice("storage", "format", "--cluster-id", cluster_id, "--config", config, "--no-initial-controllers")
    assert ok.returncode == 0, ok.stderr.decode()
    assert read_meta_properties(tmp_path / "metadata")["cluster.id"] == cluster_id
