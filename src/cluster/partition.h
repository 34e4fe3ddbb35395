#pragma once
// One partition this broker hosts: its log (storage::ManagedLog), its
// leadership state from the metadata image (leader, leader epoch, ISR), its
// high watermark, and the waiters of long-poll fetches.
//
// Concurrency: every method may be called from any thread; appends run on
// the broker's append lanes (Produce) or a coordinator's strand, never on a
// reactor, since the write may wait for writeback. The partition
// lock is the ManagedLog's mutex; it guards the log and the leadership state
// and is held only for the in-memory part of an append or a read (DESIGN.md):
// validation, offset assignment and the write to the page cache. Reading the
// bytes of a returned FileRange, fsync (the Flusher) and waking waiters
// happen outside it.
//
// High watermark: on the leader, the lowest log end offset over the ISR
// (replica_state.h; on a single node every append moves it to the log end),
// never moving back; on a follower, the leader's, capped at its log end.
// At construction: the replication-offset-checkpoint's (restored into the
// ManagedLog by the LogManager), clamped to [log start, log end], or the log
// start without one (Kafka's); a leader whose ISR is itself alone moves it to
// the log end at its first update().

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/error_code.h"
#include "base/metrics.h"
#include "base/strong_types.h"
#include "base/uuid.h"
#include "cluster/metadata_image.h"
#include "cluster/replica_selector.h"
#include "cluster/replica_state.h"
#include "record/types.h"
#include "storage/managed_log.h"

