// The registry of built-in connectors and Kafka's lookup of
// `connector.class` (Plugins.connectorClass with PluginUtils' aliases).

#include <string_view>

#include "connect/connectors/connectors.h"

namespace sluice::connect {
namespace {

std::string_view simple_class_name(std::string_view class_name) {
  const size_t dot = class_name.rfind('.');
  return dot == std::string_view::npos ? class_name : class_name.substr(dot + 1);
}

// PluginUtils.prunedName: the simple name without its type's suffix.
std::string_view pruned_class_name(std::string_view class_name) {
  constexpr std::string_view kSuffix = "Connector";
  std::string_view simple = simple_class_name(class_name);
  if (simple.size() > kSuffix.size() && simple.ends_with(kSuffix)) {
    simple.remove_suffix(kSuffix.size());
  }
  return simple;
}

}  // namespace

const std::vector<ConnectorPlugin>& connector_plugins() {
  // Sorted by class name, as Kafka's GET /connector-plugins lists them.
  static const std::vector<ConnectorPlugin> plugins = {
      {"io.confluent.connect.http.HttpSinkConnector", ConnectorType::sink,
       builtin_connector_version, make_http_sink_connector},
      {"io.confluent.connect.jdbc.JdbcSinkConnector", ConnectorType::sink,
       builtin_connector_version, make_postgres_sink_connector},
      {"io.confluent.connect.jdbc.JdbcSourceConnector", ConnectorType::source,
       builtin_connector_version, make_postgres_source_connector},
      {"io.confluent.connect.syslog.SyslogSourceConnector", ConnectorType::source,
       builtin_connector_version, make_syslog_source_connector},
      {"io.confluent.kafka.connect.datagen.DatagenConnector", ConnectorType::source,
       builtin_connector_version, make_datagen_connector},
      {"org.apache.kafka.connect.file.FileStreamSinkConnector", ConnectorType::sink,
       builtin_connector_version, make_file_stream_sink_connector},
      {"org.apache.kafka.connect.file.FileStreamSourceConnector", ConnectorType::source,
       builtin_connector_version, make_file_stream_source_connector},
      {"org.apache.kafka.connect.mirror.MirrorSourceConnector", ConnectorType::source,
       builtin_connector_version, make_mirror_source_connector},
  };
  return plugins;
}

// Kafka tries the full class name first, then the aliases (case-sensitive).
// Kafka refuses an alias that two plugins share; no two built-in connectors
// share one, so the first match is the only one.
const ConnectorPlugin* find_connector_plugin(const std::string& name) {
  for (const ConnectorPlugin& plugin : connector_plugins()) {
    if (plugin.class_name == name) return &plugin;
  }
  for (const ConnectorPlugin& plugin : connector_plugins()) {
    if (simple_class_name(plugin.class_name) == name ||
        pruned_class_name(plugin.class_name) == name) {
      return &plugin;
    }
  }
  return nullptr;
}

}  // namespace sluice::connect
