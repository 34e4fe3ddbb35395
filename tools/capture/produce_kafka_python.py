#!/usr/bin/env python3
"""Produces golden_messages.json to a broker with kafka-python, one codec."""

import argparse
import json
import os
import sys

from kafka import KafkaProducer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--codec", required=True,
                        choices=["none", "gzip", "snappy", "lz4", "zstd"])
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "golden_messages.json")) as f:
        golden = json.load(f)

    producer = KafkaProducer(
        bootstrap_servers=args.bootstrap,
        client_id="kafka-python",
        compression_type=None if args.codec == "none" else args.codec,
        # A long linger plus flush() puts all records in one batch: flush
        # makes the batch ready at once instead of waiting for the linger.
        linger_ms=5000,
        request_timeout_ms=10000,
        api_version_auto_timeout_ms=5000,
    )
    for record in golden["records"]:
        producer.send(
            golden["topic"],
            key=record["key"].encode(),
            value=record["value"].encode(),
            headers=[(h["key"], h["value"].encode()) for h in record["headers"]],
            partition=golden["partition"],
            timestamp_ms=record["timestamp_ms"],
        )
    producer.flush(timeout=10)
    producer.close(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
