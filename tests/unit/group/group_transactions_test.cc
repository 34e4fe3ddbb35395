// The group side of transactions (issue 17, KIP-98, KIP-447): a
// TxnOffsetCommit is written as a transactional batch of its producer and,
// once durable, stays pending for that producer: invisible to OffsetFetch,
// UNSTABLE_OFFSET_COMMIT to a require_stable fetch, until the marker
// commits it (unless a plain commit written later replaced it) or aborts
// it. Loading holds transactional commits pending until their producer's
// marker later in the log. Kafka's validation (generation, member, static
// instance), failed appends, deletes and expiry with pending offsets.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <optional>

#include "group/group_coordinator.h"
#include "record/batch_builder.h"

namespace sluice::group {
namespace {

using protocol::TxnOffsetCommitRequest;
using protocol::TxnOffsetCommitResponse;

constexpr int16_t err(ErrorCode code) { return to_wire(code); }

// A fetched partition: (error, committed offset).
using Answer = std::pair<int16_t, int64_t>;
Answer ok(int64_t offset) { return {0, offset}; }
Answer unstable() { return {err(ErrorCode::UNSTABLE_OFFSET_COMMIT), -1}; }

// A log of batches (offsets are batch indexes). Appends wait for the test
// to complete them; only durable batches are in `batches` (what a load
// reads), transactional ones with their producer, markers as control
// batches whose record key is Kafka's {version 0, type}.
class TxnLog final : public CoordinatorLog {
 public:
  struct Batch {
    std::vector<CoordinatorRecord> records;
    std::optional<TransactionalProducer> producer;
    bool control = false;
  };
  void append(int32_t partition, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode)> done) override {
    pending.push_back({partition, {std::move(records), std::nullopt, false}, std::move(done)});
  }
  void append_transactional(int32_t partition, const TransactionalProducer& producer,
                            std::vector<CoordinatorRecord> records,
                            std::function<void(ErrorCode)> done) override {
    pending.push_back({partition, {std::move(records), producer, false}, std::move(done)});
  }
  void complete(ErrorCode error = ErrorCode::NONE) {
    while (!pending.empty()) {
      auto entry = std::move(pending.front());
      pending.pop_front();
      if (error == ErrorCode::NONE) batches[entry.partition].push_back(std::move(entry.batch));
      entry.done(error);
    }
  }
  // WriteTxnMarkers' marker, durable.
  void marker(int32_t partition, int64_t producer_id, bool commit) {
    auto key = record::control_record_key(static_cast<int16_t>(commit ? 1 : 0));
    batches[partition].push_back(
        {{{key, std::vector<uint8_t>{0, 0, 0, 0, 0, 0}}},
         TransactionalProducer{ProducerId{producer_id}, ProducerEpoch{0}, {}},
         true});
  }
  int64_t load_end_offset(int32_t partition) override {
    return static_cast<int64_t>(batches[partition].size());
  }
  LoadStep load(int32_t partition, int64_t from_offset, int64_t end_offset,
                const RecordSink& sink) override {
    return load_with_batches(partition, from_offset, end_offset, sink, {});
  }
  // One batch per step, up to `high_watermark` when set.
  LoadStep load_with_batches(int32_t partition, int64_t from_offset, int64_t,
                             const RecordSink& sink, const BatchSink& told) override {
    LoadStep step;
    step.next_offset = from_offset;
    const auto& log = batches[partition];
    int64_t committed = high_watermark.value_or(static_cast<int64_t>(log.size()));
    if (from_offset >= committed) return step;
    const Batch& batch = log[static_cast<size_t>(from_offset)];
    step.next_offset = from_offset + 1;
    if (batch.control && !told) return step;
    if (told) {
      LoadedBatch loaded;
      loaded.base_offset = from_offset;
      loaded.producer_id = batch.producer ? batch.producer->producer_id : ProducerId{-1};
      loaded.producer_epoch = batch.producer ? batch.producer->producer_epoch : ProducerEpoch{-1};
      loaded.transactional = batch.producer.has_value();
      loaded.control = batch.control;
      told(loaded);
    }
    for (const auto& record : batch.records) {
      std::optional<Bytes> value;
      if (record.value) value = Bytes(*record.value);
      EXPECT_TRUE(sink(Bytes(record.key), value).is_ok());
      ++step.replayed;
    }
    return step;
  }

