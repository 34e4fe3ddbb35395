"""The PostgreSQL source and sink (Confluent's JdbcSourceConnector and
JdbcSinkConnector settings) against a private PostgreSQL server
(postgres_harness.py), a real broker and a `sluice connect standalone`
worker:

- source, timestamp mode alone (rows arrive once, a later row too, its
  offset {"timestamp", "timestamp_nanos"}) and a bulk `query` re-read every
  poll into the prefix topic;
- source, incrementing and timestamp+incrementing, two tables each over two
  tasks: every row arrives once, rows inserted while running too, and after
  the worker is stopped (rows inserted meanwhile) and started again it
  resumes exactly after the last row (no duplicates, nothing lost); the
  offsets file holds Confluent's partition and offset shapes;
- sink: insert with auto.create from JsonConverter's schema envelope,
  upsert by record_key (a later record updates the row), a tombstone
  deletes it (delete.enabled), auto.evolve adds a new optional field's column;
- a pipeline table -> topic -> another table whose rows equal the first's
  (the source finding the table's serial column itself);
- the server stopped and started again under a running source and sink:
  both reconnect (tasks stay RUNNING) and every row and record arrives once.
Skipped when Debian's PostgreSQL server binaries are not installed."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import unique_topic  # noqa: E402
from connect_harness import (JSON_CONVERTER, consume_all, create, produce, wait_for,  # noqa: E402,F401
                             wait_state, worker_factory)
from postgres_harness import PostgresServer, postgres_bin_dir  # noqa: E402

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
SOURCE = "io.confluent.connect.jdbc.JdbcSourceConnector"
SINK = "JdbcSink"  # an alias, as PluginUtils allows

pytestmark = pytest.mark.skipif(postgres_bin_dir() is None,
                                reason="PostgreSQL server binaries not installed "
                                       "(/usr/lib/postgresql/<version>/bin; apt-get install postgresql)")


@pytest.fixture(scope="module")
def pg():
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        log = server.log()
        server.stop()
        if log and "FATAL" in log:
            print(f"\n===== postgres log =====\n{log}", file=sys.stderr)


def json_values(records):
    return [json.loads(m.value()) for m in records]


def source_offsets(worker, connector):
    stored = worker.offsets() or {}
    found = {}
    for entry in stored.get("offsets", []):
        key = json.loads(entry["key"])
        if key[0] == connector:
            found[json.dumps(key[1], sort_keys=True)] = json.loads(entry["value"])
    return found


def source_config(pg, mode, tables, prefix, **extra):
    config = {"connector.class": SOURCE, "tasks.max": "2", "connection.url": pg.jdbc_url(),
              "connection.user": "postgres", "mode": mode, "table.whitelist": ",".join(tables),
              "topic.prefix": prefix, "poll.interval.ms": "200", "connection.backoff.ms": "500",
              "value.converter": JSON_CONVERTER, "value.converter.schemas.enable": "false"}
    config.update(extra)
    return config


def test_source_modes_resume_without_duplicates(module_broker, worker_factory, pg, tmp_path):
    pg.sql("CREATE TABLE inc_a (id SERIAL PRIMARY KEY, name TEXT NOT NULL, price NUMERIC(10,2));"
           "CREATE TABLE inc_b (id BIGSERIAL PRIMARY KEY, flag BOOLEAN, score DOUBLE PRECISION);"
           "CREATE TABLE tsi_a (id SERIAL PRIMARY KEY, "
           "  updated TIMESTAMP(6) NOT NULL DEFAULT clock_timestamp(), note TEXT);"
           "CREATE TABLE tsi_b (id SERIAL PRIMARY KEY, "
           "  updated TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), note TEXT)")

    def insert(first, count):
        rows_a = ",".join(f"('n{i}', {i}.25)" for i in range(first, first + count))
        rows_b = ",".join(f"({'true' if i % 2 else 'false'}, {i}.5)" for i in range(first, first + count))
        notes = ",".join(f"('note {i}')" for i in range(first, first + count))
        pg.sql(f"INSERT INTO inc_a (name, price) VALUES {rows_a}; INSERT INTO inc_b (flag, score) VALUES {rows_b};"
               f"INSERT INTO tsi_a (note) VALUES {notes}; INSERT INTO tsi_b (note) VALUES {notes}")

    insert(0, 150)  # more than batch.max.rows (100): several queries per table
    prefix = unique_topic("pg-")
    # Standalone keeps only the connectors given on its command line across restarts.
    files = []
    for name, config in (
            ("pg-inc", source_config(pg, "incrementing", ["inc_a", "inc_b"], prefix,
                                     **{"incrementing.column.name": "id"})),
            ("pg-tsi", source_config(pg, "timestamp+incrementing", ["tsi_a", "public.tsi_b"], prefix,
                                     **{"incrementing.column.name": "id",
                                        "timestamp.column.name": "updated"}))):
        files.append(str(tmp_path / f"{name}.json"))
        with open(files[-1], "w") as f:
            json.dump({"name": name, "config": config}, f)
    worker = worker_factory(module_broker.bootstrap).start(files)
    wait_state(worker.port, "pg-inc", "RUNNING", ["RUNNING", "RUNNING"])
    wait_state(worker.port, "pg-tsi", "RUNNING", ["RUNNING", "RUNNING"])
    for table in ("inc_a", "inc_b", "tsi_a", "tsi_b"):
        consume_all(module_broker.bootstrap, prefix + table, 150)

    insert(150, 20)  # while running
    for table in ("inc_a", "inc_b", "tsi_a", "tsi_b"):
        consume_all(module_broker.bootstrap, prefix + table, 170)
    wait_for(lambda: source_offsets(worker, "pg-inc").get(
        json.dumps({"protocol": "1", "table": "postgres.public.inc_a"}, sort_keys=True)) == {"incrementing": 170},
        f"pg-inc's offset for inc_a to be committed (offsets: {source_offsets(worker, 'pg-inc')})", timeout_s=15)
    worker.clean_stop()

    insert(170, 30)  # while the worker is down
    worker.start(files)
    wait_state(worker.port, "pg-inc", "RUNNING", ["RUNNING", "RUNNING"])
    for table in ("inc_a", "inc_b", "tsi_a", "tsi_b"):
        records = consume_all(module_broker.bootstrap, prefix + table, 200)
        ids = [v["id"] for v in json_values(records)]
        assert ids == list(range(1, 201)), (f"{table}: {len(ids)} records, "
                                            f"{len(ids) - len(set(ids))} duplicated, ids {ids[:5]}...{ids[-5:]}")
    first = json_values(consume_all(module_broker.bootstrap, prefix + "inc_a", 200))[0]
    # numeric(10,2) is a Decimal (base64 of the unscaled value in JsonConverter's default).
    assert first["name"] == "n0" and first["id"] == 1, first
    row_b = json_values(consume_all(module_broker.bootstrap, prefix + "inc_b", 200))[1]
    assert row_b == {"id": 2, "flag": True, "score": 1.5}, row_b

    offsets = source_offsets(worker, "pg-tsi")
    tsi_a = offsets.get(json.dumps({"protocol": "1", "table": "postgres.public.tsi_a"}, sort_keys=True))
    assert tsi_a is not None and tsi_a["incrementing"] == 200, offsets
    assert set(tsi_a) == {"incrementing", "timestamp", "timestamp_nanos"}, tsi_a
    last_ms = pg.sql("SELECT (EXTRACT(EPOCH FROM updated) * 1000)::bigint / 1 FROM tsi_a WHERE id = 200")[0][0]
    assert abs(int(last_ms) - tsi_a["timestamp"]) <= 1, (last_ms, tsi_a)
    worker.clean_stop()


def try_sql(pg, statement):
    """The rows, or None while the table does not exist yet."""
    try:
        return pg.sql(statement)
    except RuntimeError:
        return None


def envelope(schema, payload):
    return json.dumps({"schema": schema, "payload": payload}).encode()


VALUE_SCHEMA = {"type": "struct", "name": "person", "optional": False, "fields": [
    {"field": "id", "type": "int64", "optional": False},
    {"field": "name", "type": "string", "optional": True},
    {"field": "age", "type": "int32", "optional": True},
    {"field": "born", "type": "int32", "optional": True, "name": "org.apache.kafka.connect.data.Date",
     "version": 1},
]}
KEY_SCHEMA = {"type": "struct", "optional": False, "fields": [{"field": "id", "type": "int64", "optional": False}]}


def produce_keyed(bootstrap, topic, pairs):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for key, value in pairs:
        p.produce(topic, key=key, value=value)
    assert p.flush(30) == 0


def sink_config(pg, topic, **extra):
    config = {"connector.class": SINK, "tasks.max": "1", "topics": topic,
              "connection.url": pg.uri(), "auto.create": "true",
              "key.converter": JSON_CONVERTER, "value.converter": JSON_CONVERTER,
              "retry.backoff.ms": "200"}
    config.update(extra)
    return config


def test_sink_insert_upsert_and_tombstone_delete(module_broker, worker_factory, pg):
    worker = worker_factory(module_broker.bootstrap).start()
    people = unique_topic("people").replace("-", "_")
    values = [envelope(VALUE_SCHEMA, {"id": i, "name": f"p{i}", "age": 20 + i, "born": 365 * i})
              for i in range(1, 6)]
    produce(module_broker.bootstrap, people, values)
    create(worker.port, "pg-insert", sink_config(pg, people, **{"table.name.format": "ins_${topic}"}))
    wait_for(lambda: len(try_sql(pg, f"SELECT id FROM ins_{people}") or []) == 5, "5 rows inserted",
             timeout_s=30)
    assert pg.sql(f"SELECT id, name, age, born FROM ins_{people} ORDER BY id") == [
        [str(i), f"p{i}", str(20 + i), pg.sql(f"SELECT DATE '1970-01-01' + {365 * i}")[0][0]] for i in range(1, 6)]
    columns = pg.sql(f"SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                     f"WHERE table_name = 'ins_{people}' ORDER BY ordinal_position")
    assert columns == [["id", "bigint", "NO"], ["name", "text", "YES"], ["age", "integer", "YES"],
                       ["born", "date", "YES"]], columns

    keyed = unique_topic("keyed").replace("-", "_")
    key = lambda i: envelope(KEY_SCHEMA, {"id": i})  # noqa: E731
    person = lambda i, name: envelope(VALUE_SCHEMA, {"id": i, "name": name, "age": i, "born": None})  # noqa: E731
    produce_keyed(module_broker.bootstrap, keyed, [(key(1), person(1, "one")), (key(2), person(2, "two")),
                                                   (key(3), person(3, "three"))])
    create(worker.port, "pg-upsert", sink_config(pg, keyed, **{
        "insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id", "delete.enabled": "true"}))
    wait_for(lambda: len(try_sql(pg, f"SELECT id FROM {keyed}") or []) == 3, "3 rows upserted", timeout_s=30)
    # An update of key 1, a tombstone for key 2, a new key 4, then key 4 again in the same batch.
    produce_keyed(module_broker.bootstrap, keyed, [(key(1), person(1, "uno")), (key(2), None),
                                                   (key(4), person(4, "four")), (key(4), person(4, "cuatro"))])
    expected = [["1", "uno"], ["3", "three"], ["4", "cuatro"]]
    wait_for(lambda: pg.sql(f"SELECT id, name FROM {keyed} ORDER BY id") == expected,
             "the upserts and the delete", timeout_s=30)
    primary_key = pg.sql(f"SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                         f"AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '{keyed}'::regclass AND i.indisprimary")
    assert primary_key == [["id"]], primary_key
    status = wait_state(worker.port, "pg-upsert", "RUNNING", ["RUNNING"])
    assert status["tasks"][0]["state"] == "RUNNING"

    # auto.evolve: a later schema with one more optional field adds the column.
    evolving = unique_topic("evolving").replace("-", "_")
    wider = dict(VALUE_SCHEMA, fields=VALUE_SCHEMA["fields"] + [{"field": "email", "type": "string", "optional": True}])
    produce(module_broker.bootstrap, evolving, [envelope(VALUE_SCHEMA, {"id": 1, "name": "a", "age": 1, "born": None})])
    create(worker.port, "pg-evolve", sink_config(pg, evolving, **{"auto.evolve": "true"}))
    wait_for(lambda: len(try_sql(pg, f"SELECT id FROM {evolving}") or []) == 1, "the first row", timeout_s=30)
    produce(module_broker.bootstrap, evolving, [envelope(wider, {"id": 2, "name": "b", "age": 2, "born": None,
                                                                 "email": "b@example.com"})])
    wait_for(lambda: try_sql(pg, f"SELECT id, email FROM {evolving} ORDER BY id") == [["1", ""], ["2", "b@example.com"]],
             "the evolved table", timeout_s=30)
    worker.clean_stop()


def test_sink_refuses_delete_without_record_key(module_broker, worker_factory, pg):
    """Kafka validates each key alone; the combination is refused when the
    connector starts: FAILED with ConfigException's message as its trace."""
    worker = worker_factory(module_broker.bootstrap).start()
    create(worker.port, "bad-sink", sink_config(pg, "t", **{"delete.enabled": "true",
                                                            "pk.mode": "record_value"}))
    status = wait_state(worker.port, "bad-sink", "FAILED")
    assert ("Invalid value true for configuration delete.enabled: Primary key mode must be "
            "'record_key' when delete support is enabled") in status["connector"]["trace"], status
    worker.clean_stop()


