#include "txn/marker_sender.h"

#include <spdlog/spdlog.h>

#include <set>

namespace sluice::txn {
namespace {

using protocol::WriteTxnMarkersRequest;
using protocol::WriteTxnMarkersResponse;

enum class MarkerOutcome { written, retry, drop };

// Kafka's TransactionMarkerRequestCompletionHandler, per partition.
MarkerOutcome outcome_of(ErrorCode error) {
  switch (error) {
    case ErrorCode::NONE:
    case ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case ErrorCode::UNSUPPORTED_VERSION:
      return MarkerOutcome::written;
    case ErrorCode::INVALID_PRODUCER_EPOCH:
    case ErrorCode::TRANSACTION_COORDINATOR_FENCED:
      return MarkerOutcome::drop;
    case ErrorCode::UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode::NOT_LEADER_OR_FOLLOWER:
    case ErrorCode::NOT_ENOUGH_REPLICAS:
    case ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode::REQUEST_TIMED_OUT:
    case ErrorCode::KAFKA_STORAGE_ERROR:
      return MarkerOutcome::retry;
    default:
      // Kafka treats the rest as a broken invariant (IllegalStateException);
      // a marker is never given up silently here: logged and retried.
      spdlog::error("txn: WriteTxnMarkers answered unexpected error {}; retrying",
                    error_name(error));
      return MarkerOutcome::retry;
  }
}

}  // namespace

MarkerSenderCore::MarkerSenderCore(net::Transport& transport, MarkerSenderOptions options)
    : transport_(transport), options_(std::move(options)) {}

MarkerSenderCore::~MarkerSenderCore() { close(); }

int64_t MarkerSenderCore::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(options_.clock->monotonic()).count();
}

void MarkerSenderCore::send(TxnMarker marker, std::function<void(ErrorCode)> done) {
  Txn txn;
  for (const MarkerPartition& partition : marker.partitions) txn.partitions[partition] = {};
  txn.marker = std::move(marker);
  txn.done = std::move(done);
  txns_.emplace(next_txn_id_++, std::move(txn));
}

void MarkerSenderCore::cancel(int32_t coordinator_partition, LeaderEpoch coordinator_epoch) {
  std::vector<uint64_t> cancelled;
  for (const auto& [id, txn] : txns_)
    if (txn.marker.coordinator_partition == coordinator_partition &&
        txn.marker.coordinator_epoch <= coordinator_epoch)
      cancelled.push_back(id);
  for (uint64_t id : cancelled) finish(id, ErrorCode::NOT_COORDINATOR);
}

void MarkerSenderCore::close() {
  while (!txns_.empty()) finish(txns_.begin()->first, ErrorCode::NOT_COORDINATOR);
  for (auto& [broker, leader] : clients_) leader.client->close();
  clients_.clear();
  for (auto& client : retired_) client->close();
  retired_.clear();
}

void MarkerSenderCore::tick() {
  retired_.clear();
  for (auto& [broker, leader] : clients_) leader.client->tick();
  dispatch();
}

void MarkerSenderCore::finish(uint64_t txn_id, ErrorCode error) {
  auto found = txns_.find(txn_id);
  if (found == txns_.end()) return;
  auto done = std::move(found->second.done);
  txns_.erase(found);
  if (done) done(error);
}

void MarkerSenderCore::complete_written() {
  std::vector<uint64_t> written;
  for (const auto& [id, txn] : txns_)
    if (txn.partitions.empty()) written.push_back(id);
  for (uint64_t id : written) finish(id, ErrorCode::NONE);
}

std::optional<net::Endpoint> MarkerSenderCore::endpoint_of(const cluster::MetadataImage& image,
                                                           int32_t broker) const {
  auto found = image.brokers.find(broker);
  if (found == image.brokers.end()) return std::nullopt;
  for (const cluster::BrokerEndpoint& listener : found->second.endpoints)
    if (listener.listener_name == options_.listener_name)
      return net::Endpoint{listener.host, listener.port};
  return std::nullopt;
}

