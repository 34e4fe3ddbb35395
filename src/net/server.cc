#include "net/server.h"

#include <spdlog/spdlog.h>

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/sendfile.h>
#include <unistd.h>

// Every handler Asio invokes is timed (reactor_timing.h). Defined here, in
// the only translation unit that includes Asio, so no other one sees Asio
// built differently.
#define ASIO_CUSTOM_HANDLER_TRACKING "net/reactor_timing.h"
#include <array>
#include <asio.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "base/assert.h"
#include "base/metrics.h"
#include "base/rate_limited_log.h"
#include "base/thread_name.h"
#include "net/connection_streams.h"
#include "net/request_memory_pool.h"

namespace sluice::net {
namespace {

// Below this many missing bytes a frame body is read as it arrives.
constexpr size_t kLowWatermarkMinBytes = 64 * 1024;

}  // namespace

void reactor_timing::record(std::chrono::steady_clock::duration elapsed) noexcept {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  sink.callback_duration->observe(seconds);
  if (seconds > sink.callback_max_seconds->value()) sink.callback_max_seconds->set(seconds);
}

const uint8_t* file_slice_placeholder() {
  // Reserved address space only (no memory): reads see zero pages.
  static const uint8_t* const zeros = [] {
    void* mapped = ::mmap(nullptr, file_slice_length_max, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                          -1, 0);
    SLUICE_ASSERT(mapped != MAP_FAILED, "cannot reserve the file slice placeholder range");
    return static_cast<const uint8_t*>(mapped);
  }();
  return zeros;
}

std::vector<Response::Part> Response::parts() const {
  std::vector<Part> parts;
  size_t next_file_slice = 0;
  for (const WireWriter::Slice& slice : body.slices()) {
    Bytes memory(slice.data, slice.size);
    if (slice.data != file_slice_placeholder()) {
      parts.push_back({memory});
      continue;
    }
    SLUICE_ASSERT(next_file_slice < file_slices.size(), "a placeholder without its file slice");
    const FileSlice& file = file_slices[next_file_slice++];
    SLUICE_ASSERT(file.length == slice.size, "a file slice of another length than its placeholder");
    parts.push_back({memory, &file});
  }
  return parts;
}

std::vector<uint8_t> Response::bytes() const {
  std::vector<uint8_t> out;
  out.reserve(body.size());
  for (const Part& part : parts()) {
    if (part.file == nullptr) {
      out.insert(out.end(), part.memory.begin(), part.memory.end());
      continue;
    }
    const FileSlice& file = *part.file;
    size_t at = out.size();
    out.resize(at + file.length);
    for (size_t done = 0; done < file.length;) {
      ssize_t n = ::pread(file.fd, out.data() + at + done, file.length - done,
                          static_cast<off_t>(file.position + done));
      if (n <= 0) return {};
      done += static_cast<size_t>(n);
    }
  }
  return out;
}

namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Responses written per gathered write: bounds the iovec count of one writev.
constexpr size_t responses_per_write_max = 32;

// The warnings a peer can repeat at will (bad frames, stalled frames, accept
// failures), written once per kind and interval with a suppressed count.
RateLimitedLog& net_warnings() {
  static RateLimitedLog warnings;
  return warnings;
}

// A listener's series, resolved once at start.
struct ListenerMetrics {
  metrics::Gauge* open;
  metrics::Counter* accepted;
};

ListenerMetrics listener_metrics(const std::string& listener) {
  metrics::Registry& registry = metrics::default_registry();
  auto& open = registry.gauge_family("sluice_connections_open", "Client connections open, by listener.",
                                     {"listener"});
  auto& accepted = registry.counter_family("sluice_connections_accepted_total",
                                           "Client connections accepted, by listener.", {"listener"});
  return {&open.labels({listener}), &accepted.labels({listener})};
}

// Buckets for callbacks: most take microseconds; a disk wait takes
// hundreds of them to seconds.
std::vector<double> callback_buckets_seconds() {
  return {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
          0.005,   0.01,     0.025,   0.05,   0.1,     0.25,   1.0};
}

// Reactor `index`'s series, resolved before its thread starts.
ReactorTimingSink reactor_timing_sink(size_t index) {
  metrics::Registry& registry = metrics::default_registry();
  const std::string name = "reactor-" + std::to_string(index);
  auto& durations = registry.histogram_family(
      "sluice_reactor_callback_duration_seconds",
      "Time a reactor thread spent in one callback (a handler or a coroutine step).", {"reactor"},
      callback_buckets_seconds());
  auto& longest = registry.gauge_family(
      "sluice_reactor_callback_max_seconds",
      "The longest time a reactor thread spent in one callback since start.", {"reactor"});
  return {&durations.labels({name}), &longest.labels({name})};
}

// Runs reactor `index` on the calling thread, named reactor-N so per-thread
// tools (top -H, strace -f, perf) tell the reactors apart, recording how
// long each callback takes (reactor_timing.h).
void run_reactor(asio::io_context& context, size_t index, ReactorTimingSink sink) {
  set_current_thread_name("reactor-" + std::to_string(index));
  reactor_timing::sink = sink;
  context.run();
}

// ConnectionInfo::reactor of the connections on one io_context.
class IoContextExecutor final : public ReactorExecutor {
 public:
  explicit IoContextExecutor(asio::io_context& context) : context_(context) {}
  void post(std::function<void()> task) override { asio::post(context_, std::move(task)); }
  bool runs(const asio::io_context& context) const { return &context_ == &context; }

