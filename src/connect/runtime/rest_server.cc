#include "connect/runtime/rest_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <thread>

#include "connect/runtime/loggers.h"
#include "connect/runtime/rest_json.h"
#include "connect/transform.h"

namespace sluice::connect {
// Named, not anonymous: RestServer::Impl (external linkage) derives from
// ServerCore, and a unity build includes this file where GCC's
// subobject-linkage check refuses anonymous types in it.
namespace rest_server_detail {

using rest::Json;

// Connector configurations are a few KB; validation bodies too.
constexpr size_t rest_body_bytes_max = 4 * 1024 * 1024;
constexpr auto rest_read_timeout = std::chrono::seconds(30);

// The converters the foundation ships (converters.cc) by Kafka's class names;
// JsonConverter and StringConverter are header converters too in Kafka.
struct ConverterName {
  const char* class_name;
  bool converter;
  bool header_converter;
};
constexpr ConverterName foundation_converters[] = {
    {"org.apache.kafka.connect.converters.ByteArrayConverter", true, false},
    {"org.apache.kafka.connect.json.JsonConverter", true, true},
    {"org.apache.kafka.connect.storage.SimpleHeaderConverter", false, true},
    {"org.apache.kafka.connect.storage.StringConverter", true, true},
};

// What a handler answers: a status, a JSON body or none (204, 202 without
// entity), and for 201 the Location of what was created.
struct Reply {
  int status = 200;
  std::optional<Json> body;
  std::string location;
};

Reply json_reply(Json body, int status = 200) { return {status, std::move(body), {}}; }
Reply empty_reply(int status) { return {status, std::nullopt, {}}; }
Reply error_reply(int status, const std::string& message) {
  return {status, rest::error_json(status, message), {}};
}
Reply error_reply(const RestError& error) { return error_reply(error.status, error.message); }

// A herder answer: its error as Kafka's error body, or `on_value` of its value.
template <class T, class OnValue>
Reply answer(RestResult<T> result, OnValue on_value) {
  if (auto* error = std::get_if<RestError>(&result)) return error_reply(*error);
  return on_value(std::get<T>(std::move(result)));
}
Reply answer(const RestStatus& status, int success_status) {
  return status ? error_reply(*status) : empty_reply(success_status);
}

// One call as the handlers see it: the path's captures and the parsed body.
struct Call {
  const httplib::Request& http;
  std::vector<std::string> captures;  // {connector}, {task}, {plugin}, {logger}
  Json body;

