// The Produce verifier's core (KIP-890, Kafka's AddPartitionsToTxnManager)
// over the in-memory transport: the test plays the transaction coordinators
// (accepts, negotiates versions, reads AddPartitionsToTxn, answers). The
// coordinator of an id is the leader of its __transaction_state partition;
// verifications are batched per coordinator node with one request in
// flight each; Kafka's error mapping; the same id's older verification
// replaced; implicit adds (verify_only=false) for Produce v12.
#include "txn/txn_verifier.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "coordinator/coordinator_keys.h"
#include "net/memory_transport.h"
#include "peer_requests.h"
#include "protocol/headers.h"
#include "txn/txn_coordinator.h"

namespace sluice::txn {
namespace {

using protocol::AddPartitionsToTxnRequest;
using protocol::AddPartitionsToTxnResponse;

constexpr int32_t state_partitions = 4;

using ReceivedVerification = testing::ReceivedRequest<AddPartitionsToTxnRequest>;
using testing::response_frame;

// A transactional id whose __transaction_state partition is `partition`.
std::string id_on(int32_t partition, int skip = 0) {
  for (int i = 0;; ++i) {
    std::string id = "tx-" + std::to_string(i);
    if (coordinator::partition_for_key(id, state_partitions) == partition && skip-- == 0) return id;
  }
}

class TxnVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto image = std::make_shared<cluster::MetadataImage>();
    for (int32_t id : {1, 2}) {
      cluster::BrokerImage broker;
      broker.node_id = id;
      broker.endpoints = {{"PLAINTEXT", "b" + std::to_string(id), 9092, 0}};
      image->brokers[id] = broker;
    }
    cluster::TopicImage topic;
    topic.name = transaction_state_topic;
    topic.id = Uuid{{7}};
    for (int32_t i = 0; i < state_partitions; ++i) {
      cluster::PartitionImage partition;
      partition.partition = i;
      partition.replicas = {1, 2};
      partition.leader = i % 2 == 0 ? 1 : 2;  // even partitions on b1, odd on b2
      topic.partitions.push_back(partition);
    }
    image->put_topic(std::move(topic));
    image_ = image;
    TxnVerifierOptions options;
    options.node_id = 9;
    options.image = [this] { return image_; };
    options.clock = &clock_;
    core_ = std::make_unique<TxnVerifierCore>(transport_, options);
  }

  TxnVerification verification(const std::string& id, int16_t epoch = 3,
                               std::vector<MarkerPartition> partitions = {{"t", 0}}) {
    TxnVerification out;
    out.transactional_id = id;
    out.producer_id = 100;
    out.producer_epoch = epoch;
    out.partitions = std::move(partitions);
    return out;
  }
  // Verifies; the answer lands in answers_[id] (kept per call: `tag`).
  void verify(TxnVerification v, const std::string& tag = "") {
    const std::string key = tag.empty() ? v.transactional_id : tag;
    core_->verify(std::move(v),
                  [this, key](TxnVerificationErrors errors) { answers_[key] = std::move(errors); });
  }