def test_pipeline_table_to_topic_to_table(module_broker, worker_factory, pg):
    pg.sql("CREATE TABLE model (id SERIAL PRIMARY KEY, name TEXT NOT NULL, amount NUMERIC(12,3), "
           "ratio DOUBLE PRECISION, small SMALLINT, big BIGINT, ok BOOLEAN, day DATE, "
           "at TIMESTAMP(3), blob BYTEA, label VARCHAR(20));"
           "INSERT INTO model (name, amount, ratio, small, big, ok, day, at, blob, label) "
           "SELECT 'row ' || i, i * 1.125, i / 3.0, i % 100, i * 10000000000, i % 2 = 0, "
           "DATE '2024-02-28' + i, TIMESTAMP '2024-01-01 00:00:00.123' + i * INTERVAL '1 hour 1.5 seconds', "
           "decode(lpad(to_hex(i), 8, '0'), 'hex'), CASE WHEN i % 3 = 0 THEN NULL ELSE 'l' || i END "
           "FROM generate_series(1, 250) i")
    prefix = unique_topic("pipe-").replace("-", "_")
    worker = worker_factory(module_broker.bootstrap).start()
    create(worker.port, "pipe-source", {
        "connector.class": "JdbcSourceConnector", "connection.url": pg.jdbc_url(), "connection.user": "postgres",
        # No incrementing.column.name: the table's serial column is found.
        "mode": "incrementing", "table.whitelist": "model",
        "topic.prefix": prefix, "poll.interval.ms": "200", "value.converter": JSON_CONVERTER})
    create(worker.port, "pipe-sink", {
        "connector.class": SINK, "topics": prefix + "model", "connection.url": pg.uri(),
        "auto.create": "true", "insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id",
        "table.name.format": "copy_of_${topic}", "value.converter": JSON_CONVERTER, "batch.size": "64"})
    copy = f"copy_of_{prefix}model"
    columns = "id, name, amount, ratio, small, big, ok, day, at, blob, label"

    wait_for(lambda: (try_sql(pg, f"SELECT count(*) FROM {copy}") or [["0"]])[0][0] == "250", f"250 rows in {copy}", timeout_s=40)
    model = pg.sql(f"SELECT {columns} FROM model ORDER BY id")
    assert pg.sql(f"SELECT {columns} FROM {copy} ORDER BY id") == model
    worker.clean_stop()


