#include "cluster/replica_fetcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <optional>
#include <random>
#include <thread>

#include "base/thread_name.h"
#include "cluster/replication_rules.h"
#include "net/kafka_client.h"
#include "net/tcp_transport.h"
#include "protocol/messages.h"

namespace sluice::cluster {

// One source broker's fetcher; every member but the constructor, the
// destructor and set_partitions() runs on its thread.
class ReplicaFetcher {
 public:
  ReplicaFetcher(int32_t leader, int32_t fetcher_id, net::Endpoint endpoint,
                 const ReplicaFetcherOptions& options)
      : leader_(leader),
        endpoint_(std::move(endpoint)),
        options_(options),
        work_(asio::make_work_guard(io_)),
        transport_(io_),
        timer_(io_),
        jitter_(static_cast<uint64_t>(leader) * 7919 + static_cast<uint64_t>(options.node_id)) {
    net::KafkaClientConfig config;
    config.client_id = "replica-fetcher-" + std::to_string(options_.node_id);
    config.max_in_flight_requests_per_connection = 1;
    config.request_timeout = std::chrono::milliseconds(30000 + options_.max_wait_ms);
    config.reconnect_backoff = std::chrono::milliseconds(50);
    config.reconnect_backoff_max = std::chrono::milliseconds(500);
    client_ = std::make_unique<net::KafkaClient>(
        transport_, endpoint_, config, *options_.clock,
        [this] { return std::uniform_real_distribution<double>(0, 1)(jitter_); });
    thread_ = std::thread([this, fetcher_id] {
      set_current_thread_name("fetch-" + std::to_string(leader_) +
                              (options_.num_fetchers > 1 ? "-" + std::to_string(fetcher_id) : ""));
      arm(0);
      io_.run();
    });
  }

  ~ReplicaFetcher() {
    asio::post(io_, [this] {
      stopping_ = true;
      timer_.cancel();
      client_->close();
    });
    work_.reset();
    thread_.join();
  }

  const net::Endpoint& endpoint() const { return endpoint_; }

  void set_partitions(std::vector<std::shared_ptr<Partition>> partitions) {
    asio::post(io_, [this, partitions = std::move(partitions)]() mutable {
      partitions_ = std::move(partitions);
      std::erase_if(states_, [this](const auto& entry) {
        return std::none_of(partitions_.begin(), partitions_.end(),
                            [&](const auto& partition) { return partition.get() == entry.first; });
      });
    });
  }

 private:
  struct Sent {
    std::shared_ptr<Partition> partition;
    int32_t leader_epoch;
    int32_t asked_epoch = -1;  // OffsetsForLeaderEpoch only
  };
  using SentMap = std::map<std::pair<std::string, int32_t>, Sent>;
  // Kafka's PartitionFetchState: per partition and leader epoch, Truncating
  // (`ask` holds the epoch of the log's tail the epoch cache has no entry
  // for) or Fetching (`ask` empty).
  struct FetchState {
    int32_t leader_epoch = -1;
    std::optional<int32_t> ask;
  };

  void arm(int32_t delay_ms) {
    timer_.expires_after(std::chrono::milliseconds(delay_ms));
    timer_.async_wait([this](const std::error_code& error) {
      if (error || stopping_) return;
      client_->tick();
      if (!in_flight_) next_request();
      if (in_flight_) arm(10);  // keeps the client's timeouts and reconnects ticking
    });
  }

  // Truncation first (Kafka's maybeTruncate before each fetch): while a
  // partition is Truncating, the round is an OffsetsForLeaderEpoch.
  void next_request() {
    auto asked = std::make_shared<SentMap>();
    for (const auto& partition : partitions_) {
      FollowerPosition position = partition->follower_position();
      if (!position.follower || position.leader != leader_) continue;
      FetchState& state = states_[partition.get()];
      if (state.leader_epoch != position.leader_epoch) {
        // Kafka's makeFollower: a new leader epoch starts Fetching when the
        // log's last batch has its epoch entry, else Truncating.
        state.leader_epoch = position.leader_epoch;
        state.ask = partition->tail_epoch_without_entry();
      }
      if (!state.ask) continue;
      if (*state.ask < 0) {
        truncate_without_epoch(*partition, state);
        continue;
      }
      const auto& tp = partition->topic_partition();
      (*asked)[{tp.topic, tp.partition}] = {partition, position.leader_epoch, *state.ask};
    }
    if (asked->empty()) return fetch();
    send_epoch_request(asked);
  }

