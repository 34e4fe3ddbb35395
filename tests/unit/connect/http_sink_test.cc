// The HTTP sink (src/connect/connectors/http_sink.cc) against an HTTP API the
// test runs on 127.0.0.1 (cpp-httplib), answering what each test tells it
// to: batching and the body's prefix, separator and suffix, both body
// formats, headers, the request method, retries with backoff on 5xx, 429
// and refused connections, and behavior.on.error for what cannot be sent.

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "connect/connector.h"

namespace sluice::connect::http_sink_testing {
namespace {

using namespace std::chrono_literals;

// A fake HTTP API: records every request and answers with the statuses it
// was given, in order, then 200.
class FakeApi {
 public:
  struct Request {
    std::string method;
    std::string path;
    std::string body;
    httplib::Headers headers;
  };

  FakeApi() {
    const auto handler = [this](const httplib::Request& request, httplib::Response& response) {
      std::lock_guard lock(mutex_);
      received_.push_back({request.method, request.path, request.body, request.headers});
      response.status = 200;
      if (!statuses_.empty()) {
        response.status = statuses_.front();
        statuses_.pop_front();
      }
      response.set_content(response.status == 200 ? "ok" : "nope", "text/plain");
    };
    server_.Post("/api", handler);
    server_.Put("/api", handler);
    server_.Patch("/api", handler);
    // httplib writes an answer's headers and body apart: without this, Nagle
    // and the client's delayed ACK add ~40 ms to every answer on a reused
    // connection.
    server_.set_tcp_nodelay(true);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 1000 && !server_.is_running(); ++i) std::this_thread::sleep_for(1ms);
  }
  ~FakeApi() {
    server_.stop();
    thread_.join();
  }

  void answer_with(std::vector<int> statuses) {
    std::lock_guard lock(mutex_);
    statuses_.assign(statuses.begin(), statuses.end());
  }
  std::vector<Request> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  std::vector<std::string> bodies() {
    std::vector<std::string> bodies;
    for (const Request& request : received()) bodies.push_back(request.body);
    return bodies;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api"; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::deque<int> statuses_;
  std::vector<Request> received_;
};

Properties sink_config(const std::string& url) {
  return {{"connector.class", "HttpSink"},
          {"topics", "t"},
          {"http.api.url", url},
          {"retry.backoff.ms", "10"}};
}

Result<std::unique_ptr<SinkTask>> start_sink(const Properties& config) {
  const ConnectorPlugin* plugin = find_connector_plugin("HttpSink");
  EXPECT_NE(plugin, nullptr);
  auto connector = plugin->make();
  if (Status started = connector->start(config); !started) return started;
  std::vector<Properties> tasks = connector->task_configs(1);
  EXPECT_EQ(tasks.size(), 1u);
  auto task = connector->make_sink_task();
  if (Status started = task->start(tasks.at(0)); !started) return started;
  return task;
}

std::unique_ptr<SinkTask> started_sink(const Properties& config) {
  auto task = start_sink(config);
  EXPECT_TRUE(task.is_ok()) << task.status().message();
  return task.is_ok() ? std::move(*task) : nullptr;
}

std::vector<ConnectRecord> string_records(const std::vector<std::string>& values) {
  std::vector<ConnectRecord> records;
  int64_t offset = 0;
  for (const std::string& value : values) {
    records.push_back(make_sink_record(
        "t", 0, nullptr, Value(), primitive_schema(SchemaType::string), Value(value), offset++));
  }
  return records;
}

TEST(HttpSink, BatchesByBatchMaxSizeWithTheDefaultArrayForm) {
  FakeApi api;
  Properties config = sink_config(api.url());
  config["batch.max.size"] = "2";
  auto task = started_sink(config);
  ASSERT_TRUE(task->put(string_records({"a", "b", "c"})).is_ok());
  // A full batch goes at once; the partial one waits for flush.
  EXPECT_EQ(api.bodies(), (std::vector<std::string>{"[a,b]"}));
  ASSERT_TRUE(task->flush().is_ok());
  EXPECT_EQ(api.bodies(), (std::vector<std::string>{"[a,b]", "[c]"}));
  ASSERT_TRUE(task->flush().is_ok());  // nothing pending: no request
  const std::vector<FakeApi::Request> received = api.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].method, "POST");
  EXPECT_EQ(received[0].path, "/api");
  EXPECT_EQ(received[0].headers.find("Content-Type")->second, "text/plain");
}

