// The transaction coordinator on a fake log, a fake ProducerIdGenerator and
// a fake MarkerSender: the TransactionLog codec, Kafka's transitions,
// InitProducerId (fencing, KIP-360, epoch exhaustion), AddPartitionsToTxn
// (and verify-only), EndTxn with its markers, failed appends reverting,
// timeouts and expiry on a manual clock, leadership (reload, markers resent,
// resignation), describe and list.
#include "txn/txn_coordinator.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <optional>

#include "base/clock.h"
#include "txn/txn_records.h"

namespace sluice::txn {
namespace {

using coordinator::CoordinatorRecord;
using coordinator::LoadStep;
using coordinator::RecordSink;

// One log per partition; appends complete at once with `fail_with` unless
// `hold` is set (then when the test calls complete()).
class FakeLog final : public coordinator::CoordinatorLog {
 public:
  void append(int32_t partition, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode)> done) override {
    for (auto& record : records) log[partition].push_back(std::move(record));
    if (hold) return pending.push_back(std::move(done));
    done(fail_with);
  }
  void complete(ErrorCode error = ErrorCode::NONE) {
    while (!pending.empty()) {
      auto done = std::move(pending.front());
      pending.pop_front();
      done(error);
    }
  }
  int64_t load_end_offset(int32_t partition) override {
    return static_cast<int64_t>(log[partition].size());
  }
  LoadStep load(int32_t partition, int64_t from_offset, int64_t end_offset,
                const RecordSink& sink) override {
    LoadStep step;
    step.next_offset = from_offset;
    const auto& records = log[partition];
    for (int64_t offset = from_offset; offset < end_offset; ++offset) {
      const auto& record = records[static_cast<size_t>(offset)];
      std::optional<Bytes> value;
      if (record.value) value = Bytes(*record.value);
      EXPECT_TRUE(sink(Bytes(record.key), value).is_ok());
      ++step.replayed;
      step.next_offset = offset + 1;
    }
    return step;
  }
  // The decoded state of the last record written for `id` (none: tombstone).
  std::optional<TxnTransit> last(const std::string& id) {
    for (auto& [partition, records] : log)
      for (auto it = records.rbegin(); it != records.rend(); ++it) {
        std::optional<Bytes> value;
        if (it->value) value = Bytes(*it->value);
        auto entry = decode_txn_record(Bytes(it->key), value);
        EXPECT_TRUE(entry.is_ok());
        if (entry->transactional_id == id) return entry->value;
      }
    ADD_FAILURE() << "no record for " << id;
    return std::nullopt;
  }
  size_t size() {
    size_t count = 0;
    for (auto& [partition, records] : log) count += records.size();
    return count;
  }
  std::map<int32_t, std::vector<CoordinatorRecord>> log;
  std::deque<std::function<void(ErrorCode)>> pending;
  ErrorCode fail_with = ErrorCode::NONE;
  bool hold = false;
};

class FakeProducerIds final : public ProducerIdGenerator {
 public:
  Result<ProducerId> generate_producer_id() override {
    if (exhausted) return Status(Errc::would_block, "no block at hand");
    return ProducerId{next++};
  }
  int64_t next = 1000;
  bool exhausted = false;
};

class FakeMarkers final : public MarkerSender {
 public:
  void send(TxnMarker marker, std::function<void(ErrorCode)> done) override {
    sent.push_back(marker);
    in_flight.push_back(std::move(done));
  }
  void cancel(int32_t partition, LeaderEpoch epoch) override {
    cancelled.emplace_back(partition, epoch.value());
  }
  void finish(ErrorCode error = ErrorCode::NONE) {
    while (!in_flight.empty()) {
      auto done = std::move(in_flight.front());
      in_flight.pop_front();
      done(error);
    }
  }
  std::vector<TxnMarker> sent;
  std::deque<std::function<void(ErrorCode)>> in_flight;
  std::vector<std::pair<int32_t, int32_t>> cancelled;
};

template <class T>
struct Slot {
  std::optional<T> value;
  Reply<T> reply() {
    return [this](T answer) { value = std::move(answer); };
  }
};

const MarkerPartition foo0{"foo", 0};
const MarkerPartition foo1{"foo", 1};
const MarkerPartition bar0{"bar", 0};

class TxnCoordinatorTest : public ::testing::Test {
 protected:
  TxnConfig config() {
    TxnConfig config;
    config.state_log_partitions = 4;
    return config;
  }
  void SetUp() override { coordinator = make(); }
  std::unique_ptr<TxnCoordinator> make() {
    return std::make_unique<TxnCoordinator>(config(), clock, log, ids, markers);
  }

