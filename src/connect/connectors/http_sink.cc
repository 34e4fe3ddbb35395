// An HTTP sink configured as Confluent's HttpSinkConnector
// (io.confluent.connect.http.HttpSinkConnector): records' values are sent in
// batches to `http.api.url` with `request.method` (POST, PUT or PATCH),
// `headers` ("Name:Value|Name2:Value2", split on `header.separator`), each
// body `batch.prefix` + values joined by `batch.separator` + `batch.suffix`,
// at most `batch.max.size` values per request, each value rendered by
// `request.body.format`.
//
// Delivery: at-least-once. put() sends every full batch at once (a batch
// waits no longer than its records' arrival; memory stays bounded between
// the runtime's flushes) and flush() sends the partial one, so when flush
// returns ok every record put so far was answered 2xx and the runtime may
// commit their offsets. A request that failed to connect or was answered 5xx
// or 429 is sent again up to `max.retries` times, `retry.backoff.ms` apart,
// the wait doubling each time up to a minute. What still fails, and any
// other answer (4xx), is handled by `behavior.on.error`: `fail` (the
// default) returns the error, so the runtime fails the task and commits
// nothing past it; `log` logs the batch's failure and drops it; `ignore`
// drops it silently. A retried request may have reached the server before
// it failed, so the server can see a batch twice.
//
// With an errant record reporter (the connector has a dead-letter topic or
// errors.log.enable: KIP-610), what fails for good is not handled by
// behavior.on.error but reported record by record, so each one lands in the
// dead-letter topic; errors.tolerance=none then fails the task (the runtime
// answers the report with an error), errors.tolerance=all goes on.

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "connect/connectors/connectors.h"
#include "connect/connectors/stop_signal.h"
#include "connect/errors.h"
#include "connect/json_converter.h"

