#include "page_server.h"

#include <httplib.h>

#include <stdexcept>

namespace clickstream {

PageServer::PageServer(const LiveView& view)
    : view_(view), server_(std::make_unique<httplib::Server>()) {
  server_->Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_content(kPageHtml, "text/html; charset=utf-8");
  });
  server_->Get("/api/stats", [this](const httplib::Request&, httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_content(view_.snapshot().dump(), "application/json");
  });
}

PageServer::~PageServer() { stop(); }

int PageServer::start(const std::string& host, int port) {
  int bound = port;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
  } else if (!server_->bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return bound;
}

void PageServer::stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace clickstream
