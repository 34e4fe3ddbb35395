// The broker's producer ids (Kafka's RPCProducerIdManager) against a fake
// controller channel: blocks handed out in order, the next one asked for at
// 90% of the current, COORDINATOR_LOAD_IN_PROGRESS (would_block) while none
// is at hand, one request in flight, 50 ms backoff after errors, bad blocks
// refused, late answers after destruction dropped.
#include "txn/producer_id_manager.h"

#include <gtest/gtest.h>

#include <deque>
#include <set>

namespace sluice::txn {
namespace {

using Response = protocol::AllocateProducerIdsResponse;
using Answer = std::function<void(net::ClientResult<Response>)>;

class ProducerIdManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<ProducerIdManager> make(int64_t backoff_ms = 50) {
    ProducerIdManager::Options options;
    options.node_id = 3;
    options.broker_epoch = [this] { return epoch_; };
    options.send = [this](protocol::AllocateProducerIdsRequest request, Answer done) {
      requests_.push_back(request);
      pending_.push_back(std::move(done));
    };
    options.clock = &clock_;
    options.retry_backoff_ms = backoff_ms;
    return std::make_unique<ProducerIdManager>(std::move(options));
  }
  void answer(int16_t error, int64_t start = 0, int32_t length = 0) {
    ASSERT_FALSE(pending_.empty());
    Answer done = std::move(pending_.front());
    pending_.pop_front();
    net::ClientResult<Response> result;
    result.message.error_code = error;
    result.message.producer_id_start = start;
    result.message.producer_id_len = length;
    done(std::move(result));
  }
  void disconnect() {
    Answer done = std::move(pending_.front());
    pending_.pop_front();
    net::ClientResult<Response> result;
    result.status = {net::ClientErrc::disconnected, "gone"};
    done(std::move(result));
  }

  ManualClock clock_;
  int64_t epoch_ = 17;
  std::vector<protocol::AllocateProducerIdsRequest> requests_;
  std::deque<Answer> pending_;
};

TEST_F(ProducerIdManagerTest, NoBlockYetMeansLoadInProgressAndOneRequest) {
  auto manager = make();
  auto id = manager->generate_producer_id();
  ASSERT_FALSE(id);
  EXPECT_EQ(id.status().code(), Errc::would_block);
  EXPECT_EQ(producer_id_error_code(id.status()), ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
  EXPECT_FALSE(manager->generate_producer_id());
  ASSERT_EQ(requests_.size(), 1u) << "one request in flight";
  EXPECT_EQ(requests_[0].broker_id, 3);
  EXPECT_EQ(requests_[0].broker_epoch, 17);
  answer(0, 5000, 1000);
  EXPECT_EQ(manager->generate_producer_id()->value(), 5000);
  EXPECT_EQ(manager->generate_producer_id()->value(), 5001);
}

TEST_F(ProducerIdManagerTest, StartPrefetchesAndTheNextBlockComesAtNinetyPercent) {
  auto manager = make();
  manager->start();
  ASSERT_EQ(requests_.size(), 1u);
  answer(0, 0, 10);
  std::set<int64_t> ids;
  for (int i = 0; i < 9; ++i) ids.insert(manager->generate_producer_id()->value());
  EXPECT_EQ(requests_.size(), 1u) << "ids 0..8: below 90%";
  ids.insert(manager->generate_producer_id()->value());  // id 9 = 0 + 10 * 0.9
  ASSERT_EQ(requests_.size(), 2u) << "the prefetch";
  answer(0, 10, 10);
  EXPECT_TRUE(manager->has_next_block());
  for (int i = 0; i < 10; ++i) ids.insert(manager->generate_producer_id()->value());
  EXPECT_EQ(ids.size(), 20u);
  EXPECT_EQ(*ids.begin(), 0);
  EXPECT_EQ(*ids.rbegin(), 19);
}

TEST_F(ProducerIdManagerTest, ErrorsBackOffBeforeTheNextRequest) {
  auto manager = make();
  manager->start();
  answer(static_cast<int16_t>(ErrorCode::STALE_BROKER_EPOCH));
  EXPECT_FALSE(manager->generate_producer_id());
  EXPECT_EQ(requests_.size(), 1u) << "within the backoff";
  clock_.advance_ms(50);
  EXPECT_FALSE(manager->generate_producer_id());
  ASSERT_EQ(requests_.size(), 2u);
  disconnect();
  clock_.advance_ms(49);
  EXPECT_FALSE(manager->generate_producer_id());
  EXPECT_EQ(requests_.size(), 2u);
  clock_.advance_ms(1);
  epoch_ = 18;
  EXPECT_FALSE(manager->generate_producer_id());
  ASSERT_EQ(requests_.size(), 3u);
  EXPECT_EQ(requests_[2].broker_epoch, 18) << "the epoch is read for every request";
  answer(static_cast<int16_t>(ErrorCode::NOT_CONTROLLER));
  clock_.advance_ms(50);
  EXPECT_FALSE(manager->generate_producer_id());
  answer(0, 1000, 1000);
  EXPECT_EQ(manager->generate_producer_id()->value(), 1000);
}

TEST_F(ProducerIdManagerTest, InvalidOrOlderBlocksAreRefused) {
  auto manager = make();
  manager->start();
  answer(0, -1, 1000);  // negative start
  clock_.advance_ms(50);
  EXPECT_FALSE(manager->generate_producer_id());
  answer(0, std::numeric_limits<int64_t>::max() - 10, 1000);  // overflows
  clock_.advance_ms(50);
  EXPECT_FALSE(manager->generate_producer_id());
  answer(0, 2000, 1000);
  for (int i = 0; i < 901; ++i) ASSERT_TRUE(manager->generate_producer_id());
  ASSERT_EQ(pending_.size(), 1u) << "the prefetch at 2900";
  answer(0, 1000, 1000);  // goes back: refused
  EXPECT_FALSE(manager->has_next_block());
  for (int i = 0; i < 99; ++i) ASSERT_TRUE(manager->generate_producer_id());
  EXPECT_FALSE(manager->generate_producer_id()) << "the block is used up";
  clock_.advance_ms(50);
  EXPECT_FALSE(manager->generate_producer_id());
  answer(0, 3000, 1000);
  EXPECT_EQ(manager->generate_producer_id()->value(), 3000);
}

TEST_F(ProducerIdManagerTest, AnswersAfterStopOrDestructionAreDropped) {
  auto manager = make();
  manager->start();
  manager.reset();
  answer(0, 0, 1000);  // nothing to call: no crash
  manager = make();
  manager->start();
  manager->stop();
  answer(0, 0, 1000);
  EXPECT_FALSE(manager->has_next_block());
  EXPECT_FALSE(manager->generate_producer_id());
  EXPECT_EQ(requests_.size(), 2u) << "a stopped manager asks no more";
}

TEST_F(ProducerIdManagerTest, AnAnswerOnTheSendingThreadIsFine) {
  ProducerIdManager::Options options;
  options.node_id = 1;
  options.broker_epoch = [] { return 1; };
  int64_t next = 0;
  options.send = [&next](protocol::AllocateProducerIdsRequest, Answer done) {
    net::ClientResult<Response> result;
    result.message.producer_id_start = next;
    result.message.producer_id_len = 10;
    next += 10;
    done(std::move(result));  // at once, as the controller's cancel path may
  };
  options.clock = &clock_;
  ProducerIdManager manager(std::move(options));
  for (int64_t expected = 0; expected < 35; ++expected)
    ASSERT_EQ(manager.generate_producer_id()->value(), expected);
}

}  // namespace
}  // namespace sluice::txn