  net::MemoryTransport::Peer peer(const std::string& host, int16_t max_version) {
    for (size_t i = transport_.attempts(); i-- > 0;) {
      net::MemoryTransport::Peer candidate = transport_.attempt(i);
      if (candidate.endpoint().host != host) continue;
      if (!candidate.connected() && !candidate.closed_by_client()) {
        candidate.accept();
        auto frame = candidate.take_sent();
        WireReader reader(Bytes(frame.data(), frame.size()));
        protocol::RequestHeader header;
        EXPECT_TRUE(protocol::decode_request_header(reader, header).is_ok());
        protocol::ApiVersionsResponse versions;
        versions.api_keys.push_back({protocol::ApiVersionsRequest::api_key, 0, 3, {}});
        versions.api_keys.push_back({AddPartitionsToTxnRequest::api_key, 0, max_version, {}});
        candidate.deliver(
            response_frame(header.correlation_id, header.request_api_version, versions));
      }
      return candidate;
    }
    ADD_FAILURE() << "no connection to " << host;
    return transport_.last();
  }
  std::optional<ReceivedVerification> receive(const std::string& host, int16_t max_version = 5) {
    net::MemoryTransport::Peer p = peer(host, max_version);
    if (p.sent_count() == 0) return std::nullopt;
    auto frame = p.take_sent();
    WireReader reader(Bytes(frame.data(), frame.size()));
    protocol::RequestHeader header;
    EXPECT_TRUE(protocol::decode_request_header(reader, header).is_ok());
    EXPECT_EQ(header.request_api_key, AddPartitionsToTxnRequest::api_key);
    ReceivedVerification received{p, header.correlation_id, header.request_api_version, {}};
    EXPECT_TRUE(received.request.decode(reader, header.request_api_version).is_ok());
    return received;
  }
  // Answers every partition NONE, except those in `errors` ("id/topic-partition").
  void answer(const ReceivedVerification& received, std::map<std::string, ErrorCode> errors = {},
              ErrorCode top_level = ErrorCode::NONE) {
    AddPartitionsToTxnResponse response;
    response.error_code = to_wire(top_level);
    for (const auto& txn : received.request.transactions) {
      auto& result = response.results_by_transaction.emplace_back();
      result.transactional_id = txn.transactional_id;
      for (const auto& topic : txn.topics) {
        auto& t = result.topic_results.emplace_back();
        t.name = topic.name;
        for (int32_t p : topic.partitions) {
          auto special =
              errors.find(txn.transactional_id + "/" + topic.name + "-" + std::to_string(p));
          t.results_by_partition.push_back(
              {p, to_wire(special == errors.end() ? ErrorCode::NONE : special->second), {}});
        }
      }
    }
    net::MemoryTransport::Peer peer = received.peer;
    peer.deliver(response_frame(received.correlation_id, received.version, response));
  }

  ManualClock clock_;
  net::MemoryTransport transport_;
  cluster::MetadataImagePtr image_;
  // Before the core: its destructor answers what is still waiting here.
  std::map<std::string, TxnVerificationErrors> answers_;
  std::unique_ptr<TxnVerifierCore> core_;
};

TEST_F(TxnVerifierTest, BatchesPerCoordinatorAndMapsPartitionErrors) {
  const std::string a = id_on(0), b = id_on(2), c = id_on(1);
  verify(verification(a, 3, {{"t", 0}, {"t", 1}, {"u", 0}}));
  auto abortable = verification(b);
  abortable.abortable_error_supported = true;  // Produce v11+
  verify(abortable);
  verify(verification(c));
  core_->tick();
  auto to_1 = receive("b1");
  auto to_2 = receive("b2");
  ASSERT_TRUE(to_1 && to_2);
  EXPECT_EQ(to_1->version, 5);
  ASSERT_EQ(to_1->request.transactions.size(), 2u) << "both ids of b1 in one request";
  const auto& first = to_1->request.transactions[0];
  EXPECT_EQ(first.transactional_id, a);
  EXPECT_EQ(first.producer_id, 100);
  EXPECT_EQ(first.producer_epoch, 3);
  EXPECT_TRUE(first.verify_only);
  ASSERT_EQ(first.topics.size(), 2u);
  EXPECT_EQ(first.topics[0].partitions, (std::vector<int32_t>{0, 1}));
  ASSERT_EQ(to_2->request.transactions.size(), 1u);

  answer(*to_1, {{a + "/t-1", ErrorCode::TRANSACTION_ABORTABLE},
                 {a + "/u-0", ErrorCode::PRODUCER_FENCED},
                 {b + "/t-0", ErrorCode::TRANSACTION_ABORTABLE}});
  EXPECT_EQ(answers_[a], (TxnVerificationErrors{{{"t", 1}, ErrorCode::INVALID_TXN_STATE},
                                                {{"u", 0}, ErrorCode::INVALID_PRODUCER_EPOCH}}))
      << "t-0 is verified; old clients see INVALID_TXN_STATE";
  EXPECT_EQ(answers_[b], (TxnVerificationErrors{{{"t", 0}, ErrorCode::TRANSACTION_ABORTABLE}}));
  EXPECT_FALSE(answers_.contains(c));
  answer(*to_2);
  EXPECT_TRUE(answers_.at(c).empty());
}

