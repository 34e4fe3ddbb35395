#pragma once
// A coordinator topic's partitions as the CoordinatorLog of its coordinator
// (Kafka's CoordinatorPartitionWriter / the state managers' appends): the
// group coordinator's __consumer_offsets and the transaction coordinator's
// __transaction_state are written and loaded the same way.
//
// Appends go through the ReplicaManager as leader with acks=all (as Kafka's
// coordinators write) and are done once the group-commit flusher synced them
// and the partition's high watermark passed them (ReplicationWait, an
// AppendWaiter): "durable" is "replicated". A lost leadership, too few
// in-sync replicas or the commit timeout fail them. Loads read committed
// records only.
//
// Threads: append() and load() on the partition's strand; `done` on the
// flusher thread or the thread that moved the high watermark (the runtime
// moves it back to the strand); check_waits() from any thread.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "cluster/replica_manager.h"
#include "coordinator/coordinator_runtime.h"
#include "record/batch_builder.h"

namespace sluice::coordinator {

struct ReplayCounts {
  size_t replayed = 0;
  size_t skipped = 0;  // records (or batches) that could not be read
};

// Feeds the records of `record_set` (whole batches, as read from the log)
// from `from_offset` on to `sink`; returns the offset after the last batch.
// A record that does not decode (any client could write one before internal
// topics were closed to them; a future record version) or a batch whose
// records cannot be read is logged with `where` and its offset, counted and
// skipped, as Kafka's coordinator loader skips unknown records: one bad
// record must not stop the broker from starting. Control batches are skipped.
// With `batch`, each batch is told to it before its records, and the
// records of control batches (transaction markers) go to `sink` too;
// without, control batches are skipped.
int64_t replay_record_set(Bytes record_set, int64_t from_offset, const RecordSink& sink,
                          const std::string& where, ReplayCounts& counts,
                          const BatchSink& batch = {});

class CoordinatorTopicLog : public CoordinatorLog {
 public:
  // `topic_missing` is told when an append finds no partition (a raw
  // request came before any FindCoordinator): it must not block.
  CoordinatorTopicLog(cluster::ReplicaManager& replicas, std::string topic, const Clock& clock,
                      std::function<void()> topic_missing, int64_t commit_timeout_ms = 5000)
      : replicas_(replicas),
        topic_(std::move(topic)),
        clock_(clock),
        topic_missing_(std::move(topic_missing)),
        commit_timeout_ms_(commit_timeout_ms) {}
  ~CoordinatorTopicLog() override;
  const std::string& topic() const { return topic_; }
  // Appends as leader with acks=all (min.insync.replicas checked; the
  // write, no sync, on the calling strand) and calls `done` once the
  // flusher synced it and the high watermark passed it: NONE, or the
  // error (UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS(_AFTER_APPEND),
  // NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, KAFKA_STORAGE_ERROR, ...).
  void append(int32_t partition, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode)> done) override;
  // The same, as a transactional batch of `producer` (TxnOffsetCommit).
  void append_transactional(int32_t partition, const TransactionalProducer& producer,
                            std::vector<CoordinatorRecord> records,
                            std::function<void(ErrorCode)> done) override;
  // The partition's log end offset (-1: not hosted here).
  int64_t load_end_offset(int32_t partition) override;
  // Up to ~1 MiB of committed records from `from_offset` (the log start if
  // earlier) fed to `sink`; NONE with no progress while the high watermark
  // is at `from_offset`.
  LoadStep load(int32_t partition, int64_t from_offset, int64_t end_offset,
                const RecordSink& sink) override;
  // The same, telling `batch` of each batch (transactional offset commits,
  // markers) before its records.
  LoadStep load_with_batches(int32_t partition, int64_t from_offset, int64_t end_offset,
                             const RecordSink& sink, const BatchSink& batch) override;
  // Feeds every record of `partition` (log start to high watermark) to
  // `sink` (replay_record_set, `batch` as there). Fails only if the
  // partition cannot be read.
  Result<ReplayCounts> replay_all(int32_t partition, const RecordSink& sink,
                                  const BatchSink& batch = {}) const;
  // Appends waiting for replication: those settled now (leadership lost:
  // the image changed) or past their timeout finish. Any thread.
  void check_waits();
  size_t waits_in_flight() const;

  class ReplicationWait;

 private:
  friend class ReplicationWait;
  void append_batch(int32_t partition, std::vector<CoordinatorRecord> records,
                    const record::BatchOptions& options, std::function<void(ErrorCode)> done,
                    const storage::AppendVerification& verification = {});
  void finished(const std::shared_ptr<ReplicationWait>& wait);
  std::string where_of(int32_t partition) const { return topic_ + "-" + std::to_string(partition); }

  cluster::ReplicaManager& replicas_;
  const std::string topic_;
  const Clock& clock_;
  std::function<void()> topic_missing_;
  const int64_t commit_timeout_ms_;
  mutable std::mutex waits_mutex_;
  std::set<std::shared_ptr<ReplicationWait>> waits_;  // held here: partitions hold them weakly
};

}  // namespace sluice::coordinator
