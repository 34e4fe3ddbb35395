#pragma once
// Kafka Connect's REST entities as JSON, and the request bodies read back.
// Field names and their order are those Kafka's Jackson classes write
// (ConnectorInfo: name, config, tasks, type; ConnectorStateInfo: name,
// connector, tasks, type; ...), so scripts written against Kafka Connect read
// ours unchanged. Plain functions of values: no I/O, no herder.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "connect/data.h"
#include "connect/runtime/herder.h"

namespace sluice::connect::rest {

using Json = nlohmann::ordered_json;

// Offsets are schemaless maps: JSON integers become INT64 values and stay
// integers on the way back, other numbers DOUBLE, strings, booleans, null,
// arrays (List) and objects (Map with string keys).
Json value_to_json(const Value& value);
Value value_from_json(const Json& json);
Json map_to_json(const Map& map);
Map map_from_json(const Json& object);  // `object` must be an object

// Kafka's ErrorMessage: {"error_code": 404, "message": "..."}.
Json error_json(int status, const std::string& message);

Json connector_info_json(const ConnectorInfo& info);
Json task_status_json(const TaskStatus& task);
Json connector_status_json(const ConnectorStatus& status);
Json task_infos_json(const std::string& connector, const std::vector<TaskInfo>& tasks);
Json offsets_json(const std::vector<ConnectorOffset>& offsets);
Json config_infos_json(const ConfigInfos& infos);

// A configuration object as Jackson reads Map<String, String>: strings, and
// numbers and booleans as their text (Jackson coerces scalars); objects and
// arrays are refused. A null value is kept as nullopt (PATCH removes the key).
// The error (Errc::invalid_value) is the 400's message.
using ConfigPatch = std::map<std::string, std::optional<std::string>>;
Result<ConfigPatch> config_patch_from_json(const Json& body);
// The same without nulls (PUT, POST): a null value is refused.
Result<Properties> properties_from_json(const Json& body);

// PATCH /connectors/{name}/offsets' body {"offsets": [{"partition", "offset"}]};
// Kafka's message when the list is missing or empty.
Result<std::vector<ConnectorOffset>> offsets_from_json(const Json& body);

}  // namespace sluice::connect::rest
