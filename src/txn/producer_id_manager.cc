#include "txn/producer_id_manager.h"

#include <spdlog/spdlog.h>

#include <limits>

namespace sluice::txn {

struct ProducerIdManager::State {
  mutable std::mutex mutex;
  ProducerIdRange current;  // empty at first
  int64_t next_in_current = 0;
  std::optional<ProducerIdRange> next;
  bool in_flight = false;
  bool stopped = false;
  int64_t backoff_until_ms = -1;  // -1: no backoff
  int64_t retry_backoff_ms = 50;
  const Clock* clock = nullptr;
  int64_t monotonic_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock->monotonic()).count();
  }
};

ProducerIdManager::ProducerIdManager(Options options)
    : options_(std::move(options)), state_(std::make_shared<State>()) {
  state_->retry_backoff_ms = options_.retry_backoff_ms;
  state_->clock = options_.clock;
}

ProducerIdManager::~ProducerIdManager() { stop(); }

void ProducerIdManager::start() {
  std::unique_lock lock(state_->mutex);
  maybe_request_next_block(lock);
}

void ProducerIdManager::stop() {
  std::lock_guard lock(state_->mutex);
  state_->stopped = true;
}

bool ProducerIdManager::has_next_block() const {
  std::lock_guard lock(state_->mutex);
  return state_->next.has_value();
}

bool ProducerIdManager::request_in_flight() const {
  std::lock_guard lock(state_->mutex);
  return state_->in_flight;
}

Result<ProducerId> ProducerIdManager::generate_producer_id() {
  std::unique_lock lock(state_->mutex);
  State& state = *state_;
  if (state.next_in_current >= state.current.end()) {
    // The send may answer at once (the local controller refusing): look again.
    if (!state.next) maybe_request_next_block(lock);
    if (!state.next)
      return Status(Errc::would_block, "Producer ID block is full. Waiting for next block");
    state.current = *state.next;
    state.next_in_current = state.current.first;
    state.next.reset();
  }
  const int64_t id = state.next_in_current++;
  const int64_t prefetch_at =
      state.current.first + static_cast<int64_t>(state.current.size * prefetch_threshold);
  if (id == prefetch_at) maybe_request_next_block(lock);
  return ProducerId{id};
}

// Sends one AllocateProducerIds unless one is in flight, a block is already
// waiting, or the backoff after a failure has not passed. Called with the
// lock held; releases it around `send` (which may answer at once).
void ProducerIdManager::maybe_request_next_block(std::unique_lock<std::mutex>& lock) {
  State& state = *state_;
  if (state.stopped || state.in_flight || state.next) return;
  if (state.backoff_until_ms >= 0 && state.monotonic_ms() < state.backoff_until_ms) return;
  state.in_flight = true;
  state.backoff_until_ms = -1;
  protocol::AllocateProducerIdsRequest request;
  request.broker_id = options_.node_id;
  request.broker_epoch = options_.broker_epoch ? options_.broker_epoch() : -1;
  lock.unlock();
  std::weak_ptr<State> weak = state_;
  options_.send(std::move(request),
                [weak](net::ClientResult<protocol::AllocateProducerIdsResponse> result) {
                  if (auto state = weak.lock()) on_answer(state, result);
                });
  lock.lock();
}

// Kafka's handleAllocateProducerIdsResponse: a valid block is kept for when
// the current one runs out; anything else backs off before the next try.
void ProducerIdManager::on_answer(
    const std::shared_ptr<State>& state,
    const net::ClientResult<protocol::AllocateProducerIdsResponse>& result) {
  std::lock_guard lock(state->mutex);
  state->in_flight = false;
  if (state->stopped) return;
  const auto& answer = result.message;
  bool accepted = false;
  if (!result.ok()) {
    spdlog::warn("txn: AllocateProducerIds failed: {} {}",
                 net::client_errc_name(result.status.code), result.status.message);
  } else if (answer.error_code != 0) {
    const auto code = static_cast<ErrorCode>(answer.error_code);
    if (code == ErrorCode::STALE_BROKER_EPOCH || code == ErrorCode::BROKER_ID_NOT_REGISTERED ||
        code == ErrorCode::NOT_CONTROLLER)
      spdlog::info("txn: AllocateProducerIds answered {}, trying again", error_name(code));
    else
      spdlog::error("txn: AllocateProducerIds answered an unexpected error {}", error_name(code));
  } else if (answer.producer_id_start < state->current.end() - 1) {
    spdlog::error("txn: producer id block {}+{} is not after the current one {}+{}",
                  answer.producer_id_start, answer.producer_id_len, state->current.first,
                  state->current.size);
  } else if (answer.producer_id_start < 0 || answer.producer_id_len <= 0 ||
             answer.producer_id_start >
                 std::numeric_limits<int64_t>::max() - answer.producer_id_len) {
    spdlog::error("txn: producer id block {}+{} is not a valid range", answer.producer_id_start,
                  answer.producer_id_len);
  } else {
    spdlog::debug("txn: producer ids {}+{} received", answer.producer_id_start,
                  answer.producer_id_len);
    state->next = ProducerIdRange{answer.producer_id_start, answer.producer_id_len};
    accepted = true;
  }
  if (!accepted) state->backoff_until_ms = state->monotonic_ms() + state->retry_backoff_ms;
}

}  // namespace sluice::txn
