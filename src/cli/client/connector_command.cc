// sluice connector list|create|status|pause|resume|restart|stop|delete|config|
// tasks|offsets|plugins|validate: a client of Kafka Connect's REST API, so it
// manages `sluice connect` workers and Kafka Connect clusters alike (what
// people otherwise do with curl). A plain HTTP client: it knows the REST
// API's paths and JSON, none of the worker's code.
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/config_def.h"
#include "cli/client/commands.h"
#include "cli/client/common.h"
#include "cli/client/output.h"

namespace sluice::cli::client {
namespace {

struct ConnectorOptions {
  std::string url = "http://127.0.0.1:8083";
  double timeout_sec = 30.0;  // a restart or a validation can take a while
  bool json = false;
  std::string name;                   // the connector, or the plugin (validate)
  std::string config_file;            // .properties or .json
  std::vector<std::string> settings;  // -c key=value
  std::vector<std::string> unset;     // config --unset key
  bool include_tasks = false;
  bool only_failed = false;
  int task = -1;             // restart --task N
  bool reset = false;        // offsets --reset
  std::string offsets_file;  // offsets --alter FILE
  bool all_plugins = false;  // plugins --all
};

// One REST call and its one-line failure: the address when nothing answers,
// Kafka Connect's own message ({"error_code", "message"}) when it refuses.
class RestClient {
 public:
  explicit RestClient(const ConnectorOptions& options) : url_(trim_slash(options.url)) {
    try {
      client_ = std::make_unique<httplib::Client>(url_);
    } catch (const std::exception& error) {
      throw CommandError("invalid --url " + url_ + ": " + error.what());
    }
    if (!client_->is_valid()) throw CommandError("invalid --url " + url_);
    const auto timeout =
        std::chrono::milliseconds(static_cast<int64_t>(options.timeout_sec * 1000));
    client_->set_connection_timeout(std::chrono::seconds(5));
    client_->set_read_timeout(timeout);
    client_->set_write_timeout(timeout);
  }

  // The answer's JSON (null for an empty body, as 204 and 202 without entity).
  Json call(const std::string& method, const std::string& path, const Json* body = nullptr) {
    const std::string payload = body ? body->dump() : std::string();
    httplib::Result result = send(method, path, payload, body != nullptr);
    if (!result) throw CommandError("cannot reach " + url_ + ": " + error_text(result.error()));
    if (result->status >= 400) throw CommandError(refusal_text(*result));
    if (result->body.empty()) return Json();
    try {
      return Json::parse(result->body);
    } catch (const Json::parse_error&) {
      throw CommandError(url_ + path + " answered something other than JSON (HTTP " +
                         std::to_string(result->status) + ")");
    }
  }

 private:
  static std::string trim_slash(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  }

  httplib::Result send(const std::string& method, const std::string& path,
                       const std::string& payload, bool has_body) {
    const char* type = "application/json";
    if (method == "GET") return client_->Get(path);
    if (method == "DELETE") return client_->Delete(path);
    if (method == "POST")
      return has_body ? client_->Post(path, payload, type) : client_->Post(path);
    if (method == "PATCH") return client_->Patch(path, payload, type);
    return has_body ? client_->Put(path, payload, type) : client_->Put(path);
  }

  static std::string error_text(httplib::Error error) {
    switch (error) {
      case httplib::Error::Connection:
        return "connection refused or host unreachable";
      case httplib::Error::ConnectionTimeout:
        return "connection timed out";
      case httplib::Error::Read:
        return "no answer (read failed or timed out)";
      case httplib::Error::Write:
        return "the request could not be sent";
      case httplib::Error::SSLConnection:
        return "TLS handshake failed";
      case httplib::Error::SSLServerVerification:
        return "the server's certificate is not trusted";
      default:
        return httplib::to_string(error);
    }
  }

  // Kafka Connect's error body; anything else (a proxy's page) by its status.
  static std::string refusal_text(const httplib::Response& response) {
    try {
      const Json body = Json::parse(response.body);
      if (body.is_object() && body.contains("message") && body["message"].is_string())
        return body["message"].get<std::string>() + " (HTTP " + std::to_string(response.status) +
               ")";
    } catch (const Json::parse_error&) {
    }
    return "HTTP " + std::to_string(response.status) + " from the REST API";
  }