  // Kafka's truncateToHighWatermark: a tail without any leader epoch.
  void truncate_without_epoch(Partition& partition, FetchState& state) {
    Partition::EpochTruncation cut =
        partition.truncate_to_epoch_end(LeaderEpoch{state.leader_epoch}, -1, -1, -1);
    spdlog::info(
        "replication: {}'s last batch has no leader epoch: truncated to the high "
        "watermark {} ({})",
        partition.topic_partition().dir_name(), cut.offset, static_cast<int>(cut.error));
    if (cut.error == ErrorCode::NONE) state.ask.reset();
  }

  void send_epoch_request(const std::shared_ptr<SentMap>& asked) {
    protocol::OffsetForLeaderEpochRequest request;
    request.replica_id = options_.node_id;
    for (const auto& [key, sent] : *asked) {
      if (request.topics.empty() || request.topics.back().topic != key.first)
        request.topics.emplace_back().topic = key.first;
      auto& data = request.topics.back().partitions.emplace_back();
      data.partition = key.second;
      data.current_leader_epoch = sent.leader_epoch;
      data.leader_epoch = sent.asked_epoch;
    }
    in_flight_ = true;
    client_->send<protocol::OffsetForLeaderEpochRequest>(
        std::move(request),
        [this, asked](net::ClientResult<protocol::OffsetForLeaderEpochResponse> result) {
          in_flight_ = false;
          if (stopping_) return;
          if (!result.ok()) {
            log_failure("OffsetsForLeaderEpoch: " + result.status.message);
            return arm(options_.error_backoff_ms);
          }
          bool failed = false;
          for (const auto& topic : result.message.topics)
            for (const auto& answer : topic.partitions) {
              auto found = asked->find({topic.topic, answer.partition});
              if (found != asked->end()) failed = !apply_epoch_end(found->second, answer) || failed;
            }
          arm(failed ? options_.error_backoff_ms : 0);
        });
  }

  // One partition's OffsetsForLeaderEpoch answer; false on an error.
  bool apply_epoch_end(const Sent& sent,
                       const protocol::OffsetForLeaderEpochResponse::EpochEndOffset& answer) {
    Partition& partition = *sent.partition;
    const auto& tp = partition.topic_partition();
    if (answer.error_code != 0) {
      log_failure(tp.dir_name() + ": OffsetsForLeaderEpoch error " +
                  std::to_string(answer.error_code));
      return false;
    }
    Partition::EpochTruncation cut = partition.truncate_to_epoch_end(
        LeaderEpoch{sent.leader_epoch}, sent.asked_epoch, answer.leader_epoch, answer.end_offset);
    spdlog::info(
        "replication: {} has no leader epoch entry for its last batch (epoch {}); "
        "OffsetsForLeaderEpoch: leader {} ends epoch {} at {}: truncated to {} ({})",
        tp.dir_name(), sent.asked_epoch, leader_, answer.leader_epoch, answer.end_offset,
        cut.offset, static_cast<int>(cut.error));
    auto state = states_.find(sent.partition.get());
    if (state == states_.end() || state->second.leader_epoch != sent.leader_epoch) return true;
    if (cut.error == ErrorCode::FENCED_LEADER_EPOCH) return true;  // the next round starts over
    if (cut.error != ErrorCode::NONE) return false;
    state->second.ask = cut.done ? std::nullopt : partition.tail_epoch_without_entry();
    return true;
  }

