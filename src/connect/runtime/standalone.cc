#include "connect/runtime/standalone.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/config_def.h"
#include "connect/runtime/distributed_herder.h"
#include "connect/runtime/kafka_admin.h"
#include "connect/runtime/kafka_clients.h"
#include "connect/runtime/rest_server.h"
#include "connect/runtime/standalone_herder.h"

namespace sluice::connect {
namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Errc::io_error, "cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct ConnectorFile {
  std::string name;
  Properties config;
};

// A connector's configuration file as connect-standalone.sh reads them: Java
// properties, or JSON, either {"name": ..., "config": {...}} (the REST
// API's body) or a flat object of settings.
Result<ConnectorFile> read_connector_file(const std::string& path) {
  auto text = read_file(path);
  if (!text.is_ok()) return text.status();
  ConnectorFile file;
  if (path.ends_with(".json")) {
    auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object()) {
      return Status(Errc::invalid_value, path + " is not a JSON object");
    }
    const nlohmann::json& settings = json.contains("config") ? json["config"] : json;
    if (!settings.is_object())
      return Status(Errc::invalid_value, path + ": config is not an object");
    for (const auto& [key, value] : settings.items()) {
      file.config[key] = value.is_string() ? value.get<std::string>() : value.dump();
    }
    if (json.contains("name") && json["name"].is_string()) file.name = json["name"];
  } else {
    auto properties = parse_properties(*text);
    if (!properties.is_ok())
      return Status(Errc::invalid_value, path + ": " + properties.status().message());
    file.config = std::move(*properties);
  }
  if (file.name.empty()) {
    auto it = file.config.find("name");
    if (it != file.config.end()) file.name = it->second;
  }
  if (file.name.empty())
    return Status(Errc::invalid_value, path + " names no connector (\"name\")");
  return file;
}

// SIGINT and SIGTERM are taken by sigwait on this thread: blocked before any
// other thread starts, so none of them receives the signal instead.
sigset_t shutdown_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

int run_standalone(const StandaloneOptions& options) {
  const sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto text = read_file(options.worker_file);
  if (!text.is_ok()) {
    spdlog::error("connect: {}", text.status().message());
    return 2;
  }
  auto properties = parse_properties(*text);
  if (!properties.is_ok()) {
    spdlog::error("connect: {}: {}", options.worker_file, properties.status().message());
    return 2;
  }
  auto settings = parse_standalone_settings(*properties);
  if (!settings.is_ok()) {
    spdlog::error("connect: {}: {}", options.worker_file, settings.status().message());
    return 2;
  }
  std::vector<ConnectorFile> connectors;
  for (const std::string& path : options.connector_files) {
    auto file = read_connector_file(path);
    if (!file.is_ok()) {
      spdlog::error("connect: {}", file.status().message());
      return 2;
    }
    connectors.push_back(std::move(*file));
  }
  auto offsets = FileOffsetStore::open(settings->offsets_file);
  if (!offsets.is_ok()) {
    spdlog::error("connect: {}", offsets.status().message());
    return 1;
  }

  const std::string host = settings->rest_host;
  const int port = settings->rest_port;
  StandaloneHerder herder(std::move(*settings), std::move(*offsets),
                          host + ":" + std::to_string(port));
  RestServerOptions rest;
  rest.host = host;
  rest.port = static_cast<uint16_t>(port);
  rest.version = options.version;
  rest.plugins = plugin_infos(connector_plugins(), options.version);
  RestServer server(herder, rest);
  if (Status started = server.start(); !started) {
    spdlog::error("connect: {}", started.message());
    return 1;
  }
  herder.set_worker_id(host + ":" + std::to_string(server.port()));
  spdlog::info("connect: standalone worker {} serving the REST API on http://{}:{}",
               herder.worker_id(), host, server.port());

  for (const ConnectorFile& file : connectors) {
    auto created = herder.put_connector_config(file.name, file.config, /*allow_replace=*/false);
    if (const auto* error = std::get_if<RestError>(&created)) {
      spdlog::error("connect: connector {} was not created: {}", file.name, error->message);
      herder.stop_all();
      return 1;
    }
  }

  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("connect: {} received, stopping the worker",
               signal == SIGINT ? "SIGINT" : "SIGTERM");
  server.stop();
  herder.stop_all();
  spdlog::info("connect: worker stopped");
  return 0;
}

