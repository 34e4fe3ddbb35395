#include "server/serve.h"

#include <signal.h>
#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "admin/admin_server.h"
#include "broker/broker.h"

namespace sluice::server {
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

// The broker's log is diagnostics: on stderr, like every error of the
// binary, leaving stdout to nothing (spdlog's default logger writes stdout).
void log_to_stderr() {
  auto logger =
      std::make_shared<spdlog::logger>("", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  spdlog::set_default_logger(std::move(logger));
  // SPDLOG_LEVEL=debug (or quorum=debug,...) for a closer look.
  spdlog::cfg::load_env_levels();
}

// Raises the soft RLIMIT_NOFILE to the hard one, as the JVM does for Kafka
// (HotSpot's MaxFDLimit, on by default): the soft limit is often 1,024
// while each partition keeps a descriptor open. Returns the limit in force.
rlim_t raise_open_file_limit() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  rlim_t soft = limit.rlim_cur;
  // An unlimited hard limit cannot be the soft one: the kernel caps it at fs.nr_open.
  rlim_t target = limit.rlim_max;
  if (target == RLIM_INFINITY)
    if (std::ifstream nr_open("/proc/sys/fs/nr_open"); !(nr_open >> target))
      target = limit.rlim_cur;
  if (limit.rlim_cur < target) {
    struct rlimit raised = limit;
    raised.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      spdlog::info("open-file limit raised from {} to {} (the hard limit)", soft, raised.rlim_cur);
      return raised.rlim_cur;
    }
    spdlog::warn("open-file limit is {}; raising it to the hard limit {} failed: {}", soft, target,
                 std::strerror(errno));
    return soft;
  }
  spdlog::info("open-file limit is {}", soft);
  return soft;
}

size_t partition_dirs_in(const std::vector<std::string>& log_dirs) {
  size_t count = 0;
  for (const std::string& dir : log_dirs) {
    std::error_code error;
    for (std::filesystem::directory_iterator it(dir, error), end; !error && it != end;
         it.increment(error))
      count +=
          it->is_directory(error) && it->path().filename().string().find('-') != std::string::npos;
  }
  return count;
}

// One line for a start that ran out of descriptors (the logs, the
// reactors' eventfds, a listener): what to change, with the figures.
std::string descriptor_shortage(const std::string& detail, rlim_t limit,
                                const std::vector<std::string>& log_dirs) {
  return "too few file descriptors: " + detail + " (the open-file limit is " +
         std::to_string(limit) + ", log.dirs hold " + std::to_string(partition_dirs_in(log_dirs)) +
         " partition dirs, each keeping at least one file open; raise the limit: ulimit -n, or "
         "LimitNOFILE= for systemd)";
}

bool is_descriptor_shortage(const std::error_code& code) {
  return code == std::errc::too_many_files_open || code == std::errc::too_many_files_open_in_system;
}

// One line saying what this node is in its cluster.
void log_roles(const broker::BrokerConfig& config) {
  const broker::QuorumSettings& quorum = config.quorum;
  if (!quorum.roles_explicit) {
    spdlog::info("node {}: process.roles unset, a cluster of one (broker and sole controller)",
                 config.node_id);
    return;
  }
  std::string voters;
  for (const auto& [id, address] : quorum.voters)
    voters += (voters.empty() ? "" : ",") + std::to_string(id) + "@" + address.host + ":" +
              std::to_string(address.port);
  spdlog::info("node {}: process.roles={}, controller.quorum.voters={}{}", config.node_id,
               quorum.combined()    ? "broker,controller"
               : quorum.broker_role ? "broker"
                                    : "controller",
               voters.empty() ? "(bootstrap servers)" : voters,
               config.is_voter() ? " (a voter)" : "");
}

}  // namespace

int run_serve(const ServeOptions& options) {
  auto started_at = std::chrono::steady_clock::now();
  log_to_stderr();
  rlim_t open_file_limit = raise_open_file_limit();
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
  for (const std::string& name : config->inert_settings())
    spdlog::warn("{} is a Kafka setting Sluice accepts but does not act on (yet)", name);
  log_roles(*config);
  for (const std::string& name : config->ignored_quorum_settings())
    spdlog::warn(
        "{} is ignored: process.roles is not set, so this node is a cluster of one (its own "
        "quorum); set process.roles to join a cluster",
        name);

  sigset_t stop_signals = block_stop_signals();
  // The admin port comes up first, so /v1/health answers (503) during
  // start-up recovery; it turns ready once the broker serves.
  std::unique_ptr<admin::AdminServer> admin_server;
  if (std::string listener = config->get_string("admin.listener"); !listener.empty()) {
    admin::AdminSettings settings;
    settings.listener = listener;
    settings.authentication = config->get_string("admin.authentication");
    settings.keystore_location = config->get_string("admin.ssl.keystore.location");
    settings.key_password = config->get_string("admin.ssl.key.password");
    settings.truststore_location = config->get_string("admin.ssl.truststore.location");
    settings.principal_mapping_rules = config->get_string("ssl.principal.mapping.rules");
    auto options = admin::parse_admin_options(settings);
    auto started = options ? admin::AdminServer::start(*options)
                           : Result<std::unique_ptr<admin::AdminServer>>(options.status());
    if (!started) {
      spdlog::error("cannot start: {}", started.status().message());
      return 1;
    }
    admin_server = std::move(*started);
    spdlog::info("admin HTTP on {}:{}", options->address.host, admin_server->bound_port());
  }
  const std::vector<std::string> log_dirs = config->log_dirs;
  auto cannot_start = [&](const Status& status) {
    // By its code, or by its text when a layer re-wrapped it (the metadata log).
    bool out_of_descriptors = status.code() == Errc::too_many_open_files ||
                              status.message().find(std::strerror(EMFILE)) != std::string::npos ||
                              status.message().find(std::strerror(ENFILE)) != std::string::npos;
    if (out_of_descriptors)
      spdlog::error("cannot start: {}",
                    descriptor_shortage(status.message(), open_file_limit, log_dirs));
    else
      spdlog::error("cannot start: {}", status.message());
    return 1;
  };
  Result<std::unique_ptr<broker::Broker>> broker = Status(Errc::io_error, "not opened");
  Status failed;
  try {
    // The real clock and entropy enter here, and only here.
    broker = broker::Broker::open(std::move(config.value()), {&system_clock(), &system_random()});
    if (!broker) failed = broker.status();
    if (broker) failed = (*broker)->start();
  } catch (const std::system_error&
               error) {  // a thread, an eventfd, a socket the libraries could not get
    Errc code = is_descriptor_shortage(error.code()) ? Errc::too_many_open_files : Errc::io_error;
    failed = Status(code, error.what());
  }
  if (!failed.is_ok()) {
    broker = Status(Errc::io_error,
                    "not started");  // closes what was opened: the reason is the last line
    return cannot_start(failed);
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
  // Leadership leaves first (bounded: past the session timeout the
  // controller fences this broker anyway).
  const auto graceful_timeout =
      std::chrono::milliseconds((*broker)->config().values.get_int("broker.session.timeout.ms"));
  if (std::string what = (*broker)->shut_down_gracefully(graceful_timeout); !what.empty())
    spdlog::info("{}", what);
  if (admin_server) admin_server->detach();  // no admin request touches the broker from here on
  (*broker)->stop();
  if (admin_server) admin_server->stop();
  broker->reset();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace sluice::server
