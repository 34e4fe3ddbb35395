#include "cli/serve.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "admin/admin_server.h"
#include "broker/broker.h"

namespace sluice::cli {
namespace {

std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Blocks the stop signals in every thread (reactors inherit the mask), so
// that only sigwait in main sees them.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a peer hanging up is an error value, not a signal
  return signals;
}

}  // namespace

int run_serve(const ServeOptions& options) {
  auto started_at = std::chrono::steady_clock::now();
  std::string properties;
  if (!options.config_file.empty()) {
    auto text = read_text_file(options.config_file);
    if (!text) {
      spdlog::error("cannot read config file '{}'", options.config_file);
      return 2;
    }
    properties = std::move(*text);
  }
  auto config = broker::BrokerConfig::load(properties, options.overrides);
  if (!config) {
    spdlog::error("invalid configuration: {}", config.status().message());
    return 2;
  }

  sigset_t stop_signals = block_stop_signals();
  // The admin port comes up first, so /v1/health answers (503) during
  // start-up recovery; it turns ready once the broker serves.
  std::unique_ptr<admin::AdminServer> admin_server;
  if (std::string listener = config->get_string("admin.listener"); !listener.empty()) {
    auto address = admin::parse_admin_listener(listener);
    auto started = address ? admin::AdminServer::start(*address)
                           : Result<std::unique_ptr<admin::AdminServer>>(address.status());
    if (!started) {
      spdlog::error("cannot start: {}", started.status().message());
      return 1;
    }
    admin_server = std::move(*started);
    spdlog::info("admin HTTP on {}:{}", address->host, admin_server->bound_port());
  }
  auto broker = broker::Broker::open(std::move(config.value()));
  if (!broker) {
    spdlog::error("cannot start: {}", broker.status().message());
    return 1;
  }
  if (Status status = (*broker)->start(); !status) {
    spdlog::error("cannot start: {}", status.message());
    return 1;
  }
  if (admin_server) admin_server->attach(**broker);
  auto startup_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started_at)
                        .count();
  const auto& listeners = (*broker)->config().listeners;
  for (size_t i = 0; i < listeners.size(); ++i)
    spdlog::info("listening on {}://{}:{}", listeners[i].name, listeners[i].host,
                 (*broker)->bound_port(i));
  spdlog::info("sluice broker {} started in {} ms", (*broker)->config().node_id, startup_ms);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received {}, shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  if (admin_server) admin_server->detach();  // no admin request touches the broker from here on
  (*broker)->stop();
  if (admin_server) admin_server->stop();
  broker->reset();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace sluice::cli