namespace {

// The three topics, compacted, created unless they exist (Kafka's
// TopicAdmin: config one partition, the others as configured).
Status ensure_internal_topics(const DistributedSettings& settings) {
  const Properties admin = client_settings(settings.worker.properties, {}, ClientKind::admin, {});
  const Properties compacted{{"cleanup.policy", "compact"}};
  if (Status made = ensure_topic(admin, settings.config_topic, settings.config_replication_factor,
                                 1, compacted);
      !made) {
    return made;
  }
  if (Status made = ensure_topic(admin, settings.offset_topic, settings.offset_replication_factor,
                                 settings.offset_partitions, compacted);
      !made) {
    return made;
  }
  return ensure_topic(admin, settings.status_topic, settings.status_replication_factor,
                      settings.status_partitions, compacted);
}

Result<DistributedStores> open_stores(const DistributedSettings& settings) {
  const Properties& worker = settings.worker.properties;
  const Properties consumer = client_settings(worker, {}, ClientKind::consumer, {});
  const Properties producer = client_settings(worker, {}, ClientKind::producer, {});
  DistributedStores stores;
  auto config = TopicReader::open(consumer, settings.config_topic);
  if (!config.is_ok()) return config.status();
  stores.config = std::move(*config);
  auto status = TopicReader::open(consumer, settings.status_topic);
  if (!status.is_ok()) return status.status();
  stores.status = std::move(*status);
  auto writer = TopicWriter::open(producer);
  if (!writer.is_ok()) return writer.status();
  stores.writer = std::move(*writer);
  auto offsets_reader = TopicReader::open(consumer, settings.offset_topic);
  if (!offsets_reader.is_ok()) return offsets_reader.status();
  auto offsets_writer = TopicWriter::open(producer);
  if (!offsets_writer.is_ok()) return offsets_writer.status();
  stores.offsets = std::make_unique<KafkaOffsetStore>(
      std::move(*offsets_reader), std::move(*offsets_writer), settings.offset_topic);
  return stores;
}

}  // namespace

int run_distributed(const std::string& worker_file, const std::string& version) {
  const sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto text = read_file(worker_file);
  if (!text.is_ok()) {
    spdlog::error("connect: {}", text.status().message());
    return 2;
  }
  auto properties = parse_properties(*text);
  if (!properties.is_ok()) {
    spdlog::error("connect: {}: {}", worker_file, properties.status().message());
    return 2;
  }
  auto settings = parse_distributed_settings(*properties);
  if (!settings.is_ok()) {
    spdlog::error("connect: {}: {}", worker_file, settings.status().message());
    return 2;
  }
  if (Status made = ensure_internal_topics(*settings); !made) {
    spdlog::error("connect: {}", made.message());
    return 1;
  }
  auto stores = open_stores(*settings);
  if (!stores.is_ok()) {
    spdlog::error("connect: {}", stores.status().message());
    return 1;
  }

  // Other workers reach this one at its advertised URL, which is also its
  // id in statuses: a fixed port (0 would be known only after binding).
  if (settings->worker.rest_port == 0 && settings->advertised_port <= 0) {
    spdlog::error(
        "connect: {}: a distributed worker needs a fixed listener port (or "
        "rest.advertised.port)",
        worker_file);
    return 2;
  }
  const int port =
      settings->advertised_port > 0 ? settings->advertised_port : settings->worker.rest_port;
  const std::string worker_id = settings->advertised_host + ":" + std::to_string(port);
  RestServerOptions rest;
  rest.host = settings->worker.rest_host;
  rest.port = static_cast<uint16_t>(settings->worker.rest_port);
  rest.version = version;
  rest.plugins = plugin_infos(connector_plugins(), version);
  auto herder = std::make_unique<DistributedHerder>(*settings, std::move(*stores), worker_id,
                                                    "http://" + worker_id + "/");
  // The config topic is read before the REST API answers: a worker never
  // shows fewer connectors than the topic holds.
  if (Status started = herder->start(); !started) {
    spdlog::error("connect: {}", started.message());
    return 1;
  }
  RestServer server(*herder, rest);
  if (Status started = server.start(); !started) {
    spdlog::error("connect: {}", started.message());
    herder->stop();
    return 1;
  }
  spdlog::info("connect: distributed worker {} of group {} serving the REST API on http://{}:{}",
               worker_id, settings->group_id, settings->worker.rest_host, server.port());

  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("connect: {} received, stopping the worker",
               signal == SIGINT ? "SIGINT" : "SIGTERM");
  herder->stop();
  server.stop();
  spdlog::info("connect: worker stopped");
  return 0;
}

}  // namespace sluice::connect
