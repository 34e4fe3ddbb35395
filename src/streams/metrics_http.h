#pragma once
// The Prometheus endpoint of a Streams application (Sluice's own; Kafka
// Streams exposes its metrics through JMX): `sluice.metrics.prometheus.listener`
// = HOST:PORT serves `GET /metrics` in Prometheus' text format, rendered
// at each scrape (streams_metrics.h). Port 0 picks a free port (port()).

#include <functional>
#include <memory>
#include <string>

namespace sluice::streams {

class MetricsHttpServer {
 public:
  // Binds `listener` and serves from a thread of its own; throws
  // std::invalid_argument for a listener that is not HOST:PORT and
  // std::runtime_error when the address cannot be bound.
  MetricsHttpServer(const std::string& listener, std::function<std::string()> render);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const;
  const std::string& host() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::streams
