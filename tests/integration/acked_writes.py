"""The checker of acknowledged writes after faults, shared by the restart and fault suites.

Producers (broker/crash_producer.py) append `partition offset value` for every delivery
report to a file; after the broker comes back, every acknowledged value must be at its
acknowledged offset, no value stored twice, and values in produce order per partition
(`v<seq>` with seq % partitions == partition).
"""


def read_acks(ack_file):
    """[(partition, offset, value)] of an ack file; a last line cut by a kill is skipped."""
    acked = []
    with open(ack_file) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                acked.append((int(parts[0]), int(parts[1]), parts[2]))
    return acked


def check_acked_writes(log, acked, partitions):
    """log: partition -> [(offset, value str)] from offset 0; acked: read_acks() rows."""
    for p, records in log.items():
        assert [o for o, _ in records] == list(range(len(records))), f"partition {p}: offsets have holes"
    for p, offset, value in acked:
        assert offset < len(log[p]), f"acknowledged partition {p} offset {offset} lost (log has {len(log[p])})"
        assert log[p][offset][1] == value, f"partition {p} offset {offset}: {log[p][offset][1]} != acked {value}"
    seen = set()
    for p, records in log.items():
        seqs = [int(value[1:]) for _, value in records]
        assert seqs == sorted(seqs), f"partition {p}: values out of produce order"
        for seq in seqs:
            assert seq % partitions == p, f"value {seq} in partition {p}"
            assert seq not in seen, f"value {seq} stored twice"
            seen.add(seq)
