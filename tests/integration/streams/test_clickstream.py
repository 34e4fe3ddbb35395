"""The clickstream demo (examples/clickstream, binary streams-clickstream)
against a real broker.

test_results_equal_the_model_and_the_page_shows_them: a known set of users
(with an update and a deletion) and clicks (out of order within the grace
period, one late beyond it, one without a page, one not JSON, one of an
unknown user) goes in; each output topic must equal what a model computed
here says, record by record: page views per page per 1-minute window
(every count 1..n), unique users per page per 5-minute window advancing by a
minute (every update), and every click joined with its user's latest value.
Then the page the application serves is loaded in headless Chromium and the
DOM its script rendered must show the same numbers and the latest clicks.

test_demo_launcher_shows_numbers_moving: `examples/clickstream/run-demo.sh`
(what `make demo` runs: broker, topics, Connect with the datagen sources,
the application) for a few seconds; its page's JSON must show clicks read,
enriched and counted, and more of them a moment later; SIGINT (Ctrl-C) stops
every process it started."""

import collections
import html.parser
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import conftest as harness  # noqa: E402
from conftest import unique_topic  # noqa: E402
import streams_support  # noqa: E402
from streams_support import create_topics, wait_until  # noqa: E402

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEMO_SCRIPT = os.path.join(REPO_ROOT, "examples", "clickstream", "run-demo.sh")

MINUTE = 60_000
GRACE = 10_000
PAGEVIEW_WINDOW = MINUTE
UNIQUE_WINDOW, UNIQUE_ADVANCE = 5 * MINUTE, MINUTE
SHOWN_WINDOWS = 10
RECENT = 15
PAGES = ["/index.html", "/site/login.html", "/site/products.html", "/site/cart.html",
         "/images/logo.png", "/site/search.html"]


class App(streams_support.StreamsApp):
    """One streams-clickstream process serving its page on a free port."""

    def __init__(self, workdir, args):
        cmd = [streams_support.example_bin("clickstream"), "--http", "127.0.0.1:0",
               "--windows", str(SHOWN_WINDOWS), "--recent", str(RECENT), *args]
        super().__init__(workdir, cmd, "clickstream", running_timeout_s=60, stop_timeout_s=40)

    def start(self):
        super().start()
        self.url = re.search(r"^serving (http://\S+)$", self.log(), re.M).group(1)
        return self

    def stats(self):
        with urllib.request.urlopen(self.url + "api/stats", timeout=10) as response:
            return json.loads(response.read())


@pytest.fixture
def apps(tmp_path):
    yield from streams_support.made_apps(tmp_path, App)


# ---- the input ---------------------------------------------------------------

def make_users():
    """(key, value) records of the users topic, in order: users 1..12, an
    update of user 3, user 12 deleted, then user 13 (last: once the page
    knows 13 users, everything before it is in the table)."""
    cities = ["Frankfurt", "London", "Raleigh", "New York"]
    levels = ["Gold", "Silver", "Platinum"]
    records = [(str(i), {"user_id": i, "username": f"user_{i}", "city": cities[i % 4],
                         "level": levels[i % 3]}) for i in range(1, 13)]
    records.append(("3", {"user_id": 3, "username": "user_3", "city": "Palo Alto", "level": "Platinum"}))
    records.append(("12", None))
    records.append(("13", {"user_id": 13, "username": "user_13", "city": "London", "level": "Gold"}))
    return records


def click(user, page, timestamp):
    return {"ip": f"10.0.0.{user}", "userid": user, "remote_user": "-", "_time": timestamp,
            "request": f"GET {page} HTTP/1.1", "status": "200", "bytes": "1234", "referrer": "-",
            "agent": "test"}