  std::string url_;
  std::unique_ptr<httplib::Client> client_;
};

// Names go into paths: everything but unreserved characters percent-encoded.
std::string path_part(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string connector_path(const ConnectorOptions& options, const std::string& tail = "") {
  return "/connectors/" + path_part(options.name) + tail;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CommandError("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A JSON value of a configuration as the REST API takes it: a string.
std::string setting_text(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// --config-file: a .json file holds either a connector's configuration or
// the body of POST /connectors ({"name", "config"}), as Kafka's standalone
// worker accepts; anything else is read as a .properties file. The name a
// file gives is returned in `file_name`.
Json read_config_file(const std::string& path, std::string& file_name) {
  const std::string text = read_file(path);
  Json config = Json::object();
  if (path.ends_with(".json")) {
    Json document;
    try {
      document = Json::parse(text);
    } catch (const Json::parse_error& error) {
      throw CommandError(path + " is not JSON: " + error.what());
    }
    if (!document.is_object()) throw CommandError(path + " must hold a JSON object");
    if (document.contains("config") && document["config"].is_object()) {
      if (document.contains("name") && document["name"].is_string())
        file_name = document["name"].get<std::string>();
      document = document["config"];
    }
    for (const auto& [key, value] : document.items()) config[key] = setting_text(value);
  } else {
    auto properties = parse_properties(text);
    if (!properties.is_ok()) throw CommandError(path + ": " + properties.status().message());
    for (const auto& [key, value] : *properties) config[key] = value;
  }
  if (config.contains("name") && file_name.empty()) file_name = config["name"].get<std::string>();
  return config;
}

// The file's settings, then the -c ones (which win).
Json gather_config(const ConnectorOptions& options, std::string& file_name) {
  Json config = Json::object();
  if (!options.config_file.empty()) config = read_config_file(options.config_file, file_name);
  for (const auto& [key, value] : parse_settings(options.settings, "-c")) config[key] = value;
  return config;
}

std::string state_of(const Json& state) {
  return state.is_object() ? state.value("state", std::string("?")) : std::string("?");
}

// --- commands -----------------------------------------------------------------

void list_connectors(const ConnectorOptions& options) {
  RestClient rest(options);
  if (options.json) return print_json(rest.call("GET", "/connectors?expand=status&expand=info"));
  const Json expanded = rest.call("GET", "/connectors?expand=status&expand=info");
  Table table({"name", "type", "state", "tasks", "class"});
  for (const auto& [name, entry] : expanded.items()) {
    const Json& status = entry.value("status", Json::object());
    const Json& info = entry.value("info", Json::object());
    int running = 0;
    const Json& tasks = status.value("tasks", Json::array());
    for (const Json& task : tasks) running += state_of(task) == "RUNNING";
    const Json& config = info.value("config", Json::object());
    table.add({name, status.value("type", std::string("?")),
               state_of(status.value("connector", Json())),
               std::to_string(running) + "/" + std::to_string(tasks.size()) + " running",
               config.value("connector.class", std::string())});
  }
  table.print();
}

void create_connector(const ConnectorOptions& options) {
  std::string file_name;
  Json config = gather_config(options, file_name);
  const std::string name = options.name.empty() ? file_name : options.name;
  if (name.empty()) throw CommandError("name the connector: NAME, or \"name\" in --config-file");
  if (config.empty())
    throw CommandError("no configuration: give --config-file F and/or -c key=value");
  RestClient rest(options);
  const Json body{{"name", name}, {"config", config}};
  const Json created = rest.call("POST", "/connectors", &body);
  if (options.json) return print_json(created);
  std::printf("Created connector %s (%s, %zu task(s))\n", name.c_str(),
              created.value("type", std::string("?")).c_str(),
              created.value("tasks", Json::array()).size());
}

void show_status(const ConnectorOptions& options) {
  const Json status = RestClient(options).call("GET", connector_path(options, "/status"));
  if (options.json) return print_json(status);
  const Json& connector = status.value("connector", Json::object());
  std::printf("Connector %s (%s): %s on %s\n", options.name.c_str(),
              status.value("type", std::string("?")).c_str(), state_of(connector).c_str(),
              connector.value("worker_id", std::string("?")).c_str());
  if (connector.contains("trace"))
    std::printf("%s\n", connector["trace"].get<std::string>().c_str());
  Table table({"task", "state", "worker", "trace"});
  for (const Json& task : status.value("tasks", Json::array())) {
    std::string trace = task.value("trace", std::string());
    trace = trace.substr(0, trace.find('\n'));  // the first line: the exception and message
    table.add({std::to_string(task.value("id", -1)), state_of(task),
               task.value("worker_id", std::string()), trace});
  }
  table.print();
}

// pause, resume, stop, delete: a call without answer body.
void simple_command(const ConnectorOptions& options, const std::string& method,
                    const std::string& tail, const char* done) {
  RestClient(options).call(method, connector_path(options, tail));
  std::printf("%s connector %s\n", done, options.name.c_str());
}

void restart(const ConnectorOptions& options) {
  RestClient rest(options);
  if (options.task >= 0) {
    rest.call("POST",
              connector_path(options, "/tasks/" + std::to_string(options.task) + "/restart"));
    std::printf("Restarted task %d of connector %s\n", options.task, options.name.c_str());
    return;
  }
  std::string query;
  if (options.include_tasks || options.only_failed)
    query = std::string("?includeTasks=") + (options.include_tasks ? "true" : "false") +
            "&onlyFailed=" + (options.only_failed ? "true" : "false");
  const Json status = rest.call("POST", connector_path(options, "/restart" + query));
  if (options.json && !status.is_null()) return print_json(status);
  std::printf("Restart of connector %s requested\n", options.name.c_str());
}

// Shows the configuration; with -c/--unset patches it (PATCH, KIP-477), with
// --config-file replaces it (PUT).
void config_command(const ConnectorOptions& options) {
  RestClient rest(options);
  Json answer;
  if (!options.config_file.empty()) {
    std::string file_name;
    Json config = gather_config(options, file_name);
    for (const std::string& key : options.unset) config.erase(key);
    answer = rest.call("PUT", connector_path(options, "/config"), &config)["config"];
  } else if (!options.settings.empty() || !options.unset.empty()) {
    Json patch = Json::object();
    for (const auto& [key, value] : parse_settings(options.settings, "-c")) patch[key] = value;
    for (const std::string& key : options.unset) patch[key] = nullptr;
    answer = rest.call("PATCH", connector_path(options, "/config"), &patch)["config"];
  } else {
    answer = rest.call("GET", connector_path(options, "/config"));
  }
  if (options.json) return print_json(answer);
  for (const auto& [key, value] : answer.items())
    std::printf("%s=%s\n", key.c_str(), setting_text(value).c_str());
}

void show_tasks(const ConnectorOptions& options) {
  const Json tasks = RestClient(options).call("GET", connector_path(options, "/tasks"));
  if (options.json) return print_json(tasks);
  for (const Json& task : tasks) {
    std::printf("Task %d\n", task["id"].value("task", -1));
    const Json config =
        task.value("config", Json::object());  // a copy: items() must not outlive it
    for (const auto& [key, value] : config.items())
      std::printf("  %s=%s\n", key.c_str(), setting_text(value).c_str());
  }
}

// Shows the offsets; --reset deletes them, --alter FILE sets those of FILE
// ({"offsets": [...]}, as GET answers); both need a stopped connector.
void offsets_command(const ConnectorOptions& options) {
  RestClient rest(options);
  const std::string path = connector_path(options, "/offsets");
  if (options.reset || !options.offsets_file.empty()) {
    Json answer;
    if (options.reset) {
      answer = rest.call("DELETE", path);
    } else {
      Json body;
      try {
        body = Json::parse(read_file(options.offsets_file));
      } catch (const Json::parse_error& error) {
        throw CommandError(options.offsets_file + " is not JSON: " + error.what());
      }
      answer = rest.call("PATCH", path, &body);
    }
    if (options.json) return print_json(answer);
    std::printf("%s\n", answer.value("message", std::string("done")).c_str());
    return;
  }
  const Json offsets = rest.call("GET", path);
  if (options.json) return print_json(offsets);
  Table table({"partition", "offset"});
  for (const Json& entry : offsets.value("offsets", Json::array()))
    table.add({entry.value("partition", Json()).dump(), entry.value("offset", Json()).dump()});
  table.print();
}

void list_plugins(const ConnectorOptions& options) {
  const std::string path =
      options.all_plugins ? "/connector-plugins?connectorsOnly=false" : "/connector-plugins";
  const Json plugins = RestClient(options).call("GET", path);
  if (options.json) return print_json(plugins);
  Table table({"class", "type", "version"});
  for (const Json& plugin : plugins)
    table.add({plugin.value("class", std::string()), plugin.value("type", std::string()),
               plugin.value("version", std::string())});
  table.print();
}

// Prints each setting's errors; exit 1 when there are any, so scripts can
// check a configuration before creating the connector.
void validate(const ConnectorOptions& options) {
  std::string file_name;
  Json config = gather_config(options, file_name);
  const Json infos = RestClient(options).call(
      "PUT", "/connector-plugins/" + path_part(options.name) + "/config/validate", &config);
  if (options.json) {
    print_json(infos);
  } else {
    for (const Json& entry : infos.value("configs", Json::array())) {
      const Json& value = entry.value("value", Json::object());
      for (const Json& error : value.value("errors", Json::array()))
        std::printf("%s: %s\n", value.value("name", std::string()).c_str(),
                    error.get<std::string>().c_str());
    }
  }
  const int errors = infos.value("error_count", 0);
  if (errors > 0)
    throw CommandError("the configuration has " + std::to_string(errors) + " error(s)");
  if (!options.json) std::printf("The configuration is valid\n");
}

void add_common_options(CLI::App* command, ConnectorOptions& options) {
  command->add_option("--url", options.url, "Kafka Connect's REST API")->capture_default_str();
  command->add_option("--timeout", options.timeout_sec, "Seconds to wait for an answer")
      ->capture_default_str();
  command->add_flag("--json", options.json, "JSON output (the REST API's answer)");
}

void add_config_options(CLI::App* command, ConnectorOptions& options) {
  command->add_option("--config-file", options.config_file,
                      "A .properties file or a .json file (a config, or {\"name\",\"config\"})");
  command->add_option("-c,--config", options.settings,
                      "key=value (repeatable; wins over the file)");
}

// `name` under `connector`, its action running `run` on the shared options.
CLI::App* add_leaf(CLI::App* connector, Action& action, std::shared_ptr<ConnectorOptions> options,
                   const std::string& name, const std::string& description,
                   std::function<void(const ConnectorOptions&)> run) {
  CLI::App* command = connector->add_subcommand(name, description);
  add_common_options(command, *options);
  command->callback([&action, options, name, run] {
    action = {"connector " + name, [options, run] { run(*options); }};
  });
  return command;
}

}  // namespace

void add_connector_commands(CLI::App& app, Action& action) {
  CLI::App* connector =
      app.add_subcommand("connector", "Kafka Connect connectors, through the REST API (--url)");
  connector->require_subcommand(1);
  auto options = std::make_shared<ConnectorOptions>();
  auto name_argument = [&options](CLI::App* command, const char* what = "The connector") {
    command->add_option("name", options->name, what)->required();
  };

  add_leaf(connector, action, options, "list", "Connectors with their state and tasks",
           list_connectors);
  CLI::App* create =
      add_leaf(connector, action, options, "create",
               "Create a connector from --config-file and/or -c key=value", create_connector);
  create->add_option("name", options->name, "The connector (default: the file's \"name\")");
  add_config_options(create, *options);
  name_argument(add_leaf(connector, action, options, "status",
                         "The connector's and its tasks' states", show_status));
  name_argument(
      add_leaf(connector, action, options, "pause", "Pause the connector and its tasks",
               [](const ConnectorOptions& o) { simple_command(o, "PUT", "/pause", "Paused"); }));
  name_argument(
      add_leaf(connector, action, options, "resume", "Resume a paused or stopped connector",
               [](const ConnectorOptions& o) { simple_command(o, "PUT", "/resume", "Resumed"); }));
  name_argument(
      add_leaf(connector, action, options, "stop",
               "Stop the connector and shut its tasks down (offsets can then be changed)",
               [](const ConnectorOptions& o) { simple_command(o, "PUT", "/stop", "Stopped"); }));
  name_argument(
      add_leaf(connector, action, options, "delete", "Delete the connector",
               [](const ConnectorOptions& o) { simple_command(o, "DELETE", "", "Deleted"); }));
  CLI::App* restart_command =
      add_leaf(connector, action, options, "restart",
               "Restart the connector (and its tasks), or one task", restart);
  name_argument(restart_command);
  restart_command->add_flag("--include-tasks", options->include_tasks, "Restart the tasks too");
  restart_command->add_flag("--only-failed", options->only_failed, "Only what has FAILED");
  restart_command->add_option("--task", options->task, "Restart only this task")
      ->check(CLI::NonNegativeNumber);
  CLI::App* config = add_leaf(
      connector, action, options, "config",
      "Show the configuration; -c/--unset patch it, --config-file replaces it", config_command);
  name_argument(config);
  add_config_options(config, *options);
  config->add_option("--unset", options->unset, "A key to remove (repeatable)");
  name_argument(
      add_leaf(connector, action, options, "tasks", "The tasks' configurations", show_tasks));
  CLI::App* offsets = add_leaf(
      connector, action, options, "offsets",
      "Show the offsets; --reset or --alter FILE change them (stopped only)", offsets_command);
  name_argument(offsets);
  offsets->add_flag("--reset", options->reset, "Delete the connector's offsets");
  offsets->add_option("--alter", options->offsets_file,
                      "A JSON file {\"offsets\": [...]} to apply");
  CLI::App* plugins =
      add_leaf(connector, action, options, "plugins", "The connector plugins", list_plugins);
  plugins->add_flag("--all", options->all_plugins, "Transforms, predicates and converters too");
  CLI::App* validate_command = add_leaf(connector, action, options, "validate",
                                        "Validate a configuration for a plugin class", validate);
  name_argument(validate_command, "The connector class (FileStreamSource, or its full name)");
  add_config_options(validate_command, *options);
}

}  // namespace sluice::cli::client