def test_connection_loss_is_retried(module_broker, worker_factory, pg):
    pg.sql("CREATE TABLE flaky (id SERIAL PRIMARY KEY, note TEXT)")
    pg.sql("INSERT INTO flaky (note) SELECT 'before ' || i FROM generate_series(1, 10) i")
    prefix = unique_topic("flaky-").replace("-", "_")
    sink_topic = unique_topic("flaky_in").replace("-", "_")
    worker = worker_factory(module_broker.bootstrap).start()
    create(worker.port, "flaky-source", source_config(pg, "incrementing", ["flaky"], prefix, **{
        "incrementing.column.name": "id", "tasks.max": "1"}))
    create(worker.port, "flaky-sink", sink_config(pg, sink_topic, **{
        "retry.backoff.ms": "500", "max.retries": "40"}))
    consume_all(module_broker.bootstrap, prefix + "flaky", 10)
    produce(module_broker.bootstrap, sink_topic, [envelope(VALUE_SCHEMA, {"id": 1, "name": "a", "age": 1, "born": 1})])
    wait_for(lambda: len(try_sql(pg, f"SELECT id FROM {sink_topic}") or []) == 1, "the first sink row", timeout_s=30)

    pg.halt()
    produce(module_broker.bootstrap, sink_topic, [envelope(VALUE_SCHEMA, {"id": i, "name": "b", "age": i, "born": i})
                                                  for i in range(2, 6)])
    import time
    time.sleep(1.5)  # the server stays down across several reconnection attempts
    pg.run_server()
    pg.sql("INSERT INTO flaky (note) SELECT 'after ' || i FROM generate_series(1, 5) i")

    wait_for(lambda: len(try_sql(pg, f"SELECT id FROM {sink_topic}") or []) == 5, "the sink's rows after the outage",
             timeout_s=40)
    ids = [v["id"] for v in json_values(consume_all(module_broker.bootstrap, prefix + "flaky", 15, timeout_s=40))]
    assert ids == list(range(1, 16)), ids
    wait_state(worker.port, "flaky-source", "RUNNING", ["RUNNING"])
    wait_state(worker.port, "flaky-sink", "RUNNING", ["RUNNING"])
    logs = worker.logs()
    assert "PostgreSQL source lost its connection" in logs or "PostgreSQL source: cannot connect" in logs, logs
    assert "PostgreSQL sink" in logs and "retrying in 500 ms" in logs, logs
    worker.clean_stop()