 private:
  asio::io_context& context_;
};

std::string endpoint_text(const tcp::endpoint& endpoint) {
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ConnectionInfo info, const ServerConfig& config,
             RequestHandler& handler, std::shared_ptr<RequestMemoryPool> memory_pool,
             std::atomic<size_t>& open_count, metrics::Gauge& open_gauge,
             const std::shared_ptr<TlsContext>& tls)
      : socket_(std::move(socket)),
        stream_(make_stream(socket_, tls)),
        info_(std::move(info)),
        config_(config),
        handler_(handler),
        memory_pool_(std::move(memory_pool)),
        open_count_(open_count),
        open_gauge_(open_gauge),
        idle_timer_(socket_.get_executor()),
        in_flight_wait_(socket_.get_executor()),
        memory_wait_(socket_.get_executor()),
        receive_timer_(socket_.get_executor()),
        mute_timer_(socket_.get_executor()) {
    ++open_count_;
    open_gauge_.add(1);
  }
  ~Connection() {
    --open_count_;
    open_gauge_.sub(1);
  }

  void start() {
    last_activity_ = Clock::now();
    asio::co_spawn(socket_.get_executor(), read_loop(shared_from_this()), asio::detached);
    arm_idle_timer();
  }

  // Closes the socket; pending answers are dropped. Reactor thread only.
  void close() {
    if (closed_) return;
    closed_ = true;
    asio::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    idle_timer_.cancel();
    in_flight_wait_.cancel();
    memory_wait_.cancel();
    receive_timer_.cancel();
    mute_timer_.cancel();
  }

  bool idle() const { return slots_.empty(); }
  asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  struct Slot {
    std::optional<Response> response;
    // Response::at_turn's start, until it is first in the queue.
    std::function<void(Respond)> at_turn;
  };

  static std::unique_ptr<ConnectionStream> make_stream(tcp::socket& socket,
                                                       const std::shared_ptr<TlsContext>& tls) {
    if (!tls) return std::make_unique<PlainStream>(socket);
    return std::make_unique<TlsStream>(socket, tls->current());
  }

  // The TLS handshake, within sluice.request.receive.timeout.ms like a
  // frame; then the handler's per-connection state.
  awaitable<void> establish() {
    start_receive_deadline(0);
    handshaking_ = true;
    try {
      co_await stream_->handshake();
    } catch (const std::exception& error) {
      handshaking_ = false;
      reading_body_ = false;
      if (!closed_)
        net_warnings().warn("tls handshake", "closing connection {} from {} on listener {}: {}",
                            info_.connection_id, info_.peer_address, info_.listener_name,
                            error.what());
      throw;
    }
    handshaking_ = false;
    reading_body_ = false;
    info_.tls_peer_subject = stream_->peer_subject();
    info_.state = handler_.open_connection(info_);
  }

