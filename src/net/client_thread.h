#pragma once
// An inter-broker client's own thread (never a reactor): an io_context with
// a TcpTransport, and a tick every 10 ms for the clients' timeouts,
// reconnects and due retries. The transaction marker sender and the
// transaction verifier each run their core on one.
//
// Asio stays in the .cc: broker translation units include the headers that
// hold a ClientThread and must not see Asio (net/server.cc hooks its
// handler tracking into it).
//
// Thread-safety: post() and stop() from any thread; the tick, posted tasks
// and stop()'s `close` run on the thread, one at a time.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "net/transport.h"

namespace sluice::net {

class ClientThread {
 public:
  ClientThread();
  ~ClientThread();
  ClientThread(const ClientThread&) = delete;
  ClientThread& operator=(const ClientThread&) = delete;

  // For the core built before start(); used on the thread only.
  Transport& transport();

  // Starts the thread named `name`, calling `tick` every 10 ms until stop().
  void start(std::string name, std::function<void()> tick);

  // Runs `task` on the thread. False once stop() began: the task is not
  // run and the caller answers for it.
  bool post(std::function<void()> task);

  // Runs `close` on the thread after every task accepted before, then
  // joins. Later calls do nothing.
  void stop(std::function<void()> close);

 private:
  struct Reactor;
  void arm();

  std::unique_ptr<Reactor> reactor_;
  std::function<void()> tick_;
  std::mutex mutex_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace sluice::net
