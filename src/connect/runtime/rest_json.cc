#include "connect/runtime/rest_json.h"

#include <limits>

#include "connect/java_text.h"

namespace sluice::connect::rest {
namespace {

Status invalid_body(const std::string& message) {
  return Status(Errc::invalid_value, "Cannot deserialize the request body: " + message);
}

// Map keys of schemaless offsets are strings; anything else prints as Java's
// toString would (a JSON object key must be a string).
std::string key_text(const Value& key) {
  return key.is<std::string>() ? key.as<std::string>() : key.to_string();
}

Json state_fields(Json out, const StateInfo& state) {
  out["state"] = task_state_name(state.state);
  out["worker_id"] = state.worker_id;
  // Kafka leaves "trace" out when it is empty (JsonInclude.NON_EMPTY).
  if (!state.trace.empty()) out["trace"] = state.trace;
  return out;
}

Json nullable(const std::optional<std::string>& text) { return text ? Json(*text) : Json(nullptr); }

// Kafka's ConfigKeyInfo. Sluice's plugins declare neither importance, width
// nor display names: importance is null, width NONE (ConfigDef's default),
// the display name is the key's name (as ConfigDef defaults it), and `order`
// is the key's place in its group (-1 without a group, ConfigDef's default).
Json config_definition_json(const ConfigValueInfo& info, int order) {
  Json out = Json::object();
  out["name"] = info.name;
  out["type"] = info.type;
  out["required"] = info.required;
  out["default_value"] = nullable(info.default_value);
  out["importance"] = nullptr;
  out["documentation"] = info.documentation;
  out["group"] = info.group.empty() ? Json(nullptr) : Json(info.group);
  out["order"] = order;
  out["width"] = "NONE";
  out["display_name"] = info.name;
  out["dependents"] = Json::array();
  return out;
}

Json config_value_json(const ConfigValueInfo& info) {
  Json out = Json::object();
  out["name"] = info.name;
  out["value"] = nullable(info.value);
  out["recommended_values"] = Json::array();
  out["errors"] = info.errors;
  out["visible"] = true;
  return out;
}

}  // namespace

Json value_to_json(const Value& value) {
  return std::visit(
      [&](const auto& data) -> Json {
        using T = std::decay_t<decltype(data)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return nullptr;
        } else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::string>) {
          return data;
        } else if constexpr (std::is_integral_v<T>) {
          return static_cast<int64_t>(data);
        } else if constexpr (std::is_floating_point_v<T>) {
          return static_cast<double>(data);
        } else if constexpr (std::is_same_v<T, Bytes>) {
          return base64_encode(data.data);  // Jackson writes byte[] as base64
        } else if constexpr (std::is_same_v<T, List>) {
          Json out = Json::array();
          for (const Value& element : data) out.push_back(value_to_json(element));
          return out;
        } else if constexpr (std::is_same_v<T, Map>) {
          return map_to_json(data);
        } else {
          return value.to_string();  // Struct, Decimal, DateTime: never in offsets
        }
      },
      value.data());
}