  static awaitable<void> read_loop(std::shared_ptr<Connection> self) {
    try {
      co_await self->establish();
      while (!self->closed_) {
        std::shared_ptr<FrameBuffer> frame = co_await self->read_frame();
        if (!frame) break;
        while (self->slots_.size() >= static_cast<size_t>(
                                          self->config_.max_in_flight_requests_per_connection) &&
               !self->closed_) {
          self->in_flight_wait_.expires_at(Clock::time_point::max());
          asio::error_code ignored;
          co_await self->in_flight_wait_.async_wait(asio::redirect_error(use_awaitable, ignored));
        }
        co_await self->wait_while_muted();
        if (self->closed_) break;
        self->dispatch(std::move(frame));
      }
    } catch (const std::exception& error) {
      if (!self->closed_)
        spdlog::debug("connection {} from {}: {}", self->info_.connection_id,
                      self->info_.peer_address, error.what());
    }
    self->close();
  }

  // A throttled client (Response::mute_ms) gets no request handled until
  // its throttle time is over, as Kafka mutes the channel; answers already
  // due are still written.
  awaitable<void> wait_while_muted() {
    auto until = [this] {
      return info_.state ? std::max(muted_until_, info_.state->muted_until()) : muted_until_;
    };
    while (!closed_ && Clock::now() < until()) {
      mute_timer_.expires_at(until());
      asio::error_code ignored;
      co_await mute_timer_.async_wait(asio::redirect_error(use_awaitable, ignored));
    }
  }

  // One request frame, or null when the peer closed, sent a bad size, or
  // the connection closed while waiting for request memory. Nothing of the
  // body is read (or allocated) before queued.max.request.bytes grants it.
  awaitable<std::shared_ptr<FrameBuffer>> read_frame() {
    uint8_t size_bytes[4];
    co_await stream_->read_exact(asio::buffer(size_bytes));
    WireReader size_reader(size_bytes);
    int32_t size = size_reader.read_int32();
    if (size < 0 || size > config_.socket_request_max_bytes) {
      net_warnings().warn("frame size",
                          "closing connection {} from {}: request frame of {} bytes is outside 0..{} "
                          "(socket.request.max.bytes)",
                          info_.connection_id, info_.peer_address, size, config_.socket_request_max_bytes);
      co_return nullptr;
    }
    if (!co_await reserve_memory(static_cast<size_t>(size))) co_return nullptr;
    // The frame owns the reservation from here: dropping it returns the bytes.
    std::shared_ptr<FrameBuffer> frame = memory_pool_->make_frame(static_cast<size_t>(size));
    co_await read_body(*frame);
    last_activity_ = Clock::now();
    co_return frame;
  }

  // Reserves a frame's bytes in the broker-wide pool, waiting (without
  // reading the socket) while it is spent. False: the connection closed
  // while waiting, nothing is held.
  awaitable<bool> reserve_memory(size_t size) {
    std::weak_ptr<Connection> weak = weak_from_this();
    auto wait = memory_pool_->reserve(size, [weak, executor = socket_.get_executor()] {
      asio::post(executor, [weak] {
        if (auto self = weak.lock()) self->memory_wait_.cancel();
      });
    });
    if (!wait) co_return true;
    net_warnings().warn("request memory spent",
                        "request memory is spent ({} of {} bytes held, queued.max.request.bytes): "
                        "connections wait before reading more requests",
                        memory_pool_->bytes_held(), memory_pool_->bytes_max());
    // Woken by the grant (posted here) or by close(); nothing else touches
    // this timer, and the grant's post runs only once this has suspended.
    memory_wait_.expires_at(Clock::time_point::max());
    asio::error_code ignored;
    co_await memory_wait_.async_wait(asio::redirect_error(use_awaitable, ignored));
    bool granted = memory_pool_->withdraw(wait);
    if (closed_) {
      if (granted) memory_pool_->release(size);
      co_return false;
    }
    SLUICE_ASSERT(granted, "a connection waiting for request memory woke without it");
    co_return true;
  }

