"""Reuses the broker harness of tests/integration/broker/conftest.py (sluice serve on
free loopback ports, logs attached to failures) for the admin HTTP port tests."""

import importlib.util
import os
import sys

_BROKER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "broker")
sys.path.insert(0, _BROKER_DIR)
_spec = importlib.util.spec_from_file_location("broker_harness", os.path.join(_BROKER_DIR, "conftest.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

# Fixtures and hooks, re-exported so pytest finds them here.
broker_factory = harness.broker_factory
broker = harness.broker
pytest_runtest_makereport = harness.pytest_runtest_makereport
_module_broker_logs = harness._module_broker_logs
unique_topic = harness.unique_topic
module_broker = harness.module_broker
