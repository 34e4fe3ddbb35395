#pragma once
// Producer ids for InitProducerId, from blocks the active controller
// allocates through the metadata log (Kafka's RPCProducerIdManager, KIP-730):
// ids are handed out from the current block; when 90% of it is used the
// next block is asked for (AllocateProducerIds), so a busy broker rarely
// waits; with no id at hand generate_producer_id() fails at once (the
// client retries on COORDINATOR_LOAD_IN_PROGRESS) and a request for a block
// goes out, at most one at a time, 50 ms apart after a failure.
//
// Threads: generate_producer_id() from any thread (reactors, coordinator
// strands), never blocking: a short mutex, and `send` is called outside it.
// Answers arrive on whatever thread `send` calls back on. The manager may
// be destroyed with a request in flight: its answer is then dropped.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "base/clock.h"
#include "base/error_code.h"
#include "net/kafka_client.h"
#include "protocol/messages.h"
#include "txn/txn_interfaces.h"

namespace sluice::txn {

// A range of producer ids [first, first + size).
struct ProducerIdRange {
  int64_t first = 0;
  int32_t size = 0;
  int64_t end() const { return first + size; }
};

class ProducerIdManager final : public ProducerIdGenerator {
 public:
  using Send = std::function<void(
      protocol::AllocateProducerIdsRequest,
      std::function<void(net::ClientResult<protocol::AllocateProducerIdsResponse>)>)>;
  struct Options {
    int32_t node_id = -1;
    // This broker's epoch now (the controller refuses a stale one).
    std::function<int64_t()> broker_epoch;
    // Sends AllocateProducerIds to the active controller.
    Send send;
    const Clock* clock = &system_clock();
    // Kafka's ProducerIdManager.RetryBackoffMs.
    int64_t retry_backoff_ms = 50;
  };

  // Kafka's PidPrefetchThreshold: the next block is asked for once this
  // share of the current one is handed out.
  static constexpr double prefetch_threshold = 0.90;

  explicit ProducerIdManager(Options options);
  ~ProducerIdManager() override;

  // Asks for a block at once (optional: the first generate_producer_id()
  // asks otherwise, as Kafka does; the broker leaves it to that, so a broker
  // without idempotent producers writes no ProducerIdsRecord).
  void start();
  // Drops later answers and sends nothing more; generate_producer_id()
  // still hands out what is left of the current block.
  void stop();

  // The next id, or Errc::would_block while no block is at hand (callers
  // answer COORDINATOR_LOAD_IN_PROGRESS: producer_id_error_code()).
  Result<ProducerId> generate_producer_id() override;

  // For tests and operators.
  bool has_next_block() const;
  bool request_in_flight() const;

 private:
  struct State;
  void maybe_request_next_block(std::unique_lock<std::mutex>& lock);
  static void on_answer(const std::shared_ptr<State>& state,
                        const net::ClientResult<protocol::AllocateProducerIdsResponse>& result);

  Options options_;
  std::shared_ptr<State> state_;  // shared with the answer callbacks
};

// The wire error for a failed generate_producer_id(): Kafka answers
// COORDINATOR_LOAD_IN_PROGRESS (retriable for every client version; older
// clients treat REQUEST_TIMED_OUT as fatal).
inline ErrorCode producer_id_error_code(const Status&) {
  return ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
}

}  // namespace sluice::txn