  // Reads a frame body. While much of it is missing, SO_RCVLOWAT is set to
  // what is missing, so the kernel wakes this reactor once that much is
  // queued instead of at every arriving segment: a 1 MiB Produce took ~17
  // reads and as many epoll wake-ups. The mark is never above what the peer
  // has announced (the frame size), the kernel caps it at half of
  // tcp_rmem's maximum and grows the receive buffer to hold it, and a close
  // wakes the reader whatever the mark; it is back to 1 before the next
  // frame's size is read, so small requests are never held back.
  awaitable<void> read_body(FrameBuffer& frame) {
    if (frame.empty()) co_return;
    start_receive_deadline(frame.size());
    while (body_received_ < frame.size()) {
      size_t missing = frame.size() - body_received_;
      set_receive_low_watermark(missing >= kLowWatermarkMinBytes ? missing : 1);
      body_received_ +=
          co_await stream_->read_some(asio::buffer(frame.data() + body_received_, missing));
    }
    reading_body_ = false;
    set_receive_low_watermark(1);
  }

  // A body must arrive within sluice.request.receive.timeout.ms of its first
  // read: a peer that stalls mid-frame holds its reservation of request
  // memory, so it is dropped rather than left until connections.max.idle.ms.
  // Per frame this only stores a time; the one timer is re-armed at most once
  // per timeout, not per frame.
  void start_receive_deadline(size_t size) {
    body_started_ = Clock::now();
    body_size_ = size;
    body_received_ = 0;
    reading_body_ = true;
    if (!receive_timer_armed_ && config_.request_receive_timeout_ms > 0) arm_receive_timer();
  }

  void arm_receive_timer() {
    receive_timer_armed_ = true;
    auto timeout = std::chrono::milliseconds(config_.request_receive_timeout_ms);
    receive_timer_.expires_at(body_started_ + timeout);
    receive_timer_.async_wait([weak = weak_from_this(), timeout](asio::error_code error) {
      auto self = weak.lock();
      if (!self) return;
      self->receive_timer_armed_ = false;
      if (error || self->closed_ || !self->reading_body_) return;
      if (Clock::now() - self->body_started_ < timeout) {  // a later frame: its own deadline
        self->arm_receive_timer();
        return;
      }
      if (self->handshaking_)
        net_warnings().warn("receive timeout",
                            "closing connection {} from {}: TLS handshake not done in {} ms "
                            "(sluice.request.receive.timeout.ms)",
                            self->info_.connection_id, self->info_.peer_address, timeout.count());
      else
        net_warnings().warn(
            "receive timeout",
            "closing connection {} from {}: {} of a {}-byte request frame received in {} ms "
            "(sluice.request.receive.timeout.ms)",
            self->info_.connection_id, self->info_.peer_address, self->body_received_,
            self->body_size_, timeout.count());
      self->close();
    });
  }