  struct Pending {
    int32_t partition;
    Batch batch;
    std::function<void(ErrorCode)> done;
  };
  std::map<int32_t, std::vector<Batch>> batches;
  std::deque<Pending> pending;
  std::optional<int64_t> high_watermark;
};

template <class T>
struct Slot {
  std::optional<T> value;
  int calls = 0;
  Reply<T> reply() {
    return [this](T response) {
      value = std::move(response);
      ++calls;
    };
  }
};

class TransactionsTest : public ::testing::Test {
 protected:
  TransactionsTest() {
    config.initial_rebalance_delay_ms = 0;
    config.offsets_topic_partitions = 1;  // every group in partition 0
    coordinator = make();
  }
  std::unique_ptr<GroupCoordinator> make() {
    return std::make_unique<GroupCoordinator>(config, clock, random, log);
  }

  static TxnOffsetCommitRequest txn_request(int64_t producer_id, int32_t partition, int64_t offset,
                                            const std::string& group = "g") {
    TxnOffsetCommitRequest request;
    request.transactional_id = "tx";
    request.group_id = group;
    request.producer_id = producer_id;
    request.producer_epoch = 3;
    auto& topic = request.topics.emplace_back();
    topic.name = "t";
    auto& entry = topic.partitions.emplace_back();
    entry.partition_index = partition;
    entry.committed_offset = offset;
    entry.committed_metadata = "m";
    return request;
  }
  // The error of the request's one partition, after its append completed with `append_error`.
  int16_t txn_commit(const TxnOffsetCommitRequest& request, int16_t version = 3,
                     ErrorCode append_error = ErrorCode::NONE) {
    Slot<TxnOffsetCommitResponse> slot;
    coordinator->txn_offset_commit(request, version, slot.reply());
    log.complete(append_error);
    EXPECT_EQ(slot.calls, 1);
    return slot.value ? slot.value->topics.at(0).partitions.at(0).error_code : -999;
  }
  int16_t plain_commit(int32_t partition, int64_t offset, const std::string& group = "g") {
    protocol::OffsetCommitRequest request;
    request.group_id = group;
    request.generation_id_or_member_epoch = -1;
    auto& topic = request.topics.emplace_back();
    topic.name = "t";
    topic.partitions.push_back({partition, offset, -1, -1, std::string("m"), {}});
    Slot<protocol::OffsetCommitResponse> slot;
    coordinator->offset_commit(request, 8, slot.reply());
    log.complete();
    return slot.value->topics.at(0).partitions.at(0).error_code;
  }
  // (error, committed offset) of t-`partition`, v8 (or v7: one group).
  std::pair<int16_t, int64_t> fetch(int32_t partition, bool require_stable = false,
                                    int16_t version = 8, GroupCoordinator* from = nullptr) {
    GroupCoordinator& target = from ? *from : *coordinator;
    protocol::OffsetFetchRequest request;
    request.require_stable = require_stable;
    if (version < 8) {
      request.group_id = "g";
      request.topics = std::vector<protocol::OffsetFetchRequest::OffsetFetchRequestTopic>{
          {"t", {partition}, {}}};
      auto response = target.offset_fetch(request, version);
      const auto& answer = response.topics.at(0).partitions.at(0);
      return {answer.error_code, answer.committed_offset};
    }
    auto& entry = request.groups.emplace_back();
    entry.group_id = "g";
    entry.topics =
        std::vector<protocol::OffsetFetchRequest::OffsetFetchRequestTopics>{{"t", {partition}, {}}};
    auto response = target.offset_fetch(request, version);
    const auto& answer = response.groups.at(0).topics.at(0).partitions.at(0);
    return {answer.error_code, answer.committed_offset};
  }
  // One member joined and synced: (member id, generation).
  std::pair<std::string, int32_t> stable_member(
      std::optional<std::string> instance = std::nullopt) {
    protocol::JoinGroupRequest join;
    join.group_id = "g";
    join.session_timeout_ms = 10000;
    join.rebalance_timeout_ms = 30000;
    join.group_instance_id = instance;
    join.protocol_type = "consumer";
    join.protocols.push_back({"range", {1, 2, 3}, {}});
    Slot<protocol::JoinGroupResponse> first;
    coordinator->join_group(join, 9, {"client", "/127.0.0.1"}, first.reply());
    std::string id = first.value->member_id;
    int32_t generation = first.value->generation_id;
    if (first.value->error_code != 0) {
      join.member_id = id;
      Slot<protocol::JoinGroupResponse> second;
      coordinator->join_group(join, 9, {"client", "/127.0.0.1"}, second.reply());
      EXPECT_EQ(second.value->error_code, 0);
      generation = second.value->generation_id;
    }
    protocol::SyncGroupRequest sync;
    sync.group_id = "g";
    sync.generation_id = generation;
    sync.member_id = id;
    sync.group_instance_id = instance;
    sync.assignments.push_back({id, {9}, {}});
    Slot<protocol::SyncGroupResponse> synced;
    coordinator->sync_group(sync, 5, synced.reply());
    log.complete();
    EXPECT_EQ(synced.value->error_code, 0);
    return {id, generation};
  }