def test_source_timestamp_mode_and_bulk_query(module_broker, worker_factory, pg):
    """timestamp mode alone (the whole result handed out batch.max.rows a
    poll), and a bulk `query` re-read at every poll.interval.ms into the
    prefix topic alone."""
    pg.sql("CREATE TABLE stamped (id INT PRIMARY KEY, at TIMESTAMPTZ NOT NULL, note TEXT);"
           "INSERT INTO stamped SELECT i, TIMESTAMPTZ '2024-05-01 00:00:00+00' + i * INTERVAL '1 millisecond', "
           "'s' || i FROM generate_series(1, 120) i")
    prefix = unique_topic("stamp-").replace("-", "_")
    query_topic = unique_topic("bulkq").replace("-", "_")
    worker = worker_factory(module_broker.bootstrap).start()
    create(worker.port, "pg-ts", source_config(pg, "timestamp", ["stamped"], prefix, **{
        "timestamp.column.name": "at", "batch.max.rows": "50", "tasks.max": "1"}))
    create(worker.port, "pg-bulk", source_config(pg, "bulk", [], query_topic, **{
        "table.whitelist": "", "query": "SELECT id, note FROM stamped WHERE id <= 3",
        "poll.interval.ms": "300", "tasks.max": "1"}))
    values = json_values(consume_all(module_broker.bootstrap, prefix + "stamped", 120))
    assert [v["id"] for v in values] == list(range(1, 121)), [v["id"] for v in values][:10]
    assert values[0]["at"] == 1714521600001, values[0]  # Timestamp: ms since the epoch
    pg.sql("INSERT INTO stamped VALUES (121, TIMESTAMPTZ '2024-05-02 00:00:00+00', 'late')")
    values = json_values(consume_all(module_broker.bootstrap, prefix + "stamped", 121))
    assert [v["id"] for v in values] == list(range(1, 122))

    repeated = json_values(consume_all(module_broker.bootstrap, query_topic, 6))
    assert repeated[:6] == [{"id": i, "note": f"s{i}"} for i in (1, 2, 3)] * 2, repeated[:6]
    offsets = source_offsets(worker, "pg-ts")
    assert json.dumps({"protocol": "1", "table": "postgres.public.stamped"}, sort_keys=True) in offsets, offsets
    wait_for(lambda: source_offsets(worker, "pg-ts").get(
        json.dumps({"protocol": "1", "table": "postgres.public.stamped"}, sort_keys=True)) ==
        {"timestamp": 1714608000000, "timestamp_nanos": 0}, "the timestamp offset of the last row", timeout_s=10)
    worker.clean_stop()
