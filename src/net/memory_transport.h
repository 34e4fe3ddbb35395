#pragma once
// An in-memory Transport for unit tests and the deterministic simulator.
// Nothing happens by itself: the test plays the far side of every connection
// through a MemoryTransport::Peer (accept or refuse the connect, read what
// the client sent, deliver frames, cut the link). Dropping a frame is not
// delivering it; delaying is delivering it later. Events run synchronously
// inside the Peer's calls, on the caller's thread, which must be the
// client's executor.

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "net/transport.h"

namespace sluice::net {

class MemoryTransport final : public Transport {
 public:
  struct PeerState;

  // The far side of one connection attempt. Cheap to copy; stays valid after
  // the client dropped its connection (calls then do nothing).
  class Peer {
   public:
    explicit Peer(std::shared_ptr<PeerState> state) : state_(std::move(state)) {}
    const Endpoint& endpoint() const;
    bool connected() const;                    // accepted and not closed
    bool closed_by_client() const;             // the client called close() or dropped it
    void accept();                             // on_connected
    void refuse(std::string reason);           // the connect failed: on_closed
    void cut(std::string reason);              // the link broke: on_closed
    void deliver(std::vector<uint8_t> frame);  // on_frame
    // Frames the client sent and the test has not taken, oldest first.
    size_t sent_count() const;
    std::vector<uint8_t> take_sent();

   private:
    std::shared_ptr<PeerState> state_;
  };

  std::unique_ptr<Connection> connect(const Endpoint& endpoint, ConnectionEvents events) override;

  size_t attempts() const { return peers_.size(); }
  Peer attempt(size_t index) const { return Peer(peers_.at(index)); }
  Peer last() const { return Peer(peers_.back()); }

 private:
  std::deque<std::shared_ptr<PeerState>> peers_;
};

}  // namespace sluice::net