namespace sluice::cluster {

// Maps a storage/record Status to the Kafka error a client should see.
ErrorCode error_code_for(const Status& status);

// A long-poll fetch (or anything else) waiting for new data in a partition.
class AppendWaiter {
 public:
  virtual ~AppendWaiter() = default;
  // Called after an append moved the high watermark, on the appending
  // thread (a Produce append lane, a coordinator's strand), with no lock
  // held. Must be short and must not block: a parked fetch posts its look
  // and answer to its own reactor.
  virtual void on_new_data() = 0;
};

// The topic-level settings the leader applies on append (Kafka's topic
// config names), beyond the LogConfig the log itself honours.
struct AppendPolicy {
  bool log_append_time = false;                 // message.timestamp.type=LogAppendTime
  int32_t min_insync_replicas = 1;              // min.insync.replicas
  int64_t timestamp_before_max_ms = INT64_MAX;  // message.timestamp.before.max.ms
  int64_t timestamp_after_max_ms = INT64_MAX;   // message.timestamp.after.max.ms
  // compression.type; nullopt is `producer` (keep the client's codec). Only
  // the up-conversion of legacy message sets (Produce v0-2) recompresses.
  std::optional<record::Compression> compression_type;
  bool message_downconversion_enable = true;  // message.downconversion.enable (Fetch v0-3)
};

// Per-topic traffic counters (Kafka's BrokerTopicMetrics), shared by the
// topic's partitions and resolved once per Partition, so the data path
// records without a lookup: sluice_topic_bytes_in_total,
// sluice_topic_messages_in_total, sluice_topic_bytes_out_total {topic}.
struct TopicMetrics {
  metrics::Counter* bytes_in;
  metrics::Counter* messages_in;
  metrics::Counter* bytes_out;
};
TopicMetrics topic_metrics(const std::string& topic);

struct PartitionAppendResult {
  ErrorCode error = ErrorCode::NONE;
  std::string error_message;
  // Index (in the batch) of the record that caused an INVALID_TIMESTAMP or
  // INVALID_RECORD error, when known.
  std::optional<int32_t> record_error_index;
  int64_t base_offset = -1;
  int64_t next_offset = -1;  // the log end offset after the append
  int64_t log_append_time_ms = -1;
  int64_t log_start_offset = -1;
  bool flush_due = false;  // flush.messages / flush.ms say the log should be flushed now
  // The leader epoch the batch was written in: an acks=all wait for it
  // holds only while this node leads in that epoch (replication_rules.h).
  int32_t leader_epoch = -1;
  // A retry of a batch already written (storage::AppendResult::duplicate):
  // base_offset/next_offset are the original's; nothing was appended.
  bool duplicate = false;
};

// Where an acks=all batch stands (Partition::append_commit).
enum class AppendCommit { committed, waiting, not_leader };

struct PartitionReadResult {
  ErrorCode error = ErrorCode::NONE;
  storage::FileRange range;  // length 0: nothing to return
  storage::FileRange cold;   // ReadWait::nowait only: see storage::ReadResult::cold
  // ReadWait::nowait only: the partition lock was held (an append may be in
  // a pwrite the kernel throttles); nothing was read. Read again where
  // waiting for the lock is allowed.
  bool busy = false;
  int64_t high_watermark = -1;
  int64_t last_stable_offset = -1;
  int64_t log_start_offset = -1;
  int64_t log_end_offset = -1;
  // read_committed reads only (Fetch v4+ isolation_level 1): the aborted
  // transactions overlapping the range returned (Kafka's
  // collectAbortedTransactions); nullopt for read_uncommitted.
  std::optional<std::vector<storage::AbortedTxn>> aborted_txns;
};

// Replication (issue 16): a leader's answer to a follower's Fetch.
struct ReplicaReadResult {
  PartitionReadResult read;
  // Set when the follower's last fetched epoch diverges from this log
  // (KIP-320/595): the largest epoch <= it here and where that epoch ends.
  std::optional<int32_t> diverging_epoch;
  int64_t diverging_end_offset = -1;
  bool may_join_isr = false;  // not in the ISR and caught up: ask to expand
};

// An ISR change a leader asks the controller for (AlterPartition).
struct IsrChange {
  Uuid topic_id;
  std::string topic;
  int32_t partition = 0;
  int32_t leader_epoch = 0;
  int32_t partition_epoch = 0;
  std::vector<int32_t> new_isr;
};

// Where a follower fetches from next.
struct FollowerPosition {
  bool follower = false;  // this node hosts the partition and another node leads it
  int32_t leader = -1;
  int32_t leader_epoch = -1;
  int64_t log_end_offset = 0;
  int32_t last_fetched_epoch = -1;  // the log's latest epoch, -1 if none
};

// A partition's replication as this node sees it, for metrics and the admin
// API (partition_status.cc): a copy taken under the partition's lock.
struct ReplicationStatus {
  bool leader = false;  // this node leads it
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  int32_t min_insync_replicas = 1;
  int64_t log_end_offset = -1;
  // Leader only: each follower's lag in records behind this log's end (a
  // follower not heard from since this node leads counts the whole log).
  std::vector<std::pair<int32_t, int64_t>> follower_lag_records;
};

struct PartitionOffsets {
  int64_t log_start_offset = -1;
  int64_t high_watermark = -1;
  int64_t log_end_offset = -1;
  uint64_t size_bytes = 0;
};

// Who may serve a read (Kafka's FetchParams.fetchOnlyLeader): a follower's
// Fetch, a consumer's before Fetch v11 and most offset lookups need the
// leader; a consumer's Fetch v11+ (KIP-392) and a debugging ListOffsets may
// be served by any replica hosting the log, up to its high watermark.
enum class ReadFrom { leader, any_replica };

// Kafka's ListOffsetsRequest.CONSUMER_REPLICA_ID and DEBUGGING_REPLICA_ID.
inline constexpr int32_t consumer_replica_id = -1;
inline constexpr int32_t debugging_replica_id = -2;

// Offsets and leader epochs cross this interface as base/strong_types.h's
// Offset and LeaderEpoch (issue 13, point 6), so an offset and an epoch
// cannot be passed in each other's place (partition_strong_types_test.cc).
class Partition {
 public:
  // `clock`: the monotonic time update() stamps a new leader's followers
  // with (the partition simulation passes its own; outlives the Partition).
  Partition(storage::TopicPartition tp, Uuid topic_id, std::shared_ptr<storage::ManagedLog> log,
            int32_t local_node_id, const Clock& clock = system_clock());

  const storage::TopicPartition& topic_partition() const { return tp_; }
  const Uuid& topic_id() const { return topic_id_; }
  const std::shared_ptr<storage::ManagedLog>& managed_log() const { return log_; }
  // Recorded by the Produce and Fetch handlers.
  const TopicMetrics& metrics() const { return metrics_; }

  // Takes the leadership state (leader, epoch, ISR) and the append policy
  // from the metadata image. Called by the ReplicaManager.
  void update(const PartitionImage& image, const AppendPolicy& policy);
  int32_t leader_id() const;
  int32_t leader_epoch() const;
  // The topic settings of the last update().
  AppendPolicy append_policy() const;

  // Kafka's checks of a client's view: NOT_LEADER_OR_FOLLOWER if this node
  // does not lead, FENCED_LEADER_EPOCH if `current_leader_epoch` is older
  // than ours, UNKNOWN_LEADER_EPOCH if newer; -1 skips the epoch check.
  // KAFKA_STORAGE_ERROR if the log dir is offline.
  ErrorCode check_leader(LeaderEpoch current_leader_epoch) const;

