#pragma once
// KIP-890 on the partition leader (Kafka's AddPartitionsToTxnManager): before
// a Produce's transactional batch opens a transaction on a partition, the
// leader asks the transaction coordinator of its transactional id (the
// leader of the id's `__transaction_state` partition in the broker's image)
// whether the partition is in the transaction, with AddPartitionsToTxn v4+
// in its broker form: verify_only for clients of transactions v1, or
// verify_only=false for Produce v12 (transactions v2: the coordinator adds
// the partition itself, part 2).
//
// Batching, as Kafka's manager: one request per coordinator node at a time;
// verifications arriving meanwhile wait for the next one, which carries all
// of them. At most one verification per transactional id waits per node:
// a second one of the same epoch answers the first NETWORK_EXCEPTION (the
// client retries it), one of a higher epoch answers the older
// INVALID_PRODUCER_EPOCH, one of a lower epoch is itself answered so.
//
// `done` gets the partitions that are NOT verified, with Kafka's errors:
//   - a partition the coordinator refused: its error, PRODUCER_FENCED as
//     INVALID_PRODUCER_EPOCH, TRANSACTION_ABORTABLE as INVALID_TXN_STATE
//     for Produce below v11 (`abortable_error_supported` false);
//   - a top-level error for every partition (CLUSTER_AUTHORIZATION_FAILED as
//     INVALID_TXN_STATE);
//   - no coordinator known: COORDINATOR_NOT_AVAILABLE; a lost connection or
//     a timeout: NETWORK_EXCEPTION;
//   - a coordinator without AddPartitionsToTxn v4: nothing (verification is
//     not supported there; the append goes ahead, as Kafka does).
// produce_error_for_verification() then maps these to what Produce answers.
//
// Threads: TxnVerifierCore is single-threaded (its transport's executor,
// or a test's). TcpTxnVerifier runs a core on its own thread
// ("txn-verifier", its own io_context), never on a reactor; verify() may be
// called from any thread and `done` runs on the verifier's thread (or on
// the caller's, at once, after stop()).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/error_code.h"
#include "cluster/metadata_image.h"
#include "net/client_thread.h"
#include "net/kafka_client.h"
#include "protocol/messages.h"
#include "txn/txn_interfaces.h"

namespace sluice::txn {

// One producer's partitions to verify (one Produce request's).
struct TxnVerification {
  std::string transactional_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  std::vector<MarkerPartition> partitions;
  // Produce v12 (transactions v2): the coordinator adds the partitions.
  bool add_partitions = false;
  // Produce v11+: TRANSACTION_ABORTABLE reaches the client as it is.
  bool abortable_error_supported = false;
};

// The partitions not verified, with their errors; empty: all verified.
using TxnVerificationErrors = std::map<MarkerPartition, ErrorCode>;
using TxnVerificationDone = std::function<void(TxnVerificationErrors)>;

// Kafka's ReplicaManager mapping of a verification error to a Produce
// partition error: the coordinator's retriable errors become
// NOT_ENOUGH_REPLICAS, which old clients retry without a metadata refresh.
ErrorCode produce_error_for_verification(ErrorCode error);

class TxnVerifier {
 public:
  virtual ~TxnVerifier() = default;
  virtual void verify(TxnVerification verification, TxnVerificationDone done) = 0;
};

struct TxnVerifierOptions {
  int32_t node_id = -1;
  // The listener coordinators are reached on (inter.broker.listener.name).
  std::string listener_name = "PLAINTEXT";
  // The broker's current metadata image (any thread).
  std::function<cluster::MetadataImagePtr()> image;
  const Clock* clock = &system_clock();
  // request.timeout.ms of the inter-broker client.
  int64_t request_timeout_ms = 30000;
};

class TxnVerifierCore {
 public:
  // `transport` and the options' clock outlive the core.
  TxnVerifierCore(net::Transport& transport, TxnVerifierOptions options);
  ~TxnVerifierCore();
  TxnVerifierCore(const TxnVerifierCore&) = delete;
  TxnVerifierCore& operator=(const TxnVerifierCore&) = delete;

  // Queues the verification for its coordinator; sent at the next tick().
  void verify(TxnVerification verification, TxnVerificationDone done);
  // Ticks the clients (timeouts, reconnects) and sends what waits.
  void tick();
  // Answers everything waiting or in flight NETWORK_EXCEPTION; closes the
  // clients.
  void close();

  size_t waiting() const;
  size_t clients() const { return clients_.size(); }

 private:
  struct Waiting {
    TxnVerification verification;
    TxnVerificationDone done;
  };
  // One node's verifications, by transactional id (at most one each).
  using Batch = std::map<std::string, Waiting>;
  struct Coordinator {
    net::Endpoint endpoint;
    std::unique_ptr<net::KafkaClient> client;
  };

  // The coordinator node of `transactional_id` and its endpoint, if known.
  bool coordinator_of(const std::string& transactional_id, int32_t& node,
                      net::Endpoint& endpoint) const;
  void send_to(int32_t node, Batch batch);
  void on_response(Batch& batch, const net::ClientStatus& status, int16_t version, Bytes body);
  net::KafkaClient& client_for(int32_t node, const net::Endpoint& endpoint);

  net::Transport& transport_;
  TxnVerifierOptions options_;
  std::map<int32_t, Batch> waiting_;  // by coordinator node
  std::map<int32_t, net::Endpoint> endpoints_;
  std::set<int32_t> in_flight_;                     // nodes with a request out
  std::map<int32_t, std::shared_ptr<Batch>> sent_;  // answered NETWORK_EXCEPTION at close
  std::map<int32_t, Coordinator> clients_;
  std::vector<std::unique_ptr<net::KafkaClient>> retired_;
  double jitter_ = 0.5;
};

// The broker's TxnVerifier: a TxnVerifierCore over TCP on its own thread.
class TcpTxnVerifier final : public TxnVerifier {
 public:
  explicit TcpTxnVerifier(TxnVerifierOptions options);
  ~TcpTxnVerifier() override;
  void verify(TxnVerification verification, TxnVerificationDone done) override;
  // Answers everything waiting NETWORK_EXCEPTION and joins the thread; a
  // verify() afterwards is answered so at once.
  void stop();

 private:
  std::unique_ptr<net::ClientThread> thread_;  // declared first: outlives the core
  std::unique_ptr<TxnVerifierCore> core_;
};

}  // namespace sluice::txn