def make_clicks(base):
    """(key bytes, value bytes, timestamp) of the clicks topic, in order:
    clicks over about 3.5 minutes from `base`, some up to 8 s out of order
    (within the grace period), plus a late one (beyond it), one without a
    page, one that is not JSON and one of a user the table does not know."""
    rng = random.Random(20)
    records = []
    t = base + 5_000
    while t < base + 3 * MINUTE + 30_000:
        user = rng.randint(1, 13)
        timestamp = t - rng.randint(0, 8_000) if rng.random() < 0.2 else t
        value = click(user, rng.choice(PAGES), timestamp)
        records.append((str(user).encode(), json.dumps(value).encode(), timestamp))
        t += rng.randint(200, 1_500)
    late = base + 20_000  # its minute closed at base + 70 s
    records.append((b"5", json.dumps(click(5, "/index.html", late)).encode(), late))
    no_page = dict(click(6, "", t), request="garbage")
    records.append((b"6", json.dumps(no_page).encode(), t))
    records.append((b"7", b"this is not json", t))
    records.append((b"99", json.dumps(click(99, "/site/cart.html", t)).encode(), t))
    records.append((b"2", json.dumps(click(2, "/site/cart.html", t + 1_000)).encode(), t + 1_000))
    return records


# ---- the model ---------------------------------------------------------------

def page_of(value):
    if value.get("page"):
        return value["page"]
    parts = value.get("request", "").split(" ")
    return parts[1] if len(parts) >= 2 and parts[1] else None


def windows_for(timestamp, size, advance):
    first = max(0, timestamp - size + advance)
    start = first - first % advance
    while start <= timestamp:
        yield start
        start += advance


def model(users, clicks):
    """What each output topic must hold, record by record."""
    table = {}
    for key, value in users:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    parsed = []
    for key, value, timestamp in clicks:
        try:
            parsed.append((key.decode(), json.loads(value), timestamp))
        except ValueError:
            pass  # LogAndContinue: skipped
    enriched = [(key, dict(value, page=page_of(value) or "", user=table[key]))
                for key, value, _ in parsed if key in table]

    # Both windowed aggregations read the clicks with a page in order, and
    # drop a record for a window whose end + grace <= the highest timestamp
    # seen so far (Kafka's KStreamWindowAggregate).
    pageviews = collections.defaultdict(list)   # (page, start) -> counts in order
    unique = collections.defaultdict(list)      # (page, start) -> distinct users in order
    unique_sets = collections.defaultdict(set)
    observed = -1
    for key, value, timestamp in parsed:
        page = page_of(value)
        if page is None:
            continue
        observed = max(observed, timestamp)
        close = observed - GRACE
        for start in windows_for(timestamp, PAGEVIEW_WINDOW, PAGEVIEW_WINDOW):
            if start + PAGEVIEW_WINDOW > close:
                seq = pageviews[(page, start)]
                seq.append(len(seq) + 1)
        for start in windows_for(timestamp, UNIQUE_WINDOW, UNIQUE_ADVANCE):
            if start + UNIQUE_WINDOW > close:
                unique_sets[(page, start)].add(str(value["userid"]))
                unique[(page, start)].append(len(unique_sets[(page, start)]))
    return enriched, dict(pageviews), dict(unique)


# ---- reading the output --------------------------------------------------------

def read_topic(bootstrap, topic, count, timeout_s=90):
    """The first `count` records of a one-partition topic (fails if fewer
    come), then a moment more to see that no others follow."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("reader"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    records = []
    deadline = time.time() + timeout_s
    quiet_until = None
    try:
        while time.time() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if len(records) >= count:
                    if quiet_until is None:
                        quiet_until = time.time() + 2
                    elif time.time() > quiet_until:
                        break
                continue
            assert message.error() is None, message.error()
            records.append((message.key(), message.value()))
    finally:
        consumer.close()
    assert len(records) >= count, f"{topic}: {len(records)} records of {count} within {timeout_s} s"
    return records


def windowed_sequences(records):
    """Kafka's TimeWindowedSerde keys (the page's bytes, then the window
    start as 8 bytes big-endian) and Long values, per (page, start) in order."""
    sequences = collections.defaultdict(list)
    for key, value in records:
        page, start = key[:-8].decode(), int.from_bytes(key[-8:], "big", signed=True)
        sequences[(page, start)].append(int.from_bytes(value, "big", signed=True))
    return dict(sequences)


def latest(sequences):
    return {key: seq[-1] for key, seq in sequences.items()}


def shown(finals, shown_windows):
    """The results the page shows: the newest windows' latest values,
    {start: {page: value}}."""
    by_window = collections.defaultdict(dict)
    for (page, start), value in finals.items():
        by_window[start][page] = value
    return {start: by_window[start] for start in sorted(by_window)[-shown_windows:]}


class ResultCells(html.parser.HTMLParser):
    """The cells the page's script filled: {kind: {start: {page: value}}},
    and the rows of the latest clicks."""

    def __init__(self):
        super().__init__()
        self.cells = collections.defaultdict(lambda: collections.defaultdict(dict))
        self.clicks = []
        self._cell = None
        self._text = ""
        self._click_field = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "td" and "data-kind" in attrs:
            self._cell = (attrs["data-kind"], int(attrs["data-window"]), attrs["data-page"])
            self._text = ""
        elif tag == "tr" and attrs.get("class") == "click":
            self.clicks.append({"user": attrs["data-user"], "page": attrs["data-page"]})
        elif tag == "td" and self.clicks and attrs.get("class", "").startswith("text "):
            self._click_field = attrs["class"].split()[1]
            self._text = ""

    def handle_data(self, data):
        self._text += data

    def handle_endtag(self, tag):
        if tag != "td":
            return
        if self._cell is not None:
            kind, start, page = self._cell
            self.cells[kind][start][page] = int(self._text)
            self._cell = None
        elif self._click_field is not None:
            self.clicks[-1][self._click_field] = self._text
            self._click_field = None


def render_page(url, workdir):
    """The DOM after the page's script ran (headless Chromium)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed (scripts/install-deps installs it)")
    profile = os.path.join(workdir, "chromium-profile")
    p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                        "--virtual-time-budget=5000", "--dump-dom", url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-3000:]
    return p.stdout.decode()