  // Leader append of one Produce record set (rewritten in place: offsets,
  // epoch, maybe log-append time). `required_acks` -1 checks
  // min.insync.replicas against the ISR first. On success the high
  // watermark is the new log end offset and waiters have been woken.
  // Batches with a producer id are checked against the producer state
  // (`origin`: client for Produce, coordinator for a coordinator's own
  // transactional writes; storage/producer_state.h): a refused set answers
  // Kafka's code, a duplicate the original batch's offsets (`duplicate`).
  // `verification`: KIP-890's guard (start_txn_verification) for a
  // Produce's transactional batch.
  PartitionAppendResult append_as_leader(
      std::span<uint8_t> records, int16_t required_acks, int64_t now_ms,
      storage::AppendOrigin origin = storage::AppendOrigin::client,
      const storage::AppendVerification& verification = {});

  // KIP-890 part 1, before a Produce's transactional batch is appended
  // (Kafka's Partition.maybeStartTransactionVerification): the guard its
  // append must carry once the transaction coordinator confirmed the
  // partition is in the transaction; the sentinel when the producer's
  // transaction is already ongoing here. NOT_LEADER_OR_FOLLOWER (or
  // KAFKA_STORAGE_ERROR) when this node cannot append.
  struct TxnVerificationStart {
    ErrorCode error = ErrorCode::NONE;
    storage::VerificationGuard guard = storage::no_verification_guard;
  };
  TxnVerificationStart start_txn_verification(int64_t producer_id, int32_t sequence, int16_t epoch,
                                              int64_t now_ms);

  // Consumer read: whole batches from the one holding `offset`, up to
  // `max_bytes` (at least one batch if `min_one_batch`), never at or beyond
  // the high watermark. OFFSET_OUT_OF_RANGE outside [log start, log end].
  // `wait` nowait (reactor threads): a header not in the page cache is not
  // read; `cold` then names what to bring in, with no lock held, before
  // reading again (storage::ReadWait); and a partition lock held by someone
  // else is not waited for (`busy`). `from` any_replica: a follower serves
  // it too (KIP-392), from its own log and high watermark, with the same
  // epoch checks (Kafka's Partition.getLocalLog).
  // `read_committed` (isolation_level 1): up to the last stable offset
  // instead, with the aborted transactions overlapping the range.
  PartitionReadResult read(Offset offset, LeaderEpoch current_leader_epoch, uint64_t max_bytes,
                           bool min_one_batch,
                           storage::ReadWait wait = storage::ReadWait::may_block,
                           ReadFrom from = ReadFrom::leader, bool read_committed = false) const;

  // ListOffsets: earliest (-2), latest (-1, the high watermark), max
  // timestamp (-3) or the first offset with a timestamp >= `timestamp_ms`.
  // `replica_id` as Kafka's ReplicaManager.fetchOffset reads it: a consumer
  // (-1) sees up to the high watermark and gets OFFSET_NOT_AVAILABLE while a
  // new leader's high watermark is below the start of its epoch; any other
  // asker sees up to the log end; the debugging id (-2) may ask a follower.
  struct ListedOffset {
    ErrorCode error = ErrorCode::NONE;
    int64_t offset = -1;
    int64_t timestamp_ms = -1;
    int32_t leader_epoch = -1;
  };
  // `read_committed` (isolation_level READ_COMMITTED, v2+): a consumer sees
  // up to the last stable offset instead (latest answers it).
  ListedOffset list_offset(int64_t timestamp_ms, LeaderEpoch current_leader_epoch,
                           int32_t replica_id = -1, bool read_committed = false) const;

  // ListOffsets v0 (Kafka's Partition.legacyFetchOffsetsForTimestamp): up to
  // `max_count` segment start offsets before `timestamp_ms`, largest first
  // (storage::Log::legacy_offsets_before). A consumer sees none above the
  // high watermark: those give way to the high watermark itself.
  struct LegacyOffsets {
    ErrorCode error = ErrorCode::NONE;
    std::vector<int64_t> offsets;
  };
  LegacyOffsets legacy_list_offsets(int64_t timestamp_ms, int32_t max_count, bool from_consumer,
                                    int64_t now_ms) const;

  // OffsetForLeaderEpoch: the end offset of `epoch` (the start of the next
  // larger epoch, or the log end offset for the latest one).
  struct EpochEnd {
    ErrorCode error = ErrorCode::NONE;
    int32_t leader_epoch = -1;
    int64_t end_offset = -1;
  };
  EpochEnd end_offset_for_epoch(LeaderEpoch epoch, LeaderEpoch current_leader_epoch) const;