TEST(HttpSink, JsonBodyRendersValuesSchemalessAndSkipsNulls) {
  FakeApi api;
  Properties config = sink_config(api.url());
  config["batch.max.size"] = "10";
  config["request.body.format"] = "json";
  auto task = started_sink(config);
  SchemaPtr schema = SchemaBuilder::structure()
                         .field("id", primitive_schema(SchemaType::int32))
                         .field("name", primitive_schema(SchemaType::string))
                         .build_or_die();
  Struct row(schema);
  ASSERT_TRUE(row.put("id", int32_t{1}).is_ok());
  ASSERT_TRUE(row.put("name", "x").is_ok());
  std::vector<ConnectRecord> records;
  records.push_back(make_sink_record("t", 0, nullptr, Value(), schema, Value(row), 0));
  records.push_back(make_sink_record("t", 0, nullptr, Value(), nullptr,
                                     Value(Map{MapEntry{Value("k"), Value(int64_t{2})}}), 1));
  records.push_back(make_sink_record("t", 0, nullptr, Value("key"), nullptr, Value(), 2));
  records.push_back(
      make_sink_record("t", 0, nullptr, Value(), nullptr, Value(R"({"raw":true})"), 3));
  ASSERT_TRUE(task->put(std::move(records)).is_ok());
  ASSERT_TRUE(task->flush().is_ok());
  EXPECT_EQ(api.bodies(),
            (std::vector<std::string>{R"([{"id":1,"name":"x"},{"k":2},{"raw":true}])"}));
  EXPECT_EQ(api.received().at(0).headers.find("Content-Type")->second, "application/json");
}

TEST(HttpSink, StringBodyUsesJavasToStringAndTheConfiguredFraming) {
  FakeApi api;
  Properties config = sink_config(api.url());
  config["batch.max.size"] = "3";
  config["batch.prefix"] = "";
  config["batch.suffix"] = "\n";
  config["batch.separator"] = "\n";  // kept as given, not trimmed
  auto task = started_sink(config);
  std::vector<ConnectRecord> records = string_records({"one", "two"});
  records.push_back(make_sink_record("t", 0, nullptr, Value(), primitive_schema(SchemaType::int32),
                                     int32_t{3}, 2));
  ASSERT_TRUE(task->put(std::move(records)).is_ok());
  EXPECT_EQ(api.bodies(), (std::vector<std::string>{"one\ntwo\n3\n"}));
}

TEST(HttpSink, SendsTheConfiguredHeadersAndMethod) {
  FakeApi api;
  Properties config = sink_config(api.url());
  config["request.method"] = "put";
  config["headers"] = "Authorization: Bearer t0k | X-Trace:a:b|Content-Type:application/x-ndjson";
  auto task = started_sink(config);
  ASSERT_TRUE(task->put(string_records({"a"})).is_ok());
  const std::vector<FakeApi::Request> received = api.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "PUT");
  EXPECT_EQ(received[0].headers.find("Authorization")->second, "Bearer t0k");
  EXPECT_EQ(received[0].headers.find("X-Trace")->second, "a:b");
  EXPECT_EQ(received[0].headers.count("Content-Type"), 1u);
  EXPECT_EQ(received[0].headers.find("Content-Type")->second, "application/x-ndjson");

  config["request.method"] = "PATCH";
  config["header.separator"] = ";";
  config["headers"] = "X-One:1;X-Two:2";
  auto patched = started_sink(config);
  ASSERT_TRUE(patched->put(string_records({"b"})).is_ok());
  const FakeApi::Request last = api.received().back();
  EXPECT_EQ(last.method, "PATCH");
  EXPECT_EQ(last.headers.find("X-Two")->second, "2");
}

TEST(HttpSink, RetriesServerErrorsAndTooManyRequestsWithGrowingBackoff) {
  FakeApi api;
  api.answer_with({500, 429, 503});
  Properties config = sink_config(api.url());
  config["max.retries"] = "3";
  config["retry.backoff.ms"] = "50";
  auto task = started_sink(config);
  const auto before = std::chrono::steady_clock::now();
  ASSERT_TRUE(task->put(string_records({"a"})).is_ok());
  const auto took = std::chrono::steady_clock::now() - before;
  // 50 + 100 + 200 ms between the four attempts.
  EXPECT_GE(took, 340ms);
  EXPECT_EQ(api.bodies(), (std::vector<std::string>{"[a]", "[a]", "[a]", "[a]"}));
}

