#!/usr/bin/python3
"""Produces `seq` values forever with acks=all; appends every acknowledged message to a file.

Usage: crash_producer.py BOOTSTRAP TOPIC PARTITIONS ACK_FILE [FIRST_SEQ]
Each line of ACK_FILE is `partition offset value`, written (and flushed) as soon as the
delivery report arrives, so a `kill -9` loses only acks the file never saw. Retries are
off, so a message is written at most once by the client: a duplicate in the log after a
crash is the broker's doing. FIRST_SEQ (default 0) lets runs against one topic
write disjoint values.
"""

import sys

from confluent_kafka import Producer


def main():
    bootstrap, topic, partitions, ack_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    acks = open(ack_path, "w", buffering=1)

    def on_delivery(err, msg):
        if err is None:
            acks.write(f"{msg.partition()} {msg.offset()} {msg.value().decode()}\n")

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2,
                  "message.send.max.retries": 0, "enable.idempotence": False,
                  "max.in.flight.requests.per.connection": 5, "message.timeout.ms": 60000})
    seq = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    while True:
        try:
            p.produce(topic, key=f"k{seq}".encode(), value=f"v{seq:09d}".encode(),
                      partition=seq % partitions, on_delivery=on_delivery)
            seq += 1
        except BufferError:
            p.poll(0.01)
        p.poll(0)


if __name__ == "__main__":
    main()
