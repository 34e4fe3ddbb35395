// Producer state (storage/producer_state.h): Kafka's sequence, epoch and
// duplicate rules, on the manager alone and through Log appends.
#include "storage/producer_state.h"

#include <gtest/gtest.h>

#include "log_test_util.h"
#include "record/batch_builder.h"
#include "storage/log.h"
#include "storage/memory_file_system.h"
#include "storage/producer_snapshot.h"
#include "test_util.h"

namespace sluice::storage {
namespace {

constexpr int64_t pid = 1000;

struct BatchSpec {
  int64_t producer_id = pid;
  int16_t epoch = 0;
  int32_t sequence = 0;
  int count = 1;
  bool transactional = false;
  int64_t timestamp_ms = 5000;
};

std::vector<uint8_t> producer_batch(const BatchSpec& spec) {
  record::BatchOptions options;
  options.producer_id = spec.producer_id;
  options.producer_epoch = spec.epoch;
  options.base_sequence = spec.sequence;
  options.transactional = spec.transactional;
  record::BatchBuilder builder(options);
  const std::string value = "v";
  for (int i = 0; i < spec.count; ++i)
    builder.append(spec.timestamp_ms + i, std::nullopt,
                   Bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  auto built = builder.build();
  SLUICE_ASSERT(built.is_ok(), "test batch must build");
  return std::move(built).value();
}

std::vector<uint8_t> marker_batch(int16_t epoch, bool commit, int32_t coordinator_epoch) {
  record::BatchOptions options;
  options.producer_id = pid;
  options.producer_epoch = epoch;
  auto built = record::build_end_txn_marker(
      commit ? record::ControlType::commit : record::ControlType::abort, coordinator_epoch, 7000,
      options);
  SLUICE_ASSERT(built.is_ok(), "marker must build");
  return std::move(built).value();
}

record::BatchHeader header_at(int64_t base_offset, const BatchSpec& spec) {
  auto bytes = producer_batch(spec);
  auto header = record::read_batch_header(bytes);
  SLUICE_ASSERT(header.is_ok(), "header must parse");
  header->base_offset = base_offset;
  return *header;
}

class ProducerStateTest : public ::testing::Test {
 protected:
  // Checks and installs one batch at `offset`; returns the error code.
  ErrorCode append(int64_t offset, const BatchSpec& spec,
                   AppendOrigin origin = AppendOrigin::client,
                   const AppendVerification& verification = {}) {
    ProducerUpdates updates;
    auto header = header_at(offset, spec);
    ProducerError e = state_.prepare(header, std::nullopt, origin, updates, verification);
    if (!e) state_.apply(updates, header.next_offset());
    return e.code;
  }
  ProducerStateManager state_{TopicPartition{"t", 0}};
};

TEST_F(ProducerStateTest, InSequenceBatchesAreTakenAndRemembered) {
  EXPECT_EQ(append(0, {.sequence = 0, .count = 3}), ErrorCode::NONE);
  EXPECT_EQ(append(3, {.sequence = 3, .count = 2}), ErrorCode::NONE);
  const ProducerEntry* entry = state_.find(pid);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->producer_epoch, 0);
  EXPECT_EQ(entry->first_sequence(), 0);
  EXPECT_EQ(entry->last_sequence(), 4);
  EXPECT_EQ(entry->last_data_offset(), 4);
  EXPECT_EQ(entry->last_timestamp_ms, 5001);
  EXPECT_EQ(state_.map_end_offset(), 5);
}

TEST_F(ProducerStateTest, GapIsOutOfOrderAndChangesNothing) {
  ASSERT_EQ(append(0, {.sequence = 0, .count = 2}), ErrorCode::NONE);
  EXPECT_EQ(append(2, {.sequence = 3}), ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_EQ(state_.find(pid)->last_sequence(), 1);
  EXPECT_EQ(append(2, {.sequence = 2}), ErrorCode::NONE);
}

TEST_F(ProducerStateTest, DuplicateOfAnyOfTheLastFiveBatches) {
  for (int i = 0; i < 6; ++i) ASSERT_EQ(append(i, {.sequence = i}), ErrorCode::NONE);
  // Batches with sequences 1..5 are retained; 0 dropped out.
  for (int i = 1; i < 6; ++i) {
    auto duplicate = state_.find_duplicate(header_at(100, {.sequence = i}));
    ASSERT_TRUE(duplicate) << i;
    EXPECT_EQ(duplicate->first_offset, i);
  }
  EXPECT_FALSE(state_.find_duplicate(header_at(100, {.sequence = 0})));
  // Another epoch or another range is no duplicate.
  EXPECT_FALSE(state_.find_duplicate(header_at(100, {.epoch = 1, .sequence = 3})));
  EXPECT_FALSE(state_.find_duplicate(header_at(100, {.sequence = 3, .count = 2})));
  // Sequence 0 left the window: its replay is out of order.
  EXPECT_EQ(append(6, {.sequence = 0}), ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
}

TEST_F(ProducerStateTest, EpochRules) {
  ASSERT_EQ(append(0, {.epoch = 3, .sequence = 0, .count = 2}), ErrorCode::NONE);
  EXPECT_EQ(append(2, {.epoch = 2, .sequence = 2}), ErrorCode::INVALID_PRODUCER_EPOCH);
  // A new epoch must start at sequence 0.
  EXPECT_EQ(append(2, {.epoch = 4, .sequence = 5}), ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_EQ(append(2, {.epoch = 4, .sequence = 0}), ErrorCode::NONE);
  EXPECT_EQ(state_.find(pid)->producer_epoch, 4);
  EXPECT_EQ(state_.find(pid)->batches.size(), 1u);
}

TEST_F(ProducerStateTest, UnknownProducerTakesAnySequence) {
  // KIP-360: Kafka no longer answers UNKNOWN_PRODUCER_ID on Produce.
  EXPECT_EQ(append(0, {.sequence = 42}), ErrorCode::NONE);
  EXPECT_EQ(append(1, {.sequence = 44}), ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_EQ(append(1, {.sequence = 43}), ErrorCode::NONE);
}

TEST_F(ProducerStateTest, SequenceWrapsAtIntMax) {
  const int32_t max = std::numeric_limits<int32_t>::max();
  ASSERT_EQ(append(0, {.sequence = max - 1, .count = 2}), ErrorCode::NONE);
  EXPECT_EQ(state_.find(pid)->last_sequence(), max);
  EXPECT_EQ(append(2, {.sequence = 0}), ErrorCode::NONE);
  // A batch crossing the wrap.
  ProducerStateManager other{TopicPartition{"t", 1}};
  ProducerUpdates updates;
  auto header = header_at(0, {.sequence = max, .count = 3});
  ASSERT_FALSE(other.prepare(header, std::nullopt, AppendOrigin::client, updates));
  other.apply(updates, 3);
  EXPECT_EQ(other.find(pid)->first_sequence(), max);
  EXPECT_EQ(other.find(pid)->last_sequence(), 1);
  EXPECT_TRUE(other.find_duplicate(header_at(9, {.sequence = max, .count = 3})));
}

TEST_F(ProducerStateTest, ReplicationIsNotChecked) {
  ASSERT_EQ(append(0, {.epoch = 5, .sequence = 0}), ErrorCode::NONE);
  EXPECT_EQ(append(1, {.epoch = 5, .sequence = 9}, AppendOrigin::replication), ErrorCode::NONE);
  EXPECT_EQ(append(2, {.epoch = 4, .sequence = 0}, AppendOrigin::replication), ErrorCode::NONE);
  // The coordinator's batches (no sequences) are checked for their epoch only.
  EXPECT_EQ(append(3, {.epoch = 5, .sequence = -1}, AppendOrigin::coordinator), ErrorCode::NONE);
  EXPECT_EQ(append(4, {.epoch = 3, .sequence = -1}, AppendOrigin::coordinator),
            ErrorCode::INVALID_PRODUCER_EPOCH);
}

TEST_F(ProducerStateTest, TransactionsOpenAndMarkersEndThem) {
  ASSERT_EQ(append(0, {.sequence = 0, .transactional = true}), ErrorCode::NONE);
  ASSERT_EQ(append(1, {.sequence = 1, .transactional = true}), ErrorCode::NONE);
  EXPECT_EQ(state_.find(pid)->current_txn_first_offset, 0);
  ASSERT_EQ(state_.ongoing_txns().size(), 1u);
  EXPECT_EQ(append(2, {.sequence = 2}), ErrorCode::INVALID_TXN_STATE);

  auto marker_bytes = marker_batch(0, /*commit=*/false, 4);
  auto marker_header = record::read_batch_header(marker_bytes);
  ASSERT_TRUE(marker_header);
  marker_header->base_offset = 2;
  auto marker = txn_marker_of(marker_bytes);
  ASSERT_TRUE(marker && marker->has_value());
  EXPECT_FALSE((*marker)->commit);
  EXPECT_EQ((*marker)->coordinator_epoch, 4);
  ProducerUpdates updates;
  ASSERT_FALSE(state_.prepare(*marker_header, *marker, AppendOrigin::coordinator, updates));
  auto completed = state_.apply(updates, 3);
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_EQ(completed[0].first_offset, 0);
  EXPECT_EQ(completed[0].last_offset, 2);
  EXPECT_TRUE(completed[0].aborted);
  EXPECT_TRUE(state_.ongoing_txns().empty());
  EXPECT_EQ(state_.find(pid)->coordinator_epoch, 4);

  // A marker from an older coordinator is fenced.
  marker_header->base_offset = 3;
  (*marker)->coordinator_epoch = 3;
  updates.clear();
  EXPECT_EQ(state_.prepare(*marker_header, *marker, AppendOrigin::coordinator, updates).code,
            ErrorCode::TRANSACTION_COORDINATOR_FENCED);
}

// KIP-890 part 1: the verification guard (Kafka's VerificationGuard).
class VerificationGuardTest : public ProducerStateTest {
 protected:
  ErrorCode append_verified(int64_t offset, const BatchSpec& spec, VerificationGuard guard) {
    return append(offset, spec, AppendOrigin::client, {.required = true, .guard = guard});
  }
  void abort_marker(int64_t offset, int16_t epoch) {
    auto bytes = marker_batch(epoch, /*commit=*/false, 0);
    auto header = record::read_batch_header(bytes);
    ASSERT_TRUE(header);
    header->base_offset = offset;
    ProducerUpdates updates;
    ASSERT_FALSE(state_.prepare(*header, TxnMarker{false, 0}, AppendOrigin::coordinator, updates));
    state_.apply(updates, offset + 1);
  }
  static constexpr BatchSpec txn0{.sequence = 0, .transactional = true};
};

TEST_F(VerificationGuardTest, TransactionalBatchWithoutGuardIsRefusedAndWritesNothing) {
  EXPECT_EQ(append_verified(0, txn0, no_verification_guard), ErrorCode::INVALID_TXN_STATE);
  EXPECT_EQ(state_.find(pid), nullptr);
  EXPECT_TRUE(state_.ongoing_txns().empty());
  // A guard that is not the producer's verification's is refused too.
  const VerificationGuard guard = state_.start_verification(pid, 0, 0, 1000);
  EXPECT_EQ(append_verified(0, txn0, guard + 1000), ErrorCode::INVALID_TXN_STATE);
}

TEST_F(VerificationGuardTest, GuardOpensTheTransactionThenIsDropped) {
  const VerificationGuard guard = state_.start_verification(pid, 0, 0, 1000);
  ASSERT_NE(guard, no_verification_guard);
  // Concurrent requests of the producer share the verification.
  EXPECT_EQ(state_.start_verification(pid, 0, 0, 1000), guard);
  ASSERT_EQ(append_verified(0, txn0, guard), ErrorCode::NONE);
  EXPECT_EQ(state_.verification(pid), nullptr);
  // Ongoing now: nothing to verify (the sentinel) and later batches pass.
  EXPECT_EQ(state_.start_verification(pid, 1, 0, 1000), no_verification_guard);
  EXPECT_EQ(append_verified(1, {.sequence = 1, .transactional = true}, no_verification_guard),
            ErrorCode::NONE);
  // The old guard opens nothing once the transaction ended (a stale answer).
  abort_marker(2, 0);
  EXPECT_EQ(append_verified(3, {.sequence = 2, .transactional = true}, guard),
            ErrorCode::INVALID_TXN_STATE);
}

TEST_F(VerificationGuardTest, MarkerBetweenVerificationAndAppendFailsTheAppend) {
  ASSERT_EQ(append(0, txn0), ErrorCode::NONE);  // an ongoing transaction, unverified
  const VerificationGuard guard = state_.start_verification(pid, 1, 1, 1000);  // next epoch
  ASSERT_NE(guard, no_verification_guard);
  abort_marker(1, 1);  // the coordinator aborted (epoch bumped) meanwhile
  EXPECT_EQ(state_.verification(pid), nullptr);
  EXPECT_EQ(append_verified(2, {.epoch = 1, .sequence = 0, .transactional = true}, guard),
            ErrorCode::INVALID_TXN_STATE);
  EXPECT_TRUE(state_.ongoing_txns().empty());
}

TEST_F(VerificationGuardTest, HigherEpochGetsANewGuard) {
  const VerificationGuard old_guard = state_.start_verification(pid, 5, 0, 1000);
  const VerificationGuard new_guard = state_.start_verification(pid, 0, 1, 1000);
  EXPECT_NE(old_guard, new_guard);
  EXPECT_EQ(state_.verification(pid)->epoch, 1);
  EXPECT_EQ(append_verified(0, {.epoch = 0, .sequence = 5, .transactional = true}, old_guard),
            ErrorCode::INVALID_TXN_STATE);
  EXPECT_EQ(append_verified(0, {.epoch = 1, .sequence = 0, .transactional = true}, new_guard),
            ErrorCode::NONE);
}

TEST_F(VerificationGuardTest, LaterSequenceWaitsForTheLowestOneVerifying) {
  ASSERT_EQ(append(0, {.sequence = 0, .transactional = true}), ErrorCode::NONE);
  abort_marker(1, 0);
  const VerificationGuard guard = state_.start_verification(pid, 1, 0, 1000);
  EXPECT_EQ(state_.start_verification(pid, 2, 0, 1000), guard);
  EXPECT_EQ(state_.verification(pid)->lowest_sequence, 1);
  EXPECT_EQ(append_verified(2, {.sequence = 2, .transactional = true}, guard),
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_EQ(append_verified(2, {.sequence = 1, .transactional = true}, guard), ErrorCode::NONE);
}

TEST_F(VerificationGuardTest, NotRequiredWhenVerificationIsOff) {
  EXPECT_EQ(append(0, txn0), ErrorCode::NONE);
  // Nor for the group coordinator's transactional offset commits.
  EXPECT_EQ(append(1, {.producer_id = pid + 1, .transactional = true}, AppendOrigin::coordinator,
                   {.required = true}),
            ErrorCode::NONE);
}

TEST_F(VerificationGuardTest, UnansweredVerificationsExpire) {
  state_.start_verification(pid, 0, 0, 1000);
  state_.remove_expired(1000 + 500, 1000);
  EXPECT_NE(state_.verification(pid), nullptr);
  state_.remove_expired(1000 + 1000, 1000);
  EXPECT_EQ(state_.verification(pid), nullptr);
}

class ProducerLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.make_dirs("/logs"));
    ASSERT_TRUE(fs_.sync_dir("/"));
  }
  std::unique_ptr<Log> open_log() {
    LogOptions o;
    o.dir = "/logs/orders-0";
    o.config = config_;
    o.clock = &clock_;
    o.logger = [](std::string_view) {};
    auto log = Log::open(fs_, std::move(o));
    EXPECT_TRUE(log) << log.status().to_string();
    return log ? std::move(*log) : nullptr;
  }
  AppendResult append(Log& log, const BatchSpec& spec) {
    auto batch = producer_batch(spec);
    auto result = log.append_as_leader(batch, LeaderEpoch{0});
    EXPECT_TRUE(result) << result.status().to_string();
    return result ? *result : AppendResult{};
  }

  MemoryFileSystem fs_;
  LogConfig config_;
  ManualClock clock_{1'000'000};
};

TEST_F(ProducerLogTest, DuplicateAnswersTheOriginalOffsetsAndWritesNothing) {
  auto log = open_log();
  ASSERT_EQ(append(*log, {.sequence = 0, .count = 3}).first_offset, 0);
  ASSERT_EQ(append(*log, {.sequence = 3, .count = 2}).first_offset, 3);
  AppendResult again = append(*log, {.sequence = 0, .count = 3, .timestamp_ms = 9000});
  EXPECT_TRUE(again.duplicate);
  EXPECT_FALSE(again.producer_error);
  EXPECT_EQ(again.first_offset, 0);
  EXPECT_EQ(again.last_offset, 2);
  EXPECT_EQ(again.log_append_time_ms, 5002);  // the original's max timestamp
  EXPECT_EQ(log->log_end_offset(), 5);
}

TEST_F(ProducerLogTest, RefusedBatchWritesNothing) {
  auto log = open_log();
  ASSERT_EQ(append(*log, {.epoch = 2, .sequence = 0}).first_offset, 0);
  AppendResult gap = append(*log, {.epoch = 2, .sequence = 2});
  EXPECT_EQ(gap.producer_error.code, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  AppendResult old = append(*log, {.epoch = 1, .sequence = 1});
  EXPECT_EQ(old.producer_error.code, ErrorCode::INVALID_PRODUCER_EPOCH);
  EXPECT_EQ(log->log_end_offset(), 1);
  EXPECT_EQ(testing::all_base_offsets(*log), std::vector<int64_t>{0});
}

TEST_F(ProducerLogTest, MultiBatchSetIsRefusedWhole) {
  auto log = open_log();
  // A known producer: an unknown one's batches are taken at any sequence.
  ASSERT_EQ(append(*log, {.sequence = 0}).first_offset, 0);
  auto first = producer_batch({.sequence = 1, .count = 2});
  auto second = producer_batch({.sequence = 4});  // a gap after the first
  std::vector<uint8_t> set = first;
  set.insert(set.end(), second.begin(), second.end());
  auto result = log->append_as_leader(set, LeaderEpoch{0});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->producer_error.code, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_EQ(log->log_end_offset(), 1);
  EXPECT_EQ(log->producer_state().find(pid)->last_sequence(), 0);
  // In sequence with each other, the two are taken.
  second = producer_batch({.sequence = 3});
  set = first;
  set.insert(set.end(), second.begin(), second.end());
  result = log->append_as_leader(set, LeaderEpoch{0});
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->producer_error);
  EXPECT_EQ(log->producer_state().find(pid)->last_sequence(), 3);
}

TEST_F(ProducerLogTest, ReopenRebuildsTheStateFromTheLog) {
  {
    auto log = open_log();
    append(*log, {.sequence = 0, .count = 2});
    append(*log, {.sequence = 2, .count = 2});
    append(*log, {.producer_id = 7, .epoch = 1, .sequence = 0});
    ASSERT_TRUE(log->close());
  }
  auto log = open_log();
  EXPECT_EQ(log->producer_state().size(), 2u);
  AppendResult replay = append(*log, {.sequence = 2, .count = 2});
  EXPECT_TRUE(replay.duplicate);
  EXPECT_EQ(replay.first_offset, 2);
  EXPECT_EQ(append(*log, {.sequence = 5}).producer_error.code,
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_EQ(append(*log, {.sequence = 4}).first_offset, 5);
}

TEST_F(ProducerLogTest, TruncationForgetsTruncatedBatches) {
  auto log = open_log();
  append(*log, {.sequence = 0, .count = 2});
  append(*log, {.sequence = 2, .count = 2});
  ASSERT_TRUE(log->truncate_to(Offset{2}));
  EXPECT_EQ(log->producer_state().find(pid)->last_sequence(), 1);
  EXPECT_EQ(log->producer_state().map_end_offset(), 2);
  // The truncated batch is no duplicate any more: it is written again.
  AppendResult again = append(*log, {.sequence = 2, .count = 2});
  EXPECT_FALSE(again.duplicate);
  EXPECT_EQ(again.first_offset, 2);
  ASSERT_TRUE(log->truncate_fully(Offset{10}));
  EXPECT_EQ(log->producer_state().size(), 0u);
}

TEST_F(ProducerLogTest, FollowerAppendsUpdateWithoutChecks) {
  auto log = open_log();
  auto batch = producer_batch({.epoch = 3, .sequence = 17});
  ASSERT_TRUE(log->append_as_follower(batch));
  batch = producer_batch({.epoch = 3, .sequence = 40});
  record::set_base_offset(batch, 1);
  ASSERT_TRUE(log->append_as_follower(batch));
  EXPECT_EQ(log->producer_state().find(pid)->last_sequence(), 40);
  EXPECT_EQ(log->producer_state().map_end_offset(), 2);
}

TEST_F(ProducerLogTest, LogStartMovingKeepsTheProducers) {
  auto log = open_log();
  append(*log, {.sequence = 0, .count = 2});
  append(*log, {.sequence = 2, .count = 2});
  ASSERT_TRUE(log->set_log_start_offset(Offset{4}));
  // Kafka keeps the entry: the next sequence is still checked.
  EXPECT_EQ(append(*log, {.sequence = 9}).producer_error.code,
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_FALSE(append(*log, {.sequence = 4}).producer_error);
}

}  // namespace
}  // namespace sluice::storage

namespace sluice::storage {
namespace {

class ProducerSnapshotTest : public ProducerLogTest {};

TEST_F(ProducerSnapshotTest, EncodesKafkasLayout) {
  std::map<int64_t, ProducerEntry> producers;
  ProducerEntry entry;
  entry.producer_id = 5;
  entry.producer_epoch = 2;
  entry.coordinator_epoch = 7;
  entry.last_timestamp_ms = 1234;
  entry.current_txn_first_offset = 40;
  entry.batches.push_back({10, 14, 40, 44, 1234});
  producers[5] = entry;
  auto bytes = encode_producer_snapshot(producers);
  // version, crc, count, one entry of 46 bytes.
  ASSERT_EQ(bytes.size(), 2u + 4 + 4 + 46);
  EXPECT_EQ(bytes[0], 0);
  EXPECT_EQ(bytes[1], 1);
  auto decoded = decode_producer_snapshot(bytes);
  ASSERT_TRUE(decoded) << decoded.status().to_string();
  ASSERT_EQ(decoded->size(), 1u);
  const ProducerEntry& back = decoded->front();
  EXPECT_EQ(back.producer_id, 5);
  EXPECT_EQ(back.producer_epoch, 2);
  EXPECT_EQ(back.coordinator_epoch, 7);
  EXPECT_EQ(back.current_txn_first_offset, 40);
  ASSERT_EQ(back.batches.size(), 1u);
  EXPECT_EQ(back.batches.back().first_sequence, 10);
  EXPECT_EQ(back.batches.back().last_sequence, 14);
  EXPECT_EQ(back.batches.back().first_offset, 40);
  EXPECT_EQ(back.batches.back().last_offset, 44);
  bytes[20] ^= 1;
  EXPECT_EQ(decode_producer_snapshot(bytes).status().code(), Errc::corrupt_crc);
  bytes.pop_back();
  EXPECT_FALSE(decode_producer_snapshot(bytes));
  EXPECT_EQ(producer_snapshot_name(42), "00000000000000000042.snapshot");
  EXPECT_EQ(parse_producer_snapshot_name("00000000000000000042.snapshot"), 42);
  EXPECT_FALSE(parse_producer_snapshot_name("00000000000000000042.log"));
}

TEST_F(ProducerSnapshotTest, CleanShutdownWritesOneAndOpenReplaysNothingMore) {
  {
    auto log = open_log();
    append(*log, {.sequence = 0, .count = 2});
    append(*log, {.sequence = 2, .count = 2});
    ASSERT_TRUE(log->close());
  }
  EXPECT_TRUE(*fs_.exists("/logs/orders-0/00000000000000000004.snapshot"));
  auto log = open_log();
  EXPECT_EQ(log->producer_snapshot_offsets(), std::vector<int64_t>{4});
  // Only the last batch survives a snapshot (Kafka's format keeps one).
  EXPECT_TRUE(append(*log, {.sequence = 2, .count = 2}).duplicate);
  EXPECT_EQ(append(*log, {.sequence = 0, .count = 2}).producer_error.code,
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_EQ(append(*log, {.sequence = 4}).first_offset, 4);
}

TEST_F(ProducerSnapshotTest, RollsTakeSnapshotsWrittenByTheFlush) {
  config_.segment_bytes = 300;
  auto log = open_log();
  for (int i = 0; i < 20; ++i) append(*log, {.sequence = i * 3, .count = 3});
  ASSERT_GT(log->segment_count(), 2u);
  auto offsets = log->producer_snapshot_offsets();
  ASSERT_EQ(offsets.size(), 2u);  // the two latest are kept
  EXPECT_EQ(offsets.back(), log->segment_base_offsets().back());
  EXPECT_FALSE(*fs_.exists("/logs/orders-0/" + producer_snapshot_name(offsets.back())));
  ASSERT_TRUE(log->flush());
  EXPECT_TRUE(*fs_.exists("/logs/orders-0/" + producer_snapshot_name(offsets.back())));
  // A truncation below a snapshot removes it and reloads from an older one.
  ASSERT_TRUE(log->truncate_to(Offset{offsets.back() - 1}));
  EXPECT_FALSE(*fs_.exists("/logs/orders-0/" + producer_snapshot_name(offsets.back())));
  const ProducerEntry* entry = log->producer_state().find(pid);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->last_data_offset(), log->log_end_offset() - 1);
}

TEST_F(ProducerSnapshotTest, CorruptSnapshotIsIgnoredAndTheLogReplayed) {
  {
    auto log = open_log();
    append(*log, {.sequence = 0, .count = 2});
    append(*log, {.sequence = 2, .count = 2});
    ASSERT_TRUE(log->close());
  }
  const std::string path = "/logs/orders-0/00000000000000000004.snapshot";
  auto bytes = *read_whole_file(fs_, path);
  bytes[bytes.size() - 1] ^= 0xff;
  ASSERT_TRUE(write_file_atomically(fs_, path, bytes));
  auto log = open_log();
  EXPECT_FALSE(*fs_.exists(path));
  // Rebuilt from the log: both batches are duplicates again.
  EXPECT_TRUE(append(*log, {.sequence = 0, .count = 2}).duplicate);
  EXPECT_TRUE(append(*log, {.sequence = 2, .count = 2}).duplicate);
}

TEST_F(ProducerSnapshotTest, IdleProducersExpire) {
  auto log = open_log();
  const int64_t now = clock_.now_ms();
  append(*log, {.producer_id = 1, .sequence = 0, .timestamp_ms = now});
  append(*log, {.producer_id = 2, .sequence = 0, .timestamp_ms = now + 1000});
  append(*log, {.producer_id = 3, .sequence = 0, .transactional = true, .timestamp_ms = now});
  const int64_t expiration = 86'400'000;
  EXPECT_EQ(log->remove_expired_producers(now + expiration - 1), 0u);
  EXPECT_EQ(log->remove_expired_producers(now + expiration), 1u);  // 1; 3 is in a transaction
  EXPECT_EQ(log->producer_state().find(1), nullptr);
  EXPECT_NE(log->producer_state().find(2), nullptr);
  EXPECT_NE(log->producer_state().find(3), nullptr);
  // An expired producer is unknown again: any sequence is taken.
  EXPECT_FALSE(append(*log, {.producer_id = 1, .sequence = 9}).producer_error);
}

}  // namespace
}  // namespace sluice::storage