TEST_F(TxnVerifierTest, OneRequestInFlightPerNodeTheNextCarriesTheRest) {
  verify(verification(id_on(0)));
  core_->tick();
  auto first = receive("b1");
  ASSERT_TRUE(first);
  verify(verification(id_on(0, 1)));
  verify(verification(id_on(2)));
  core_->tick();
  EXPECT_EQ(peer("b1", 5).sent_count(), 0u) << "waits for the answer in flight";
  EXPECT_EQ(core_->waiting(), 2u);
  answer(*first);
  core_->tick();
  auto second = receive("b1");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->request.transactions.size(), 2u);
  answer(*second);
  EXPECT_EQ(answers_.size(), 3u);
  for (const auto& [id, errors] : answers_) EXPECT_TRUE(errors.empty()) << id;
}

TEST_F(TxnVerifierTest, SameIdWaitingTwiceKeepsTheNewerEpoch) {
  const std::string id = id_on(0);
  verify(verification(id, 3), "first");
  verify(verification(id, 3), "same epoch");
  EXPECT_EQ(answers_.at("first"),
            (TxnVerificationErrors{{{"t", 0}, ErrorCode::NETWORK_EXCEPTION}}));
  verify(verification(id, 4), "higher epoch");
  EXPECT_EQ(answers_.at("same epoch"),
            (TxnVerificationErrors{{{"t", 0}, ErrorCode::INVALID_PRODUCER_EPOCH}}));
  verify(verification(id, 2), "lower epoch");
  EXPECT_EQ(answers_.at("lower epoch"),
            (TxnVerificationErrors{{{"t", 0}, ErrorCode::INVALID_PRODUCER_EPOCH}}));
  core_->tick();
  auto sent = receive("b1");
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->request.transactions.size(), 1u);
  EXPECT_EQ(sent->request.transactions[0].producer_epoch, 4);
  answer(*sent);
  EXPECT_TRUE(answers_.at("higher epoch").empty());
}

TEST_F(TxnVerifierTest, ImplicitAddForTransactionsV2) {
  auto add = verification(id_on(1));
  add.add_partitions = true;
  verify(add);
  core_->tick();
  auto sent = receive("b2");
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->version, 5);
  EXPECT_FALSE(sent->request.transactions[0].verify_only);
}

