"""sluice-streams' Prometheus endpoint (sluice.metrics.prometheus.listener)
on a running word count (examples/wordcount) against a real broker: once
the counts equal the model, the threads' process-total equals the records
the application consumed (every line, and every word read back from the
repartition topic), the tasks' process-total sums to the same, nothing was
dropped, and the client reports RUNNING with one alive thread."""

import re
import urllib.request

from test_wordcount import (app_factory, make_lines, model_counts, new_topics,  # noqa: F401
                            produce_lines, read_counts)

PARTITIONS = 2
SAMPLE = re.compile(r'^(?P<name>[a-z_]+)\{(?P<labels>[^}]*)\} (?P<value>\S+)$')


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples = []
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
            samples.append((match["name"], labels, float(match["value"])))
    return samples


def values(samples, name):
    return [(labels, value) for sample, labels, value in samples if sample == name]


def metrics_port(app):
    for line in app.log().splitlines():
        if line.startswith("metrics on port "):
            return int(line.split()[-1])
    raise AssertionError(f"no metrics port in the log:\n{app.log()}")


def test_prometheus_endpoint_counts_what_word_count_consumed(module_broker, app_factory):
    bootstrap = module_broker.bootstrap
    source, sink, app_id = new_topics(bootstrap, PARTITIONS)
    lines = make_lines(600, seed=11)
    produce_lines(bootstrap, source, lines)
    settings = {"commit.interval.ms": "200", "num.stream.threads": "1",
                "sluice.metrics.prometheus.listener": "127.0.0.1:0"}
    app = app_factory(bootstrap, app_id, source, sink, settings).start()
    model = model_counts(lines)
    sequences = read_counts(bootstrap, sink, "read_uncommitted", model)
    assert {word: seq[-1] for word, seq in sequences.items()} == dict(model)
    consumed = len(lines) + sum(model.values())  # lines, then each word repartitioned
    port = metrics_port(app)
    samples = scrape(port)
    thread_total = values(samples, "kafka_streams_stream_thread_metrics_process_total")
    assert len(thread_total) == 1 and thread_total[0][0]["thread_id"] == f"{app_id}-StreamThread-1"
    assert thread_total[0][1] == consumed
    task_totals = values(samples, "kafka_streams_stream_task_metrics_process_total")
    # Two sub-topologies (lines -> repartition, repartition -> counts) x 2 partitions.
    assert sorted(labels["task_id"] for labels, _ in task_totals) == ["0_0", "0_1", "1_0", "1_1"]
    assert sum(value for _, value in task_totals) == consumed
    assert all(v == 0 for _, v in values(samples, "kafka_streams_stream_task_metrics_dropped_records_total"))
    state = values(samples, "kafka_streams_stream_metrics_state")
    assert state == [({"client_id": app_id, "state": "RUNNING"}, 1.0)]
    assert values(samples, "kafka_streams_stream_metrics_alive_stream_threads") == [({"client_id": app_id}, 1.0)]
    assert values(samples, "kafka_streams_stream_thread_metrics_commit_total")[0][1] >= 1
    assert values(samples, "kafka_streams_stream_thread_metrics_task_created_total")[0][1] == 4
    app.stop()
