#pragma once
// The broker-wide bound on request memory: `queued.max.request.bytes`
// (Kafka's KIP-72 memory pool). A connection reserves a frame's size here
// after reading the 4-byte size and before reading (or allocating) the body;
// the reservation is returned when the last owner of the frame drops it
// (make_frame), so a request held until its answer (acks=all waiting for its
// fsync) keeps counting. While the pool is spent, connections stop reading
// their sockets and wait in arrival order: TCP pushes back on the clients.
//
// The bound is strict except for one case: a frame may always be granted
// when nothing is held, so a frame larger than the bound (the bound below
// socket.request.max.bytes) waits for the others to drain but never
// deadlocks. Held bytes therefore never exceed max(bound, largest frame).
// (Kafka's pool is looser: it grants while any byte is left, so it may
// overshoot by one frame.)
//
// Thread-safety: every method may be called from any thread. The fast path
// (nobody waiting) is one compare-and-swap to reserve and one atomic
// subtraction to return; the mutex is taken only while connections wait.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "base/bytes.h"

namespace sluice::net {

class RequestMemoryPool : public std::enable_shared_from_this<RequestMemoryPool> {
 public:
  // bytes_max <= 0: unbounded (Kafka's -1), nothing is counted.
  explicit RequestMemoryPool(int64_t bytes_max);

  bool bounded() const { return bytes_max_ > 0; }
  int64_t bytes_max() const { return bytes_max_; }
  int64_t bytes_held() const { return held_.load(std::memory_order_relaxed); }

  // A connection's place in the queue. `on_granted` runs once, on the thread
  // that returned the memory, after the bytes were reserved on the waiter's
  // behalf; it must only hand over to the waiter's own thread (post).
  class Wait;
  // Reserves `bytes` now (returns nullptr) or queues a Wait that is granted
  // once they fit and every earlier waiter was served.
  std::shared_ptr<Wait> reserve(size_t bytes, std::function<void()> on_granted);
  // Ends a wait: true if its bytes were granted (the caller holds them and
  // must release them), false if it was still queued (now removed).
  bool withdraw(const std::shared_ptr<Wait>& wait);
  // Returns bytes reserved by reserve() or granted to a Wait.
  void release(size_t bytes);
  // Forgets every queued Wait without calling it: for a server whose
  // reactors have stopped, so that no later release posts to them.
  void drop_waiters();

  // A frame of `size` bytes (not zero-filled) whose `size` reserved bytes are
  // released when its last owner drops it, from whatever thread. The frame
  // keeps the pool alive.
  std::shared_ptr<FrameBuffer> make_frame(size_t size);

 private:
  bool try_take(size_t bytes);
  void grant_waiters_locked(std::vector<std::shared_ptr<Wait>>& granted);

  const int64_t bytes_max_;
  std::atomic<int64_t> held_{0};
  std::atomic<size_t> waiting_{0};  // waiters_.size(), readable without the mutex
  std::mutex mutex_;
  std::deque<std::shared_ptr<Wait>> waiters_;
};

class RequestMemoryPool::Wait {
 public:
  Wait(size_t bytes, std::function<void()> on_granted)
      : bytes_(bytes), on_granted_(std::move(on_granted)) {}
  size_t bytes() const { return bytes_; }

 private:
  friend class RequestMemoryPool;
  const size_t bytes_;
  std::function<void()> on_granted_;
  bool granted_ = false;  // under the pool's mutex
};

}  // namespace sluice::net