  TxnProducerResult init(const std::string& id, int32_t timeout_ms = 60000,
                         std::optional<ProducerIdAndEpoch> expected = std::nullopt) {
    Slot<TxnProducerResult> slot;
    coordinator->init_producer_id(TransactionalId{id}, timeout_ms, expected, slot.reply());
    EXPECT_TRUE(slot.value.has_value());
    return slot.value.value_or(TxnProducerResult{ErrorCode::UNKNOWN_SERVER_ERROR});
  }
  ErrorCode add(const std::string& id, TxnProducerResult producer, TxnPartitions partitions) {
    Slot<ErrorCode> slot;
    coordinator->add_partitions(TransactionalId{id}, ProducerId{producer.producer_id},
                                ProducerEpoch{producer.producer_epoch}, partitions, slot.reply());
    EXPECT_TRUE(slot.value.has_value());
    return slot.value.value_or(ErrorCode::UNKNOWN_SERVER_ERROR);
  }
  TxnProducerResult end(const std::string& id, TxnProducerResult producer, bool commit,
                        int16_t version = 0) {
    Slot<TxnProducerResult> slot;
    coordinator->end_txn(TransactionalId{id}, ProducerId{producer.producer_id},
                         ProducerEpoch{producer.producer_epoch}, commit, version, slot.reply());
    EXPECT_TRUE(slot.value.has_value());
    return slot.value.value_or(TxnProducerResult{ErrorCode::UNKNOWN_SERVER_ERROR});
  }
  TxnState state(const std::string& id) {
    auto txn = coordinator->metadata_of(TransactionalId{id});
    EXPECT_TRUE(txn.has_value());
    return txn ? txn->current.state : TxnState::dead;
  }