  // Best effort: a socket that refuses the option is read as before.
  void set_receive_low_watermark(size_t bytes) {
    if (!stream_->receive_low_watermark_allowed()) return;
    int mark = static_cast<int>(std::min<size_t>(bytes, INT32_MAX));
    if (mark == receive_low_watermark_) return;
    if (::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVLOWAT, &mark, sizeof mark) == 0)
      receive_low_watermark_ = mark;
  }

  void dispatch(std::shared_ptr<FrameBuffer> frame) {
    uint64_t sequence = first_sequence_ + slots_.size();
    slots_.emplace_back();
    handler_.handle(info_, std::move(frame), respond_to(sequence));
  }

  // Answers request `sequence`, from any thread.
  Respond respond_to(uint64_t sequence) {
    std::weak_ptr<Connection> weak = weak_from_this();
    asio::any_io_executor executor = socket_.get_executor();
    return [weak, executor, sequence](Response response) {
      asio::post(executor, [weak, sequence, response = std::move(response)]() mutable {
        if (auto self = weak.lock()) self->complete(sequence, std::move(response));
      });
    };
  }

  void complete(uint64_t sequence, Response response) {
    if (closed_) return;
    SLUICE_ASSERT(sequence >= first_sequence_ && sequence < first_sequence_ + slots_.size(),
                  "a response for a request this connection does not wait for");
    Slot& slot = slots_[sequence - first_sequence_];
    SLUICE_ASSERT(!slot.response.has_value(), "a request answered twice");
    if (response.handle_at_turn) {
      SLUICE_ASSERT(!slot.at_turn, "a request put off to its turn twice");
      slot.at_turn = std::move(response.handle_at_turn);
      start_due_turn();
      return;
    }
    slot.response = std::move(response);
    if (!writing_) {
      writing_ = true;
      asio::co_spawn(socket_.get_executor(), write_loop(shared_from_this()), asio::detached);
    }
  }

  // Writes every answer at the head of the queue that is ready, in order,
  // several per gathered write.
  static awaitable<void> write_loop(std::shared_ptr<Connection> self) {
    try {
      while (!self->closed_ && !self->slots_.empty() && self->slots_.front().response) {
        std::vector<Response> ready;
        while (!self->slots_.empty() && self->slots_.front().response &&
               ready.size() < responses_per_write_max) {
          ready.push_back(std::move(*self->slots_.front().response));
          self->slots_.pop_front();
          ++self->first_sequence_;
        }
        self->start_due_turn();
        self->in_flight_wait_.cancel();
        bool close_after = co_await self->write_responses(ready);
        self->last_activity_ = Clock::now();
        if (close_after) {
          self->close();
          break;
        }
      }
    } catch (const std::exception& error) {
      spdlog::debug("connection {} write failed: {}", self->info_.connection_id, error.what());
      self->close();
    }
    self->writing_ = false;
  }

  // A request put off to its turn (Response::at_turn) is handled once it is
  // first in the queue: every earlier request is answered.
  void start_due_turn() {
    if (closed_ || slots_.empty() || !slots_.front().at_turn) return;
    std::function<void(Respond)> start = std::move(slots_.front().at_turn);
    slots_.front().at_turn = nullptr;
    start(respond_to(first_sequence_));
  }

  // Writes the responses with gathered writes, switching to sendfile for
  // each file slice where the body holds its placeholder.
  awaitable<bool> write_responses(std::vector<Response>& ready) {
    std::vector<std::array<uint8_t, 4>> size_prefixes(ready.size());
    std::vector<asio::const_buffer> buffers;
    bool close_after = false;
    for (size_t i = 0; i < ready.size(); ++i) {
      close_after = close_after || ready[i].close_after;
      if (ready[i].mute_ms > 0)
        muted_until_ =
            std::max(muted_until_, Clock::now() + std::chrono::milliseconds(ready[i].mute_ms));
      if (!ready[i].send) continue;
      uint32_t size = static_cast<uint32_t>(ready[i].body.size());
      size_prefixes[i] = {static_cast<uint8_t>(size >> 24), static_cast<uint8_t>(size >> 16),
                          static_cast<uint8_t>(size >> 8), static_cast<uint8_t>(size)};
      buffers.emplace_back(size_prefixes[i].data(), 4);
      for (const Response::Part& part : ready[i].parts()) {
        if (part.file == nullptr) {
          buffers.emplace_back(part.memory.data(), part.memory.size());
          continue;
        }
        if (!buffers.empty()) co_await stream_->write(buffers);
        buffers.clear();
        co_await send_file(*part.file);
      }
    }
    if (!buffers.empty()) co_await stream_->write(buffers);
    co_return close_after;
  }

  // The size prefix is already out: a file that ended early (it was
  // truncated) leaves no way to finish the frame but closing.
  awaitable<void> send_file(const FileSlice& file) {
    try {
      co_await stream_->send_file(file);
    } catch (const FileSliceError& error) {
      net_warnings().warn("sendfile", "connection {}: sending {} bytes at {} of a file stopped: {}",
                          info_.connection_id, file.length, file.position, error.what());
      throw;
    }
  }

  void arm_idle_timer() {
    auto idle = std::chrono::milliseconds(config_.connections_max_idle_ms);
    idle_timer_.expires_at(last_activity_ + idle);
    idle_timer_.async_wait([weak = weak_from_this(), idle](asio::error_code error) {
      auto self = weak.lock();
      if (error || !self || self->closed_) return;
      if (self->slots_.empty() && Clock::now() - self->last_activity_ >= idle) {
        spdlog::info("closing connection {} from {}: idle for {} ms (connections.max.idle.ms)",
                     self->info_.connection_id, self->info_.peer_address, idle.count());
        self->close();
        return;
      }
      self->arm_idle_timer();
    });
  }

  tcp::socket socket_;
  std::unique_ptr<ConnectionStream> stream_;  // reads and writes socket_
  ConnectionInfo info_;
  const ServerConfig& config_;
  RequestHandler& handler_;
  std::shared_ptr<RequestMemoryPool> memory_pool_;
  std::atomic<size_t>& open_count_;
  metrics::Gauge& open_gauge_;
  asio::steady_timer idle_timer_;
  asio::steady_timer in_flight_wait_;
  asio::steady_timer memory_wait_;    // cancelled when the pool grants this connection's frame
  asio::steady_timer receive_timer_;  // sluice.request.receive.timeout.ms
  asio::steady_timer mute_timer_;
  Clock::time_point muted_until_{};  // see wait_while_muted
  Clock::time_point last_activity_;
  Clock::time_point body_started_;  // of the frame being read
  size_t body_size_ = 0;
  size_t body_received_ = 0;
  bool reading_body_ = false;
  bool handshaking_ = false;  // the receive deadline is the TLS handshake's
  bool receive_timer_armed_ = false;
  int receive_low_watermark_ = 1;  // SO_RCVLOWAT as last set (the kernel's default is 1)
  std::deque<Slot> slots_;
  uint64_t first_sequence_ = 0;
  bool writing_ = false;
  bool closed_ = false;
};