Value value_from_json(const Json& json) {
  switch (json.type()) {
    case Json::value_t::null:
      return Value();
    case Json::value_t::boolean:
      return Value(json.get<bool>());
    case Json::value_t::number_integer:
      return Value(json.get<int64_t>());
    case Json::value_t::number_unsigned: {
      // Beyond int64 only as a double, as Jackson reads a BigInteger-sized
      // number into a Map<String, ?> as a number, never a wrapped-around long.
      const auto number = json.get<uint64_t>();
      if (number <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return Value(static_cast<int64_t>(number));
      return Value(static_cast<double>(number));
    }
    case Json::value_t::number_float:
      return Value(json.get<double>());
    case Json::value_t::string:
      return Value(json.get<std::string>());
    case Json::value_t::array: {
      List list;
      for (const Json& element : json) list.push_back(value_from_json(element));
      return Value(std::move(list));
    }
    case Json::value_t::object:
      return Value(map_from_json(json));
    default:
      return Value();  // binary and discarded never come from the parser
  }
}

Json map_to_json(const Map& map) {
  Json out = Json::object();
  for (const MapEntry& entry : map) out[key_text(entry.key)] = value_to_json(entry.value);
  return out;
}

Map map_from_json(const Json& object) {
  Map map;
  for (const auto& [key, element] : object.items())
    map.push_back({Value(key), value_from_json(element)});
  return map;
}

Json error_json(int status, const std::string& message) {
  Json out = Json::object();
  out["error_code"] = status;
  out["message"] = message;
  return out;
}

Json connector_info_json(const ConnectorInfo& info) {
  Json out = Json::object();
  out["name"] = info.name;
  out["config"] = info.config;
  Json tasks = Json::array();
  for (int task = 0; task < info.task_count; ++task)
    tasks.push_back(Json{{"connector", info.name}, {"task", task}});
  out["tasks"] = std::move(tasks);
  out["type"] = connector_type_name(info.type);
  return out;
}

Json task_status_json(const TaskStatus& task) {
  Json out = Json::object();
  out["id"] = task.id;
  return state_fields(std::move(out), task.state);
}

Json connector_status_json(const ConnectorStatus& status) {
  Json out = Json::object();
  out["name"] = status.name;
  out["connector"] = state_fields(Json::object(), status.connector);
  Json tasks = Json::array();
  for (const TaskStatus& task : status.tasks) tasks.push_back(task_status_json(task));
  out["tasks"] = std::move(tasks);
  out["type"] = connector_type_name(status.type);
  return out;
}

Json task_infos_json(const std::string& connector, const std::vector<TaskInfo>& tasks) {
  Json out = Json::array();
  for (const TaskInfo& task : tasks) {
    Json entry = Json::object();
    entry["id"] = Json{{"connector", connector}, {"task", task.id}};
    entry["config"] = task.config;
    out.push_back(std::move(entry));
  }
  return out;
}

Json offsets_json(const std::vector<ConnectorOffset>& offsets) {
  Json list = Json::array();
  for (const ConnectorOffset& offset : offsets) {
    Json entry = Json::object();
    entry["partition"] = map_to_json(offset.partition);
    entry["offset"] = offset.offset ? map_to_json(*offset.offset) : Json(nullptr);
    list.push_back(std::move(entry));
  }
  return Json{{"offsets", std::move(list)}};
}

Json config_infos_json(const ConfigInfos& infos) {
  Json out = Json::object();
  out["name"] = infos.name;
  out["error_count"] = infos.error_count;
  out["groups"] = infos.groups;
  Json configs = Json::array();
  std::map<std::string, int> group_positions;
  for (const ConfigValueInfo& info : infos.configs) {
    const int order = info.group.empty() ? -1 : ++group_positions[info.group];
    Json entry = Json::object();
    entry["definition"] = config_definition_json(info, order);
    entry["value"] = config_value_json(info);
    configs.push_back(std::move(entry));
  }
  out["configs"] = std::move(configs);
  return out;
}

Result<ConfigPatch> config_patch_from_json(const Json& body) {
  if (!body.is_object()) return invalid_body("expected a JSON object of configuration values");
  ConfigPatch patch;
  for (const auto& [key, element] : body.items()) {
    if (element.is_null()) {
      patch[key] = std::nullopt;
    } else if (element.is_string()) {
      patch[key] = element.get<std::string>();
    } else if (element.is_primitive()) {
      patch[key] = element.dump();  // 1 -> "1", true -> "true"
    } else {
      return invalid_body("the value of \"" + key + "\" must be a string, not " +
                          element.type_name());
    }
  }
  return patch;
}

Result<Properties> properties_from_json(const Json& body) {
  auto patch = config_patch_from_json(body);
  if (!patch.is_ok()) return patch.status();
  Properties properties;
  for (auto& [key, value] : patch.value()) {
    if (!value) return invalid_body("the value of \"" + key + "\" is null");
    properties.emplace(key, std::move(*value));
  }
  return properties;
}

Result<std::vector<ConnectorOffset>> offsets_from_json(const Json& body) {
  if (!body.is_object()) return invalid_body("expected a JSON object with an \"offsets\" list");
  const auto list = body.find("offsets");
  if (list == body.end() || list->is_null() || (list->is_array() && list->empty()))
    return Status(Errc::invalid_value,
                  "Partitions / offsets need to be provided for an alter offsets request");
  if (!list->is_array()) return invalid_body("\"offsets\" must be a list");
  std::vector<ConnectorOffset> offsets;
  for (const Json& entry : *list) {
    if (!entry.is_object()) return invalid_body("each entry of \"offsets\" must be an object");
    const auto partition = entry.find("partition");
    if (partition == entry.end() || !partition->is_object())
      return invalid_body("each entry of \"offsets\" needs a \"partition\" object");
    const auto offset = entry.find("offset");
    if (offset != entry.end() && !offset->is_null() && !offset->is_object())
      return invalid_body("an entry's \"offset\" must be an object or null");
    ConnectorOffset parsed{map_from_json(*partition), std::nullopt};
    if (offset != entry.end() && offset->is_object()) parsed.offset = map_from_json(*offset);
    offsets.push_back(std::move(parsed));
  }
  return offsets;
}

}  // namespace sluice::connect::rest
