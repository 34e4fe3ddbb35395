"""Interactive queries across instances (Kafka's application.server and
streams metadata) with Kafka's WordCountDemo (examples/wordcount) and the
query endpoint of Kafka's WordCountInteractiveQueriesExample against a real
broker: two instances, each with its own `--application-server` port, over
a 4-partition input (num.standby.replicas=1):
- both list the same two instances (GET /instances: Kafka's
  metadataForAllStreamsClients), the count partitions split between them
  and each keeping standbys of the other's;
- every word of the input is answered (GET /count/<word>): by the instance
  owning it (200, the count equal to the model the test computes), or with
  a redirect naming that owner, which then answers it; both instances name
  the same owner, the one running the word's partition (murmur2 of the
  word, as the producer wrote it: Kafka's queryMetadataForKey);
- after one instance stops, the other lists only itself and answers every
  word with its count."""

import functools
import http.client
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from conftest import free_port  # noqa: E402
import streams_support  # noqa: E402
from test_wordcount import (App, make_lines, model_counts, new_topics,  # noqa: E402
                            produce_lines, read_counts)

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
PARTITIONS = 4
STORE = "counts-store"


def murmur2(data):
    """Kafka's Utils.murmur2, as an unsigned 32-bit value."""
    mask, m = 0xFFFFFFFF, 0x5BD1E995
    h = (0x9747B28C ^ len(data)) & mask
    for i in range(len(data) // 4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail, rest = len(data) & ~3, len(data) % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h = ((h ^ data[tail]) * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    return h ^ (h >> 15)


def partition_of(word):
    """The default partitioner's partition (Kafka's partitionForKey)."""
    return (murmur2(word.encode()) & 0x7FFFFFFF) % PARTITIONS


assert murmur2(b"foobar") == -790332482 & 0xFFFFFFFF  # Kafka's UtilsTest value


def get(port, path):
    """(status, JSON body, Location) of GET http://127.0.0.1:port/path; redirects not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null"), response.getheader("Location")
    finally:
        connection.close()


class QueryableApp(App):
    """streams-wordcount serving queries at --application-server 127.0.0.1:<port>."""

    def __init__(self, workdir, *args):
        super().__init__(workdir, *args)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.cmd += ["--application-server", self.host]

    def instances(self):
        status, body, _ = get(self.port, "/instances")
        return body if status == 200 else None


@pytest.fixture
def instances(tmp_path):
    """Makes queryable streams-wordcount instances, each logging in a folder of its own."""
    yield from streams_support.made_apps(tmp_path, QueryableApp, own_workdirs=True)


# Its conditions are HTTP requests to the instances: asked less often.
wait_until = functools.partial(streams_support.wait_until, interval_s=0.3)


def count_partitions(instance, key="partitions"):
    return {p["partition"] for p in instance[key] if p["topic"].endswith(f"-{STORE}-repartition")}


def settled_on(apps):
    """Each app lists exactly `apps`, all agreeing, every count partition
    active on one of them and, with two, standby on the other."""
    listings = [app.instances() for app in apps]
    if any(listing is None for listing in listings) or any(l != listings[0] for l in listings):
        return False
    listing = listings[0]
    if sorted(f"{i['host']}:{i['port']}" for i in listing) != sorted(app.host for app in apps):
        return False
    active = [count_partitions(i) for i in listing]
    if sorted(p for partitions in active for p in partitions) != list(range(PARTITIONS)):
        return False
    if len(apps) == 2:
        standby = [count_partitions(i, "standby_partitions") for i in listing]
        return standby[0] == active[1] and standby[1] == active[0]
    return True


def owner_by_partition(app):
    return {p: f"{i['host']}:{i['port']}" for i in app.instances() for p in count_partitions(i)}


def answer(apps_by_host, app, word):
    """The count `app` gives for `word`, following its redirect to the owner
    once; (owner, count) or None while an answer is not there yet."""
    status, body, location = get(app.port, f"/count/{word}")
    if status == 307:
        assert location == f"http://{body['host']}/count/{word}"
        owner = apps_by_host[body["host"]]
        try:
            status, body, _ = get(owner.port, f"/count/{word}")
        except OSError:
            return None  # a stopped owner, named until the next assignment
        if status == 307:
            return None  # the two disagree for a moment (one has a newer assignment)
    if status != 200:
        return None
    return body["host"], body["count"]


def test_every_word_is_answered_through_the_owner_each_instance_names(module_broker, instances):
    bootstrap = module_broker.bootstrap
    source, sink, app_id = new_topics(bootstrap, PARTITIONS)
    settings = {"commit.interval.ms": "200", "num.standby.replicas": "1",
                "consumer.session.timeout.ms": "6000", "consumer.heartbeat.interval.ms": "500"}
    lines = make_lines(1500, seed=31)
    produce_lines(bootstrap, source, lines)
    model = model_counts(lines)
    first = instances(bootstrap, app_id, source, sink, settings).start()
    second = instances(bootstrap, app_id, source, sink, settings).start()
    apps = {app.host: app for app in (first, second)}
    wait_until(lambda: settled_on([first, second]), 60, "both instances listing both")
    read_counts(bootstrap, sink, "read_uncommitted", model, timeout_s=60)
    print(json.dumps(first.instances(), indent=1))

    owners = owner_by_partition(first)
    assert set(owners.values()) == set(apps), "each instance runs count partitions"
    answered_locally = {host: 0 for host in apps}
    for word, n in model.items():
        for app in (first, second):
            status, body, _ = get(app.port, f"/count/{word}")
            owner = owners[partition_of(word)]
            if app.host == owner:
                assert status == 200, (word, status, body)
                answered_locally[owner] += 1
            else:
                assert status == 307, (word, status, body)
            assert body["host"] == owner, (word, app.host, body)
            assert answer(apps, app, word) == (owner, n), word
    assert all(answered_locally.values()), answered_locally
    status, body, _ = get(first.port, "/count/no-such-word-here")
    assert status in (404, 307) and body["word"] == "no-such-word-here"

    # One instance stops: the other owns every word.
    second.stop()
    wait_until(lambda: settled_on([first]), 60, "the remaining instance listing only itself")
    pending = dict(model)

    def all_answered():
        for word, n in list(pending.items()):
            if answer(apps, first, word) == (first.host, n):
                del pending[word]
        return not pending

    wait_until(all_answered, 60, "every word answered by the remaining instance")
    first.stop()
