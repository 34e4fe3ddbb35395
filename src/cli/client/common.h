#pragma once
// What every client subcommand shares: the connection flags (-b, -X,
// --timeout), the one-line error that ends a command, librdkafka clients
// built from those flags, and small parsers (key=value, ISO 8601 times).
//
// Errors: a command throws CommandError with one line naming what failed;
// run_client_command (commands.h) prints it and exits non-zero. A CLI's
// failures all end the process the same way, so one exception type carried
// to one place keeps every command free of error plumbing.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cli/bench/kafka_client.h"

namespace CLI {
class App;
}

namespace sluice::cli::client {

using bench::KafkaHandle;
using bench::KafkaQueue;

class CommandError : public std::runtime_error {
 public:
  explicit CommandError(const std::string& what) : std::runtime_error(what) {}
};

struct ConnectionOptions {
  std::string bootstrap_servers = "127.0.0.1:9092";
  std::vector<std::string> raw_settings;  // -X key=value, parsed by client_settings()
  double timeout_sec = 5.0;
  bool json = false;

  int timeout_ms() const { return static_cast<int>(timeout_sec * 1000); }
};

// -b, -X and --timeout on `command`; --json too when `with_json`.
void add_connection_options(CLI::App* command, ConnectionOptions& options, bool with_json);

enum class Role { kProducer, kConsumer, kAdmin };

// A librdkafka client for `role`: bootstrap, `defaults`, then the -X settings
// (which win). librdkafka's own log lines are dropped unless -X debug is set,
// so a failure is reported once, by the command.
// `customize` may install callbacks (delivery reports, rebalances).
KafkaHandle make_client(const ConnectionOptions& options, Role role,
                        const std::vector<std::pair<std::string, std::string>>& defaults = {},
                        const std::function<void(rd_kafka_conf_t*)>& customize = {});

// Applies the -X settings to a throw-away configuration, so a bad property
// fails the same way on the paths that do not go through librdkafka.
void validate_client_settings(const ConnectionOptions& options);

// "key=value" split at the first '='; CommandError naming `flag` otherwise.
std::pair<std::string, std::string> split_setting(const std::string& setting, const char* flag);
std::map<std::string, std::string> parse_settings(const std::vector<std::string>& settings,
                                                  const char* flag);

// ISO 8601 date-time to milliseconds since the epoch: "2024-05-01",
// "2024-05-01T12:00:00", with optional ".sss" and "Z" or "+hh:mm"; no zone
// means UTC. CommandError when it does not parse.
int64_t parse_iso8601_ms(const std::string& text);
std::string format_iso8601_ms(int64_t epoch_ms);

// Throws CommandError "<what>: <librdkafka's reason>" unless `err` is 0.
void check(rd_kafka_resp_err_t err, const std::string& what);

// "5 s", "0.5 s": a timeout as people write it.
std::string seconds_text(int milliseconds);

// Progress on stderr only when stderr is a terminal (long operations).
bool stderr_is_terminal();

}  // namespace sluice::cli::client
