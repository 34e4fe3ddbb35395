#include "net/memory_transport.h"

#include <utility>

#include "base/assert.h"

namespace sluice::net {

struct MemoryTransport::PeerState {
  Endpoint endpoint;
  ConnectionEvents events;
  bool connected = false;
  bool closed = false;  // by either side: no event follows
  bool closed_by_client = false;
  std::deque<std::vector<uint8_t>> sent;
};

namespace {

class MemoryConnection final : public Connection {
 public:
  explicit MemoryConnection(std::shared_ptr<MemoryTransport::PeerState> state)
      : state_(std::move(state)) {}
  ~MemoryConnection() override { close(); }

  void send(std::vector<uint8_t> frame) override {
    if (state_->closed || !state_->connected) return;
    state_->sent.push_back(std::move(frame));
  }
  void close() override {
    if (state_->closed_by_client) return;
    state_->closed_by_client = true;
    state_->closed = true;
    state_->connected = false;
    state_->events = {};
  }

 private:
  std::shared_ptr<MemoryTransport::PeerState> state_;
};

}  // namespace

std::unique_ptr<Connection> MemoryTransport::connect(const Endpoint& endpoint,
                                                     ConnectionEvents events) {
  auto state = std::make_shared<PeerState>();
  state->endpoint = endpoint;
  state->events = std::move(events);
  peers_.push_back(state);
  return std::make_unique<MemoryConnection>(std::move(state));
}

const Endpoint& MemoryTransport::Peer::endpoint() const { return state_->endpoint; }
bool MemoryTransport::Peer::connected() const { return state_->connected; }
bool MemoryTransport::Peer::closed_by_client() const { return state_->closed_by_client; }
size_t MemoryTransport::Peer::sent_count() const { return state_->sent.size(); }

void MemoryTransport::Peer::accept() {
  if (state_->closed || state_->connected) return;
  state_->connected = true;
  // A copy: the handler may close the connection, which clears the events.
  auto on_connected = state_->events.on_connected;
  if (on_connected) on_connected();
}

void MemoryTransport::Peer::refuse(std::string reason) {
  SLUICE_ASSERT(!state_->connected, "refuse() is for a connect not yet accepted; use cut()");
  cut(std::move(reason));
}

void MemoryTransport::Peer::cut(std::string reason) {
  if (state_->closed) return;
  state_->closed = true;
  state_->connected = false;
  auto on_closed = std::move(state_->events.on_closed);
  state_->events = {};
  if (on_closed) on_closed(std::move(reason));
}

void MemoryTransport::Peer::deliver(std::vector<uint8_t> frame) {
  if (state_->closed || !state_->connected) return;
  auto on_frame = state_->events.on_frame;
  if (on_frame) on_frame(std::move(frame));
}

std::vector<uint8_t> MemoryTransport::Peer::take_sent() {
  SLUICE_ASSERT(!state_->sent.empty(), "take_sent() with nothing sent");
  std::vector<uint8_t> frame = std::move(state_->sent.front());
  state_->sent.pop_front();
  return frame;
}

}  // namespace sluice::net
