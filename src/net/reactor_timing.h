#pragma once
// How long a reactor thread spends in one callback (a completion handler, a
// posted function, a coroutine resumption: everything Asio invokes), for
// `sluice_reactor_callback_duration_seconds`. A reactor that waits on a disk
// or on a lock held across disk I/O shows it here as a long callback.
//
// Hooked in through Asio's custom handler tracking: server.cc, the only
// translation unit that includes Asio, defines ASIO_CUSTOM_HANDLER_TRACKING
// as this header before including it, and Asio then wraps every handler
// invocation in ASIO_HANDLER_INVOCATION_BEGIN/END. Only the outermost
// invocation on a thread is timed (a handler may complete another inline),
// and only on threads that set a sink (the reactors), so the cost is two
// steady_clock reads and one histogram observation per callback.

#include <chrono>
#include <cstdint>

namespace sluice::metrics {
class Gauge;
class Histogram;
}  // namespace sluice::metrics

namespace sluice::net {

// Where a reactor thread records; set once by the reactor thread itself,
// which is then the only writer of both series.
struct ReactorTimingSink {
  metrics::Histogram* callback_duration = nullptr;
  metrics::Gauge* callback_max_seconds = nullptr;  // the longest callback since start
};

namespace reactor_timing {

inline thread_local ReactorTimingSink sink;
inline thread_local int depth = 0;

void record(std::chrono::steady_clock::duration elapsed) noexcept;  // server.cc

// Times the outermost handler invocation on a reactor thread (RAII, so a
// handler that throws still ends its scope).
class InvocationScope {
 public:
  InvocationScope() noexcept {
    if (depth++ == 0 && sink.callback_duration != nullptr)
      start_ = std::chrono::steady_clock::now();
  }
  ~InvocationScope() {
    if (--depth == 0 && sink.callback_duration != nullptr)
      record(std::chrono::steady_clock::now() - start_);
  }
  InvocationScope(const InvocationScope&) = delete;
  InvocationScope& operator=(const InvocationScope&) = delete;

 private:
  std::chrono::steady_clock::time_point start_{};
};

}  // namespace reactor_timing
}  // namespace sluice::net

// The macros Asio requires of a custom tracking header; only invocation
// is used. BEGIN opens a scope object that ends with the block Asio invokes
// the handler in (END is then a no-op).
#define ASIO_INHERIT_TRACKED_HANDLER
#define ASIO_ALSO_INHERIT_TRACKED_HANDLER
#define ASIO_HANDLER_TRACKING_INIT (void)0
#define ASIO_HANDLER_LOCATION(args) (void)0
#define ASIO_HANDLER_CREATION(args) (void)0
#define ASIO_HANDLER_COMPLETION(args) (void)0
#define ASIO_HANDLER_INVOCATION_BEGIN(args) \
  ::sluice::net::reactor_timing::InvocationScope sluice_reactor_invocation_scope
#define ASIO_HANDLER_INVOCATION_END (void)0
#define ASIO_HANDLER_OPERATION(args) (void)0
#define ASIO_HANDLER_REACTOR_REGISTRATION(args) (void)0
#define ASIO_HANDLER_REACTOR_DEREGISTRATION(args) (void)0
#define ASIO_HANDLER_REACTOR_READ_EVENT 1
#define ASIO_HANDLER_REACTOR_WRITE_EVENT 2
#define ASIO_HANDLER_REACTOR_ERROR_EVENT 4
#define ASIO_HANDLER_REACTOR_EVENTS(args) (void)0
#define ASIO_HANDLER_REACTOR_OPERATION(args) (void)0