namespace sluice::connect {
namespace {

constexpr const char* kHttpSinkUrlKey = "http.api.url";
constexpr const char* kHttpSinkMethodKey = "request.method";
constexpr const char* kHttpSinkHeadersKey = "headers";
constexpr const char* kHttpSinkHeaderSeparatorKey = "header.separator";
constexpr const char* kHttpSinkBatchMaxSizeKey = "batch.max.size";
constexpr const char* kHttpSinkBatchPrefixKey = "batch.prefix";
constexpr const char* kHttpSinkBatchSuffixKey = "batch.suffix";
constexpr const char* kHttpSinkBatchSeparatorKey = "batch.separator";
constexpr const char* kHttpSinkBodyFormatKey = "request.body.format";
constexpr const char* kHttpSinkMaxRetriesKey = "max.retries";
constexpr const char* kHttpSinkRetryBackoffKey = "retry.backoff.ms";
constexpr const char* kHttpSinkOnErrorKey = "behavior.on.error";
constexpr const char* kHttpSinkConnectTimeoutKey = "http.connect.timeout.ms";
constexpr const char* kHttpSinkRequestTimeoutKey = "http.request.timeout.ms";
// The longest wait between two attempts: doubling from retry.backoff.ms
// (3 s by default) reaches it at the fifth retry.
constexpr std::chrono::milliseconds kHttpSinkBackoffMax{60'000};
// How much of an error answer's body goes into the error message.
constexpr size_t kHttpSinkAnswerExcerptBytes = 200;

ConfigValidator http_sink_at_least(int32_t minimum) {
  return [minimum](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* number = std::get_if<int32_t>(&value);
    if (number && *number >= minimum) return std::nullopt;
    return ConfigProblem{"Value must be at least " + std::to_string(minimum)};
  };
}

std::vector<ConfigKey> http_sink_config_keys() {
  return {
      {kHttpSinkUrlKey, ConfigType::string, true, std::nullopt, non_empty_string()},
      {kHttpSinkMethodKey, ConfigType::string, false, "POST",
       one_of_case_insensitive({"POST", "PUT", "PATCH"})},
      {kHttpSinkHeadersKey, ConfigType::string, false, "", nullptr},
      {kHttpSinkHeaderSeparatorKey, ConfigType::string, false, "|", non_empty_string()},
      {kHttpSinkBatchMaxSizeKey, ConfigType::integer, false, "1", http_sink_at_least(1)},
      {kHttpSinkBatchPrefixKey, ConfigType::string, false, "[", nullptr},
      {kHttpSinkBatchSuffixKey, ConfigType::string, false, "]", nullptr},
      {kHttpSinkBatchSeparatorKey, ConfigType::string, false, ",", nullptr},
      {kHttpSinkBodyFormatKey, ConfigType::string, false, "string",
       one_of_case_insensitive({"string", "json"})},
      {kHttpSinkMaxRetriesKey, ConfigType::integer, false, "10", http_sink_at_least(0)},
      {kHttpSinkRetryBackoffKey, ConfigType::integer, false, "3000", http_sink_at_least(0)},
      {kHttpSinkOnErrorKey, ConfigType::string, false, "fail",
       one_of_case_insensitive({"fail", "log", "ignore"})},
      {kHttpSinkConnectTimeoutKey, ConfigType::integer, false, "30000", http_sink_at_least(1)},
      {kHttpSinkRequestTimeoutKey, ConfigType::integer, false, "30000", http_sink_at_least(1)},
  };
}

std::string http_sink_lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string http_sink_trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

// A setting's text as given, untrimmed (Kafka trims STRING settings, which
// would make a newline or ", " separator impossible); the default otherwise.
std::string http_sink_raw_setting(const Properties& config, const char* key, const char* fallback) {
  auto found = config.find(key);
  return found == config.end() ? fallback : found->second;
}

// `http.api.url` split into what httplib::Client takes (scheme, host and
// port) and the request's path with its query.
struct HttpSinkUrl {
  std::string origin;  // "http://host:port"
  std::string path;    // "/api?x=1"; "/" when the URL has none
};

// "host", "host:port" or "[v6]:port", the port at most 65535: what
// httplib::Client reads (it reads user info or a bad port as a host name and
// fails at every request instead).
bool http_sink_valid_authority(std::string_view authority) {
  size_t host_end = 0;
  if (authority.starts_with('[')) {
    host_end = authority.find(']');
    if (host_end == std::string_view::npos || host_end == 1) return false;
    ++host_end;
  } else {
    host_end = std::min(authority.find(':'), authority.size());
    if (host_end == 0) return false;
    if (authority.substr(0, host_end).find_first_of("@[]") != std::string_view::npos) return false;
  }
  if (host_end == authority.size()) return true;
  const std::string_view port = authority.substr(host_end + 1);
  if (authority[host_end] != ':' || port.empty() || port.size() > 5) return false;
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  return std::stoi(std::string(port)) <= 65535;
}

Result<HttpSinkUrl> http_sink_parse_url(const std::string& url) {
  const size_t scheme_end = url.find("://");
  const std::string scheme =
      scheme_end == std::string::npos ? "" : http_sink_lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    return config_error(kHttpSinkUrlKey, url, "must be an http:// or https:// URL");
  }
  const size_t authority_start = scheme_end + 3;
  const size_t path_start = url.find_first_of("/?#", authority_start);
  const std::string authority = url.substr(authority_start, path_start - authority_start);
  if (!http_sink_valid_authority(authority)) {
    return config_error(kHttpSinkUrlKey, url, "expected scheme://host[:port][/path]");
  }
  std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (path.front() != '/') path.insert(0, "/");
  return HttpSinkUrl{scheme + "://" + authority, std::move(path)};
}

// `headers`: "Name:Value" entries split on `separator`, each split at its
// first ':' (values may hold more), names and values trimmed.
Result<httplib::Headers> http_sink_parse_headers(const std::string& text,
                                                 const std::string& separator) {
  httplib::Headers headers;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string::npos) end = text.size();
    const std::string entry = http_sink_trim(std::string_view(text).substr(start, end - start));
    start = end + separator.size();
    if (entry.empty()) continue;
    const size_t colon = entry.find(':');
    std::string name = colon == std::string::npos ? "" : http_sink_trim(entry.substr(0, colon));
    if (name.empty()) {
      return config_error(kHttpSinkHeadersKey, text,
                          "each header must be Name:Value (\"" + entry + "\" is not)");
    }
    headers.emplace(std::move(name), http_sink_trim(entry.substr(colon + 1)));
  }
  return headers;
}