  ManualClock clock;
  FakeLog log;
  FakeProducerIds ids;
  FakeMarkers markers;
  std::unique_ptr<TxnCoordinator> coordinator;
};

TEST(TxnRecordsTest, RoundTripsEveryStateAndVersion) {
  TxnTransit transit;
  transit.producer_id = 42;
  transit.producer_epoch = 7;
  transit.timeout_ms = 60000;
  transit.state = TxnState::ongoing;
  transit.partitions = {foo0, foo1, bar0};
  transit.start_timestamp_ms = 100;
  transit.last_update_timestamp_ms = 200;
  for (int16_t version : {int16_t{0}, int16_t{2}}) {
    transit.client_transaction_version = version;
    CoordinatorRecord record = txn_record("app-1", transit);
    // Kafka's layout: key version 0; value v0, or v1 (flexible) for TV2.
    EXPECT_EQ(record.key[0], 0);
    EXPECT_EQ(record.key[1], 0);
    ASSERT_TRUE(record.value);
    EXPECT_EQ((*record.value)[1], version >= 2 ? 1 : 0);
    auto entry = decode_txn_record(Bytes(record.key), Bytes(*record.value));
    ASSERT_TRUE(entry.is_ok()) << entry.status().to_string();
    EXPECT_EQ(entry->transactional_id, "app-1");
    ASSERT_TRUE(entry->value);
    EXPECT_EQ(*entry->value, transit);
  }
  CoordinatorRecord tombstone = txn_tombstone("app-1");
  auto entry = decode_txn_record(Bytes(tombstone.key), std::nullopt);
  ASSERT_TRUE(entry.is_ok());
  EXPECT_FALSE(entry->value);
}

TEST(TxnRecordsTest, EmptyHasNoPartitionListAndUnknownStatusFails) {
  TxnTransit transit;
  transit.producer_id = 1;
  transit.producer_epoch = 0;
  CoordinatorRecord record = txn_record("a", transit);
  auto entry = decode_txn_record(Bytes(record.key), Bytes(*record.value));
  ASSERT_TRUE(entry.is_ok());
  EXPECT_TRUE(entry->value->partitions.empty());
  // The status byte (after version 2, producer id 8, epoch 2, timeout 4).
  (*record.value)[2 + 8 + 2 + 4] = 9;
  EXPECT_FALSE(decode_txn_record(Bytes(record.key), Bytes(*record.value)).is_ok());
}

TEST(TxnStateTest, KafkasTransitionsAndNames) {
  using enum TxnState;
  EXPECT_TRUE(valid_transition(empty, ongoing));
  EXPECT_TRUE(valid_transition(complete_commit, ongoing));
  EXPECT_TRUE(valid_transition(ongoing, prepare_commit));
  EXPECT_TRUE(valid_transition(prepare_epoch_fence, prepare_abort));
  EXPECT_FALSE(valid_transition(prepare_epoch_fence, prepare_commit));
  EXPECT_FALSE(valid_transition(empty, prepare_commit));
  EXPECT_FALSE(valid_transition(prepare_commit, complete_abort));
  EXPECT_FALSE(valid_transition(ongoing, dead));
  EXPECT_TRUE(valid_transition(complete_abort, dead));
  EXPECT_STREQ(txn_state_name(prepare_epoch_fence), "PrepareEpochFence");
  EXPECT_EQ(txn_state_from_name("CompleteCommit"), complete_commit);
  EXPECT_FALSE(txn_state_from_name("Bogus"));
  EXPECT_TRUE(expiration_allowed(empty));
  EXPECT_FALSE(expiration_allowed(ongoing));
}

TEST_F(TxnCoordinatorTest, PartitionIsKafkasHashOfTheId) {
  // Utils.abs("abc".hashCode()) % 50 = 96354 % 50.
  TxnCoordinator fifty(TxnConfig{}, clock, log, ids, markers);
  EXPECT_EQ(fifty.partition_for("abc"), 96354 % 50);
  EXPECT_EQ(fifty.partition_for("polygenelubricants"), 0);  // Integer.MIN_VALUE
}

TEST_F(TxnCoordinatorTest, InitProducerIdAllocatesThenBumpsTheEpoch) {
  auto first = init("app");
  EXPECT_EQ(first.error, ErrorCode::NONE);
  EXPECT_EQ(first.producer_id, 1000);
  EXPECT_EQ(first.producer_epoch, 0);
  auto second = init("app");
  EXPECT_EQ(second.producer_id, 1000);
  EXPECT_EQ(second.producer_epoch, 1);
  EXPECT_EQ(log.last("app")->state, TxnState::empty);
  EXPECT_EQ(log.last("app")->producer_epoch, 1);
  // The first producer is fenced.
  EXPECT_EQ(add("app", first, {foo0}), ErrorCode::PRODUCER_FENCED);
}

TEST_F(TxnCoordinatorTest, InitProducerIdRefusals) {
  EXPECT_EQ(init("").error, ErrorCode::INVALID_REQUEST);
  EXPECT_EQ(init("app", 0).error, ErrorCode::INVALID_TRANSACTION_TIMEOUT);
  EXPECT_EQ(init("app", 900001).error, ErrorCode::INVALID_TRANSACTION_TIMEOUT);
  EXPECT_EQ(init("app", 900000).error, ErrorCode::NONE);
  ids.exhausted = true;
  EXPECT_EQ(init("other").error, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
  // A pending write: a concurrent InitProducerId waits.
  log.hold = true;
  Slot<TxnProducerResult> held;
  coordinator->init_producer_id(TransactionalId{"app"}, 60000, std::nullopt, held.reply());
  EXPECT_FALSE(held.value);
  EXPECT_EQ(init("app").error, ErrorCode::CONCURRENT_TRANSACTIONS);
  log.complete();
  EXPECT_EQ(held.value->producer_epoch, 1);
}

TEST_F(TxnCoordinatorTest, Kip360ExpectedProducerIdAndEpoch) {
  auto first = init("app");
  // The current epoch: bumped, the last one kept for a retry.
  auto bumped = init("app", 60000, ProducerIdAndEpoch{first.producer_id, first.producer_epoch});
  EXPECT_EQ(bumped.producer_epoch, 1);
  // A retry of that call (it presents the epoch it had): the same answer.
  auto retry = init("app", 60000, ProducerIdAndEpoch{first.producer_id, first.producer_epoch});
  EXPECT_EQ(retry.error, ErrorCode::NONE);
  EXPECT_EQ(retry.producer_epoch, 1);
  // Neither current nor last: fenced; another producer id: fenced.
  EXPECT_EQ(init("app", 60000, ProducerIdAndEpoch{first.producer_id, 5}).error,
            ErrorCode::PRODUCER_FENCED);
  EXPECT_EQ(init("app", 60000, ProducerIdAndEpoch{77, 1}).error, ErrorCode::PRODUCER_FENCED);
}

TEST_F(TxnCoordinatorTest, ExhaustedEpochRotatesTheProducerId) {
  init("app");
  // Load a state at the last bumpable epoch through the log, as a restart would.
  TxnTransit exhausted;
  exhausted.producer_id = 1000;
  exhausted.producer_epoch = INT16_MAX - 1;
  exhausted.timeout_ms = 60000;
  log.log[coordinator->partition_for("app")].push_back(txn_record("app", exhausted));
  coordinator->on_election(coordinator->partition_for("app"), LeaderEpoch{1});
  auto rotated = init("app");
  EXPECT_EQ(rotated.error, ErrorCode::NONE);
  EXPECT_EQ(rotated.producer_id, 1001);
  EXPECT_EQ(rotated.producer_epoch, 0);
  // The old id with its exhausted epoch is still recognized (KIP-360).
  auto recovered = init("app", 60000, ProducerIdAndEpoch{1000, INT16_MAX - 1});
  EXPECT_EQ(recovered.error, ErrorCode::PRODUCER_FENCED);  // not its current epoch any more
}

TEST_F(TxnCoordinatorTest, AddPartitionsAndVerify) {
  auto producer = init("app");
  EXPECT_EQ(add("nobody", producer, {foo0}), ErrorCode::INVALID_PRODUCER_ID_MAPPING);
  EXPECT_EQ(add("app", {ErrorCode::NONE, 5, 0}, {foo0}), ErrorCode::INVALID_PRODUCER_ID_MAPPING);
  EXPECT_EQ(add("app", producer, {foo0, foo1}), ErrorCode::NONE);
  EXPECT_EQ(state("app"), TxnState::ongoing);
  const size_t records = log.size();
  EXPECT_EQ(add("app", producer, {foo0}), ErrorCode::NONE);
  EXPECT_EQ(log.size(), records);  // nothing new: nothing written
  EXPECT_EQ(add("app", producer, {bar0}), ErrorCode::NONE);
  EXPECT_EQ(log.last("app")->partitions, (TxnPartitions{foo0, foo1, bar0}));
  Slot<std::map<MarkerPartition, ErrorCode>> verified;
  coordinator->verify_partitions(TransactionalId{"app"}, ProducerId{producer.producer_id},
                                 ProducerEpoch{producer.producer_epoch},
                                 {foo0, MarkerPartition{"baz", 3}}, verified.reply());
  ASSERT_TRUE(verified.value);
  EXPECT_EQ(verified.value->at(foo0), ErrorCode::NONE);
  EXPECT_EQ(verified.value->at(MarkerPartition{"baz", 3}), ErrorCode::TRANSACTION_ABORTABLE);
  coordinator->verify_partitions(TransactionalId{"app"}, ProducerId{producer.producer_id},
                                 ProducerEpoch{9}, {foo0}, verified.reply());
  EXPECT_EQ(verified.value->at(foo0), ErrorCode::PRODUCER_FENCED);
  EXPECT_EQ(log.size(), records + 1);  // verification writes nothing
}

TEST_F(TxnCoordinatorTest, CommitWritesPrepareThenMarkersThenComplete) {
  auto producer = init("app");
  EXPECT_EQ(end("app", producer, true).error, ErrorCode::INVALID_TXN_STATE);  // Empty
  add("app", producer, {foo0, bar0});
  auto ended = end("app", producer, true);
  EXPECT_EQ(ended.error, ErrorCode::NONE);
  EXPECT_EQ(ended.producer_epoch, producer.producer_epoch);
  EXPECT_EQ(log.last("app")->state, TxnState::prepare_commit);
  ASSERT_EQ(markers.sent.size(), 1u);
  const TxnMarker& marker = markers.sent[0];
  EXPECT_TRUE(marker.commit);
  EXPECT_EQ(marker.producer_id, ProducerId{producer.producer_id});
  EXPECT_EQ(marker.producer_epoch, ProducerEpoch{producer.producer_epoch});
  EXPECT_EQ(marker.coordinator_partition, coordinator->partition_for("app"));
  EXPECT_EQ(marker.partitions, (std::vector<MarkerPartition>{bar0, foo0}));
  // While the markers are written: retries wait, the other outcome is refused.
  EXPECT_EQ(end("app", producer, true).error, ErrorCode::CONCURRENT_TRANSACTIONS);
  EXPECT_EQ(add("app", producer, {foo1}), ErrorCode::CONCURRENT_TRANSACTIONS);
  EXPECT_EQ(init("app").error, ErrorCode::CONCURRENT_TRANSACTIONS);
  markers.finish();
  EXPECT_EQ(log.last("app")->state, TxnState::complete_commit);
  EXPECT_TRUE(log.last("app")->partitions.empty());
  EXPECT_EQ(state("app"), TxnState::complete_commit);
  EXPECT_EQ(end("app", producer, true).error, ErrorCode::NONE);  // a retry
  EXPECT_EQ(end("app", producer, false).error, ErrorCode::INVALID_TXN_STATE);
  // The next transaction starts from CompleteCommit.
  EXPECT_EQ(add("app", producer, {foo1}), ErrorCode::NONE);
  EXPECT_EQ(end("app", producer, false).error, ErrorCode::NONE);
  EXPECT_FALSE(markers.sent.back().commit);
  markers.finish();
  EXPECT_EQ(state("app"), TxnState::complete_abort);
}

TEST_F(TxnCoordinatorTest, EndTxnRefusals) {
  auto producer = init("app");
  add("app", producer, {foo0});
  EXPECT_EQ(end("", producer, true).error, ErrorCode::INVALID_REQUEST);
  EXPECT_EQ(end("nobody", producer, true).error, ErrorCode::INVALID_PRODUCER_ID_MAPPING);
  EXPECT_EQ(end("app", {ErrorCode::NONE, 1, 0}, true).error,
            ErrorCode::INVALID_PRODUCER_ID_MAPPING);
  EXPECT_EQ(end("app", {ErrorCode::NONE, producer.producer_id, 3}, true).error,
            ErrorCode::PRODUCER_FENCED);
  end("app", producer, false);
  // While its markers are written the end is pending (Kafka checks that first).
  EXPECT_EQ(end("app", producer, true).error, ErrorCode::CONCURRENT_TRANSACTIONS);
  markers.finish();
  EXPECT_EQ(end("app", producer, true).error, ErrorCode::INVALID_TXN_STATE);  // CompleteAbort
}

TEST_F(TxnCoordinatorTest, FailedAppendRevertsAndAnswersKafkasError) {
  auto producer = init("app");
  log.fail_with = ErrorCode::NOT_ENOUGH_REPLICAS;
  EXPECT_EQ(add("app", producer, {foo0}), ErrorCode::COORDINATOR_NOT_AVAILABLE);
  EXPECT_EQ(state("app"), TxnState::empty);
  EXPECT_FALSE(coordinator->metadata_of(TransactionalId{"app"})->pending);
  log.fail_with = ErrorCode::NOT_LEADER_OR_FOLLOWER;
  EXPECT_EQ(init("app").error, ErrorCode::NOT_COORDINATOR);
  EXPECT_EQ(coordinator->metadata_of(TransactionalId{"app"})->current.producer_epoch, 0);
  log.fail_with = ErrorCode::NONE;
  EXPECT_EQ(add("app", producer, {foo0}), ErrorCode::NONE);
  log.fail_with = ErrorCode::REQUEST_TIMED_OUT;
  EXPECT_EQ(end("app", producer, true).error, ErrorCode::COORDINATOR_NOT_AVAILABLE);
  EXPECT_EQ(state("app"), TxnState::ongoing);
  EXPECT_TRUE(markers.sent.empty());
  // The Complete append failing is retried at the tick once markers are written.
  log.fail_with = ErrorCode::NONE;
  EXPECT_EQ(end("app", producer, true).error, ErrorCode::NONE);
  log.fail_with = ErrorCode::NOT_ENOUGH_REPLICAS;
  markers.finish();
  EXPECT_EQ(state("app"), TxnState::prepare_commit);
  log.fail_with = ErrorCode::NONE;
  coordinator->tick();  // starts the intervals; retries the append
  EXPECT_EQ(state("app"), TxnState::complete_commit);
  EXPECT_EQ(txn_append_error(ErrorCode::MESSAGE_TOO_LARGE), ErrorCode::UNKNOWN_SERVER_ERROR);
  EXPECT_EQ(txn_append_error(ErrorCode::KAFKA_STORAGE_ERROR), ErrorCode::NOT_COORDINATOR);
}

TEST_F(TxnCoordinatorTest, InitProducerIdAbortsAnOngoingTransactionFirst) {
  auto old_producer = init("app");
  add("app", old_producer, {foo0});
  // The new producer: the ongoing transaction is aborted with a bumped epoch.
  EXPECT_EQ(init("app").error, ErrorCode::CONCURRENT_TRANSACTIONS);
  EXPECT_EQ(log.last("app")->state, TxnState::prepare_abort);
  EXPECT_EQ(log.last("app")->producer_epoch, 1);
  ASSERT_EQ(markers.sent.size(), 1u);
  EXPECT_FALSE(markers.sent[0].commit);
  EXPECT_EQ(markers.sent[0].producer_epoch, ProducerEpoch{1});
  // The zombie is fenced.
  EXPECT_EQ(end("app", old_producer, true).error, ErrorCode::PRODUCER_FENCED);
  EXPECT_EQ(init("app").error, ErrorCode::CONCURRENT_TRANSACTIONS);  // markers in flight
  markers.finish();
  auto fresh = init("app");
  EXPECT_EQ(fresh.error, ErrorCode::NONE);
  EXPECT_EQ(fresh.producer_epoch, 2);
}

TEST_F(TxnCoordinatorTest, FailedFenceReusesItsEpoch) {
  auto producer = init("app");
  add("app", producer, {foo0});
  log.fail_with = ErrorCode::NOT_ENOUGH_REPLICAS;
  EXPECT_EQ(init("app").error, ErrorCode::COORDINATOR_NOT_AVAILABLE);
  auto txn = coordinator->metadata_of(TransactionalId{"app"});
  EXPECT_TRUE(txn->failed_epoch_fence);
  EXPECT_EQ(txn->current.producer_epoch, 1);  // bumped in memory: the old producer is fenced
  EXPECT_EQ(end("app", producer, true).error, ErrorCode::PRODUCER_FENCED);
  log.fail_with = ErrorCode::NONE;
  EXPECT_EQ(init("app").error, ErrorCode::CONCURRENT_TRANSACTIONS);
  EXPECT_EQ(log.last("app")->producer_epoch, 1);  // not bumped twice
}

TEST_F(TxnCoordinatorTest, TimedOutTransactionIsAbortedWithAnEpochBump) {
  TxnConfig short_intervals = config();
  short_intervals.abort_timed_out_interval_ms = 1000;
  coordinator = std::make_unique<TxnCoordinator>(short_intervals, clock, log, ids, markers);
  auto producer = init("app", 5000);
  add("app", producer, {foo0});
  coordinator->tick();  // starts the intervals
  clock.advance_ms(4000);
  coordinator->tick();
  EXPECT_EQ(state("app"), TxnState::ongoing);  // not yet past its timeout
  clock.advance_ms(1500);
  coordinator->tick();
  EXPECT_EQ(log.last("app")->state, TxnState::prepare_abort);
  EXPECT_EQ(log.last("app")->producer_epoch, producer.producer_epoch + 1);
  markers.finish();
  EXPECT_EQ(state("app"), TxnState::complete_abort);
  // The paused producer comes back: fenced.
  EXPECT_EQ(add("app", producer, {foo0}), ErrorCode::PRODUCER_FENCED);
  EXPECT_EQ(end("app", producer, true).error, ErrorCode::PRODUCER_FENCED);
}

TEST_F(TxnCoordinatorTest, IdleIdsExpireWithATombstone) {
  TxnConfig expiring = config();
  expiring.id_expiration_ms = 10000;
  expiring.remove_expired_interval_ms = 1000;
  coordinator = std::make_unique<TxnCoordinator>(expiring, clock, log, ids, markers);
  auto producer = init("idle");
  auto busy = init("busy");
  add("busy", busy, {foo0});
  coordinator->tick();
  clock.advance_ms(11000);
  coordinator->tick();
  EXPECT_FALSE(log.last("idle"));  // a tombstone
  EXPECT_FALSE(coordinator->metadata_of(TransactionalId{"idle"}));
  EXPECT_TRUE(coordinator->metadata_of(TransactionalId{"busy"}));  // Ongoing never expires
  EXPECT_EQ(add("idle", producer, {foo0}), ErrorCode::INVALID_PRODUCER_ID_MAPPING);
  // A new producer of the id starts over with a new producer id.
  EXPECT_EQ(init("idle").producer_id, 1002);
}

TEST_F(TxnCoordinatorTest, ElectionReloadsAndResendsMarkersResignationDrops) {
  auto committed = init("committed");
  add("committed", committed, {foo0});
  end("committed", committed, true);
  markers.finish();
  auto ending = init("ending");
  add("ending", ending, {foo1});
  end("ending", ending, false);  // markers left in flight
  markers.in_flight.clear();
  auto ongoing = init("ongoing");
  add("ongoing", ongoing, {bar0});

  // Another broker's coordinator loads the same log.
  FakeMarkers other_markers;
  TxnCoordinator other(config(), clock, log, ids, other_markers);
  for (int32_t partition = 0; partition < 4; ++partition) {
    other.on_resignation(partition, LeaderEpoch{0});
    other.on_election(partition, LeaderEpoch{1});
  }
  EXPECT_EQ(other.metadata_of(TransactionalId{"committed"})->current.state,
            TxnState::complete_commit);
  EXPECT_EQ(other.metadata_of(TransactionalId{"ongoing"})->current.partitions,
            (TxnPartitions{bar0}));
  ASSERT_EQ(other_markers.sent.size(), 1u);
  EXPECT_EQ(other_markers.sent[0].transactional_id, TransactionalId{"ending"});
  EXPECT_EQ(other_markers.sent[0].coordinator_epoch, LeaderEpoch{1});
  EXPECT_FALSE(other_markers.sent[0].commit);
  other_markers.finish();
  EXPECT_EQ(other.metadata_of(TransactionalId{"ending"})->current.state, TxnState::complete_abort);

  // Resigning: NOT_COORDINATOR, the markers of the partition cancelled.
  const int32_t partition = coordinator->partition_for("ongoing");
  coordinator->on_resignation(partition, LeaderEpoch{1});
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::NOT_COORDINATOR);
  EXPECT_EQ(end("ongoing", ongoing, true).error, ErrorCode::NOT_COORDINATOR);
  EXPECT_EQ(markers.cancelled.back(), std::make_pair(partition, 1));
  EXPECT_EQ(coordinator->describe(TransactionalId{"ongoing"}).error, ErrorCode::NOT_COORDINATOR);
}

TEST_F(TxnCoordinatorTest, WriteOfAResignedIncarnationAppliesNothing) {
  auto producer = init("app");
  log.hold = true;
  Slot<ErrorCode> added;
  coordinator->add_partitions(TransactionalId{"app"}, ProducerId{producer.producer_id},
                              ProducerEpoch{producer.producer_epoch}, {foo0}, added.reply());
  const int32_t partition = coordinator->partition_for("app");
  coordinator->on_resignation(partition, LeaderEpoch{0});
  coordinator->on_election(partition, LeaderEpoch{1});  // loads while the append is in flight
  log.complete();
  EXPECT_EQ(added.value, ErrorCode::NOT_COORDINATOR);
}

TEST_F(TxnCoordinatorTest, DescribeAndList) {
  auto a = init("a");
  add("a", a, {foo0});
  clock.advance_ms(5000);
  auto b = init("b");
  EXPECT_EQ(coordinator->describe(TransactionalId{"nobody"}).error,
            ErrorCode::TRANSACTIONAL_ID_NOT_FOUND);
  EXPECT_EQ(coordinator->describe(TransactionalId{""}).error, ErrorCode::INVALID_REQUEST);
  TxnDescription described = coordinator->describe(TransactionalId{"a"});
  EXPECT_EQ(described.error, ErrorCode::NONE);
  EXPECT_EQ(described.state, "Ongoing");
  EXPECT_EQ(described.producer_id, a.producer_id);
  EXPECT_EQ(described.partitions, (TxnPartitions{foo0}));
  EXPECT_EQ(described.timeout_ms, 60000);

  auto list = [&](TxnListFilters filters) {
    Slot<TxnListResult> slot;
    coordinator->list(std::move(filters), slot.reply());
    return *slot.value;
  };
  EXPECT_EQ(list({}).transactions.size(), 2u);
  auto ongoing = list({{"Ongoing", "Bogus"}, {}, -1});
  ASSERT_EQ(ongoing.transactions.size(), 1u);
  EXPECT_EQ(ongoing.transactions[0].transactional_id, "a");
  EXPECT_EQ(ongoing.unknown_state_filters, std::vector<std::string>{"Bogus"});
  EXPECT_EQ(list({{}, {b.producer_id}, -1}).transactions[0].transactional_id, "b");
  // Running longer than 4 s: only "a" (b never started one: start -1 is long ago, as in Kafka).
  auto long_running = list({{"Ongoing"}, {}, 4000});
  ASSERT_EQ(long_running.transactions.size(), 1u);
  EXPECT_EQ(list({{"Ongoing"}, {}, 6000}).transactions.size(), 0u);
}

TEST_F(TxnCoordinatorTest, TransactionsV2BumpTheEpochAtEachEnd) {
  auto producer = init("app");
  add("app", producer, {foo0});
  auto ended = end("app", producer, true, 2);
  EXPECT_EQ(ended.error, ErrorCode::NONE);
  EXPECT_EQ(ended.producer_epoch, producer.producer_epoch + 1);
  EXPECT_EQ(markers.sent[0].producer_epoch,
            ProducerEpoch{static_cast<int16_t>(producer.producer_epoch + 1)});
  // A retry with the old epoch while the markers are written, then after.
  EXPECT_EQ(end("app", producer, true, 2).error, ErrorCode::CONCURRENT_TRANSACTIONS);
  markers.finish();
  auto retried = end("app", producer, true, 2);
  EXPECT_EQ(retried.error, ErrorCode::NONE);
  EXPECT_EQ(retried.producer_epoch, producer.producer_epoch + 1);
  EXPECT_EQ(log.last("app")->client_transaction_version, 2);
}

TEST_F(TxnCoordinatorTest, TransactionsV2RotateTheProducerIdWhenTheEpochIsExhausted) {
  // An ongoing v2 transaction at the last bumpable epoch, loaded from the log.
  TxnTransit ongoing;
  ongoing.producer_id = 1000;
  ongoing.producer_epoch = INT16_MAX - 1;
  ongoing.timeout_ms = 60000;
  ongoing.state = TxnState::ongoing;
  ongoing.partitions = {foo0};
  ongoing.start_timestamp_ms = clock.now_ms();
  ongoing.client_transaction_version = 2;
  const int32_t partition = coordinator->partition_for("app");
  log.log[partition].push_back(txn_record("app", ongoing));
  coordinator->on_election(partition, LeaderEpoch{1});
  ids.next = 2000;
  const TxnProducerResult old_producer{ErrorCode::NONE, 1000, INT16_MAX - 1};
  auto ended = end("app", old_producer, true, 2);
  EXPECT_EQ(ended.error, ErrorCode::NONE);
  EXPECT_EQ(log.last("app")->producer_epoch, INT16_MAX);  // the markers' epoch
  markers.finish();
  // Once the markers are written the next producer id takes over at epoch 0.
  auto txn = coordinator->metadata_of(TransactionalId{"app"});
  EXPECT_EQ(txn->current.state, TxnState::complete_commit);
  EXPECT_EQ(txn->current.producer_id, 2000);
  EXPECT_EQ(txn->current.producer_epoch, 0);
  EXPECT_EQ(txn->current.previous_producer_id, 1000);
  // A retry of the EndTxn with the old id and epoch is recognized.
  auto retried = end("app", old_producer, true, 2);
  EXPECT_EQ(retried.error, ErrorCode::NONE);
  EXPECT_EQ(retried.producer_id, 2000);
  EXPECT_EQ(retried.producer_epoch, 0);
}

}  // namespace
}  // namespace sluice::txn
