#pragma once
// The connectors this binary ships, each made by one factory that the
// registry (plugins.cc) lists by class name. Kept apart from connector.h so
// the runtime sees only the registry, never a concrete connector.

#include <memory>

#include "connect/connector.h"

namespace sluice::connect {

// Kafka's org.apache.kafka.connect.file.FileStream{Source,Sink}Connector
// (file_source.cc, file_sink.cc).
std::unique_ptr<Connector> make_file_stream_source_connector();
std::unique_ptr<Connector> make_file_stream_sink_connector();

// Confluent's io.confluent.kafka.connect.datagen.DatagenConnector with
// built-in quickstarts (datagen.cc).
std::unique_ptr<Connector> make_datagen_connector();

// Confluent's io.confluent.connect.syslog.SyslogSourceConnector (RFC 5424
// and RFC 3164 over UDP or TCP; syslog_source.cc, syslog.h) and
// io.confluent.connect.http.HttpSinkConnector (http_sink.cc).
std::unique_ptr<Connector> make_syslog_source_connector();
std::unique_ptr<Connector> make_http_sink_connector();

// Kafka's org.apache.kafka.connect.mirror.MirrorSourceConnector (MirrorMaker
// 2: another cluster's topics mirrored; mirror_source.cc, mirror.h).
std::unique_ptr<Connector> make_mirror_source_connector();

// Confluent's io.confluent.connect.jdbc.JdbcSourceConnector and
// JdbcSinkConnector for PostgreSQL, on libpq (postgres_source.cc,
// postgres_sink.cc, postgres.h).
std::unique_ptr<Connector> make_postgres_source_connector();
std::unique_ptr<Connector> make_postgres_sink_connector();

// The version every built-in plugin reports (REST's /connector-plugins):
// the project's, as CMakeLists.txt's project(VERSION) states it (Kafka
// reports its own version for its FileStream connectors).
inline constexpr const char* builtin_connector_version = "0.1.0";

}  // namespace sluice::connect
