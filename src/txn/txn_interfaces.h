#pragma once
// The seams between the pieces of the transaction machinery (issue 17), so
// each is built and tested on its own:
// - ProducerIdGenerator: producer ids from blocks the active controller
//   allocates through the metadata log (ProducerIdsRecord, AllocateProducerIds);
//   used by InitProducerId for idempotent and transactional producers.
// - MarkerSender: delivers a transaction's commit or abort markers to the
//   leaders of its partitions (WriteTxnMarkers), Kafka's
//   TransactionMarkerChannelManager; used by the transaction coordinator.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/error_code.h"
#include "base/result.h"
#include "base/strong_types.h"

namespace sluice::txn {

class ProducerIdGenerator {
 public:
  virtual ~ProducerIdGenerator() = default;
  // The next unused producer id. Never blocks (reactors and coordinator
  // strands call it): while no block is at hand it fails with
  // COORDINATOR_LOAD_IN_PROGRESS and asks the controller for one, as
  // Kafka's RPCProducerIdManager does (the client retries).
  virtual Result<ProducerId> generate_producer_id() = 0;
};

struct MarkerPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const MarkerPartition&) const = default;
};

// One transaction's end: the marker every partition of it gets.
struct TxnMarker {
  TransactionalId transactional_id;   // for logs and operators only
  int32_t coordinator_partition = 0;  // its __transaction_state partition (cancel())
  ProducerId producer_id{-1};
  ProducerEpoch producer_epoch{-1};
  // The leader epoch of the coordinator's __transaction_state partition.
  LeaderEpoch coordinator_epoch{0};
  bool commit = false;
  std::vector<MarkerPartition> partitions;
};

class MarkerSender {
 public:
  virtual ~MarkerSender() = default;
  // Sends WriteTxnMarkers to the leader of each partition (retrying on
  // NOT_LEADER_OR_FOLLOWER, a missing leader and other retriable errors, as
  // Kafka does, until written) and calls `done` once, from any thread, when
  // every partition has its marker or no longer exists (deleted topics are
  // skipped, as Kafka does). `done(NONE)` or, when the sender gave up on the
  // marker because the coordinator lost the partition (`cancel`), the error.
  // Never blocks.
  virtual void send(TxnMarker marker, std::function<void(ErrorCode)> done) = 0;
  // Drops the markers of transactions coordinated from `coordinator_partition`
  // of __transaction_state at `coordinator_epoch` or older (the coordinator
  // resigned it); their `done` gets NOT_COORDINATOR.
  virtual void cancel(int32_t coordinator_partition, LeaderEpoch coordinator_epoch) = 0;
};

}  // namespace sluice::txn
