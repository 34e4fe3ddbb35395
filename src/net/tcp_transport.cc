#include "net/tcp_transport.h"

#include <array>
#include <asio.hpp>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace sluice::net {
namespace {

using asio::ip::tcp;

// One TCP connection. Shared with its pending Asio handlers, so it outlives
// the owner's handle until they have run; `closed` stops them from
// reporting anything after close().
class TcpLink final : public std::enable_shared_from_this<TcpLink> {
 public:
  TcpLink(asio::io_context& reactor, size_t frame_bytes_max, ConnectionEvents events)
      : socket_(reactor),
        resolver_(reactor),
        frame_bytes_max_(frame_bytes_max),
        events_(std::move(events)) {}

  void start(const Endpoint& endpoint) {
    resolver_.async_resolve(
        endpoint.host, std::to_string(endpoint.port),
        [self = shared_from_this()](std::error_code error, tcp::resolver::results_type results) {
          if (self->closed_) return;
          if (error) return self->fail("resolve: " + error.message());
          asio::async_connect(
              self->socket_, results,
              [self](std::error_code error, const tcp::endpoint&) { self->on_connect(error); });
        });
  }

  void send(std::vector<uint8_t> frame) {
    if (closed_ || !connected_) return;
    uint32_t size = static_cast<uint32_t>(frame.size());
    std::vector<uint8_t> framed = {static_cast<uint8_t>(size >> 24),
                                   static_cast<uint8_t>(size >> 16),
                                   static_cast<uint8_t>(size >> 8), static_cast<uint8_t>(size)};
    framed.insert(framed.end(), frame.begin(), frame.end());
    writes_.push_back(std::move(framed));
    if (writes_.size() == 1) write_next();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    events_ = {};
    std::error_code ignored;
    resolver_.cancel();
    socket_.close(ignored);
  }

 private:
  void on_connect(std::error_code error) {
    if (closed_) return;
    if (error) return fail("connect: " + error.message());
    connected_ = true;
    std::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    read_size();
    auto on_connected = events_.on_connected;
    if (on_connected) on_connected();
  }

  void read_size() {
    asio::async_read(socket_, asio::buffer(size_bytes_),
                     [self = shared_from_this()](std::error_code error, size_t) {
                       if (self->closed_) return;
                       if (error) return self->fail(error_text(error));
                       self->read_body();
                     });
  }

  void read_body() {
    uint32_t size = uint32_t{size_bytes_[0]} << 24 | uint32_t{size_bytes_[1]} << 16 |
                    uint32_t{size_bytes_[2]} << 8 | uint32_t{size_bytes_[3]};
    if (size > frame_bytes_max_ || static_cast<int32_t>(size) < 0)
      return fail("response frame of " + std::to_string(size) + " bytes, above the limit of " +
                  std::to_string(frame_bytes_max_));
    body_.assign(size, 0);
    asio::async_read(socket_, asio::buffer(body_),
                     [self = shared_from_this()](std::error_code error, size_t) {
                       if (self->closed_) return;
                       if (error) return self->fail(error_text(error));
                       auto on_frame = self->events_.on_frame;
                       std::vector<uint8_t> frame = std::move(self->body_);
                       self->body_ = {};
                       if (on_frame) on_frame(std::move(frame));
                       if (!self->closed_) self->read_size();
                     });
  }

  void write_next() {
    asio::async_write(socket_, asio::buffer(writes_.front()),
                      [self = shared_from_this()](std::error_code error, size_t) {
                        if (self->closed_) return;
                        if (error) return self->fail("write: " + error.message());
                        self->writes_.pop_front();
                        if (!self->writes_.empty()) self->write_next();
                      });
  }

  static std::string error_text(std::error_code error) {
    return error == asio::error::eof ? "closed by the peer" : "read: " + error.message();
  }

  // Reports the failure once and stops.
  void fail(std::string reason) {
    auto on_closed = std::move(events_.on_closed);
    close();
    if (on_closed) on_closed(std::move(reason));
  }

  tcp::socket socket_;
  tcp::resolver resolver_;
  size_t frame_bytes_max_;
  ConnectionEvents events_;
  bool connected_ = false;
  bool closed_ = false;
  std::array<uint8_t, 4> size_bytes_{};
  std::vector<uint8_t> body_;
  std::deque<std::vector<uint8_t>> writes_;
};

class TcpConnection final : public Connection {
 public:
  explicit TcpConnection(std::shared_ptr<TcpLink> link) : link_(std::move(link)) {}
  ~TcpConnection() override { link_->close(); }
  void send(std::vector<uint8_t> frame) override { link_->send(std::move(frame)); }
  void close() override { link_->close(); }

 private:
  std::shared_ptr<TcpLink> link_;
};

}  // namespace

std::unique_ptr<Connection> TcpTransport::connect(const Endpoint& endpoint,
                                                  ConnectionEvents events) {
  auto link = std::make_shared<TcpLink>(reactor_, frame_bytes_max_, std::move(events));
  link->start(endpoint);
  return std::make_unique<TcpConnection>(std::move(link));
}

struct ReactorTicker::State : std::enable_shared_from_this<ReactorTicker::State> {
  State(asio::io_context& reactor, std::chrono::milliseconds interval, std::function<void()> tick)
      : timer(reactor), interval(interval), tick(std::move(tick)) {}

  void arm() {
    timer.expires_after(interval);
    timer.async_wait([self = shared_from_this()](std::error_code error) {
      if (error || self->stopped) return;
      self->tick();
      if (!self->stopped) self->arm();
    });
  }

  asio::steady_timer timer;
  std::chrono::milliseconds interval;
  std::function<void()> tick;
  bool stopped = false;
};

ReactorTicker::ReactorTicker(asio::io_context& reactor, std::chrono::milliseconds interval,
                             std::function<void()> tick)
    : state_(std::make_shared<State>(reactor, interval, std::move(tick))) {
  state_->arm();
}

ReactorTicker::~ReactorTicker() {
  // The handler may still be queued; `stopped` keeps it from ticking.
  state_->stopped = true;
  state_->timer.cancel();
}

}  // namespace sluice::net
