#!/usr/bin/env python3
"""One transaction of librdkafka's transactional producer (confluent-kafka),
held open until the test says how to end it: init_transactions(),
begin_transaction(), `--count` records `<prefix>-<i>` to `--topic`, flushed;
then it reads stdin lines: "commit" or "abort" end the transaction,
"produce N" writes N more records in it, "exit" leaves. The test pauses it
(SIGSTOP), kills it, or starts a rival with the same transactional.id
meanwhile. Every step is a JSON line in `--journal`:

  {"e": "init"} {"e": "produced", "n": k} {"e": "commit"} {"e": "abort"}
  {"e": "error", "step": s, "error": "...", "code": c, "name": n, "fatal": b, "abortable": b}

Exit code 0 when the commit or abort succeeded, 2 when it failed, 3 when init failed."""

import argparse
import json
import sys
import time

from confluent_kafka import KafkaException, Producer


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--bootstrap", required=True)
    a.add_argument("--topic", required=True)
    a.add_argument("--transactional-id", required=True)
    a.add_argument("--count", type=int, default=10)
    a.add_argument("--partition", type=int, default=0)
    a.add_argument("--prefix", default="txn")
    a.add_argument("--transaction-timeout-ms", type=int, default=60000)
    a.add_argument("--journal", required=True)
    args = a.parse_args()
    journal_file = open(args.journal, "a", buffering=1)

    def journal(kind, **fields):
        journal_file.write(json.dumps({"e": kind, "t": time.time(), **fields}) + "\n")

    def error(step, exc):
        err = exc.args[0] if exc.args else exc
        journal("error", step=step, error=str(err), code=getattr(err, "code", lambda: None)(),
                name=getattr(err, "name", lambda: None)(), fatal=bool(getattr(err, "fatal", lambda: False)()),
                abortable=bool(getattr(err, "txn_requires_abort", lambda: False)()))

    timeout = args.transaction_timeout_ms
    producer = Producer({"bootstrap.servers": args.bootstrap, "transactional.id": args.transactional_id,
                         "transaction.timeout.ms": timeout, "message.timeout.ms": timeout, "linger.ms": 5,
                         "log_level": 3})
    try:
        producer.init_transactions(60)
        journal("init")
        producer.begin_transaction()
    except KafkaException as e:
        error("init", e)
        return 3
    sent = [0]

    def produce(n):
        for _ in range(n):
            producer.produce(args.topic, value=f"{args.prefix}-{sent[0]}".encode(), partition=args.partition)
            sent[0] += 1
        left = producer.flush(30)
        journal("produced", n=sent[0], undelivered=left)

    try:
        produce(args.count)
    except KafkaException as e:
        error("produce", e)
    for line in sys.stdin:
        command = line.split()
        if not command:
            continue
        try:
            if command[0] == "produce":
                produce(int(command[1]))
            elif command[0] == "commit":
                producer.commit_transaction(30)
                journal("commit")
                return 0
            elif command[0] == "abort":
                producer.abort_transaction(30)
                journal("abort")
                return 0
            elif command[0] == "exit":
                return 0
        except KafkaException as e:
            error(command[0], e)
            if command[0] in ("commit", "abort"):
                return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
