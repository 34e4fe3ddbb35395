#pragma once
// The live page: GET / is a self-contained HTML page (no external scripts
// or styles) whose script polls GET /api/stats (the LiveView's snapshot as
// JSON) every second and redraws its tables.

#include <memory>
#include <string>
#include <thread>

#include "live_view.h"

namespace httplib {
class Server;
}

namespace clickstream {

class PageServer {
 public:
  explicit PageServer(const LiveView& view);
  ~PageServer();
  PageServer(const PageServer&) = delete;
  PageServer& operator=(const PageServer&) = delete;

  // Listens on host:port (port 0: any free one) in a thread of its own;
  // returns the port, or throws std::runtime_error when it cannot bind.
  int start(const std::string& host, int port);
  void stop();

 private:
  const LiveView& view_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

// The page's HTML (page.cc).
extern const char* const kPageHtml;

}  // namespace clickstream
