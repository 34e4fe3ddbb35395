"""A broker's own topic creations forwarded to the active controller hold no
thread while they wait (Kafka's brokers send them with their channel to the
controller and go on). Metadata's auto-creation on a node that is not the
active controller used to wait for the controller's answer on the node's
controller thread, up to the forward's 30 s: the work queued behind it, and
a SIGTERM (whose drain waits for the running controller-thread work) too.
3 controllers + 1 broker; the controllers are paused with SIGSTOP, so the
forwarded CreateTopics is never answered; the broker, asked for a missing
topic with auto-creation on, must still stop promptly on SIGTERM.
ctest cluster_forwarded_creation."""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import FAST_FENCING, make_cluster, wait_for  # noqa: E402,F401

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import kafka_wire  # noqa: E402


def ask_for_missing_topic(port, name):
    """Metadata v12 with auto-creation for `name`; its answer (or the
    connection closing at the broker's stop) is not awaited by the test."""
    try:
        kafka_wire.metadata_v12(port, [name], True)
    except Exception:  # noqa: BLE001 - the broker stops under it
        pass


def test_a_forwarded_auto_creation_does_not_hold_the_broker(make_cluster):
    cluster = make_cluster(controllers=3, brokers=1, settings=FAST_FENCING)
    cluster.leader()
    cluster.wait_brokers_listed()
    broker = cluster.brokers[0]
    paused = [node.process.proc.pid for node in cluster.controllers]
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    try:
        for name in ("auto-created-a", "auto-created-b"):
            threading.Thread(target=ask_for_missing_topic, args=(broker.port, name), daemon=True).start()
        time.sleep(1.0)  # both forwarded, neither answered
        broker.process.stopped_on_purpose = True
        started = time.monotonic()
        broker.process.proc.send_signal(signal.SIGTERM)
        code = broker.process.proc.wait(timeout=60)
        broker.process.exit_codes.append(code)
        took = time.monotonic() - started
        print(f"broker with two unanswered forwarded creations stopped in {took:.2f} s (exit {code})")
        assert code == 0
        # The controlled shutdown gives up once no controller is known (the
        # paused quorum's fetch timeout, then 1 s); a held controller thread
        # kept it for the forward's 30 s.
        assert took < 15
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)
    # The resumed quorum works off what it received while paused (the two
    # creations, the broker's fencing) before the teardown stops it: stopped
    # at once, the leader waited for commits its stopping followers never made.
    cluster.leader()
    time.sleep(2)