enum class HttpSinkOnError { fail, log, ignore };

struct HttpSinkSettings {
  HttpSinkUrl url;
  std::string method;  // POST, PUT, PATCH
  httplib::Headers headers;
  std::string content_type;  // from `headers`, else by the body format
  size_t batch_max_size = 1;
  std::string prefix, suffix, separator;
  bool json_body = false;
  int32_t max_retries = 10;
  std::chrono::milliseconds retry_backoff{3000};
  HttpSinkOnError on_error = HttpSinkOnError::fail;
  std::chrono::milliseconds connect_timeout{30'000};
  std::chrono::milliseconds request_timeout{30'000};
};

// httplib adds the Content-Type it is given: one given in `headers` is moved
// out of them and used instead of the body format's.
std::string http_sink_take_content_type(httplib::Headers& headers, bool json_body) {
  for (auto it = headers.begin(); it != headers.end(); ++it) {
    if (http_sink_lower(it->first) == "content-type") {
      std::string type = it->second;
      headers.erase(it);
      return type;
    }
  }
  return json_body ? "application/json" : "text/plain";
}

Result<HttpSinkSettings> http_sink_settings(const Properties& config) {
  auto parsed = SimpleConfig::parse(http_sink_config_keys(), config);
  if (!parsed.is_ok()) return parsed.status();
  HttpSinkSettings settings;
  auto url = http_sink_parse_url(*parsed->get_string(kHttpSinkUrlKey));
  if (!url.is_ok()) return url.status();
  settings.url = std::move(*url);
  settings.method = parsed->get_string(kHttpSinkMethodKey).value_or("POST");
  std::transform(settings.method.begin(), settings.method.end(), settings.method.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  auto headers = http_sink_parse_headers(parsed->get_string(kHttpSinkHeadersKey).value_or(""),
                                         *parsed->get_string(kHttpSinkHeaderSeparatorKey));
  if (!headers.is_ok()) return headers.status();
  settings.headers = std::move(*headers);
  settings.json_body = http_sink_lower(*parsed->get_string(kHttpSinkBodyFormatKey)) == "json";
  settings.content_type = http_sink_take_content_type(settings.headers, settings.json_body);
  settings.batch_max_size = static_cast<size_t>(parsed->get_int(kHttpSinkBatchMaxSizeKey));
  settings.prefix = http_sink_raw_setting(config, kHttpSinkBatchPrefixKey, "[");
  settings.suffix = http_sink_raw_setting(config, kHttpSinkBatchSuffixKey, "]");
  settings.separator = http_sink_raw_setting(config, kHttpSinkBatchSeparatorKey, ",");
  settings.max_retries = parsed->get_int(kHttpSinkMaxRetriesKey);
  settings.retry_backoff = std::chrono::milliseconds(parsed->get_int(kHttpSinkRetryBackoffKey));
  const std::string on_error = http_sink_lower(*parsed->get_string(kHttpSinkOnErrorKey));
  settings.on_error = on_error == "log"      ? HttpSinkOnError::log
                      : on_error == "ignore" ? HttpSinkOnError::ignore
                                             : HttpSinkOnError::fail;
  settings.connect_timeout = std::chrono::milliseconds(parsed->get_int(kHttpSinkConnectTimeoutKey));
  settings.request_timeout = std::chrono::milliseconds(parsed->get_int(kHttpSinkRequestTimeoutKey));
  return settings;
}

// request.body.format=json renders values without JsonConverter's envelope.
JsonConverterConfig http_sink_schemaless_json() {
  JsonConverterConfig config;
  config.schemas_enable = false;
  return config;
}

// What one request came to: answered 2xx, worth another try (no answer,
// 5xx, 429), or refused for good (any other status).
enum class HttpSinkOutcome { delivered, retriable, permanent };

struct HttpSinkAttempt {
  HttpSinkOutcome outcome = HttpSinkOutcome::delivered;
  std::string problem;   // for the log and the task's failure trace
  bool stopped = false;  // cut short by stop(): not the records' fault
};

HttpSinkOutcome http_sink_outcome_of(int status) {
  if (status >= 200 && status < 300) return HttpSinkOutcome::delivered;
  if (status == 429 || status >= 500) return HttpSinkOutcome::retriable;
  return HttpSinkOutcome::permanent;
}

// retry.backoff.ms doubled for each retry already made, at most a minute.
std::chrono::milliseconds http_sink_backoff(std::chrono::milliseconds base, int32_t retry) {
  std::chrono::milliseconds wait = base;
  for (int32_t i = 0; i < retry && wait < kHttpSinkBackoffMax; ++i) wait *= 2;
  return std::min(wait, kHttpSinkBackoffMax);
}

class HttpSinkTask final : public SinkTask {
 public:
  void set_errant_record_reporter(ErrantRecordReporter* reporter) override { reporter_ = reporter; }

  Status start(const Properties& config) override {
    auto settings = http_sink_settings(config);
    if (!settings.is_ok()) return settings.status();
    settings_ = std::move(*settings);
    client_ = std::make_unique<httplib::Client>(settings_.url.origin);
    if (!client_->is_valid()) {
      return config_error(kHttpSinkUrlKey, settings_.url.origin, "httplib cannot connect to it");
    }
    client_->set_connection_timeout(settings_.connect_timeout);
    client_->set_read_timeout(settings_.request_timeout);
    client_->set_write_timeout(settings_.request_timeout);
    client_->set_keep_alive(true);
    // httplib writes a request's headers and body separately: on a reused
    // connection Nagle's algorithm held the body back until the server's
    // delayed ACK, tens of milliseconds per batch even on loopback.
    client_->set_tcp_nodelay(true);
    return Status::ok();
  }

  // Renders each value and sends every batch that is full.
  Status put(std::vector<ConnectRecord> records) override {
    for (const ConnectRecord& record : records) {
      auto rendered = render(record);
      if (!rendered.is_ok()) {
        Status handled = reporter_ ? reporter_->report(record, rendered.status())
                                   : handle_failure(rendered.status().message(), 1);
        if (!handled) return handled;
        continue;
      }
      if (!*rendered) continue;
      pending_.push_back(std::move(**rendered));
      if (reporter_) pending_records_.push_back(record);
      if (pending_.size() >= settings_.batch_max_size) {
        if (Status sent = send_pending(); !sent) return sent;
      }
    }
    return Status::ok();
  }

  // Sends the partial batch: everything put is then delivered (or dropped
  // by behavior.on.error).
  Status flush() override { return pending_.empty() ? Status::ok() : send_pending(); }

  // Cuts a retry wait short (a flush then fails and nothing is committed).
  void stop() override { stop_.request(); }

 private:
  // A value's text in the body; nullopt for a null value (a tombstone: the
  // HTTP API has nothing to receive, as Confluent's default
  // behavior.on.null.values=ignore). `string`: Java's toString; `json`: the
  // schemaless JSON, except a STRING value, sent as it is (it is usually
  // JSON already, read by StringConverter).
  Result<std::optional<std::string>> render(const ConnectRecord& record) {
    if (record.value.is_null()) return std::optional<std::string>();
    if (!settings_.json_body || record.value.is<std::string>()) {
      return std::optional<std::string>(record.value.to_string());
    }
    auto json = json_.from_connect_data(record.topic, record.value_schema, record.value);
    if (!json.is_ok()) return json.status();
    return std::optional<std::string>(json->value_or("null"));
  }

  Status send_pending() {
    std::string body = settings_.prefix;
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (i > 0) body += settings_.separator;
      body += pending_[i];
    }
    body += settings_.suffix;
    const size_t count = pending_.size();
    HttpSinkAttempt sent = send_with_retries(body);
    if (sent.outcome == HttpSinkOutcome::delivered) {
      clear_pending();
      return Status::ok();
    }
    Status handled = reporter_ && !sent.stopped ? report_pending(sent.problem)
                                                : handle_failure(sent.problem, count);
    // Kept on failure: a flush the runtime tried again would send them again.
    if (handled) clear_pending();
    return handled;
  }

  // A batch that failed for good, with an errant record reporter (a
  // dead-letter topic or errors.log.enable): each of its records is
  // reported, as Confluent's sink does; the runtime decides (errors.tolerance)
  // whether the task goes on.
  Status report_pending(const std::string& problem) {
    const Status error(Errc::io_error, "HTTP sink: " + problem);
    for (const ConnectRecord& record : pending_records_) {
      if (Status reported = reporter_->report(record, error); !reported) return reported;
    }
    return Status::ok();
  }

  void clear_pending() {
    pending_.clear();
    pending_records_.clear();
  }

  HttpSinkAttempt send_with_retries(const std::string& body) {
    for (int32_t retry = 0;; ++retry) {
      HttpSinkAttempt attempt = send_once(body);
      if (attempt.outcome != HttpSinkOutcome::retriable) return attempt;
      if (retry >= settings_.max_retries) {
        attempt.problem += " (after " + std::to_string(retry) + " retries)";
        return attempt;
      }
      const auto wait = http_sink_backoff(settings_.retry_backoff, retry);
      spdlog::warn("connect: HTTP sink: {}; retrying in {} ms", attempt.problem, wait.count());
      if (!stop_.sleep_until(std::chrono::steady_clock::now() + wait)) {
        return {HttpSinkOutcome::permanent, attempt.problem + " (stopped while retrying)", true};
      }
    }
  }

  HttpSinkAttempt send_once(const std::string& body) {
    const std::string& path = settings_.url.path;
    const std::string& type = settings_.content_type;
    httplib::Result answer =
        settings_.method == "PUT"     ? client_->Put(path, settings_.headers, body, type)
        : settings_.method == "PATCH" ? client_->Patch(path, settings_.headers, body, type)
                                      : client_->Post(path, settings_.headers, body, type);
    const std::string target = settings_.method + " " + settings_.url.origin + path;
    if (!answer) {
      return {HttpSinkOutcome::retriable,
              target + " failed: " + httplib::to_string(answer.error())};
    }
    const HttpSinkOutcome outcome = http_sink_outcome_of(answer->status);
    if (outcome == HttpSinkOutcome::delivered) return {outcome, ""};
    return {outcome, target + " answered " + std::to_string(answer->status) + ": " +
                         answer->body.substr(0, kHttpSinkAnswerExcerptBytes)};
  }

  // behavior.on.error for `count` records that could not be delivered.
  Status handle_failure(const std::string& problem, size_t count) {
    switch (settings_.on_error) {
      case HttpSinkOnError::fail:
        return Status(Errc::io_error, "HTTP sink: " + problem);
      case HttpSinkOnError::log:
        spdlog::error("connect: HTTP sink dropped {} record(s) (behavior.on.error=log): {}", count,
                      problem);
        return Status::ok();
      case HttpSinkOnError::ignore:
        return Status::ok();
    }
    return Status::ok();
  }

  HttpSinkSettings settings_;
  std::unique_ptr<httplib::Client> client_;
  JsonConverter json_{http_sink_schemaless_json()};
  std::vector<std::string> pending_;  // rendered values not yet sent, < batch.max.size
  ErrantRecordReporter* reporter_ = nullptr;
  std::vector<ConnectRecord> pending_records_;  // pending_'s records, kept only for reporter_
  StopSignal stop_;
};

class HttpSinkConnector final : public Connector {
 public:
  ConnectorType type() const override { return ConnectorType::sink; }
  std::vector<ConfigKey> config_keys() const override { return http_sink_config_keys(); }

  // The URL and headers are checked here too, so a bad one is refused when
  // the connector is created rather than when its tasks start.
  Status start(const Properties& config) override {
    auto settings = http_sink_settings(config);
    if (!settings.is_ok()) return settings.status();
    config_ = config;
    return Status::ok();
  }

  // Every task sends to the same URL; Kafka's partitions are split between
  // them, so requests of different tasks carry no order between them.
  std::vector<Properties> task_configs(int max_tasks) override {
    return std::vector<Properties>(static_cast<size_t>(std::max(0, max_tasks)), config_);
  }

  std::unique_ptr<SinkTask> make_sink_task() override { return std::make_unique<HttpSinkTask>(); }

 private:
  Properties config_;
};

}  // namespace

std::unique_ptr<Connector> make_http_sink_connector() {
  return std::make_unique<HttpSinkConnector>();
}

}  // namespace sluice::connect