def test_results_equal_the_model_and_the_page_shows_them(module_broker, apps, tmp_path):
    bootstrap = module_broker.bootstrap
    clicks_topic, users_topic = unique_topic("clicks"), unique_topic("users")
    outputs = {name: unique_topic(name) for name in ("pageviews", "unique", "enriched")}
    app_id = unique_topic("clickstream")
    # One partition each: the order the model reads is the order processed.
    create_topics(bootstrap, {name: 1 for name in [clicks_topic, users_topic, *outputs.values()]})
    app = apps(["--bootstrap-server", bootstrap, "--application-id", app_id,
                "--clicks", clicks_topic, "--users", users_topic,
                "--pageviews-output", outputs["pageviews"], "--unique-output", outputs["unique"],
                "--enriched-output", outputs["enriched"], "--set", "commit.interval.ms=200",
                # Its RocksDB stores in the test's directory (not /tmp/kafka-streams).
                "--set", f"state.dir={tmp_path / 'state'}"]).start()

    # The users first, all in the table before any click (a stream-table
    # join sees the table as it is when the click is processed).
    users = make_users()
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for key, value in users:
        producer.produce(users_topic, key=key.encode(),
                         value=None if value is None else json.dumps(value).encode())
    producer.flush()
    wait_until(lambda: app.stats()["users"] == 13, 60, "the users in the table")

    base = (int(time.time() * 1000) // MINUTE) * MINUTE - 10 * MINUTE
    clicks = make_clicks(base)
    for key, value, timestamp in clicks:
        producer.produce(clicks_topic, key=key, value=value, timestamp=timestamp)
    producer.flush()

    enriched, pageviews, unique = model(users, clicks)
    got_enriched = read_topic(bootstrap, outputs["enriched"], len(enriched))
    assert [(k.decode(), json.loads(v)) for k, v in got_enriched] == enriched
    got_pageviews = windowed_sequences(
        read_topic(bootstrap, outputs["pageviews"], sum(map(len, pageviews.values()))))
    assert got_pageviews == pageviews
    got_unique = windowed_sequences(
        read_topic(bootstrap, outputs["unique"], sum(map(len, unique.values()))))
    assert got_unique == unique
    # The input did exercise what the model leaves out: the late click's
    # minute closed without it, and clicks without a user are not enriched.
    on_time = sum(1 for _, v, t in clicks[:-5] if t < base + MINUTE and b"/index.html" in v)
    assert pageviews[("/index.html", base)][-1] == on_time
    assert len(enriched) == len(clicks) - 2 - sum(1 for k, _, _ in clicks if k == b"12")

    # Kafka Streams' internal topic names.
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).topics
    for internal in ("clicks-by-page-repartition", "pageviews-per-minute-store-changelog",
                     "unique-users-5m-store-changelog"):
        assert f"{app_id}-{internal}" in topics, sorted(t for t in topics if t.startswith(app_id))

    # The page's JSON, then the page itself as Chromium renders it.
    want_pageviews = shown(latest(pageviews), SHOWN_WINDOWS)
    want_unique = shown(latest(unique), SHOWN_WINDOWS)
    want_recent = [{"user": key, "page": value["page"], "username": value["user"]["username"],
                    "city": value["user"]["city"], "level": value["user"]["level"]}
                   for key, value in reversed(enriched[-RECENT:])]

    def windows_of(results):
        return {w["start"]: w["counts"] for w in results["windows"]}

    stats = app.stats()
    assert stats["enriched"] == len(enriched)
    assert stats["clicks"] == len(clicks) - 1  # all but the one that is not JSON
    assert windows_of(stats["pageviews_per_minute"]) == want_pageviews
    assert windows_of(stats["unique_users_5m"]) == want_unique

    dom = render_page(app.url, str(tmp_path))
    cells = ResultCells()
    cells.feed(dom)
    assert {s: dict(p) for s, p in cells.cells["pageviews"].items()} == want_pageviews, dom[-3000:]
    assert {s: dict(p) for s, p in cells.cells["unique"].items()} == want_unique
    assert cells.clicks == want_recent
    assert re.search(r'<span id="enriched">%d</span>' % len(enriched), dom), "counter not drawn"
    app.stop()