  const std::string& name() const { return captures.at(0); }
  std::string query(const std::string& key) const { return http.get_param_value(key); }
  // JAX-RS reads a Boolean query parameter as Boolean.valueOf: only "true"
  // (any case) is true.
  bool flag(const std::string& key) const {
    std::string text = query(key);
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text == "true";
  }
};

// Kafka's checkAndPutConnectorConfigName: a "name" in the configuration must
// be the connector's; without one, the connector's name is added.
std::optional<std::string> check_and_put_name(const std::string& name, Properties& config) {
  const auto included = config.find("name");
  if (included == config.end()) {
    config["name"] = name;
    return std::nullopt;
  }
  if (included->second == name) return std::nullopt;
  return "Connector name configuration (" + included->second +
         ") doesn't match connector name in the URL (" + name + ")";
}

std::string trim_blanks(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::string upper_case(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

bool is_json_content(const std::string& content_type) {
  constexpr std::string_view json_type = "application/json";
  if (content_type.size() < json_type.size()) return false;
  for (size_t i = 0; i < json_type.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(content_type[i])) != json_type[i]) return false;
  return content_type.size() == json_type.size() || content_type[json_type.size()] == ';' ||
         content_type[json_type.size()] == ' ';
}

// Kafka's normalizedPluginName: a class name without its "Connector" suffix.
std::string normalized_plugin_name(const std::string& name) {
  constexpr std::string_view suffix = "Connector";
  if (name.size() > suffix.size() && name.ends_with(suffix))
    return name.substr(0, name.size() - suffix.size());
  return name;
}

// The reason phrases of the errors httplib itself answers (Jersey's wording).
const char* reason_phrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

struct ServerCore {
  using Handler = Reply (ServerCore::*)(const Call&);
  // One endpoint: method, path pattern (captures are the path parameters),
  // whether it reads a JSON body, and its handler. Adding an endpoint is one
  // line in routes().
  struct Route {
    std::string method;
    std::regex pattern;
    bool has_body;
    Handler handler;
  };

  ServerCore(Herder& herder_in, RestServerOptions options_in)
      : herder(herder_in), options(std::move(options_in)), routes_(routes()) {}

  Herder& herder;
  RestServerOptions options;
  LoggerLevels loggers;
  httplib::Server server;
  std::thread thread;
  int bound_port = 0;
  std::vector<Route> routes_;

  static std::vector<Route> routes() {
    const std::string name = "([^/]+)";
    auto route = [](std::string method, const std::string& path, bool has_body, Handler handler) {
      return Route{std::move(method), std::regex(path), has_body, handler};
    };
    const std::string connector = "/connectors/" + name;
    return {
        route("GET", "/", false, &ServerCore::server_info),
        route("GET", "/connectors/?", false, &ServerCore::list_connectors),
        route("POST", "/connectors/?", true, &ServerCore::create_connector),
        route("GET", connector, false, &ServerCore::get_connector),
        route("DELETE", connector, false, &ServerCore::delete_connector),
        route("GET", connector + "/config", false, &ServerCore::get_config),
        route("PUT", connector + "/config", true, &ServerCore::put_config),
        route("PATCH", connector + "/config", true, &ServerCore::patch_config),
        route("GET", connector + "/status", false, &ServerCore::get_status),
        route("POST", connector + "/restart", false, &ServerCore::restart_connector),
        route("PUT", connector + "/pause", false, &ServerCore::pause_connector),
        route("PUT", connector + "/resume", false, &ServerCore::resume_connector),
        route("PUT", connector + "/stop", false, &ServerCore::stop_connector),
        route("GET", connector + "/tasks", false, &ServerCore::list_tasks),
        route("GET", connector + "/tasks/(-?[0-9]+)/status", false, &ServerCore::task_status),
        route("POST", connector + "/tasks/(-?[0-9]+)/restart", false, &ServerCore::restart_task),
        route("GET", connector + "/offsets", false, &ServerCore::get_offsets),
        route("PATCH", connector + "/offsets", true, &ServerCore::alter_offsets),
        route("DELETE", connector + "/offsets", false, &ServerCore::reset_offsets),
        route("GET", "/connector-plugins/?", false, &ServerCore::list_plugins),
        route("PUT", "/connector-plugins/" + name + "/config/validate", true,
              &ServerCore::validate),
        route("GET", "/admin/loggers/?", false, &ServerCore::list_loggers),
        route("GET", "/admin/loggers/" + name, false, &ServerCore::get_logger),
        route("PUT", "/admin/loggers/" + name, true, &ServerCore::set_logger),
    };
  }

  // --- routing ---------------------------------------------------------------

  // The route for the path and method; Jersey's 404 when no path matches,
  // 405 when the path exists for other methods only.
  Reply dispatch(const httplib::Request& request) {
    // Jersey answers HEAD with the GET resource.
    const std::string method = request.method == "HEAD" ? "GET" : request.method;
    bool path_known = false;
    for (const Route& route : routes_) {
      std::smatch match;
      if (!std::regex_match(request.path, match, route.pattern)) continue;
      path_known = true;
      if (route.method != method) continue;
      Call call{request, {}, {}};
      for (size_t i = 1; i < match.size(); ++i) call.captures.push_back(match[i].str());
      if (route.has_body)
        if (auto refused = read_body(request, call.body)) return *refused;
      return (this->*route.handler)(call);
    }
    if (path_known) return error_reply(405, "HTTP 405 Method Not Allowed");
    return error_reply(404, "HTTP 404 Not Found");
  }

  // Kafka's resources consume application/json only (Jersey's 415 for any
  // other type); a body that does not parse is refused with the parser's
  // position (Kafka answers Jackson's message, with 500; 400 says whose
  // mistake it is).
  static std::optional<Reply> read_body(const httplib::Request& request, Json& body) {
    if (!is_json_content(request.get_header_value("Content-Type")))
      return error_reply(415, "HTTP 415 Unsupported Media Type");
    if (trim_blanks(request.body).empty())
      return error_reply(400, "Cannot deserialize the request body: it is empty");
    try {
      body = Json::parse(request.body);
    } catch (const Json::parse_error& error) {
      return error_reply(400, std::string("Cannot deserialize the request body: ") + error.what());
    }
    return std::nullopt;
  }

  void send(const httplib::Request& request, httplib::Response& response, const Reply& reply) {
    response.status = reply.status;
    if (reply.body) response.set_content(reply.body->dump(), "application/json");
    if (!reply.location.empty()) {
      const std::string host = request.get_header_value("Host");
      response.set_header("Location",
                          host.empty() ? reply.location : "http://" + host + reply.location);
    }
  }

  // --- root and connectors ---------------------------------------------------

  Reply server_info(const Call&) {
    return json_reply(Json{{"version", options.version},
                           {"commit", options.commit},
                           {"kafka_cluster_id", herder.kafka_cluster_id()}});
  }

  // ?expand=status and/or ?expand=info: {name: {"status": ..., "info": ...}};
  // a connector deleted meanwhile is left out, unknown expansions ignored.
  Reply list_connectors(const Call& call) {
    const std::vector<std::string> names = herder.connectors();
    const size_t expansions = call.http.get_param_value_count("expand");
    if (expansions == 0) return json_reply(Json(names));
    Json out = Json::object();
    for (const std::string& name : names) {
      Json entry = Json::object();
      bool vanished = false;
      for (size_t i = 0; i < expansions && !vanished; ++i) {
        const std::string expansion = call.http.get_param_value("expand", i);
        if (expansion == "status") {
          auto status = herder.connector_status(name);
          if (std::holds_alternative<RestError>(status))
            vanished = true;
          else
            entry["status"] = rest::connector_status_json(std::get<ConnectorStatus>(status));
        } else if (expansion == "info") {
          auto info = herder.connector_info(name);
          if (std::holds_alternative<RestError>(info))
            vanished = true;
          else
            entry["info"] = rest::connector_info_json(std::get<ConnectorInfo>(info));
        }
      }
      if (!vanished) out[name] = std::move(entry);
    }
    return json_reply(std::move(out));
  }

  Reply create_connector(const Call& call) {
    if (!call.body.is_object())
      return error_reply(400, "Cannot deserialize the request body: expected a JSON object");
    const Json& name_json = call.body.value("name", Json());
    if (!name_json.is_null() && !name_json.is_string())
      return error_reply(400, "Cannot deserialize the request body: \"name\" must be a string");
    // Kafka trims the name and reads a missing one as "", which validation refuses.
    const std::string name = name_json.is_string() ? trim_blanks(name_json.get<std::string>()) : "";
    const Json& config_json = call.body.value("config", Json());
    if (config_json.is_null())
      return error_reply(400, "Cannot deserialize the request body: \"config\" is required");
    auto config = rest::properties_from_json(config_json);
    if (!config) return error_reply(400, config.status().message());
    if (auto mismatch = check_and_put_name(name, *config)) return error_reply(400, *mismatch);
    auto initial_state = parse_initial_state(call.body);
    if (!initial_state) return error_reply(400, initial_state.status().message());

    Reply reply = answer(herder.put_connector_config(name, *config, false), [](PutResult put) {
      return json_reply(rest::connector_info_json(put.info), 201);
    });
    if (reply.status != 201) return reply;
    reply.location = "/connectors/" + name;
    return apply_initial_state(name, *initial_state, std::move(reply));
  }

  // KIP-980's "initial_state": RUNNING (the default), PAUSED or STOPPED.
  static Result<std::string> parse_initial_state(const Json& body) {
    const Json& state = body.value("initial_state", Json());
    if (state.is_null()) return std::string("RUNNING");
    const std::string text = state.is_string() ? upper_case(state.get<std::string>()) : "";
    if (text != "RUNNING" && text != "PAUSED" && text != "STOPPED")
      return Status(Errc::invalid_value,
                    "Cannot deserialize the request body: \"initial_state\" must be one of "
                    "RUNNING, PAUSED, STOPPED");
    return text;
  }

  // The Herder creates connectors running; a PAUSED or STOPPED start is the
  // pause or stop right after (Kafka writes the target state with the config).
  Reply apply_initial_state(const std::string& name, const std::string& state, Reply created) {
    RestStatus applied;
    if (state == "PAUSED") applied = herder.pause_connector(name);
    if (state == "STOPPED") applied = herder.stop_connector(name);
    return applied ? error_reply(*applied) : created;
  }

  Reply get_connector(const Call& call) {
    return answer(herder.connector_info(call.name()),
                  [](ConnectorInfo info) { return json_reply(rest::connector_info_json(info)); });
  }

  Reply delete_connector(const Call& call) {
    return answer(herder.delete_connector(call.name()), 204);
  }

  Reply get_config(const Call& call) {
    return answer(herder.connector_info(call.name()),
                  [](ConnectorInfo info) { return json_reply(Json(info.config)); });
  }

  // 201 when the connector is new, 200 when it was reconfigured.
  Reply put_config(const Call& call) {
    auto config = rest::properties_from_json(call.body);
    if (!config) return error_reply(400, config.status().message());
    if (auto mismatch = check_and_put_name(call.name(), *config))
      return error_reply(400, *mismatch);
    Reply reply =
        answer(herder.put_connector_config(call.name(), *config, true), [](PutResult put) {
          return json_reply(rest::connector_info_json(put.info), put.created ? 201 : 200);
        });
    if (reply.status == 201) reply.location = "/connectors/" + call.name();
    return reply;
  }

  // KIP-477: the patch merged into the current configuration (a null value
  // removes the key), then stored as a PUT would; 404 for an unknown connector.
  Reply patch_config(const Call& call) {
    auto patch = rest::config_patch_from_json(call.body);
    if (!patch) return error_reply(400, patch.status().message());
    auto current = herder.connector_info(call.name());
    if (auto* error = std::get_if<RestError>(&current)) return error_reply(*error);
    Properties config = std::get<ConnectorInfo>(current).config;
    for (const auto& [key, value] : *patch) {
      if (value)
        config[key] = *value;
      else
        config.erase(key);
    }
    return answer(herder.put_connector_config(call.name(), config, true),
                  [](PutResult put) { return json_reply(rest::connector_info_json(put.info)); });
  }

  // --- states ----------------------------------------------------------------

  Reply get_status(const Call& call) {
    return answer(herder.connector_status(call.name()), [](ConnectorStatus status) {
      return json_reply(rest::connector_status_json(status));
    });
  }

  // Kafka keeps the old answer for a plain restart (the connector only, 204
  // without body); with includeTasks or onlyFailed set it answers 202 and
  // the status, where what is restarted shows RESTARTING.
  Reply restart_connector(const Call& call) {
    const bool include_tasks = call.flag("includeTasks");
    const bool only_failed = call.flag("onlyFailed");
    return answer(herder.restart_connector(call.name(), include_tasks, only_failed),
                  [&](ConnectorStatus status) {
                    if (!include_tasks && !only_failed) return empty_reply(204);
                    return json_reply(rest::connector_status_json(status), 202);
                  });
  }

  Reply pause_connector(const Call& call) {
    return answer(herder.pause_connector(call.name()), 202);
  }
  Reply resume_connector(const Call& call) {
    return answer(herder.resume_connector(call.name()), 202);
  }
  Reply stop_connector(const Call& call) { return answer(herder.stop_connector(call.name()), 204); }

  // --- tasks -----------------------------------------------------------------

  Reply list_tasks(const Call& call) {
    return answer(herder.task_configs(call.name()), [&](std::vector<TaskInfo> tasks) {
      return json_reply(rest::task_infos_json(call.name(), tasks));
    });
  }

  // The task's entry of the connector's status; Kafka's message names the
  // task as ConnectorTaskId prints it ("name-0").
  Reply task_status(const Call& call) {
    const std::string& task_text = call.captures.at(1);
    return answer(herder.connector_status(call.name()), [&](ConnectorStatus status) {
      for (const TaskStatus& task : status.tasks)
        if (std::to_string(task.id) == task_text) return json_reply(rest::task_status_json(task));
      return error_reply(404, "No status found for task " + call.name() + "-" + task_text);
    });
  }

  Reply restart_task(const Call& call) {
    int task = 0;
    try {
      task = std::stoi(call.captures.at(1));
    } catch (const std::exception&) {
      return error_reply(404, "HTTP 404 Not Found");  // Jersey: a path parameter not an Integer
    }
    return answer(herder.restart_task(call.name(), task), 204);
  }

  // --- offsets (KIP-875) -----------------------------------------------------

  Reply get_offsets(const Call& call) {
    return answer(herder.connector_offsets(call.name()), [](std::vector<ConnectorOffset> offsets) {
      return json_reply(rest::offsets_json(offsets));
    });
  }

  Reply alter_offsets(const Call& call) {
    auto offsets = rest::offsets_from_json(call.body);
    if (!offsets) return error_reply(400, offsets.status().message());
    if (auto error = herder.alter_connector_offsets(call.name(), *offsets))
      return error_reply(*error);
    return json_reply(
        Json{{"message", "The offsets for this connector have been altered successfully"}});
  }

  Reply reset_offsets(const Call& call) {
    if (auto error = herder.reset_connector_offsets(call.name())) return error_reply(*error);
    return json_reply(
        Json{{"message", "The offsets for this connector have been reset successfully"}});
  }

  // --- plugins ---------------------------------------------------------------

  // ?connectorsOnly=false lists transforms, predicates and converters too.
  Reply list_plugins(const Call& call) {
    const bool connectors_only = !call.http.has_param("connectorsOnly") ||
                                 upper_case(call.query("connectorsOnly")) == "TRUE";
    Json out = Json::array();
    for (const PluginInfo& plugin : options.plugins) {
      if (connectors_only && plugin.type != "source" && plugin.type != "sink") continue;
      out.push_back(
          Json{{"class", plugin.class_name}, {"type", plugin.type}, {"version", plugin.version}});
    }
    return json_reply(std::move(out));
  }

  // Kafka refuses a connector.class naming another plugin than the path; the
  // herder validates the configuration for the plugin it names.
  Reply validate(const Call& call) {
    auto config = rest::properties_from_json(call.body);
    if (!config) return error_reply(400, config.status().message());
    const std::string& plugin = call.name();
    auto included = config->find("connector.class");
    if (included != config->end() &&
        !normalized_plugin_name(included->second).ends_with(normalized_plugin_name(plugin)))
      return error_reply(400, "Included connector type " + included->second +
                                  " does not match request type " + plugin);
    const std::string plugin_class = included != config->end() ? included->second : plugin;
    if (included == config->end()) (*config)["connector.class"] = plugin;
    return answer(herder.validate(plugin_class, *config),
                  [](ConfigInfos infos) { return json_reply(rest::config_infos_json(infos)); });
  }

  // --- loggers (KIP-495) -----------------------------------------------------

  static Json logger_level_json(const LoggerLevel& level) {
    return Json{
        {"level", level.level},
        {"last_modified", level.last_modified_ms ? Json(*level.last_modified_ms) : Json(nullptr)}};
  }

  Reply list_loggers(const Call&) {
    Json out = Json::object();
    for (const auto& [name, level] : loggers.all()) out[name] = logger_level_json(level);
    return json_reply(std::move(out));
  }

  Reply get_logger(const Call& call) {
    auto level = loggers.level(call.name());
    if (!level) return error_reply(404, "Logger " + call.name() + " not found.");
    return json_reply(logger_level_json(*level));
  }

  // {"level": "DEBUG"}: 200 with the loggers set; ?scope=cluster is 204 (a
  // standalone worker is the whole cluster).
  Reply set_logger(const Call& call) {
    const Json& level_json = call.body.is_object() ? call.body.value("level", Json()) : Json();
    if (!level_json.is_string())
      return error_reply(400, "Desired 'level' parameter was not specified in request.");
    const std::string level_text = level_json.get<std::string>();
    auto level = LoggerLevels::parse_level(level_text);
    if (!level) return error_reply(404, "invalid log level '" + level_text + "'.");
    std::vector<std::string> changed = loggers.set(call.name(), *level);
    spdlog::info("connect: log level of {} and its children set to {}", call.name(),
                 LoggerLevels::level_name(*level));
    std::string scope = call.query("scope");
    std::transform(scope.begin(), scope.end(), scope.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (scope == "cluster") return empty_reply(204);
    return json_reply(Json(changed));
  }
};

}  // namespace rest_server_detail

std::vector<PluginInfo> plugin_infos(const std::vector<ConnectorPlugin>& connectors,
                                     const std::string& version) {
  std::vector<PluginInfo> out;
  for (ConnectorType type : {ConnectorType::sink, ConnectorType::source})
    for (const ConnectorPlugin& plugin : connectors)
      if (plugin.type == type)
        out.push_back({plugin.class_name, connector_type_name(type), plugin.version});
  for (const std::string& name : transformation_class_names())
    out.push_back({name, "transformation", version});
  for (const std::string& name : predicate_class_names())
    out.push_back({name, "predicate", version});
  for (const auto& converter : rest_server_detail::foundation_converters)
    if (converter.converter) out.push_back({converter.class_name, "converter", version});
  for (const auto& converter : rest_server_detail::foundation_converters)
    if (converter.header_converter)
      out.push_back({converter.class_name, "header_converter", version});
  return out;
}

// The server's state and handlers live in rest_server_detail (see there).
struct RestServer::Impl : rest_server_detail::ServerCore {
  using ServerCore::ServerCore;
};

RestServer::RestServer(Herder& herder, RestServerOptions options)
    : impl_(std::make_unique<Impl>(herder, std::move(options))) {}

RestServer::~RestServer() { stop(); }

Status RestServer::start() {
  Impl& impl = *impl_;
  auto handle = [&impl](const httplib::Request& request, httplib::Response& response) {
    impl.send(request, response, impl.dispatch(request));
  };
  // Every method goes to dispatch(), which tells an unknown path (404) from
  // a known one with another method (405).
  // Prometheus' scrape of the tasks' metrics (task_metrics.h); not Kafka's
  // API (Kafka's metrics are JMX's), so only GET, before the catch-all.
  impl.server.Get("/metrics", [&impl](const httplib::Request&, httplib::Response& response) {
    const std::string text = impl.options.metrics != nullptr ? impl.options.metrics->render() : "";
    response.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
  });
  impl.server.Get(".*", handle);
  impl.server.Post(".*", handle);
  impl.server.Put(".*", handle);
  impl.server.Patch(".*", handle);
  impl.server.Delete(".*", handle);
  // `curl -X PUT .../pause` sends no body and no Content-Length, and
  // cpp-httplib answers such a PUT or POST 400 before any handler runs:
  // these are served here, before it reads a body, as bodiless requests.
  impl.server.set_pre_routing_handler(
      [handle](const httplib::Request& request, httplib::Response& response) {
        const bool takes_body =
            request.method == "POST" || request.method == "PUT" || request.method == "PATCH";
        if (!takes_body || request.has_header("Content-Length") ||
            request.has_header("Transfer-Encoding")) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        handle(request, response);
        return httplib::Server::HandlerResponse::Handled;
      });
  impl.server.set_exception_handler(
      [](const httplib::Request& request, httplib::Response& response, std::exception_ptr error) {
        std::string what = "unknown error";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& caught) {
          what = caught.what();
        } catch (...) {
        }
        spdlog::error("connect: REST {} {} failed: {}", request.method, request.path, what);
        response.status = 500;
        response.set_content(rest::error_json(500, what).dump(), "application/json");
      });
  // httplib's own refusals (a bad request line, a body too large) get
  // Kafka's error body too.
  impl.server.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&, httplib::Response& response) {
        if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const std::string message = "HTTP " + std::to_string(response.status) + " " +
                                    rest_server_detail::reason_phrase(response.status);
        response.set_content(rest::error_json(response.status, message).dump(), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a
  // second worker on the same port would share it instead of failing.
  impl.server.set_socket_options([](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  impl.server.set_payload_max_length(rest_server_detail::rest_body_bytes_max);
  impl.server.set_read_timeout(rest_server_detail::rest_read_timeout);
  const int threads = impl.options.worker_threads;
  impl.server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  const std::string address = impl.options.host + ":" + std::to_string(impl.options.port);
  if (impl.options.port == 0) {
    impl.bound_port = impl.server.bind_to_any_port(impl.options.host);
    if (impl.bound_port < 0) return Status(Errc::io_error, "cannot listen on " + address);
  } else {
    if (!impl.server.bind_to_port(impl.options.host, impl.options.port))
      return Status(Errc::io_error, "cannot listen on " + address + " (in use, or not ours)");
    impl.bound_port = impl.options.port;
  }
  impl.thread = std::thread([&impl] { impl.server.listen_after_bind(); });
  // Requests wait in the listen backlog until the loop runs; waiting here
  // makes "started" mean "answering" (bounded: the loop starts at once).
  for (int i = 0; i < 1000 && !impl.server.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  spdlog::info("connect: REST API on http://{}:{}", impl.options.host, impl.bound_port);
  return Status::ok();
}

void RestServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->server.stop();
  impl_->thread.join();
}

uint16_t RestServer::port() const { return static_cast<uint16_t>(impl_->bound_port); }

}  // namespace sluice::connect