// Errors of accept that say nothing is wrong with the listener: the peer gave
// up before its connection was accepted. Retried at once.
bool peer_gave_up(const asio::error_code& error) {
  return error == asio::error::connection_aborted || error == asio::error::connection_reset;
}

}  // namespace

struct Server::State {
  ServerConfig config;
  RequestHandler& handler;
  std::shared_ptr<RequestMemoryPool> memory_pool;
  std::vector<std::unique_ptr<asio::io_context>> reactors;
  std::vector<std::shared_ptr<IoContextExecutor>> reactor_executors;  // by reactor
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_guards;
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::unique_ptr<asio::steady_timer>> accept_retry_timers;  // by listener, on reactors[0]
  std::vector<int64_t> accept_backoff_ms;                                // by listener, 0: not failing
  std::vector<uint16_t> bound_ports;
  std::vector<ListenerMetrics> listener_metrics;  // by listener index
  std::vector<metrics::CollectorHandle> memory_gauges;  // read at scrape time
  std::atomic<size_t> open_connections{0};
  std::atomic<uint64_t> next_connection_id{1};
  std::mutex connections_mutex;
  std::vector<std::weak_ptr<Connection>> connections;
  size_t next_reactor = 0;

  State(ServerConfig server_config, RequestHandler& request_handler)
      : config(std::move(server_config)),
        handler(request_handler),
        memory_pool(std::make_shared<RequestMemoryPool>(config.queued_max_request_bytes)) {}

  asio::io_context& pick_reactor() {
    asio::io_context& reactor = *reactors[next_reactor];
    next_reactor = (next_reactor + 1) % reactors.size();
    return reactor;
  }

  void accept_next(size_t listener_index) {
    tcp::acceptor& acceptor = *acceptors[listener_index];
    asio::io_context& reactor = pick_reactor();
    acceptor.async_accept(reactor, [this, listener_index](asio::error_code error,
                                                           tcp::socket socket) {
      if (error == asio::error::operation_aborted || !acceptors[listener_index]->is_open()) return;
      if (error && !peer_gave_up(error)) {
        retry_accept_later(listener_index, error);
        return;
      }
      accept_backoff_ms[listener_index] = 0;
      if (!error) adopt(std::move(socket), listener_index);
      accept_next(listener_index);
    });
  }