  ManualClock clock;
  SeededRandom random{7};
  TxnLog log;
  GroupConfig config;
  std::unique_ptr<GroupCoordinator> coordinator;
};

TEST_F(TransactionsTest, PendingUntilTheCommitMarker) {
  ASSERT_EQ(plain_commit(0, 3), 0);
  Slot<TxnOffsetCommitResponse> slot;
  coordinator->txn_offset_commit(txn_request(1000, 0, 5), 3, slot.reply());
  ASSERT_EQ(log.pending.size(), 1u);
  ASSERT_TRUE(log.pending.front().batch.producer.has_value()) << "written as a transactional batch";
  EXPECT_EQ(*log.pending.front().batch.producer,
            (TransactionalProducer{ProducerId{1000}, ProducerEpoch{3}, {}}));
  EXPECT_EQ(slot.calls, 0) << "answered once durable";
  EXPECT_EQ(fetch(0, true).first, err(ErrorCode::UNSTABLE_OFFSET_COMMIT))
      << "in flight counts as pending";
  log.complete();
  ASSERT_EQ(slot.calls, 1);
  EXPECT_EQ(slot.value->topics.at(0).partitions.at(0).error_code, 0);

  EXPECT_EQ(fetch(0), ok(3)) << "the last committed offset, not the pending one";
  EXPECT_EQ(fetch(0, true), unstable());
  EXPECT_EQ(fetch(0, true, 7), unstable());
  EXPECT_EQ(fetch(0, false, 6), ok(3));
  EXPECT_EQ(fetch(1, true), ok(-1)) << "other partitions are stable";

  coordinator->complete_transaction(ProducerId{999}, 0,
                                    true);  // another producer: nothing of it here
  EXPECT_EQ(fetch(0).second, 3);
  coordinator->complete_transaction(ProducerId{1000}, 0, true);
  EXPECT_EQ(fetch(0), ok(5));
  EXPECT_EQ(fetch(0, true), ok(5));
}

TEST_F(TransactionsTest, AbortDropsThePendingOffsets) {
  ASSERT_EQ(plain_commit(0, 3), 0);
  ASSERT_EQ(txn_commit(txn_request(1000, 0, 5)), 0);
  coordinator->complete_transaction(ProducerId{1000}, 0, false);
  EXPECT_EQ(fetch(0, true), ok(3));
  coordinator->complete_transaction(ProducerId{1000}, 0,
                                    true);  // a late duplicate: nothing pending
  EXPECT_EQ(fetch(0).second, 3);
}

TEST_F(TransactionsTest, APlainCommitWrittenLaterWins) {
  ASSERT_EQ(txn_commit(txn_request(1000, 0, 5)), 0);
  ASSERT_EQ(plain_commit(0, 7), 0);
  coordinator->complete_transaction(ProducerId{1000}, 0, true);
  EXPECT_EQ(fetch(0).second, 7) << "the plain commit's record is later in the log";

  ASSERT_EQ(plain_commit(1, 2), 0);
  ASSERT_EQ(txn_commit(txn_request(1001, 1, 9)), 0);
  coordinator->complete_transaction(ProducerId{1001}, 0, true);
  EXPECT_EQ(fetch(1).second, 9) << "the transactional record is the later one";
}

TEST_F(TransactionsTest, FailedAppendRevertsAndAnswersKafkasError) {
  ASSERT_EQ(plain_commit(0, 3), 0);
  EXPECT_EQ(txn_commit(txn_request(1000, 0, 5), 3, ErrorCode::NOT_ENOUGH_REPLICAS),
            err(ErrorCode::COORDINATOR_NOT_AVAILABLE));
  EXPECT_EQ(fetch(0, true), ok(3)) << "nothing pending";
  coordinator->complete_transaction(ProducerId{1000}, 0, true);
  EXPECT_EQ(fetch(0).second, 3);
  // The partition's refusal of the producer passes through as is.
  EXPECT_EQ(txn_commit(txn_request(1000, 0, 5), 3, ErrorCode::INVALID_PRODUCER_EPOCH),
            err(ErrorCode::INVALID_PRODUCER_EPOCH));
  EXPECT_EQ(txn_commit(txn_request(1000, 0, 5), 3, ErrorCode::KAFKA_STORAGE_ERROR),
            err(ErrorCode::NOT_COORDINATOR));
  EXPECT_TRUE(log.batches[0].size() == 1u) << "only the plain commit is in the log";
}

TEST_F(TransactionsTest, ValidationAsKafkasClassicGroups) {
  EXPECT_EQ(txn_commit(txn_request(1, 0, 5, "")), err(ErrorCode::INVALID_GROUP_ID));
  // No group: only a commit without a generation (a simple group).
  auto request = txn_request(1, 0, 5, "other");
  request.generation_id = 1;
  request.member_id = "m";
  EXPECT_EQ(txn_commit(request), err(ErrorCode::ILLEGAL_GENERATION));
  EXPECT_EQ(txn_commit(txn_request(1, 0, 5, "other")), 0);

  auto [id, generation] = stable_member(std::string("instance-1"));
  auto as_member = [](int32_t gen, const std::string& member, std::optional<std::string> instance) {
    auto r = txn_request(2, 0, 5);
    r.generation_id = gen;
    r.member_id = member;
    r.group_instance_id = std::move(instance);
    return r;
  };
  EXPECT_EQ(txn_commit(as_member(generation + 1, id, "instance-1")),
            err(ErrorCode::ILLEGAL_GENERATION));
  EXPECT_EQ(txn_commit(as_member(generation, "someone", std::nullopt)),
            err(ErrorCode::UNKNOWN_MEMBER_ID));
  EXPECT_EQ(txn_commit(as_member(generation, "someone", "instance-1")),
            err(ErrorCode::FENCED_INSTANCE_ID));
  EXPECT_EQ(txn_commit(as_member(generation, id, "instance-2")), err(ErrorCode::UNKNOWN_MEMBER_ID));
  EXPECT_EQ(txn_commit(as_member(-1, id, "instance-1")), err(ErrorCode::ILLEGAL_GENERATION))
      << "a member must name its generation";
  EXPECT_EQ(txn_commit(as_member(generation, id, "instance-1")), 0);
  // v0-2 carry no member: accepted in a group with members.
  EXPECT_EQ(txn_commit(txn_request(3, 1, 5), 2), 0);

  auto large = txn_request(4, 2, 5);
  large.topics[0].partitions[0].committed_metadata =
      std::string(config.offset_metadata_max_bytes + 1, 'x');
  EXPECT_EQ(txn_commit(large), err(ErrorCode::OFFSET_METADATA_TOO_LARGE));
  EXPECT_TRUE(log.pending.empty());
}

TEST_F(TransactionsTest, LoadHoldsTransactionalCommitsUntilTheirMarker) {
  ASSERT_EQ(plain_commit(0, 1), 0);
  ASSERT_EQ(txn_commit(txn_request(1, 0, 5)), 0);
  ASSERT_EQ(txn_commit(txn_request(2, 1, 9)), 0);
  ASSERT_EQ(txn_commit(txn_request(3, 2, 11)), 0);
  log.marker(0, 1, true);
  log.marker(0, 2, false);
  ASSERT_EQ(plain_commit(3, 4), 0);
  // A marker with no pending offsets of its producer, before its commit.
  log.marker(0, 4, true);
  ASSERT_EQ(txn_commit(txn_request(4, 3, 6)), 0);

  auto loaded = make();
  loaded->on_election(0, LeaderEpoch{1});
  ASSERT_EQ(loaded->partition_error(0), ErrorCode::NONE);
  EXPECT_EQ(fetch(0, true, 8, loaded.get()), ok(5)) << "committed by its marker";
  EXPECT_EQ(fetch(1, true, 8, loaded.get()), ok(-1)) << "aborted";
  EXPECT_EQ(fetch(2, false, 8, loaded.get()).second, -1) << "no marker yet: pending";
  EXPECT_EQ(fetch(2, true, 8, loaded.get()).first, err(ErrorCode::UNSTABLE_OFFSET_COMMIT));
  EXPECT_EQ(fetch(3, true, 8, loaded.get()).first, err(ErrorCode::UNSTABLE_OFFSET_COMMIT))
      << "the earlier marker of producer 4 does not complete its later commit";
  loaded->complete_transaction(ProducerId{3}, 0, true);
  loaded->complete_transaction(ProducerId{4}, 0, false);
  EXPECT_EQ(fetch(2, true, 8, loaded.get()), ok(11));
  EXPECT_EQ(fetch(3, true, 8, loaded.get()), ok(4));
}

TEST_F(TransactionsTest, CompletionWhileLoadingAppliesOnceLoaded) {
  ASSERT_EQ(txn_commit(txn_request(1, 0, 5)), 0);
  ASSERT_EQ(plain_commit(1, 2), 0);
  auto loaded = make();
  log.high_watermark = 1;  // the load waits at the second batch
  loaded->on_election(0, LeaderEpoch{1});
  EXPECT_EQ(loaded->partition_error(0), ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
  loaded->complete_transaction(ProducerId{1}, 0, true);  // the marker, written past the load's end
  log.high_watermark.reset();
  loaded->continue_loads();
  ASSERT_EQ(loaded->partition_error(0), ErrorCode::NONE);
  EXPECT_EQ(fetch(0, true, 8, loaded.get()), ok(5));
  EXPECT_EQ(fetch(1, true, 8, loaded.get()), ok(2));
}

TEST_F(TransactionsTest, ResignationDropsPendingOffsets) {
  ASSERT_EQ(txn_commit(txn_request(1, 0, 5)), 0);
  coordinator->on_resignation(0, LeaderEpoch{1});
  coordinator->complete_transaction(ProducerId{1}, 0, true);  // not led here: ignored
  log.marker(0, 1, true);
  coordinator->on_election(0, LeaderEpoch{2});
  EXPECT_EQ(fetch(0, true), ok(5)) << "the load read the marker";
}

TEST_F(TransactionsTest, DeletesCoverPendingOffsets) {
  ASSERT_EQ(txn_commit(txn_request(1, 0, 5)), 0);
  ASSERT_EQ(txn_commit(txn_request(1, 1, 6)), 0);
  // OffsetDelete of t-0: a tombstone although nothing is committed there.
  protocol::OffsetDeleteRequest remove;
  remove.group_id = "g";
  auto& topic = remove.topics.emplace_back();
  topic.name = "t";
  topic.partitions.emplace_back().partition_index = 0;
  Slot<protocol::OffsetDeleteResponse> removed;
  coordinator->offset_delete(remove, 0, removed.reply());
  ASSERT_EQ(log.pending.size(), 1u);
  EXPECT_FALSE(log.pending.front().batch.records.at(0).value.has_value());
  log.complete();
  EXPECT_EQ(removed.value->error_code, 0);
  EXPECT_EQ(fetch(0, true), ok(-1)) << "the tombstone removed the pending offset";
  EXPECT_EQ(fetch(1, true).first, err(ErrorCode::UNSTABLE_OFFSET_COMMIT));

  // DeleteGroups of the (empty) group: the pending t-1 gets its tombstone.
  protocol::DeleteGroupsRequest request;
  request.groups_names = {"g"};
  Slot<protocol::DeleteGroupsResponse> deleted;
  coordinator->delete_groups(request, 2, deleted.reply());
  ASSERT_EQ(log.pending.size(), 1u);
  EXPECT_EQ(log.pending.front().batch.records.size(), 2u) << "t-1's tombstone and the group's";
  log.complete();
  EXPECT_EQ(deleted.value->results.at(0).error_code, 0);
  coordinator->complete_transaction(ProducerId{1}, 0, true);
  EXPECT_EQ(fetch(1, true), ok(-1));
}

TEST_F(TransactionsTest, ExpiryKeepsOffsetsATransactionMayReplace) {
  config.offsets_retention_ms = 1000;
  coordinator = make();
  ASSERT_EQ(plain_commit(0, 3), 0);
  ASSERT_EQ(txn_commit(txn_request(1, 0, 5)), 0);
  clock.advance_ms(config.offsets_retention_check_interval_ms + 2000);
  coordinator->tick();
  EXPECT_TRUE(log.pending.empty()) << "nothing expires while a transaction is open on it";
  EXPECT_EQ(coordinator->group_count(), 1u);
  coordinator->complete_transaction(ProducerId{1}, 0, true);
  EXPECT_EQ(fetch(0).second, 5);
}

// The runtime writes an operation's plain and transactional records as
// separate batches, in the order they were added.
TEST(TransactionalWrites, RuntimeSplitsBatchesPerProducer) {
  TxnLog log;
  InlineExecutor executor;
  CoordinatorRuntime runtime(1, log, executor);
  std::vector<std::string> done;
  runtime.run(0, [&](WriteBatch& batch) {
    batch.add({{{1}, std::nullopt}}, [&](ErrorCode) { done.push_back("plain"); });
    batch.add_transactional({ProducerId{7}, ProducerEpoch{1}, {}}, {{{2}, std::nullopt}},
                            [&](ErrorCode) { done.push_back("txn7"); });
    batch.add_transactional({ProducerId{7}, ProducerEpoch{1}, {}}, {{{3}, std::nullopt}},
                            [&](ErrorCode) { done.push_back("txn7b"); });
    batch.add({{{4}, std::nullopt}}, [&](ErrorCode) { done.push_back("plain2"); });
  });
  ASSERT_EQ(log.pending.size(), 3u);
  EXPECT_FALSE(log.pending[0].batch.producer.has_value());
  EXPECT_EQ(log.pending[1].batch.producer,
            (TransactionalProducer{ProducerId{7}, ProducerEpoch{1}, {}}));
  EXPECT_EQ(log.pending[1].batch.records.size(), 2u);
  EXPECT_FALSE(log.pending[2].batch.producer.has_value());
  log.complete();
  EXPECT_EQ(done, (std::vector<std::string>{"plain", "txn7", "txn7b", "plain2"}));
}

}  // namespace
}  // namespace sluice::group