TEST(HttpSink, FailsWhenRetriesAreExhausted) {
  FakeApi api;
  api.answer_with({500, 500, 500, 500});
  Properties config = sink_config(api.url());
  config["max.retries"] = "2";
  config["batch.max.size"] = "5";
  auto task = started_sink(config);
  ASSERT_TRUE(task->put(string_records({"a"})).is_ok());
  Status flushed = task->flush();
  ASSERT_FALSE(flushed.is_ok());
  EXPECT_NE(flushed.message().find("answered 500"), std::string::npos) << flushed.message();
  EXPECT_NE(flushed.message().find("after 2 retries"), std::string::npos) << flushed.message();
  EXPECT_EQ(api.received().size(), 3u);
}

TEST(HttpSink, ClientErrorFailsAtOnceWithBehaviorFail) {
  FakeApi api;
  api.answer_with({400});
  auto task = started_sink(sink_config(api.url()));
  Status put = task->put(string_records({"a"}));
  ASSERT_FALSE(put.is_ok());
  EXPECT_NE(put.message().find("answered 400: nope"), std::string::npos) << put.message();
  EXPECT_EQ(api.received().size(), 1u);  // not retried
}

TEST(HttpSink, ClientErrorIsLoggedAndDroppedWithBehaviorLog) {
  FakeApi api;
  api.answer_with({404});
  Properties config = sink_config(api.url());
  config["behavior.on.error"] = "log";
  config["batch.max.size"] = "2";
  auto task = started_sink(config);
  ASSERT_TRUE(task->put(string_records({"a"})).is_ok());
  ASSERT_TRUE(task->flush().is_ok());
  ASSERT_TRUE(task->put(string_records({"b"})).is_ok());
  ASSERT_TRUE(task->flush().is_ok());
  // The dropped batch is not sent again with the next one.
  EXPECT_EQ(api.bodies(), (std::vector<std::string>{"[a]", "[b]"}));
}

// The runtime's side of KIP-610 as a task sees it: records reported, and
// the answer errors.tolerance would give.
class FakeReporter final : public ErrantRecordReporter {
 public:
  Status report(const ConnectRecord& record, const Status& error) override {
    reported.push_back({record.value.to_string(), error.message()});
    return tolerate ? Status::ok() : Status(Errc::invalid_value, "Tolerance exceeded");
  }
  std::vector<std::pair<std::string, std::string>> reported;
  bool tolerate = true;
};

std::unique_ptr<SinkTask> started_sink_reporting(const Properties& config,
                                                 ErrantRecordReporter& reporter) {
  auto connector = find_connector_plugin("HttpSink")->make();
  EXPECT_TRUE(connector->start(config).is_ok());
  auto task = connector->make_sink_task();
  task->set_errant_record_reporter(&reporter);
  EXPECT_TRUE(task->start(connector->task_configs(1).at(0)).is_ok());
  return task;
}

TEST(HttpSink, PermanentFailuresAreReportedRecordByRecordWithAReporter) {
  FakeApi api;
  api.answer_with({400, 503, 503});
  Properties config = sink_config(api.url());
  config["batch.max.size"] = "2";
  config["max.retries"] = "1";
  FakeReporter reporter;
  auto task = started_sink_reporting(config, reporter);
  // [a,b] answered 400: both reported, nothing fails, nothing is resent.
  ASSERT_TRUE(task->put(string_records({"a", "b"})).is_ok());
  ASSERT_EQ(reporter.reported.size(), 2u);
  EXPECT_EQ(reporter.reported[0].first, "a");
  EXPECT_EQ(reporter.reported[1].first, "b");
  EXPECT_NE(reporter.reported[0].second.find("answered 400: nope"), std::string::npos)
      << reporter.reported[0].second;
  // [c] answered 503 past max.retries: reported too.
  ASSERT_TRUE(task->put(string_records({"c"})).is_ok());
  ASSERT_TRUE(task->flush().is_ok());
  ASSERT_EQ(reporter.reported.size(), 3u);
  EXPECT_EQ(reporter.reported[2].first, "c");
  EXPECT_NE(reporter.reported[2].second.find("after 1 retries"), std::string::npos);
  // The next batch goes alone.
  ASSERT_TRUE(task->put(string_records({"d", "e"})).is_ok());
  EXPECT_EQ(api.bodies(), (std::vector<std::string>{"[a,b]", "[c]", "[c]", "[d,e]"}));

  // errors.tolerance=none: the report's error is the put's.
  api.answer_with({400});
  reporter.tolerate = false;
  Status put = task->put(string_records({"f", "g"}));
  ASSERT_FALSE(put.is_ok());
  EXPECT_EQ(put.message(), "Tolerance exceeded");
  EXPECT_EQ(reporter.reported.back().first, "f");
}