  // DeleteRecords: raises the log start offset to `offset` (-1: the high
  // watermark). OFFSET_OUT_OF_RANGE above the high watermark. Returns the
  // new low watermark (log start offset).
  struct Deleted {
    ErrorCode error = ErrorCode::NONE;
    int64_t low_watermark = -1;
  };
  Deleted delete_records_before(Offset offset);

  // --- Replication (issue 16; Kafka's Partition) ---
  // The ISR of the last update() or applied AlterPartition answer.
  std::vector<int32_t> isr() const;
  // Replicas, ISR, min.insync.replicas and followers' lag (partition_status.cc).
  ReplicationStatus replication_status() const;
  // Leader: a follower's Fetch (read up to the log end, not the high
  // watermark). Records where the follower is, advances the high watermark
  // (waiters are woken) and says whether it may join the ISR; when its last
  // fetched epoch diverges from this log, answers the divergence instead
  // (nothing is read or recorded). NOT_LEADER_OR_FOLLOWER for a replica
  // the partition does not list.
  ReplicaReadResult read_for_replica(int32_t replica_id, int64_t replica_epoch, Offset fetch_offset,
                                     LeaderEpoch last_fetched_epoch,
                                     LeaderEpoch current_leader_epoch, uint64_t max_bytes,
                                     int64_t now_ms,
                                     storage::ReadWait wait = storage::ReadWait::may_block);
  // Leader: the replicas a consumer fetching at `fetch_offset` may be sent
  // to (KIP-392; Kafka's ReplicaManager.findPreferredReadReplica): this
  // leader first, then each ISR follower whose log reaches the offset
  // (racks left unset: the caller knows the brokers). Empty when this node
  // does not lead.
  std::vector<ReadReplica> read_replicas(Offset fetch_offset, int64_t now_ms) const;
  // Follower: the position to fetch from.
  FollowerPosition follower_position() const;
  // Follower: appends what the leader of `fetched_in` sent (offsets and
  // epochs kept) and takes its high watermark (capped at the log end).
  // FENCED_LEADER_EPOCH, nothing done, when this node leads or the leader
  // epoch moved since the fetch was sent.
  ErrorCode append_as_follower(LeaderEpoch fetched_in, Bytes records, Offset leader_high_watermark);
  // Follower: cuts the log back to `offset` (a divergent tail), same checks.
  ErrorCode truncate_as_follower(LeaderEpoch fetched_in, Offset offset);
  // Follower: the leader's log starts past this log's end (retention ran
  // while this replica was away): empties the log and restarts it at
  // `leader_log_start` (Kafka's truncateFullyAndStartAt). Same checks.
  ErrorCode restart_as_follower_at(LeaderEpoch fetched_in, Offset leader_log_start);
  // Follower: a Fetch answered DivergingEpoch (`epoch`, `end_offset`): cuts
  // the log where follower_truncation_offset() says.
  ErrorCode truncate_on_divergence(LeaderEpoch fetched_in, int32_t epoch, int64_t end_offset);
  // Follower, Kafka's Truncating state (ReplicaFetcherThread's
  // fetchEpochEndOffsets): nullopt when the log is empty or its leader epoch
  // cache has an entry for its last batch (the Fetch's DivergingEpoch then
  // finds any divergence); else the last batch's partition leader epoch to
  // ask the leader about with OffsetsForLeaderEpoch (-1: the batch has none:
  // truncate to the high watermark without asking). Reads the last batch's
  // header: for the fetcher thread, at assignment, not per fetch.
  std::optional<int32_t> tail_epoch_without_entry() const;
  // Follower: the leader's OffsetsForLeaderEpoch answer (`leader_epoch`,
  // `leader_end_offset`) to `requested_epoch`: cuts the log where
  // epoch_end_truncation_offset() says. `done` false: ask again (the leader
  // knew an older epoch only and the log got shorter). Same checks as
  // truncate_as_follower.
  struct EpochTruncation {
    ErrorCode error = ErrorCode::NONE;
    bool done = true;
    int64_t offset = -1;  // where the log was cut (or its end if nothing was)
  };
  EpochTruncation truncate_to_epoch_end(LeaderEpoch fetched_in, int32_t requested_epoch,
                                        int32_t leader_epoch, int64_t leader_end_offset);
  // Leader: the ISR without the members not caught up for `lag_max_ms`, or
  // nothing when none lags or a change is in flight (then marked in flight).
  std::optional<IsrChange> isr_shrink(int64_t now_ms, int64_t lag_max_ms);
  // Leader: the ISR with `replica_id` added, if it may join and no change is
  // in flight (then marked in flight).
  std::optional<IsrChange> isr_expand(int32_t replica_id);
  // The controller's answer to the change in flight: `isr` and
  // `partition_epoch` are applied when newer than what this node knows. An
  // accepted answer no newer than that is stale (the image brought it
  // first): a change in flight now is a later one and stays (found by the
  // partition simulation: a late answer to a shrink ended the expansion
  // sent after it, and the high watermark left the new member behind).
  void isr_change_done(bool accepted, int32_t partition_epoch, const std::vector<int32_t>& isr);
  // The change in flight got no answer, or `error`. Only an answer saying
  // it was not applied (OPERATION_NOT_ATTEMPTED, INELIGIBLE_REPLICA) ends
  // it (true); otherwise the controller may have committed it, so it stays
  // in flight and its members keep bounding the high watermark (Kafka's
  // maximal ISR) until an image says how it ended or a retry is answered
  // (isr_change_to_retry). Found by the partition simulation: an expansion
  // whose answer was lost let the leader commit what the new member lacked.
  // `proposed`: the ISR the failed request asked for; an answer to another
  // change than the one in flight (an older one, answered late) is ignored.
  bool isr_change_failed(ErrorCode error, const std::vector<int32_t>& proposed);
  // Leader: the change in flight again, once per failure, to resend
  // (Kafka's AlterPartitionManager retries), or nothing.
  std::optional<IsrChange> isr_change_to_retry();
  bool isr_change_in_flight() const;
  // acks=all: a batch this node appended as leader in `leader_epoch`, up to
  // `end_offset`, is committed once the high watermark reaches its end while
  // this node still leads in that epoch; not_leader once it no longer does.
  // A follower's high watermark comes from another leader's log, which may
  // have cut the batch away and written others at its offsets: it says
  // nothing about the batch (Kafka's DelayedProduce answers
  // NOT_LEADER_OR_FOLLOWER then).
  AppendCommit append_commit(int32_t leader_epoch, int64_t end_offset) const;
  // Monotonic milliseconds, the clock of the replication calls above.
  static int64_t monotonic_ms();