  // A failed accept (EMFILE above all) leaves the connection in the backlog,
  // so retrying at once fails at once: the loop spun at 93% CPU and wrote
  // 1.77 GB of log in 20 s. It pauses instead, doubling up to the maximum;
  // clients wait in the listen backlog meanwhile, and the warning is written
  // once per interval. Runs on reactors[0], like the acceptor.
  void retry_accept_later(size_t listener_index, const asio::error_code& error) {
    int64_t& backoff_ms = accept_backoff_ms[listener_index];
    backoff_ms = backoff_ms == 0 ? config.accept_backoff_ms_min
                                 : std::min(backoff_ms * 2, config.accept_backoff_ms_max);
    net_warnings().warn("accept " + error.message(),
                        "accept on listener {} failed: {}{}; retrying in {} ms", config.listeners[listener_index].name,
                        error.message(),
                        error == asio::error::no_descriptors ? " (raise the open-file limit, ulimit -n)" : "",
                        backoff_ms);
    asio::steady_timer& timer = *accept_retry_timers[listener_index];
    timer.expires_after(std::chrono::milliseconds(backoff_ms));
    timer.async_wait([this, listener_index](asio::error_code timer_error) {
      if (timer_error || !acceptors[listener_index]->is_open()) return;
      accept_next(listener_index);
    });
  }

  void adopt(tcp::socket socket, size_t listener_index) {
    asio::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    ConnectionInfo info;
    info.connection_id = next_connection_id++;
    info.listener_name = config.listeners[listener_index].name;
    info.peer_address = endpoint_text(socket.remote_endpoint(ignored));
    info.security_protocol = config.listeners[listener_index].security_protocol;
    for (const auto& executor : reactor_executors)
      if (executor->runs(static_cast<const asio::io_context&>(socket.get_executor().context())))
        info.reactor = executor;
    const ListenerMetrics& metrics = listener_metrics[listener_index];
    metrics.accepted->inc();
    std::shared_ptr<Connection> connection;
    try {
      connection = std::make_shared<Connection>(std::move(socket), std::move(info), config, handler,
                                                memory_pool, open_connections, *metrics.open,
                                                config.listeners[listener_index].tls);
    } catch (const std::exception& error) {  // no TLS session: out of memory
      net_warnings().warn("tls session", "refusing a connection on listener {}: {}",
                          config.listeners[listener_index].name, error.what());
      return;
    }
    {
      std::lock_guard lock(connections_mutex);
      std::erase_if(connections, [](const auto& weak) { return weak.expired(); });
      connections.push_back(connection);
    }
    asio::post(connection->executor(), [connection] { connection->start(); });
  }

  // Read at scrape time: the hot path records nothing more than the pool does.
  void register_memory_gauges() {
    metrics::Registry& registry = metrics::default_registry();
    std::shared_ptr<RequestMemoryPool> pool = memory_pool;
    memory_gauges.push_back(registry.add_callback_gauge(
        "sluice_request_memory_held_bytes", "Request bytes held by connections (queued.max.request.bytes).",
        [pool] { return static_cast<double>(pool->bytes_held()); }));
    memory_gauges.push_back(registry.add_callback_gauge(
        "sluice_request_memory_max_bytes", "queued.max.request.bytes; 0 or less: unbounded.",
        [pool] { return static_cast<double>(pool->bytes_max()); }));
  }

  // Runs `action` on each live connection's reactor and waits for all.
  void for_each_connection(const std::function<void(Connection&)>& action) {
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(connections_mutex);
      for (const auto& weak : connections)
        if (auto connection = weak.lock()) live.push_back(std::move(connection));
    }
    for (const auto& connection : live) {
      std::promise<void> done;
      asio::post(connection->executor(), [&] {
        action(*connection);
        done.set_value();
      });
      done.get_future().wait();
    }
  }
};

Server::Server(ServerConfig config, RequestHandler& handler)
    : state_(std::make_unique<State>(std::move(config), handler)) {}

Server::~Server() { stop(0); }

