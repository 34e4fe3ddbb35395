#pragma once
// A deterministic simulation of one replicated partition (issue 16): the
// real data path of N brokers (each a storage::LogManager on its own
// MemoryFileSystem, a ReplicaManager and its cluster::Partition) and the
// real controller (Controller on a MemoryFileSystem with a ManualClock:
// registrations, heartbeats, session fencing, AlterPartition, elections
// through PartitionChangeBuilder), driven by one seeded event queue.
//
// What the simulator plays, in the broker's place:
//   - the follower's fetch loop (replica_fetcher.cc): Fetch from its log end
//     with its last fetched epoch, answered by the leader's
//     Partition::read_for_replica as broker/replication.cc answers it, and
//     applied by apply_fetched_partition() (replication_rules.h), the
//     function the fetcher thread calls;
//   - acks=all producers: Partition::append_as_leader, then the answer of
//     acks_all_outcome() (replication_rules.h), the rule of the broker's
//     acks=all wait, re-evaluated after every event;
//   - ISR changes: isr_shrink() every replica.lag.time.max.ms / 2,
//     isr_expand() when a fetch says a replica may join, AlterPartition to
//     the controller and isr_change_done() with its answer (IsrManager);
//   - metadata: each broker pulls the controller's image now and then and
//     applies it with ReplicaManager::apply_image (leaders, epochs, ISR);
//   - faults: messages dropped or delayed, network partitions (the
//     controller is a node too), broker crashes (kill -9: what was written
//     stays in the page cache; or, with `power_loss`, a power failure that
//     loses what was not fsynced) and restarts with a new incarnation.
//
// The invariants (checked after every event; the first violation stops the
// run and is reported with the seed and the last events):
//   - every record acknowledged with acks=all is committed: the leader's
//     batches below its high watermark, byte for byte;
//   - the committed prefix is never changed: every live member of the ISR
//     (the controller's), every leader of the current epoch and, below its
//     own high watermark, every replica that has heard from a leader holds
//     it byte for byte;
//   - a leader's high watermark never goes back within its epoch, and sits
//     on a batch boundary;
//   - after the faults stop: one leader, the ISR back to every replica,
//     every log equal to the leader's with the high watermark at its end,
//     and every acknowledged record in it (nothing acknowledged lost).

#include <cstdint>
#include <string>

namespace sluice::cluster::psim {

// Rules broken on purpose: the invariants must catch them.
struct Faults {
  // The leader believes one ISR follower (the highest id) has everything it
  // appended: its high watermark ignores where that member really is.
  bool high_watermark_ignores_a_follower = false;
  // unclean.leader.election.enable=true: a replica outside the ISR may
  // lead (and the acknowledged records it lacks are lost).
  bool unclean_election = false;
};

struct Options {
  uint64_t seed = 1;
  int brokers = 3;
  int replication_factor = 3;
  int32_t min_insync_replicas = 2;
  int64_t fault_phase_ms = 6'000;
  int64_t calm_phase_ms = 6'000;  // no faults: the partition must converge
  double drop_rate = 0.05;
  int64_t max_delay_ms = 15;
  int64_t crash_every_ms = 1'500;  // mean time between broker crashes (0: none)
  int64_t restart_after_ms = 800;  // mean time a crashed broker stays down
  // A crash is a power failure (what was not fsynced is lost) this often;
  // the logs then fsync every append (flush.messages=1; the leader as with
  // sluice.produce.fsync=true), the only settings under which acknowledged
  // records survive losing the machines, in Kafka too.
  double power_loss_rate = 0.0;
  int64_t partition_every_ms = 2'500;  // mean time between network partitions (0: none)
  int64_t produce_every_ms = 25;
  uint64_t fetch_max_bytes = 300;    // small: a follower catches up in several fetches
  int64_t lag_max_ms = 400;          // replica.lag.time.max.ms
  int64_t session_timeout_ms = 600;  // broker.session.timeout.ms
  int64_t heartbeat_every_ms = 100;
  int64_t metadata_every_ms = 60;  // how often a broker pulls the controller's image
  int64_t request_timeout_ms = 300;
  Faults faults;
};

struct Result {
  bool ok = true;
  std::string violation;  // the invariant broken, the state, the last events
  int64_t events = 0;
  int64_t acknowledged = 0;    // acks=all batches acknowledged
  int64_t committed = 0;       // the committed end offset
  int64_t leader_changes = 0;  // leader epochs seen in the controller's image
  int64_t isr_changes = 0;     // AlterPartition accepted
  int64_t truncations = 0;     // followers cutting a divergent tail
  int64_t crashes = 0;
  int64_t power_losses = 0;
};

Result run(const Options& options);

}  // namespace sluice::cluster::psim
