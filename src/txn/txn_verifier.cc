#include "txn/txn_verifier.h"

#include <spdlog/spdlog.h>

#include "coordinator/coordinator_keys.h"
#include "txn/txn_coordinator.h"

namespace sluice::txn {
namespace {

using protocol::AddPartitionsToTxnRequest;
using protocol::AddPartitionsToTxnResponse;

// The broker form of AddPartitionsToTxn (several transactions, verify_only)
// starts at v4; v5 tells the coordinator an add comes from transactions v2.
constexpr int16_t broker_form_min_version = 4;

TxnVerificationErrors all_failed(const TxnVerification& verification, ErrorCode error) {
  TxnVerificationErrors errors;
  for (const MarkerPartition& partition : verification.partitions) errors[partition] = error;
  return errors;
}

// Kafka's AddPartitionsToTxnHandler, per partition.
ErrorCode partition_error(ErrorCode error, const TxnVerification& verification) {
  if (error == ErrorCode::PRODUCER_FENCED) return ErrorCode::INVALID_PRODUCER_EPOCH;
  // Clients before Produce v11 know no TRANSACTION_ABORTABLE.
  if (error == ErrorCode::TRANSACTION_ABORTABLE && !verification.abortable_error_supported)
    return ErrorCode::INVALID_TXN_STATE;
  return error;
}

AddPartitionsToTxnRequest::AddPartitionsToTxnTransaction transaction_of(
    const TxnVerification& verification) {
  AddPartitionsToTxnRequest::AddPartitionsToTxnTransaction out;
  out.transactional_id = verification.transactional_id;
  out.producer_id = verification.producer_id;
  out.producer_epoch = verification.producer_epoch;
  out.verify_only = !verification.add_partitions;
  for (const MarkerPartition& partition : verification.partitions) {
    if (out.topics.empty() || out.topics.back().name != partition.topic)
      out.topics.emplace_back().name = partition.topic;
    out.topics.back().partitions.push_back(partition.partition);
  }
  return out;
}

}  // namespace

ErrorCode produce_error_for_verification(ErrorCode error) {
  switch (error) {
    case ErrorCode::CONCURRENT_TRANSACTIONS:
    case ErrorCode::NETWORK_EXCEPTION:
    case ErrorCode::COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode::COORDINATOR_NOT_AVAILABLE:
    case ErrorCode::NOT_COORDINATOR:
      return ErrorCode::NOT_ENOUGH_REPLICAS;
    default:
      return error;
  }
}

TxnVerifierCore::TxnVerifierCore(net::Transport& transport, TxnVerifierOptions options)
    : transport_(transport), options_(std::move(options)) {}

TxnVerifierCore::~TxnVerifierCore() { close(); }

size_t TxnVerifierCore::waiting() const {
  size_t count = 0;
  for (const auto& [node, batch] : waiting_) count += batch.size();
  return count;
}

bool TxnVerifierCore::coordinator_of(const std::string& transactional_id, int32_t& node,
                                     net::Endpoint& endpoint) const {
  cluster::MetadataImagePtr image = options_.image ? options_.image() : nullptr;
  if (!image) return false;
  const cluster::TopicImage* topic = image->topic(transaction_state_topic);
  if (topic == nullptr || topic->partitions.empty()) return false;
  const int32_t index = coordinator::partition_for_key(
      transactional_id, static_cast<int32_t>(topic->partitions.size()));
  const cluster::PartitionImage* partition = topic->partition(index);
  if (partition == nullptr || partition->leader < 0) return false;
  auto broker = image->brokers.find(partition->leader);
  if (broker == image->brokers.end()) return false;
  for (const cluster::BrokerEndpoint& listener : broker->second.endpoints)
    if (listener.listener_name == options_.listener_name) {
      node = partition->leader;
      endpoint = net::Endpoint{listener.host, listener.port};
      return true;
    }
  return false;
}

// Kafka's verifyTransaction and addTxnData: one waiting verification per
// transactional id and node; the newer epoch wins.
void TxnVerifierCore::verify(TxnVerification verification, TxnVerificationDone done) {
  int32_t node = -1;
  net::Endpoint endpoint;
  if (!coordinator_of(verification.transactional_id, node, endpoint))
    return done(all_failed(verification, ErrorCode::COORDINATOR_NOT_AVAILABLE));
  endpoints_[node] = endpoint;
  Batch& batch = waiting_[node];
  auto existing = batch.find(verification.transactional_id);
  if (existing != batch.end()) {
    Waiting& old = existing->second;
    if (old.verification.producer_epoch > verification.producer_epoch)
      return done(all_failed(verification, ErrorCode::INVALID_PRODUCER_EPOCH));
    const ErrorCode error = old.verification.producer_epoch < verification.producer_epoch
                                ? ErrorCode::INVALID_PRODUCER_EPOCH
                                : ErrorCode::NETWORK_EXCEPTION;
    Waiting replaced = std::move(old);
    batch.erase(existing);
    replaced.done(all_failed(replaced.verification, error));
  }
  const std::string id = verification.transactional_id;
  waiting_[node].emplace(id, Waiting{std::move(verification), std::move(done)});
}

void TxnVerifierCore::tick() {
  retired_.clear();
  for (auto& [node, coordinator] : clients_) coordinator.client->tick();
  std::vector<int32_t> ready;
  for (const auto& [node, batch] : waiting_)
    if (!batch.empty() && !in_flight_.contains(node)) ready.push_back(node);
  for (int32_t node : ready) {
    Batch batch = std::move(waiting_[node]);
    waiting_.erase(node);
    send_to(node, std::move(batch));
  }
}

void TxnVerifierCore::close() {
  auto fail_all = [](Batch& batch) {
    for (auto& [id, waiting] : batch)
      if (waiting.done)
        waiting.done(all_failed(waiting.verification, ErrorCode::NETWORK_EXCEPTION));
    batch.clear();
  };
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [node, batch] : waiting) fail_all(batch);
  auto sent = std::move(sent_);
  sent_.clear();
  for (auto& [node, batch] : sent) fail_all(*batch);
  in_flight_.clear();
  for (auto& [node, coordinator] : clients_) coordinator.client->close();
  clients_.clear();
  for (auto& client : retired_) client->close();
  retired_.clear();
}