  void fetch() {
    protocol::FetchRequest request;
    request.replica_id = options_.node_id;
    request.replica_state.replica_id = options_.node_id;
    request.replica_state.replica_epoch = options_.broker_epoch();
    request.max_wait_ms = options_.max_wait_ms;  // the leader parks a fetch with nothing new
    request.min_bytes = 1;
    request.max_bytes = options_.fetch_max_bytes;
    request.session_id = 0;
    request.session_epoch = -1;  // no session: every fetch names every partition
    auto sent = std::make_shared<std::map<std::pair<std::string, int32_t>, Sent>>();
    for (const auto& partition : partitions_) {
      FollowerPosition position = partition->follower_position();
      if (!position.follower || position.leader != leader_) continue;
      auto state = states_.find(partition.get());
      if (state != states_.end() && state->second.ask) continue;  // still Truncating
      const auto& tp = partition->topic_partition();
      if (request.topics.empty() || request.topics.back().topic != tp.topic) {
        auto& topic = request.topics.emplace_back();
        topic.topic = tp.topic;
        topic.topic_id = partition->topic_id();
      }
      auto& data = request.topics.back().partitions.emplace_back();
      data.partition = tp.partition;
      data.current_leader_epoch = position.leader_epoch;
      data.fetch_offset = position.log_end_offset;
      data.last_fetched_epoch = position.last_fetched_epoch;
      data.partition_max_bytes = options_.partition_max_bytes;
      (*sent)[{tp.topic, tp.partition}] = {partition, position.leader_epoch};
    }
    if (sent->empty()) return arm(options_.idle_backoff_ms);
    in_flight_ = true;
    client_->send<protocol::FetchRequest>(
        std::move(request), [this, sent](net::ClientResult<protocol::FetchResponse> result) {
          in_flight_ = false;
          if (stopping_) return;
          bool failed = !result.ok() || result.message.error_code != 0;
          if (failed) {
            log_failure(result.ok() ? "error " + std::to_string(result.message.error_code)
                                    : result.status.message);
          } else {
            apply(result, *sent);
          }
          arm(failed ? options_.error_backoff_ms : 0);
        });
  }

  void log_failure(const std::string& why) {
    const int64_t now = Partition::monotonic_ms();
    if (now - last_failure_log_ms_ < 5000) return;
    last_failure_log_ms_ = now;
    spdlog::info("replication: fetch from broker {} at {} failed: {}", leader_,
                 endpoint_.to_string(), why);
  }

  // Appends or truncates every partition of the answer; true if a log changed.
  bool apply(const net::ClientResult<protocol::FetchResponse>& result,
             const std::map<std::pair<std::string, int32_t>, Sent>& sent) {
    bool progressed = false;
    for (const auto& topic : result.message.responses) {
      for (const auto& data : topic.partitions) {
        auto found = sent.end();
        if (result.version >= 13) {
          for (auto at = sent.begin(); at != sent.end(); ++at)
            if (at->first.second == data.partition_index &&
                at->second.partition->topic_id() == topic.topic_id) {
              found = at;
              break;
            }
        } else {
          found = sent.find({topic.topic, data.partition_index});
        }
        if (found == sent.end()) continue;
        progressed = apply_partition(*found->second.partition,
                                     LeaderEpoch{found->second.leader_epoch}, data) ||
                     progressed;
      }
    }
    return progressed;
  }

  bool apply_partition(Partition& partition, LeaderEpoch epoch,
                       const protocol::FetchResponse::PartitionData& data) {
    const auto& tp = partition.topic_partition();
    FetchedPartition fetched;
    fetched.error = static_cast<ErrorCode>(data.error_code);
    fetched.high_watermark = data.high_watermark;
    fetched.log_start_offset = data.log_start_offset;
    fetched.diverging_epoch = data.diverging_epoch.epoch;
    fetched.diverging_end_offset = data.diverging_epoch.end_offset;
    fetched.records = data.records ? data.records->bytes : Bytes{};
    FollowerApplied applied = apply_fetched_partition(partition, epoch, fetched);
    switch (applied.action) {
      case FollowerAction::restarted:
        spdlog::info("replication: {} is behind leader {}'s log start {}: restarted there",
                     tp.dir_name(), leader_, data.log_start_offset);
        return true;
      case FollowerAction::truncated:
        spdlog::info("replication: {} diverges from leader {} (epoch {} ends at {}): truncated",
                     tp.dir_name(), leader_, data.diverging_epoch.epoch,
                     data.diverging_epoch.end_offset);
        return true;
      case FollowerAction::appended:
        return true;
      case FollowerAction::up_to_date:
        return false;
      case FollowerAction::failed:
        break;
    }
    if (data.error_code != 0)
      log_failure(tp.dir_name() + ": error " + std::to_string(data.error_code));
    else if (applied.error != ErrorCode::FENCED_LEADER_EPOCH)
      log_failure(tp.dir_name() + ": follower append or truncation failed: " +
                  std::to_string(static_cast<int>(applied.error)));
    return false;
  }

