#pragma once
// The runtime a coordinator partition runs on (Kafka's CoordinatorRuntime
// shape): each partition of a coordinator topic (__consumer_offsets today,
// __transaction_state later) is one single-threaded state machine. An
// operation runs on its partition's strand, reads the state, and adds the
// records it wants written to a WriteBatch; the runtime appends them as one
// batch to the partition's log, and once the append is durable (or failed)
// runs each record group's `done` on the same strand, in log order. `done`
// applies the records to the state (replaying them: the path recovery takes)
// and answers, or, on failure, reverts what the operation marked pending and
// answers the error. Nothing is visible as committed before it is durable.
//
// Generic on purpose (nothing about groups here): the group coordinator
// (src/group/) and the transaction coordinator (src/txn/) run on it.
//
// Threads: run() may be called from any thread (reactors, the ticker, admin
// threads) and never blocks; the operation and every `done` run on the
// partition's strand (one thread at a time per partition, never a reactor
// with the StrandPool), so a partition's state needs no lock and no lock is
// shared by all partitions. The log's append is called on the strand.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/error_code.h"
#include "base/result.h"
#include "base/strong_types.h"
#include "storage/producer_state.h"

namespace sluice::coordinator {

// One coordinator record: key and value each int16 version + body
// (protocol/record_framing.h); a null value is a tombstone.
struct CoordinatorRecord {
  std::vector<uint8_t> key;
  std::optional<std::vector<uint8_t>> value;
};

// Where a partition's records go (Kafka's PartitionWriter). append() is
// called on the partition's strand and must not block on a disk sync; it
// calls done exactly once, from any thread, with NONE once the records are
// durable, or with the log's own error (KAFKA_STORAGE_ERROR,
// NOT_LEADER_OR_FOLLOWER, ...): the coordinator maps it to what its clients
// should see.
//
// With replicas (issue 16), "durable" means replicated: done(NONE) comes
// once the partition's high watermark passed the records (acks=all), and
// a lost leadership, too few in-sync replicas or a timeout is an error.
//
// Loading (on the partition's strand, when this broker becomes the
// partition's leader): load_end_offset() fixes where a load must reach (the
// log end at election: records the previous leader had acknowledged may be
// above this replica's high watermark still), and load() feeds the records
// from `from_offset` to `sink`, a bounded amount per call and only below the
// high watermark (state is served only once committed). The defaults load
// nothing (tests whose coordinators start empty).
using RecordSink = std::function<Status(Bytes key, std::optional<Bytes> value)>;
// The batch the records that follow came in (KIP-98): a transactional write
// carries its producer, a control batch is a transaction marker. Told
// before each batch's records when a load asks for it (load_with_batches).
struct LoadedBatch {
  int64_t base_offset = 0;
  ProducerId producer_id{-1};
  ProducerEpoch producer_epoch{-1};
  bool transactional = false;
  bool control = false;
};
using BatchSink = std::function<void(const LoadedBatch&)>;
// The producer of a transactional write (Kafka's
// scheduleTransactionalWriteOperation): its records are appended as a
// transactional batch with this producer id and epoch, completed later by
// the marker WriteTxnMarkers writes. `verification`: KIP-890's guard when
// the transaction coordinator was asked first (TxnOffsetCommit).
struct TransactionalProducer {
  ProducerId producer_id{-1};
  ProducerEpoch producer_epoch{-1};
  storage::AppendVerification verification;
  bool operator==(const TransactionalProducer&) const = default;
};
struct LoadStep {
  ErrorCode error = ErrorCode::NONE;  // the partition cannot be read here
  int64_t next_offset = 0;            // where the next call starts
  size_t replayed = 0;
  size_t skipped = 0;  // records (or batches) that could not be read
};
class CoordinatorLog {
 public:
  virtual ~CoordinatorLog() = default;
  virtual void append(int32_t partition, std::vector<CoordinatorRecord> records,
                      std::function<void(ErrorCode)> done) = 0;
  // The same as one transactional batch of `producer`. A log that cannot
  // write one refuses (UNKNOWN_SERVER_ERROR): writing the records as plain
  // ones would commit offsets the transaction may abort.
  virtual void append_transactional(int32_t /*partition*/,
                                    const TransactionalProducer& /*producer*/,
                                    std::vector<CoordinatorRecord> /*records*/,
                                    std::function<void(ErrorCode)> done) {
    done(ErrorCode::UNKNOWN_SERVER_ERROR);
  }
  virtual int64_t load_end_offset(int32_t /*partition*/) { return 0; }
  virtual LoadStep load(int32_t /*partition*/, int64_t from_offset, int64_t /*end_offset*/,
                        const RecordSink& /*sink*/) {
    return {ErrorCode::NONE, from_offset, 0, 0};
  }
  // load(), also telling `batch` of each batch before its records, and
  // feeding the records of control batches (transaction markers, which
  // load() skips) to `sink` after their batch was told. The default: load()
  // with every batch told as plain (a log without transactions).
  virtual LoadStep load_with_batches(int32_t partition, int64_t from_offset, int64_t end_offset,
                                     const RecordSink& sink, const BatchSink& /*batch*/) {
    return load(partition, from_offset, end_offset, sink);
  }
};

// Runs tasks one at a time per partition (a strand per partition), in the
// order they were posted for that partition.
class CoordinatorExecutor {
 public:
  virtual ~CoordinatorExecutor() = default;
  virtual void post(int32_t partition, std::function<void()> task) = 0;
};

// Tests and tools: runs a posted task at once on the posting thread, unless
// a task is running already (a task that posts), in which case it runs after
// it: one thread, deterministic order. Not thread-safe.
class InlineExecutor final : public CoordinatorExecutor {
 public:
  void post(int32_t partition, std::function<void()> task) override;