  PartitionOffsets offsets() const;
  int64_t high_watermark() const { return high_watermark_.load(std::memory_order_acquire); }

  // Waiters are held weakly and woken after every append that moves the
  // high watermark; a waiter that has gone (expired) is dropped.
  void add_waiter(std::weak_ptr<AppendWaiter> waiter);
  size_t waiter_count() const;

 private:
  // Under the partition lock; `freed`: segment files to remove now (a full disk).
  Deleted delete_records_locked(int64_t offset, std::vector<std::string>& freed);
  void set_high_watermark_locked(int64_t offset);
  int64_t initial_high_watermark_locked() const;
  // Leader: moves the high watermark to the ISR's lowest log end offset if
  // that is higher; true if it moved.
  bool advance_high_watermark_locked();
  // The ISR the high watermark waits for: the ISR and, while a change is in
  // flight, its new members too (Kafka's maximal ISR).
  std::vector<int32_t> maximal_isr_locked() const;
  IsrChange isr_change_locked(std::vector<int32_t> new_isr);
  void wake_waiters();
  bool leads_locked() const { return leader_id_ == local_node_id_; }
  // Kafka's getLocalLog: the epoch first, then (if `from` says) leadership.
  ErrorCode check_leader_locked(int32_t current_leader_epoch,
                                ReadFrom from = ReadFrom::leader) const;
  void answer_unwritten(const storage::AppendResult& appended, PartitionAppendResult& result) const;
  ErrorCode check_timestamps(std::span<const uint8_t> records, int64_t now_ms,
                             std::optional<int32_t>& record_index) const;

  const storage::TopicPartition tp_;
  const Uuid topic_id_;
  const std::shared_ptr<storage::ManagedLog> log_;
  const int32_t local_node_id_;
  const Clock& clock_;
  const TopicMetrics metrics_;

  // Guarded by log_->mutex().
  int32_t leader_id_ = -1;
  int32_t leader_epoch_ = 0;
  size_t isr_size_ = 0;
  AppendPolicy policy_;
  // Replication state, guarded by log_->mutex() too.
  std::vector<int32_t> replicas_;
  std::vector<int32_t> isr_;
  int32_t partition_epoch_ = -1;
  Followers followers_;                              // leader only: every other replica
  int64_t leader_epoch_start_offset_ = 0;            // the log end when this node became leader
  std::optional<std::vector<int32_t>> pending_isr_;  // an AlterPartition in flight
  bool pending_isr_failed_ = false;                  // ... whose last try failed

  std::atomic<int64_t> high_watermark_{0};

  mutable std::mutex waiters_mutex_;
  std::vector<std::weak_ptr<AppendWaiter>> waiters_;
};

}  // namespace sluice::cluster
