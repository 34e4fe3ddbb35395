#include "streams/metrics_http.h"

#include <httplib.h>

#include <charconv>
#include <stdexcept>
#include <thread>

namespace sluice::streams {

struct MetricsHttpServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::string host;
  int port = 0;
};

MetricsHttpServer::MetricsHttpServer(const std::string& listener,
                                     std::function<std::string()> render)
    : impl_(std::make_unique<Impl>()) {
  size_t colon = listener.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    const char* first = listener.data() + colon + 1;
    const char* last = listener.data() + listener.size();
    auto [end, error] = std::from_chars(first, last, port);
    if (error != std::errc() || end != last) port = -1;
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
    throw std::invalid_argument("Invalid value " + listener +
                                " for configuration sluice.metrics.prometheus.listener: "
                                "expected HOST:PORT");
  }
  impl_->host = listener.substr(0, colon);
  if (impl_->host.size() > 2 && impl_->host.front() == '[') {
    impl_->host = impl_->host.substr(1, impl_->host.size() - 2);  // [::1]
  }
  // One worker: scrapes are rare and short.
  impl_->server.new_task_queue = [] { return new httplib::ThreadPool(1); };
  impl_->server.Get("/metrics", [render = std::move(render)](const httplib::Request&,
                                                             httplib::Response& response) {
    response.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  if (port == 0) {
    impl_->port = impl_->server.bind_to_any_port(impl_->host);
  } else if (impl_->server.bind_to_port(impl_->host, port)) {
    impl_->port = port;
  } else {
    impl_->port = -1;
  }
  if (impl_->port <= 0) {
    throw std::runtime_error("cannot listen on " + listener + " for the Prometheus endpoint");
  }
  impl_->thread = std::thread([impl = impl_.get()] { impl->server.listen_after_bind(); });
}

MetricsHttpServer::~MetricsHttpServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int MetricsHttpServer::port() const { return impl_->port; }
const std::string& MetricsHttpServer::host() const { return impl_->host; }

}  // namespace sluice::streams
