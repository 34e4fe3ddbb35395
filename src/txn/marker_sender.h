#pragma once
// Delivers transaction markers to the leaders of their partitions (Kafka's
// TransactionMarkerChannelManager with its TransactionMarkerRequestCompletion
// Handler): the partitions of every pending marker are grouped by their
// leader in the broker's metadata image, and each leader gets one
// WriteTxnMarkers request holding every marker waiting for it (in the
// highest version it advertises, negotiated by net::KafkaClient). Per
// partition, as Kafka answers it:
//   - NONE: written. UNSUPPORTED_FOR_MESSAGE_FORMAT, UNSUPPORTED_VERSION:
//     the producer could not have written there either: done with it;
//   - NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
//     NOT_ENOUGH_REPLICAS(_AFTER_APPEND), REQUEST_TIMED_OUT,
//     KAFKA_STORAGE_ERROR, a partition without a leader, a lost connection
//     or any other error: retried after `retry_backoff_ms` with the leader
//     the image names then (errors Kafka treats as fatal are logged);
//   - a partition whose topic is gone from the image (deleted meanwhile):
//     skipped, as Kafka does;
//   - INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED: the producer
//     or coordinator moved on; the marker is dropped and `done` gets that
//     error (Kafka stops sending it too).
// `done(NONE)` once every partition is written or skipped; cancel() and
// close() answer NOT_COORDINATOR.
//
// Threads: MarkerSenderCore is single-threaded (one executor: its
// transport's, or a test's). TcpMarkerSender runs a core on its own thread
// ("txn-markers", its own io_context), never on a reactor; its send() and
// cancel() may be called from any thread and `done` runs on its thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "cluster/metadata_image.h"
#include "net/client_thread.h"
#include "net/kafka_client.h"
#include "protocol/messages.h"
#include "txn/txn_interfaces.h"

namespace sluice::txn {

struct MarkerSenderOptions {
  int32_t node_id = -1;
  // The listener the leaders are reached on (inter.broker.listener.name).
  std::string listener_name = "PLAINTEXT";
  // The broker's current metadata image (any thread).
  std::function<cluster::MetadataImagePtr()> image;
  const Clock* clock = &system_clock();
  // Before a partition is tried again (Kafka's retry.backoff.ms).
  int64_t retry_backoff_ms = 100;
  // request.timeout.ms of the inter-broker client.
  int64_t request_timeout_ms = 30000;
};

class MarkerSenderCore {
 public:
  // `transport` and the options' clock outlive the core.
  MarkerSenderCore(net::Transport& transport, MarkerSenderOptions options);
  ~MarkerSenderCore();
  MarkerSenderCore(const MarkerSenderCore&) = delete;
  MarkerSenderCore& operator=(const MarkerSenderCore&) = delete;

  // Queues the marker; it is sent at the next tick().
  void send(TxnMarker marker, std::function<void(ErrorCode)> done);
  void cancel(int32_t coordinator_partition, LeaderEpoch coordinator_epoch);
  // Ticks the clients (timeouts, reconnects) and sends what is due.
  void tick();
  // Answers every pending marker NOT_COORDINATOR and closes the clients.
  void close();

  size_t pending_markers() const { return txns_.size(); }
  size_t clients() const { return clients_.size(); }

 private:
  struct PartitionState {
    bool in_flight = false;
    int64_t retry_at_ms = 0;
  };
  struct Txn {
    TxnMarker marker;
    std::function<void(ErrorCode)> done;
    std::map<MarkerPartition, PartitionState> partitions;
  };
  // What one request carried for one marker.
  struct Sent {
    uint64_t txn_id = 0;
    ProducerId producer_id{-1};
    std::vector<MarkerPartition> partitions;
  };
  struct Leader {
    net::Endpoint endpoint;
    std::unique_ptr<net::KafkaClient> client;
  };

  int64_t now_ms() const;
  // Groups the due partitions by leader and sends one request to each.
  void dispatch();
  std::optional<net::Endpoint> endpoint_of(const cluster::MetadataImage& image,
                                           int32_t broker) const;
  net::KafkaClient& client_for(int32_t broker, const net::Endpoint& endpoint);
  void send_to(int32_t broker, const net::Endpoint& endpoint, std::vector<Sent> batch);
  void on_response(const std::vector<Sent>& batch,
                   const net::ClientResult<protocol::WriteTxnMarkersResponse>& result);
  // Applies one partition's answer; false when the whole marker is dropped.
  bool apply_error(uint64_t txn_id, Txn& txn, const MarkerPartition& partition, ErrorCode error);
  void finish(uint64_t txn_id, ErrorCode error);
  void complete_written();

  net::Transport& transport_;
  MarkerSenderOptions options_;
  uint64_t next_txn_id_ = 1;
  std::map<uint64_t, Txn> txns_;
  std::map<int32_t, Leader> clients_;
  // Clients replaced (their leader moved): closed, destroyed at the next
  // tick, outside any of their callbacks.
  std::vector<std::unique_ptr<net::KafkaClient>> retired_;
  double jitter_ = 0.5;
};

// The broker's MarkerSender: a MarkerSenderCore over TCP on its own thread.
class TcpMarkerSender final : public MarkerSender {
 public:
  explicit TcpMarkerSender(MarkerSenderOptions options);
  ~TcpMarkerSender() override;
  void send(TxnMarker marker, std::function<void(ErrorCode)> done) override;
  void cancel(int32_t coordinator_partition, LeaderEpoch coordinator_epoch) override;
  // Answers every pending marker NOT_COORDINATOR and joins the thread; a
  // send() afterwards is answered NOT_COORDINATOR at once.
  void stop();

 private:
  std::unique_ptr<net::ClientThread> thread_;  // declared first: outlives the core
  std::unique_ptr<MarkerSenderCore> core_;
};

}  // namespace sluice::txn
