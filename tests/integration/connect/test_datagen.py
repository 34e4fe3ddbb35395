"""The datagen source (io.confluent.kafka.connect.datagen.DatagenConnector) on a
real worker: quickstart=clickstream with iterations=N writes exactly N records
(no more after a while), each value JsonConverter's schemas.enable=true
envelope {"schema": {"type": "struct", "name": "ksql.clickstream", ...},
"payload": {...}} with every clickstream field and the payload typed as the
schema says; the key is the userid's text (StringConverter); the task headers
are there. A transformation chain on the way is visible in the records: an
InsertField static field in schema and payload, and a RegexRouter that
renamed the topic (nothing reaches the original one). The source offset is
{"task.id": 0} -> {"current.iteration": N, ...}."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import unique_topic  # noqa: E402
from connect_harness import (DATAGEN, JSON_CONVERTER, consume_all, create, end_offset,  # noqa: E402,F401
                             expect, module_worker, rest, wait_for, wait_state)

# Sink tasks join their group at once (Kafka waits 3 s for more members by default).
BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}

CLICKSTREAM_FIELDS = ["ip", "userid", "remote_user", "time", "_time", "request", "status", "bytes",
                      "referrer", "agent"]
N = 25


def test_clickstream_with_transforms(module_worker):
    port = module_worker.port
    bootstrap = module_worker.settings["bootstrap.servers"]
    topic = unique_topic("clicks")
    routed = topic + "-routed"
    create(port, "clicks", {
        "connector.class": DATAGEN, "kafka.topic": topic, "quickstart": "clickstream",
        "iterations": str(N), "max.interval": "0", "random.seed": "42", "tasks.max": "1",
        "value.converter": JSON_CONVERTER, "value.converter.schemas.enable": "true",
        "transforms": "origin,route",
        "transforms.origin.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.origin.static.field": "origin",
        "transforms.origin.static.value": "itest-datagen",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "(.*)",
        "transforms.route.replacement": "$1-routed",
    })
    wait_state(port, "clicks", "RUNNING", ["RUNNING"])
    records = consume_all(bootstrap, routed, N)
    time.sleep(1.0)  # datagen stays RUNNING and idle after its iterations
    assert end_offset(bootstrap, routed) == N, f"{end_offset(bootstrap, routed)} records, expected exactly {N}"
    assert len(records) == N
    assert end_offset(bootstrap, topic) == 0, "records reached the topic RegexRouter renamed"

    for m in records:
        envelope = json.loads(m.value())
        assert list(envelope) == ["schema", "payload"], envelope
        schema, payload = envelope["schema"], envelope["payload"]
        assert schema["type"] == "struct" and schema["name"] == "ksql.clickstream", schema
        names = [f["field"] for f in schema["fields"]]
        assert names == CLICKSTREAM_FIELDS + ["origin"], names
        assert list(payload) == CLICKSTREAM_FIELDS + ["origin"], payload
        assert payload["origin"] == "itest-datagen"
        types = {f["field"]: f["type"] for f in schema["fields"]}
        assert types["userid"] == "int32" and isinstance(payload["userid"], int), (types, payload)
        assert types["_time"] == "int64" and isinstance(payload["_time"], int)
        assert types["origin"] == "string"
        assert payload["request"].startswith("GET /") and payload["request"].endswith(" HTTP/1.1"), payload
        assert m.key().decode() == str(payload["userid"]), (m.key(), payload["userid"])
        headers = dict(m.headers() or [])
        assert {"task.generation", "task.id", "current.iteration"} <= set(headers), headers
    iterations = [int(dict(m.headers())["current.iteration"]) for m in records]
    assert iterations == sorted(iterations) and len(set(iterations)) == N, iterations

    offsets = wait_for(lambda: (lambda o: o if o["offsets"] and
                                o["offsets"][0]["offset"].get("current.iteration") == N
                                else None)(expect(port, "GET", "/connectors/clicks/offsets", 200)),
                       "datagen's committed offset")
    assert offsets["offsets"][0]["partition"] == {"task.id": 0}, offsets
    assert rest(port, "DELETE", "/connectors/clicks")[0] == 204


def test_datagen_settings_are_validated(module_worker):
    status, body = rest(module_worker.port, "POST", "/connectors", {"name": "bad-datagen", "config": {
        "connector.class": "DatagenConnector", "quickstart": "nosuch"}})
    assert status == 400, (status, body)
    assert "kafka.topic" in body["message"] and "quickstart" in body["message"], body