TEST_F(TxnVerifierTest, NoCoordinatorLostConnectionAndTopLevelErrors) {
  auto image = std::make_shared<cluster::MetadataImage>(*image_);
  image->topics.clear();
  image->topic_names.clear();
  image_ = image;
  verify(verification(id_on(0)), "no topic");
  EXPECT_EQ(answers_.at("no topic"),
            (TxnVerificationErrors{{{"t", 0}, ErrorCode::COORDINATOR_NOT_AVAILABLE}}));
  SetUp();
  verify(verification(id_on(0)), "cut");
  core_->tick();
  auto sent = receive("b1");
  ASSERT_TRUE(sent);
  net::MemoryTransport::Peer link = sent->peer;
  link.cut("gone");
  EXPECT_EQ(answers_.at("cut"), (TxnVerificationErrors{{{"t", 0}, ErrorCode::NETWORK_EXCEPTION}}));
  verify(verification(id_on(2)), "refused");
  clock_.advance_ms(5000);  // past the reconnect backoff
  core_->tick();
  sent = receive("b1");
  ASSERT_TRUE(sent);
  answer(*sent, {}, ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
  EXPECT_EQ(answers_.at("refused"),
            (TxnVerificationErrors{{{"t", 0}, ErrorCode::INVALID_TXN_STATE}}));
}

TEST_F(TxnVerifierTest, CoordinatorWithoutTheBrokerFormLetsTheProduceThrough) {
  verify(verification(id_on(0)));
  core_->tick();
  auto sent = receive("b1", /*max_version=*/3);
  EXPECT_FALSE(sent) << "nothing sent below v4";
  ASSERT_TRUE(answers_.contains(id_on(0)));
  EXPECT_TRUE(answers_.at(id_on(0)).empty());
}

TEST_F(TxnVerifierTest, CloseAnswersWaitingAndInFlight) {
  verify(verification(id_on(0)), "in flight");
  core_->tick();
  ASSERT_TRUE(receive("b1"));
  verify(verification(id_on(2)), "waiting");
  core_->close();
  EXPECT_EQ(answers_.at("in flight").begin()->second, ErrorCode::NETWORK_EXCEPTION);
  EXPECT_EQ(answers_.at("waiting").begin()->second, ErrorCode::NETWORK_EXCEPTION);
}

TEST(TxnVerifierErrors, ProduceAnswersRetriableCoordinatorErrorsNotEnoughReplicas) {
  for (ErrorCode error : {ErrorCode::CONCURRENT_TRANSACTIONS, ErrorCode::NETWORK_EXCEPTION,
                          ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
                          ErrorCode::COORDINATOR_NOT_AVAILABLE, ErrorCode::NOT_COORDINATOR})
    EXPECT_EQ(produce_error_for_verification(error), ErrorCode::NOT_ENOUGH_REPLICAS);
  for (ErrorCode error : {ErrorCode::INVALID_TXN_STATE, ErrorCode::INVALID_PRODUCER_EPOCH,
                          ErrorCode::TRANSACTION_ABORTABLE})
    EXPECT_EQ(produce_error_for_verification(error), error);
}

TEST(TcpTxnVerifier, StopAnswersWaitingAndLaterVerifications) {
  auto image = std::make_shared<cluster::MetadataImage>();
  cluster::TopicImage topic;
  topic.name = transaction_state_topic;
  topic.partitions.push_back(cluster::PartitionImage{});  // no leader
  image->put_topic(std::move(topic));
  TxnVerifierOptions options;
  options.image = [image] { return image; };
  TcpTxnVerifier verifier(options);
  TxnVerification v;
  v.transactional_id = "x";
  v.partitions = {{"t", 0}};
  std::promise<TxnVerificationErrors> first;
  verifier.verify(v, [&first](TxnVerificationErrors errors) { first.set_value(errors); });
  EXPECT_EQ(first.get_future().get().at({"t", 0}), ErrorCode::COORDINATOR_NOT_AVAILABLE);
  verifier.stop();
  TxnVerificationErrors later;
  verifier.verify(v, [&later](TxnVerificationErrors errors) { later = errors; });
  EXPECT_EQ(later.at({"t", 0}), ErrorCode::NETWORK_EXCEPTION);
}

// As TcpMarkerSender's: a tick already due when stop() cancels the timer
// must not arm it again, or stop() never joins (a broker hung on SIGTERM).
// Stops land around the 10 ms tick; a hang is this test's failure.
TEST(TcpTxnVerifier, StopJoinsWhenATickIsDue) {
  auto image = std::make_shared<cluster::MetadataImage>();
  TxnVerifierOptions options;
  options.image = [image] { return image; };
  for (int i = 0; i < 400; ++i) {
    TcpTxnVerifier verifier(options);
    std::this_thread::sleep_for(std::chrono::microseconds(9800 + (i % 40) * 10));
    verifier.stop();
  }
}

}  // namespace
}  // namespace sluice::txn