def test_demo_launcher_shows_numbers_moving(tmp_path):
    env = dict(os.environ, DEMO_DIR=str(tmp_path / "demo"), DEMO_HTTP_PORT=str(harness.free_port()),
               SLUICE_BIN=harness.sluice_bin(),
               STREAMS_CLICKSTREAM_BIN=streams_support.example_bin("clickstream"))
    log_path = tmp_path / "run-demo.log"
    with open(log_path, "wb") as log:
        launcher = subprocess.Popen([DEMO_SCRIPT], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env)

    def log_text():
        return log_path.read_text(errors="replace")

    def demo_logs():
        out = []
        for name in ("broker", "connect", "clickstream"):
            path = tmp_path / "demo" / f"{name}.log"
            if path.exists():
                out.append(f"--- {name}.log ---\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(out)

    try:
        def url():
            assert launcher.poll() is None, f"run-demo.sh exited:\n{log_text()}\n{demo_logs()}"
            found = re.search(r"Open (http://\S+)", log_text())
            return found and found.group(1)
        page = wait_until(url, 90, "the demo's URL")

        def stats():
            with urllib.request.urlopen(page + "api/stats", timeout=10) as response:
                return json.loads(response.read())

        def results_flowing():
            s = stats()
            ok = (s["clicks"] > 0 and s["enriched"] > 0 and s["users"] > 0
                  and s["pageviews_per_minute"]["windows"] and s["unique_users_5m"]["windows"])
            return s if ok else None
        first = wait_until(results_flowing, 90, "results on the page", interval_s=0.5)
        first_views = sum(sum(w["counts"].values()) for w in first["pageviews_per_minute"]["windows"])

        def moved():
            s = stats()
            views = sum(sum(w["counts"].values()) for w in s["pageviews_per_minute"]["windows"])
            return s["clicks"] > first["clicks"] and s["enriched"] > first["enriched"] and views > first_views
        wait_until(moved, 30, "the numbers moving", interval_s=0.5)
        assert "<title>Clickstream on Sluice</title>" in urllib.request.urlopen(page, timeout=10).read().decode()
    except BaseException:
        print(demo_logs(), file=sys.stderr)
        raise
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGINT)  # what Ctrl-C sends
            try:
                launcher.wait(timeout=60)
            except subprocess.TimeoutExpired:
                launcher.kill()
    assert launcher.returncode == 130, f"run-demo.sh exited with {launcher.returncode}:\n{log_text()}"
    # Everything it started has stopped: the page no longer answers and no
    # process still runs from the demo's directory.
    with pytest.raises(OSError):
        urllib.request.urlopen(page + "api/stats", timeout=5)
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path / "demo")], stdout=subprocess.PIPE)
    assert leftover.stdout.strip() == b"", f"processes left running: {leftover.stdout}"