Status Server::start() {
  int threads = state_->config.reactor_threads > 0
                    ? state_->config.reactor_threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) {
    state_->reactors.push_back(std::make_unique<asio::io_context>(1));
    state_->work_guards.push_back(asio::make_work_guard(*state_->reactors.back()));
    state_->reactor_executors.push_back(
        std::make_shared<IoContextExecutor>(*state_->reactors.back()));
    // Asio creates a reactor's epoll, eventfd and timerfd lazily, at its
    // first socket or timer: out of descriptors, that threw on a reactor
    // thread (abort, exit 134). A timer now makes them here, where the
    // failure is the caller's (sluice serve: one line, exit 1).
    asio::steady_timer create_descriptors(*state_->reactors.back());
  }
  for (const ListenerConfig& listener : state_->config.listeners) {
    asio::error_code error;
    auto address = asio::ip::make_address(listener.host, error);
    if (error) {
      asio::ip::tcp::resolver resolver(*state_->reactors[0]);
      auto results = resolver.resolve(listener.host, std::to_string(listener.port), error);
      if (!error && !results.empty()) address = results.begin()->endpoint().address();
    }
    if (error)
      return Status(Errc::invalid_value, "listener " + listener.name + ": cannot resolve host '" +
                                             listener.host + "': " + error.message());
    tcp::endpoint endpoint(address, listener.port);
    auto acceptor = std::make_unique<tcp::acceptor>(*state_->reactors[0]);
    acceptor->open(endpoint.protocol(), error);
    if (!error) acceptor->set_option(tcp::acceptor::reuse_address(true), error);
    if (!error) acceptor->bind(endpoint, error);
    if (!error) acceptor->listen(asio::socket_base::max_listen_connections, error);
    if (error)
      return Status(Errc::io_error, "listener " + listener.name + ": cannot listen on " +
                                        endpoint_text(endpoint) + ": " + error.message());
    state_->bound_ports.push_back(acceptor->local_endpoint().port());
    state_->listener_metrics.push_back(listener_metrics(listener.name));
    state_->acceptors.push_back(std::move(acceptor));
    state_->accept_retry_timers.push_back(std::make_unique<asio::steady_timer>(*state_->reactors[0]));
    state_->accept_backoff_ms.push_back(0);
  }
  state_->register_memory_gauges();
  for (size_t i = 0; i < state_->acceptors.size(); ++i) state_->accept_next(i);
  for (size_t i = 0; i < state_->reactors.size(); ++i)
    state_->threads.emplace_back(
        [&context = *state_->reactors[i], i, sink = reactor_timing_sink(i)] {
          run_reactor(context, i, sink);
        });
  return Status::ok();
}

uint16_t Server::bound_port(size_t listener_index) const {
  SLUICE_ASSERT(listener_index < state_->bound_ports.size(), "no such listener");
  return state_->bound_ports[listener_index];
}

size_t Server::open_connections() const { return state_->open_connections; }

int64_t Server::request_bytes_held() const { return state_->memory_pool->bytes_held(); }

void Server::stop(int64_t drain_ms) {
  if (state_->threads.empty()) return;
  std::promise<void> closed;
  asio::post(*state_->reactors[0], [&] {
    asio::error_code ignored;
    for (auto& acceptor : state_->acceptors) acceptor->close(ignored);
    for (auto& timer : state_->accept_retry_timers) timer->cancel();
    closed.set_value();
  });
  closed.get_future().wait();

  auto deadline = Clock::now() + std::chrono::milliseconds(drain_ms);
  while (Clock::now() < deadline) {
    std::atomic<bool> all_idle = true;
    state_->for_each_connection([&](Connection& connection) {
      if (!connection.idle()) all_idle = false;
    });
    if (all_idle) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  state_->for_each_connection([](Connection& connection) { connection.close(); });
  state_->work_guards.clear();
  for (auto& reactor : state_->reactors) reactor->stop();
  for (auto& thread : state_->threads) thread.join();
  state_->threads.clear();
  // Connections still waiting for request memory never resume (their
  // reactors are stopped): a later release must not post to them.
  state_->memory_pool->drop_waiters();
}

}  // namespace sluice::net