net::KafkaClient& TxnVerifierCore::client_for(int32_t node, const net::Endpoint& endpoint) {
  Coordinator& coordinator = clients_[node];
  if (coordinator.client && !(coordinator.endpoint == endpoint)) {
    coordinator.client->close();
    retired_.push_back(std::move(coordinator.client));
  }
  if (!coordinator.client) {
    net::KafkaClientConfig config;
    config.client_id = "txn-verifier-" + std::to_string(options_.node_id);
    config.request_timeout = std::chrono::milliseconds(options_.request_timeout_ms);
    coordinator.endpoint = endpoint;
    coordinator.client = std::make_unique<net::KafkaClient>(
        transport_, endpoint, config, *options_.clock, [this] { return jitter_; });
  }
  return *coordinator.client;
}

void TxnVerifierCore::send_to(int32_t node, Batch batch) {
  auto request = std::make_shared<AddPartitionsToTxnRequest>();
  for (const auto& [id, waiting] : batch)
    request->transactions.push_back(transaction_of(waiting.verification));
  auto shared = std::make_shared<Batch>(std::move(batch));
  in_flight_.insert(node);
  sent_[node] = shared;
  client_for(node, endpoints_[node])
      .send_raw(
          AddPartitionsToTxnRequest::api_key, broker_form_min_version,
          AddPartitionsToTxnRequest::max_version,
          [request](WireWriter& writer, int16_t version) { request->encode(writer, version); },
          [this, node, shared](const net::ClientStatus& status, int16_t version, Bytes body,
                               std::shared_ptr<const std::vector<uint8_t>> /*frame*/) {
            auto sent = sent_.find(node);
            if (sent == sent_.end() || sent->second != shared) return;  // closed meanwhile
            sent_.erase(sent);
            in_flight_.erase(node);
            on_response(*shared, status, version, body);
          });
}

// Kafka's AddPartitionsToTxnHandler.onComplete.
void TxnVerifierCore::on_response(Batch& batch, const net::ClientStatus& status, int16_t version,
                                  Bytes body) {
  auto fail_all = [&batch](ErrorCode error) {
    for (auto& [id, waiting] : batch) waiting.done(all_failed(waiting.verification, error));
  };
  if (status.code == net::ClientErrc::unsupported_version) {
    spdlog::warn(
        "txn: the transaction coordinator has no AddPartitionsToTxn v4: produce "
        "requests go on unverified");
    for (auto& [id, waiting] : batch) waiting.done({});
    return;
  }
  AddPartitionsToTxnResponse response;
  Status decoded = status.ok() ? protocol::decode_exact(body, version, response) : Status();
  if (!status.ok() || !decoded) {
    spdlog::info("txn: AddPartitionsToTxn (verification) failed: {}",
                 status.ok() ? decoded.to_string() : status.message);
    return fail_all(ErrorCode::NETWORK_EXCEPTION);
  }
  if (response.error_code != 0) {
    const auto error = static_cast<ErrorCode>(response.error_code);
    return fail_all(error == ErrorCode::CLUSTER_AUTHORIZATION_FAILED ? ErrorCode::INVALID_TXN_STATE
                                                                     : error);
  }
  for (auto& [id, waiting] : batch) {
    TxnVerificationErrors errors;
    // A partition the answer does not name is not verified.
    for (const MarkerPartition& partition : waiting.verification.partitions)
      errors[partition] = ErrorCode::NETWORK_EXCEPTION;
    for (const auto& result : response.results_by_transaction) {
      if (result.transactional_id != id) continue;
      for (const auto& topic : result.topic_results)
        for (const auto& partition : topic.results_by_partition) {
          auto found = errors.find({topic.name, partition.partition_index});
          if (found == errors.end()) continue;
          const auto error = static_cast<ErrorCode>(partition.partition_error_code);
          if (error == ErrorCode::NONE)
            errors.erase(found);
          else
            found->second = partition_error(error, waiting.verification);
        }
    }
    waiting.done(std::move(errors));
  }
}

TcpTxnVerifier::TcpTxnVerifier(TxnVerifierOptions options)
    : thread_(std::make_unique<net::ClientThread>()) {
  core_ = std::make_unique<TxnVerifierCore>(thread_->transport(), std::move(options));
  // Each tick: the clients' timeouts and reconnects.
  thread_->start("txn-verifier", [this] { core_->tick(); });
}

TcpTxnVerifier::~TcpTxnVerifier() { stop(); }

// Shared, not captured by move: when the thread has stopped the task is
// not run and the answer is given here.
void TcpTxnVerifier::verify(TxnVerification verification, TxnVerificationDone done) {
  auto request = std::make_shared<TxnVerification>(std::move(verification));
  auto answer = std::make_shared<TxnVerificationDone>(std::move(done));
  const bool posted = thread_->post([this, request, answer] {
    core_->verify(std::move(*request), std::move(*answer));
    core_->tick();
  });
  if (!posted) (*answer)(all_failed(*request, ErrorCode::NETWORK_EXCEPTION));
}

void TcpTxnVerifier::stop() {
  thread_->stop([this] { core_->close(); });
}

}  // namespace sluice::txn