// Kafka's addTxnMarkersToBrokerQueue and drainQueuedTransactionMarkers: a
// partition goes to the broker the image names as its leader now. One
// request per leader carries at most one marker per producer id (the
// response's results are keyed by producer id).
void MarkerSenderCore::dispatch() {
  if (txns_.empty()) return;
  cluster::MetadataImagePtr image = options_.image();
  if (!image) return;  // no metadata yet: the next tick looks again
  const int64_t now = now_ms();
  std::map<int32_t, std::vector<Sent>> by_leader;
  std::map<int32_t, net::Endpoint> endpoints;
  for (auto& [id, txn] : txns_) {
    for (auto at = txn.partitions.begin(); at != txn.partitions.end();) {
      const MarkerPartition& partition = at->first;
      PartitionState& state = at->second;
      if (state.in_flight || state.retry_at_ms > now) {
        ++at;
        continue;
      }
      const cluster::TopicImage* topic = image->topic(partition.topic);
      const cluster::PartitionImage* found =
          topic ? topic->partition(partition.partition) : nullptr;
      if (found == nullptr) {
        spdlog::info("txn: {}-{} no longer exists: its marker for {} is skipped", partition.topic,
                     partition.partition, txn.marker.transactional_id);
        at = txn.partitions.erase(at);
        continue;
      }
      std::optional<net::Endpoint> endpoint =
          found->leader < 0 ? std::nullopt : endpoint_of(*image, found->leader);
      if (!endpoint) {  // no leader (or not reachable yet): later
        state.retry_at_ms = now + options_.retry_backoff_ms;
        ++at;
        continue;
      }
      std::vector<Sent>& batch = by_leader[found->leader];
      endpoints[found->leader] = *endpoint;
      Sent* entry = nullptr;
      for (Sent& sent : batch)
        if (sent.producer_id == txn.marker.producer_id) entry = &sent;
      if (entry != nullptr && entry->txn_id != id) {  // another marker of the producer: next round
        ++at;
        continue;
      }
      if (entry == nullptr) entry = &batch.emplace_back(Sent{id, txn.marker.producer_id, {}});
      entry->partitions.push_back(partition);
      state.in_flight = true;
      ++at;
    }
  }
  complete_written();  // every partition skipped
  for (auto& [broker, batch] : by_leader) send_to(broker, endpoints[broker], std::move(batch));
}

net::KafkaClient& MarkerSenderCore::client_for(int32_t broker, const net::Endpoint& endpoint) {
  Leader& leader = clients_[broker];
  if (leader.client && !(leader.endpoint == endpoint)) {
    leader.client->close();
    retired_.push_back(std::move(leader.client));
  }
  if (!leader.client) {
    net::KafkaClientConfig config;
    config.client_id = "txn-markers-" + std::to_string(options_.node_id);
    config.request_timeout = std::chrono::milliseconds(options_.request_timeout_ms);
    leader.endpoint = endpoint;
    leader.client = std::make_unique<net::KafkaClient>(transport_, endpoint, config,
                                                       *options_.clock, [this] { return jitter_; });
  }
  return *leader.client;
}

void MarkerSenderCore::send_to(int32_t broker, const net::Endpoint& endpoint,
                               std::vector<Sent> batch) {
  WriteTxnMarkersRequest request;
  for (const Sent& sent : batch) {
    const TxnMarker& marker = txns_.at(sent.txn_id).marker;
    auto& entry = request.markers.emplace_back();
    entry.producer_id = marker.producer_id.value();
    entry.producer_epoch = marker.producer_epoch.value();
    entry.transaction_result = marker.commit;
    entry.coordinator_epoch = marker.coordinator_epoch.value();
    std::map<std::string, std::vector<int32_t>> topics;
    for (const MarkerPartition& partition : sent.partitions)
      topics[partition.topic].push_back(partition.partition);
    for (auto& [name, partitions] : topics)
      entry.topics.push_back({name, std::move(partitions), {}});
  }
  auto shared = std::make_shared<std::vector<Sent>>(std::move(batch));
  client_for(broker, endpoint)
      .send(std::move(request), [this, shared](net::ClientResult<WriteTxnMarkersResponse> result) {
        on_response(*shared, result);
      });
}