  const int32_t leader_;
  const net::Endpoint endpoint_;
  const ReplicaFetcherOptions options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  net::TcpTransport transport_;
  asio::steady_timer timer_;
  std::mt19937_64 jitter_;
  std::unique_ptr<net::KafkaClient> client_;
  std::vector<std::shared_ptr<Partition>> partitions_;
  std::map<const Partition*, FetchState> states_;
  bool in_flight_ = false;
  bool stopping_ = false;
  int64_t last_failure_log_ms_ = 0;
  std::thread thread_;
};

int32_t fetcher_id_for(std::string_view topic, int32_t partition, int32_t num_fetchers) {
  if (num_fetchers <= 1) return 0;
  // Java's String.hashCode (topic names are ASCII: one UTF-16 unit a byte),
  // in 32-bit two's complement arithmetic as the JVM wraps it.
  uint32_t hash = 0;
  for (char c : topic) hash = 31 * hash + static_cast<uint8_t>(c);
  const auto mixed = static_cast<int32_t>(31 * hash + static_cast<uint32_t>(partition));
  // Kafka's Utils.abs: Math.abs, with Integer.MIN_VALUE (its own negation) as 0.
  const int32_t magnitude = mixed == INT32_MIN ? 0 : (mixed < 0 ? -mixed : mixed);
  return magnitude % num_fetchers;
}

ReplicaFetcherManager::ReplicaFetcherManager(ReplicaFetcherOptions options)
    : options_(std::move(options)) {}

ReplicaFetcherManager::~ReplicaFetcherManager() { stop(); }

void ReplicaFetcherManager::follow(const std::vector<std::shared_ptr<Partition>>& hosted,
                                   const MetadataImage& image) {
  using Key = std::pair<int32_t, int32_t>;  // (source broker, fetcher id)
  std::map<Key, std::vector<std::shared_ptr<Partition>>> by_fetcher;
  for (const auto& partition : hosted) {
    FollowerPosition position = partition->follower_position();
    if (!position.follower) continue;
    const auto& tp = partition->topic_partition();
    by_fetcher[{position.leader, fetcher_id_for(tp.topic, tp.partition, options_.num_fetchers)}]
        .push_back(partition);
  }
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  for (auto at = fetchers_.begin(); at != fetchers_.end();) {
    if (by_fetcher.contains(at->first)) {
      ++at;
      continue;
    }
    at = fetchers_.erase(at);  // joins its thread
  }
  for (auto& [key, partitions] : by_fetcher) {
    auto broker = image.brokers.find(key.first);
    if (broker == image.brokers.end()) continue;
    std::optional<net::Endpoint> endpoint;
    for (const BrokerEndpoint& listener : broker->second.endpoints)
      if (listener.listener_name == options_.listener_name)
        endpoint = net::Endpoint{listener.host, listener.port};
    if (!endpoint) continue;
    auto& fetcher = fetchers_[key];
    if (fetcher && !(fetcher->endpoint() == *endpoint)) fetcher.reset();
    if (!fetcher)
      fetcher = std::make_unique<ReplicaFetcher>(key.first, key.second, *endpoint, options_);
    fetcher->set_partitions(std::move(partitions));
  }
}

void ReplicaFetcherManager::stop() {
  std::map<std::pair<int32_t, int32_t>, std::unique_ptr<ReplicaFetcher>> fetchers;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    fetchers.swap(fetchers_);
  }
  fetchers.clear();
}

size_t ReplicaFetcherManager::fetcher_count() const {
  std::lock_guard lock(mutex_);
  return fetchers_.size();
}

}  // namespace sluice::cluster
