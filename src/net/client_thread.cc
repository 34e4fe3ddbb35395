#include "net/client_thread.h"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>

#include "base/thread_name.h"
#include "net/tcp_transport.h"

namespace sluice::net {

struct ClientThread::Reactor {
  Reactor() : work(asio::make_work_guard(io)), transport(io), timer(io) {}
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  TcpTransport transport;
  asio::steady_timer timer;
  // Set on the thread by stop(): a tick already due when the timer is
  // cancelled still runs with success and must not arm it again, or run()
  // never returns and stop() never joins.
  bool closing = false;
};

ClientThread::ClientThread() : reactor_(std::make_unique<Reactor>()) {}

ClientThread::~ClientThread() { stop({}); }

Transport& ClientThread::transport() { return reactor_->transport; }

void ClientThread::start(std::string name, std::function<void()> tick) {
  tick_ = std::move(tick);
  thread_ = std::thread([this, name = std::move(name)] {
    set_current_thread_name(name);
    arm();
    reactor_->io.run();
  });
}

void ClientThread::arm() {
  reactor_->timer.expires_after(std::chrono::milliseconds(10));
  reactor_->timer.async_wait([this](const std::error_code& error) {
    if (error || reactor_->closing) return;
    if (tick_) tick_();
    arm();
  });
}

bool ClientThread::post(std::function<void()> task) {
  std::lock_guard lock(mutex_);
  if (stopped_) return false;
  // Posted under the lock: stop() posts the close after every accepted task.
  asio::post(reactor_->io, std::move(task));
  return true;
}

void ClientThread::stop(std::function<void()> close) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    asio::post(reactor_->io, [this, close = std::move(close)] {
      reactor_->closing = true;
      reactor_->timer.cancel();
      if (close) close();
    });
  }
  reactor_->work.reset();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice::net