void MarkerSenderCore::on_response(const std::vector<Sent>& batch,
                                   const net::ClientResult<WriteTxnMarkersResponse>& result) {
  if (!result.ok())
    spdlog::info("txn: WriteTxnMarkers failed ({}: {}); retrying",
                 net::client_errc_name(result.status.code), result.status.message);
  for (const Sent& sent : batch) {
    auto found = txns_.find(sent.txn_id);
    if (found == txns_.end()) continue;  // cancelled meanwhile
    Txn& txn = found->second;
    std::map<MarkerPartition, ErrorCode> errors;
    if (result.ok())
      for (const auto& marker : result.message.markers)
        if (ProducerId{marker.producer_id} == sent.producer_id)
          for (const auto& topic : marker.topics)
            for (const auto& partition : topic.partitions)
              errors[{topic.name, partition.partition_index}] =
                  static_cast<ErrorCode>(partition.error_code);
    bool dropped = false;
    for (const MarkerPartition& partition : sent.partitions) {
      auto error = errors.find(partition);
      // No answer for it (a lost connection, a short response): retried.
      const ErrorCode code = error == errors.end() ? ErrorCode::REQUEST_TIMED_OUT : error->second;
      if (!apply_error(sent.txn_id, txn, partition, code)) {
        dropped = true;
        break;
      }
    }
    if (!dropped && txn.partitions.empty()) finish(sent.txn_id, ErrorCode::NONE);
  }
}

bool MarkerSenderCore::apply_error(uint64_t txn_id, Txn& txn, const MarkerPartition& partition,
                                   ErrorCode error) {
  auto state = txn.partitions.find(partition);
  if (state == txn.partitions.end()) return true;
  switch (outcome_of(error)) {
    case MarkerOutcome::written:
      txn.partitions.erase(state);
      return true;
    case MarkerOutcome::retry:
      spdlog::debug("txn: marker of {} for {}-{}: {}, retrying", txn.marker.transactional_id,
                    partition.topic, partition.partition, error_name(error));
      state->second.in_flight = false;
      state->second.retry_at_ms = now_ms() + options_.retry_backoff_ms;
      return true;
    case MarkerOutcome::drop:
      spdlog::info("txn: marker of {} for {}-{} answered {}: no more markers sent for it",
                   txn.marker.transactional_id, partition.topic, partition.partition,
                   error_name(error));
      finish(txn_id, error);
      return false;
  }
  return true;
}

TcpMarkerSender::TcpMarkerSender(MarkerSenderOptions options)
    : thread_(std::make_unique<net::ClientThread>()) {
  core_ = std::make_unique<MarkerSenderCore>(thread_->transport(), std::move(options));
  // Each tick: the clients' timeouts and reconnects, and the due retries.
  thread_->start("txn-markers", [this] { core_->tick(); });
}

TcpMarkerSender::~TcpMarkerSender() { stop(); }

// Shared, not captured by move: when the thread has stopped the task is
// not run and the answer is given here.
void TcpMarkerSender::send(TxnMarker marker, std::function<void(ErrorCode)> done) {
  auto request = std::make_shared<TxnMarker>(std::move(marker));
  auto answer = std::make_shared<std::function<void(ErrorCode)>>(std::move(done));
  const bool posted = thread_->post([this, request, answer] {
    core_->send(std::move(*request), std::move(*answer));
    core_->tick();
  });
  if (!posted && *answer) (*answer)(ErrorCode::NOT_COORDINATOR);
}

void TcpMarkerSender::cancel(int32_t coordinator_partition, LeaderEpoch coordinator_epoch) {
  (void)thread_->post([this, coordinator_partition, coordinator_epoch] {
    core_->cancel(coordinator_partition, coordinator_epoch);
  });
}

void TcpMarkerSender::stop() {
  thread_->stop([this] { core_->close(); });
}

}  // namespace sluice::txn
