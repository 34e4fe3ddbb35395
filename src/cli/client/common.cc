#include "cli/client/common.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "cli/number_checks.h"

namespace sluice::cli::client {

void add_connection_options(CLI::App* command, ConnectionOptions& options, bool with_json) {
  command->add_option("-b,--bootstrap-server", options.bootstrap_servers,
                      "Broker(s) to connect to, host:port[,host:port]")
      ->capture_default_str();
  command->add_option("-X", options.raw_settings, "librdkafka property key=value (repeatable)");
  command->add_option("--timeout", options.timeout_sec, "Seconds to wait for the cluster")
      ->capture_default_str()
      ->check(positive_number());
  if (with_json) command->add_flag("--json", options.json, "JSON output for scripts");
}

namespace {

void drop_log_line(const rd_kafka_t*, int, const char*, const char*) {}

void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char message[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), message, sizeof message) !=
      RD_KAFKA_CONF_OK) {
    throw CommandError("invalid client property " + key + "=" + value + ": " + message);
  }
}

}  // namespace

KafkaHandle make_client(const ConnectionOptions& options, Role role,
                        const std::vector<std::pair<std::string, std::string>>& defaults,
                        const std::function<void(rd_kafka_conf_t*)>& customize) {
  bench::KafkaConf conf(rd_kafka_conf_new());
  set(conf.get(), "bootstrap.servers", options.bootstrap_servers);
  // A broker that never answers fails the first request within --timeout.
  set(conf.get(), "socket.connection.setup.timeout.ms", std::to_string(options.timeout_ms()));
  for (const auto& [key, value] : defaults) set(conf.get(), key, value);
  std::map<std::string, std::string> settings = parse_settings(options.raw_settings, "-X");
  for (const auto& [key, value] : settings) set(conf.get(), key, value);
  if (settings.count("debug") == 0) rd_kafka_conf_set_log_cb(conf.get(), drop_log_line);
  if (customize) customize(conf.get());
  std::string error;
  bench::ClientRole bench_role = role == Role::kProducer   ? bench::ClientRole::kProducer
                                 : role == Role::kConsumer ? bench::ClientRole::kConsumer
                                                           : bench::ClientRole::kAdmin;
  KafkaHandle client = bench::make_client(std::move(conf), bench_role, &error);
  if (!client) throw CommandError("cannot create a Kafka client: " + error);
  return client;
}

void validate_client_settings(const ConnectionOptions& options) {
  bench::KafkaConf conf(rd_kafka_conf_new());
  for (const auto& [key, value] : parse_settings(options.raw_settings, "-X")) set(conf.get(), key, value);
}

std::pair<std::string, std::string> split_setting(const std::string& setting, const char* flag) {
  size_t equals = setting.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw CommandError(std::string(flag) + " expects key=value, got '" + setting + "'");
  }
  return {setting.substr(0, equals), setting.substr(equals + 1)};
}

std::map<std::string, std::string> parse_settings(const std::vector<std::string>& settings,
                                                  const char* flag) {
  std::map<std::string, std::string> parsed;
  for (const std::string& setting : settings) {
    auto [key, value] = split_setting(setting, flag);
    parsed.insert_or_assign(key, value);
  }
  return parsed;
}

namespace {

// Reads "+hh:mm", "+hhmm", "Z" or nothing at `rest`; the offset east of UTC.
bool parse_zone(const char* rest, int64_t* offset_sec) {
  *offset_sec = 0;
  if (*rest == '\0' || (rest[0] == 'Z' && rest[1] == '\0')) return true;
  int hours = 0, minutes = 0, consumed = 0;
  char sign = rest[0];
  if (sign != '+' && sign != '-') return false;
  if (std::sscanf(rest + 1, "%2d:%2d%n", &hours, &minutes, &consumed) != 2 &&
      std::sscanf(rest + 1, "%2d%2d%n", &hours, &minutes, &consumed) != 2) {
    return false;
  }
  if (rest[1 + consumed] != '\0') return false;
  *offset_sec = (hours * 3600 + minutes * 60) * (sign == '-' ? -1 : 1);
  return true;
}

}  // namespace

int64_t parse_iso8601_ms(const std::string& text) {
  std::tm parts{};
  int consumed = 0;
  int millis = 0;
  const char* s = text.c_str();
  if (std::sscanf(s, "%4d-%2d-%2d%n", &parts.tm_year, &parts.tm_mon, &parts.tm_mday, &consumed) != 3) {
    throw CommandError("not an ISO 8601 date-time: '" + text + "'");
  }
  s += consumed;
  if (*s == 'T' || *s == ' ') {
    if (std::sscanf(s + 1, "%2d:%2d:%2d%n", &parts.tm_hour, &parts.tm_min, &parts.tm_sec,
                    &consumed) != 3) {
      throw CommandError("not an ISO 8601 date-time: '" + text + "'");
    }
    s += 1 + consumed;
    if (*s == '.') {
      char digits[4] = {'0', '0', '0', '\0'};
      int n = 0;
      for (++s; *s >= '0' && *s <= '9'; ++s)
        if (n < 3) digits[n++] = *s;
      millis = std::atoi(digits);
    }
  }
  int64_t offset_sec = 0;
  if (!parse_zone(s, &offset_sec)) throw CommandError("not an ISO 8601 date-time: '" + text + "'");
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  return (static_cast<int64_t>(timegm(&parts)) - offset_sec) * 1000 + millis;
}

std::string format_iso8601_ms(int64_t epoch_ms) {
  std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
                parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                static_cast<int>(epoch_ms % 1000));
  return text;
}

void check(rd_kafka_resp_err_t err, const std::string& what) {
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) throw CommandError(what + ": " + rd_kafka_err2str(err));
}

std::string seconds_text(int milliseconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", milliseconds / 1000.0);
  return text;
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

}  // namespace sluice::cli::client
