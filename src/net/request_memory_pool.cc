#include "net/request_memory_pool.h"

#include <algorithm>
#include <vector>

namespace sluice::net {
namespace {

// A frame and its reservation: the bytes go back to the pool when the last
// owner of the frame drops it, whatever thread that is on.
struct PooledFrame {
  PooledFrame(size_t size, std::shared_ptr<RequestMemoryPool> owner)
      : bytes(size), reserved(size), pool(std::move(owner)) {}
  ~PooledFrame() {
    if (pool) pool->release(reserved);
  }
  PooledFrame(const PooledFrame&) = delete;
  PooledFrame& operator=(const PooledFrame&) = delete;

  FrameBuffer bytes;
  const size_t reserved;
  const std::shared_ptr<RequestMemoryPool> pool;  // null: unbounded, nothing to return
};

using Granted = std::vector<std::shared_ptr<RequestMemoryPool::Wait>>;

}  // namespace

RequestMemoryPool::RequestMemoryPool(int64_t bytes_max) : bytes_max_(bytes_max) {}

// Takes `bytes` if they fit under the bound, or if nothing is held (a frame
// larger than the bound must be able to proceed alone). The load is
// sequentially consistent: see release() for why no wake-up is lost.
bool RequestMemoryPool::try_take(size_t bytes) {
  int64_t wanted = static_cast<int64_t>(bytes);
  int64_t held = held_.load();
  do {
    if (held != 0 && held + wanted > bytes_max_) return false;
  } while (!held_.compare_exchange_weak(held, held + wanted));
  return true;
}

std::shared_ptr<RequestMemoryPool::Wait> RequestMemoryPool::reserve(
    size_t bytes, std::function<void()> on_granted) {
  if (!bounded() || bytes == 0) return nullptr;
  // With others waiting, a newcomer queues behind them even if it would fit,
  // so a large frame is not starved by a stream of small ones.
  if (waiting_.load() == 0 && try_take(bytes)) return nullptr;
  auto wait = std::make_shared<Wait>(bytes, std::move(on_granted));
  Granted granted;
  {
    std::lock_guard lock(mutex_);
    waiters_.push_back(wait);
    waiting_.store(waiters_.size());
    // Memory returned between the check above and the queueing is granted
    // here: release() may have seen no waiter and skipped the queue.
    grant_waiters_locked(granted);
  }
  bool granted_now = false;
  for (const auto& waiter : granted) {
    if (waiter == wait) {
      granted_now = true;  // told by the return value, not the callback
    } else {
      waiter->on_granted_();
    }
  }
  return granted_now ? nullptr : wait;
}

bool RequestMemoryPool::withdraw(const std::shared_ptr<Wait>& wait) {
  Granted granted;
  {
    std::lock_guard lock(mutex_);
    if (wait->granted_) return true;
    std::erase(waiters_, wait);
    waiting_.store(waiters_.size());
    // A large frame leaving the head may let smaller ones behind it in.
    grant_waiters_locked(granted);
  }
  for (const auto& waiter : granted) waiter->on_granted_();
  return false;
}

// The subtraction and the load of `waiting_` are sequentially consistent, as
// are reserve()'s store of `waiting_` and its load of `held_` (try_take):
// either this sees the new waiter, or the waiter's own grant sees the memory.
void RequestMemoryPool::release(size_t bytes) {
  if (!bounded() || bytes == 0) return;
  held_.fetch_sub(static_cast<int64_t>(bytes));
  if (waiting_.load() == 0) return;
  Granted granted;
  {
    std::lock_guard lock(mutex_);
    grant_waiters_locked(granted);
  }
  for (const auto& waiter : granted) waiter->on_granted_();
}

void RequestMemoryPool::drop_waiters() {
  std::lock_guard lock(mutex_);
  waiters_.clear();
  waiting_.store(0);
}

// Grants waiters in arrival order while the head fits; callbacks run after
// the mutex is released (they post to other reactors).
void RequestMemoryPool::grant_waiters_locked(Granted& granted) {
  while (!waiters_.empty() && try_take(waiters_.front()->bytes_)) {
    waiters_.front()->granted_ = true;
    granted.push_back(std::move(waiters_.front()));
    waiters_.pop_front();
  }
  waiting_.store(waiters_.size());
}

std::shared_ptr<FrameBuffer> RequestMemoryPool::make_frame(size_t size) {
  std::shared_ptr<RequestMemoryPool> owner = bounded() && size > 0 ? shared_from_this() : nullptr;
  auto pooled = std::make_shared<PooledFrame>(size, std::move(owner));
  return std::shared_ptr<FrameBuffer>(pooled, &pooled->bytes);
}

}  // namespace sluice::net