TEST(HttpSink, RefusedConnectionsAreRetriedThenHandled) {
  // A port nothing listens on: bound, never listened, closed.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(fd);
  Properties config =
      sink_config("http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/x");
  config["max.retries"] = "1";
  auto failing = started_sink(config);
  Status put = failing->put(string_records({"a"}));
  ASSERT_FALSE(put.is_ok());
  EXPECT_NE(put.message().find("failed"), std::string::npos) << put.message();
  EXPECT_NE(put.message().find("after 1 retries"), std::string::npos) << put.message();

  config["behavior.on.error"] = "ignore";
  auto ignoring = started_sink(config);
  EXPECT_TRUE(ignoring->put(string_records({"a"})).is_ok());
}

TEST(HttpSink, StopCutsARetryWaitShort) {
  FakeApi api;
  api.answer_with(std::vector<int>(20, 503));
  Properties config = sink_config(api.url());
  config["retry.backoff.ms"] = "10000";
  config["batch.max.size"] = "5";
  auto task = started_sink(config);
  ASSERT_TRUE(task->put(string_records({"a"})).is_ok());
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    task->stop();
  });
  const auto before = std::chrono::steady_clock::now();
  Status flushed = task->flush();
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
  ASSERT_FALSE(flushed.is_ok());
  EXPECT_NE(flushed.message().find("stopped while retrying"), std::string::npos);
}

TEST(HttpSink, RefusedSettings) {
  auto refused = [](const Properties& config) {
    auto task = start_sink(config);
    EXPECT_FALSE(task.is_ok());
    return task.is_ok() ? std::string() : task.status().message();
  };
  Properties config = sink_config("ftp://example.com/x");
  EXPECT_NE(refused(config).find("http.api.url"), std::string::npos);
  config = sink_config("http://user:pw@example.com/x");
  EXPECT_NE(refused(config).find("http.api.url"), std::string::npos);
  config = sink_config("http://example.com:99999/x");
  EXPECT_NE(refused(config).find("http.api.url"), std::string::npos);
  config = sink_config("http://example.com");
  config["headers"] = "NoColon";
  EXPECT_NE(refused(config).find("headers"), std::string::npos);
  config = sink_config("http://example.com");
  config["batch.max.size"] = "0";
  EXPECT_EQ(refused(config),
            "Invalid value 0 for configuration batch.max.size: Value must be at least 1");
  config = sink_config("http://example.com");
  config["request.method"] = "GET";
  EXPECT_NE(refused(config).find("request.method"), std::string::npos);
  config = sink_config("http://example.com");
  config["behavior.on.error"] = "retry";
  EXPECT_NE(refused(config).find("behavior.on.error"), std::string::npos);
  config = sink_config("http://example.com");
  config.erase("http.api.url");
  EXPECT_EQ(refused(config),
            "Missing required configuration \"http.api.url\" which has no default value.");
}

TEST(HttpSink, FoundByItsNamesAndRunsTasksMaxTasks) {
  const ConnectorPlugin* plugin = find_connector_plugin("HttpSinkConnector");
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->class_name, "io.confluent.connect.http.HttpSinkConnector");
  EXPECT_EQ(plugin->type, ConnectorType::sink);
  auto connector = plugin->make();
  ASSERT_TRUE(connector->start(sink_config("https://example.com/in")).is_ok());
  EXPECT_EQ(connector->task_configs(3).size(), 3u);
}

}  // namespace
}  // namespace sluice::connect::http_sink_testing