 private:
  std::deque<std::function<void()>> queue_;
  bool running_ = false;
};

// The broker's executor: `threads` threads serve all partitions; a
// partition with tasks is taken by one thread at a time (Kafka's
// multi-threaded event processor with its per-key accumulator), so partitions
// run in parallel and each stays single-threaded. stop() runs what was
// posted before it and joins; a task posted after stop() runs on the posting
// thread, one at a time (late flusher callbacks at shutdown; a blocking
// admin call racing the stop must not wait forever).
class StrandPool final : public CoordinatorExecutor {
 public:
  StrandPool(int32_t partitions, size_t threads);
  ~StrandPool() override;
  StrandPool(const StrandPool&) = delete;
  StrandPool& operator=(const StrandPool&) = delete;

  void post(int32_t partition, std::function<void()> task) override;
  void stop();

 private:
  struct Strand {
    std::deque<std::function<void()>> tasks;
    bool scheduled = false;  // in ready_ or being run by a thread
  };
  void work();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Strand> strands_;
  std::deque<int32_t> ready_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::recursive_mutex after_stop_mutex_;  // a task run after stop may post
  std::vector<std::thread> threads_;
};

// The records an operation wants written, each group with what to do once
// it is durable (NONE) or failed. One operation's plain records are
// appended as one batch: all are durable or none is. Transactional records
// (add_transactional) go in a batch of their own per producer, appended in
// the order they were added relative to the plain ones.
class WriteBatch {
 public:
  void add(std::vector<CoordinatorRecord> records, std::function<void(ErrorCode)> done);
  void add_transactional(const TransactionalProducer& producer,
                         std::vector<CoordinatorRecord> records,
                         std::function<void(ErrorCode)> done);
  bool empty() const;

 private:
  friend class CoordinatorRuntime;
  // Consecutive adds of the same kind (plain, or one producer) share a part.
  struct Part {
    std::optional<TransactionalProducer> producer;
    std::vector<CoordinatorRecord> records;
    std::vector<std::function<void(ErrorCode)>> done;
  };
  Part& part_for(const std::optional<TransactionalProducer>& producer);
  std::vector<Part> parts_;
};

class CoordinatorRuntime {
 public:
  // `log` and `executor` outlive the runtime.
  CoordinatorRuntime(int32_t partitions, CoordinatorLog& log, CoordinatorExecutor& executor);
  CoordinatorRuntime(const CoordinatorRuntime&) = delete;
  CoordinatorRuntime& operator=(const CoordinatorRuntime&) = delete;

  int32_t partitions() const { return static_cast<int32_t>(partitions_.size()); }

  // Runs `operation` on `partition`'s strand; then appends what it added to
  // the batch and, when the append finishes, runs the dones on the strand in
  // the order the batches were appended (a later append that finishes first
  // waits for the earlier ones: state is applied in log order).
  void run(int32_t partition, std::function<void(WriteBatch&)> operation);
  // The same, already on `partition`'s strand (from a `done`, which may
  // itself need to write): runs `operation` now.
  void run_here(int32_t partition, const std::function<void(WriteBatch&)>& operation);

  // Runs `task` on `partition`'s strand (reads, and work that writes nothing).
  void post(int32_t partition, std::function<void()> task) {
    executor_.post(partition, std::move(task));
  }

 private:
  struct InFlight {
    std::vector<std::function<void(ErrorCode)>> done;
    std::optional<ErrorCode> result;  // set when the append finished
  };
  struct Partition {
    std::deque<std::shared_ptr<InFlight>> in_flight;  // append order; strand-only
  };
  void append(int32_t partition, WriteBatch::Part part);
  // On the strand: completes finished appends from the oldest on.
  void complete_in_order(int32_t partition);

  CoordinatorLog& log_;
  CoordinatorExecutor& executor_;
  std::vector<Partition> partitions_;
};

}  // namespace sluice::coordinator
