// The REST API against a fake herder: every endpoint's status code and JSON
// shape as Kafka Connect answers, and the refusals (unknown connector,
// conflicts, invalid configurations, bad JSON, wrong method or media type),
// through a real HTTP client on 127.0.0.1.
#include "connect/runtime/rest_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "connect/runtime/loggers.h"
#include "connect/runtime/rest_json.h"

namespace sluice::connect {
namespace {

using Json = nlohmann::ordered_json;

RestError not_found(const std::string& name) { return {404, "Connector " + name + " not found"}; }

// A herder that keeps connectors in a map and records every call, so the
// tests can check both what the server answered and what it asked.
class FakeHerder final : public Herder {
 public:
  struct Entry {
    Properties config;
    std::string state = "RUNNING";
  };

  std::string worker_id() const override { return "127.0.0.1:8083"; }
  std::string kafka_cluster_id() const override { return "cluster-1"; }

  std::vector<std::string> connectors() override {
    std::lock_guard lock(mutex);
    record("connectors");
    std::vector<std::string> names;
    for (const auto& [name, entry] : entries) names.push_back(name);
    return names;
  }

  RestResult<ConnectorInfo> connector_info(const std::string& name) override {
    std::lock_guard lock(mutex);
    record("info " + name);
    auto found = entries.find(name);
    if (found == entries.end()) return not_found(name);
    return info_of(name, found->second);
  }

  RestResult<PutResult> put_connector_config(const std::string& name, const Properties& config,
                                             bool allow_replace) override {
    std::lock_guard lock(mutex);
    record("put " + name + (allow_replace ? " replace" : " create"));
    last_config = config;
    const bool exists = entries.contains(name);
    if (exists && !allow_replace) return RestError{409, "Connector " + name + " already exists"};
    if (name.empty() || config.at("connector.class") == "Invalid")
      return RestError{400,
                       "Connector configuration is invalid and contains the following 1 "
                       "error(s):\nInvalid value Invalid for configuration connector.class\n"};
    entries[name].config = config;
    return PutResult{!exists, info_of(name, entries[name])};
  }

  RestStatus delete_connector(const std::string& name) override {
    std::lock_guard lock(mutex);
    record("delete " + name);
    if (entries.erase(name) == 0) return not_found(name);
    return std::nullopt;
  }

  RestResult<ConnectorStatus> connector_status(const std::string& name) override {
    std::lock_guard lock(mutex);
    record("status " + name);
    if (!entries.contains(name)) return not_found(name);
    return status_of(name, TaskState::running);
  }

  RestResult<std::vector<TaskInfo>> task_configs(const std::string& name) override {
    std::lock_guard lock(mutex);
    record("tasks " + name);
    if (!entries.contains(name)) return not_found(name);
    return std::vector<TaskInfo>{{0, {{"task.key", "a"}}}, {1, {{"task.key", "b"}}}};
  }

  RestStatus pause_connector(const std::string& name) override { return command("pause", name); }
  RestStatus resume_connector(const std::string& name) override { return command("resume", name); }
  RestStatus stop_connector(const std::string& name) override { return command("stop", name); }

  RestResult<ConnectorStatus> restart_connector(const std::string& name, bool include_tasks,
                                                bool only_failed) override {
    std::lock_guard lock(mutex);
    record("restart " + name + (include_tasks ? " tasks" : "") + (only_failed ? " failed" : ""));
    if (!entries.contains(name)) return not_found(name);
    return status_of(name, TaskState::restarting);
  }

  RestStatus restart_task(const std::string& name, int task) override {
    return command("restart-task " + std::to_string(task), name);
  }

  RestResult<std::vector<ConnectorOffset>> connector_offsets(const std::string& name) override {
    std::lock_guard lock(mutex);
    record("offsets " + name);
    if (!entries.contains(name)) return not_found(name);
    return offsets;
  }

  RestStatus alter_connector_offsets(const std::string& name,
                                     const std::vector<ConnectorOffset>& altered) override {
    std::lock_guard lock(mutex);
    record("alter-offsets " + name);
    if (!entries.contains(name)) return not_found(name);
    if (entries[name].state != "STOPPED")
      return RestError{400,
                       "Connectors must be in the STOPPED state before their offsets can be "
                       "modified."};
    offsets = altered;
    return std::nullopt;
  }

  RestStatus reset_connector_offsets(const std::string& name) override {
    std::lock_guard lock(mutex);
    record("reset-offsets " + name);
    if (!entries.contains(name)) return not_found(name);
    offsets.clear();
    return std::nullopt;
  }

  RestResult<ConfigInfos> validate(const std::string& plugin_class,
                                   const Properties& config) override {
    std::lock_guard lock(mutex);
    record("validate " + plugin_class);
    last_config = config;
    if (plugin_class.find("FileStream") == std::string::npos)
      return RestError{400,
                       "Failed to find any class that implements Connector and which name "
                       "matches " +
                           plugin_class};
    ConfigInfos infos{plugin_class, 1, {"Common"}, {}};
    infos.configs.push_back(
        {"name",
         "STRING",
         true,
         std::nullopt,
         "Globally unique name",
         "Common",
         config.contains("name") ? std::optional(config.at("name")) : std::nullopt,
         {}});
    infos.configs.push_back(
        {"file",
         "STRING",
         false,
         std::string(""),
         "The file",
         "",
         std::nullopt,
         {"Missing required configuration \"file\" which has no default value."}});
    return infos;
  }

  std::vector<std::string> take_calls() {
    std::lock_guard lock(mutex);
    return std::exchange(calls, {});
  }

  std::mutex mutex;
  std::map<std::string, Entry> entries;
  std::vector<ConnectorOffset> offsets;
  std::vector<std::string> calls;
  Properties last_config;

 private:
  void record(std::string call) { calls.push_back(std::move(call)); }

  RestStatus command(const std::string& what, const std::string& name) {
    std::lock_guard lock(mutex);
    record(what + " " + name);
    auto found = entries.find(name);
    if (found == entries.end()) return not_found(name);
    if (what == "stop") found->second.state = "STOPPED";
    return std::nullopt;
  }

  static ConnectorInfo info_of(const std::string& name, const Entry& entry) {
    return {name, entry.config, 2, ConnectorType::source};
  }

  ConnectorStatus status_of(const std::string& name, TaskState state) const {
    ConnectorStatus status{name, {state, worker_id(), ""}, {}, ConnectorType::source};
    status.tasks.push_back({0, {state, worker_id(), ""}});
    status.tasks.push_back({1, {TaskState::failed, worker_id(), "java.lang.Exception: boom"}});
    return status;
  }
};

class RestServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RestServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.version = "0.1.0";
    options.commit = "abc123";
    ConnectorPlugin file_source{"org.apache.kafka.connect.file.FileStreamSourceConnector",
                                ConnectorType::source,
                                "0.1.0",
                                {}};
    ConnectorPlugin file_sink{
        "org.apache.kafka.connect.file.FileStreamSinkConnector", ConnectorType::sink, "0.1.0", {}};
    options.plugins = plugin_infos({file_source, file_sink}, "0.1.0");
    server = std::make_unique<RestServer>(herder, options);
    ASSERT_TRUE(server->start().is_ok());
    ASSERT_NE(server->port(), 0);
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
  }

  void TearDown() override { server->stop(); }

  // A connector as a created one is: source, "file" set.
  void add_connector(const std::string& name) {
    herder.entries[name].config = {
        {"name", name}, {"connector.class", "FileStreamSource"}, {"file", "/tmp/in"}};
  }

  static Json body_of(const httplib::Result& result) {
    EXPECT_TRUE(result) << "no answer";
    if (!result || result->body.empty()) return Json();
    return Json::parse(result->body);
  }

  httplib::Result put_json(const std::string& path, const Json& body) {
    return client->Put(path, body.dump(), "application/json");
  }
  httplib::Result patch_json(const std::string& path, const Json& body) {
    return client->Patch(path, body.dump(), "application/json");
  }
  httplib::Result post_json(const std::string& path, const Json& body) {
    return client->Post(path, body.dump(), "application/json");
  }

  static void expect_error(const httplib::Result& result, int status, const std::string& message) {
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, status);
    EXPECT_EQ(body_of(result), (Json{{"error_code", status}, {"message", message}}));
  }

  FakeHerder herder;
  std::unique_ptr<RestServer> server;
  std::unique_ptr<httplib::Client> client;
};

TEST_F(RestServerTest, RootAnswersVersionCommitAndCluster) {
  auto result = client->Get("/");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(result->body,
            R"({"version":"0.1.0","commit":"abc123","kafka_cluster_id":"cluster-1"})");
}

TEST_F(RestServerTest, CreateAnswers201WithConnectorInfo) {
  auto result = post_json(
      "/connectors",
      {{"name", "  local-file "},
       {"config",
        {{"connector.class", "FileStreamSource"}, {"tasks.max", 2}, {"file", "/tmp/in"}}}});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 201);
  EXPECT_EQ(result->get_header_value("Location"),
            "http://127.0.0.1:" + std::to_string(server->port()) + "/connectors/local-file");
  // Kafka's order: name, config, tasks, type; the name trimmed and added to
  // the config; numbers read as their text.
  EXPECT_EQ(
      result->body,
      R"({"name":"local-file","config":{"connector.class":"FileStreamSource","file":"/tmp/in",)"
      R"("name":"local-file","tasks.max":"2"},"tasks":[{"connector":"local-file","task":0},)"
      R"({"connector":"local-file","task":1}],"type":"source"})");
  EXPECT_EQ(herder.take_calls(), std::vector<std::string>{"put local-file create"});

  expect_error(post_json("/connectors", {{"name", "local-file"},
                                         {"config", {{"connector.class", "FileStreamSource"}}}}),
               409, "Connector local-file already exists");
}

TEST_F(RestServerTest, CreateRefusesInvalidConfigsAndMismatchedNames) {
  expect_error(
      post_json("/connectors", {{"name", "x"}, {"config", {{"connector.class", "Invalid"}}}}), 400,
      "Connector configuration is invalid and contains the following 1 error(s):\n"
      "Invalid value Invalid for configuration connector.class\n");
  expect_error(post_json("/connectors",
                         {{"name", "x"}, {"config", {{"name", "y"}, {"connector.class", "A"}}}}),
               400, "Connector name configuration (y) doesn't match connector name in the URL (x)");
  expect_error(post_json("/connectors", {{"name", "x"}}), 400,
               "Cannot deserialize the request body: \"config\" is required");
  expect_error(post_json("/connectors", {{"name", "x"}, {"config", {{"a", {{"b", 1}}}}}}), 400,
               "Cannot deserialize the request body: the value of \"a\" must be a string, not "
               "object");
  // No name: the herder's validation refuses the empty one.
  auto result = post_json("/connectors", {{"config", {{"connector.class", "FileStreamSource"}}}});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 400);
  EXPECT_EQ(herder.last_config.at("name"), "");
}

TEST_F(RestServerTest, CreateWithInitialStatePausesOrStops) {
  auto result = post_json("/connectors", {{"name", "a"},
                                          {"config", {{"connector.class", "FileStreamSource"}}},
                                          {"initial_state", "stopped"}});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 201);
  EXPECT_EQ(herder.take_calls(), (std::vector<std::string>{"put a create", "stop a"}));
  expect_error(post_json("/connectors", {{"name", "b"},
                                         {"config", {{"connector.class", "FileStreamSource"}}},
                                         {"initial_state", "SLEEPING"}}),
               400,
               "Cannot deserialize the request body: \"initial_state\" must be one of RUNNING, "
               "PAUSED, STOPPED");
}

TEST_F(RestServerTest, ListsConnectorsPlainAndExpanded) {
  add_connector("a");
  add_connector("b");
  EXPECT_EQ(body_of(client->Get("/connectors")), Json::parse(R"(["a","b"])"));

  Json status = body_of(client->Get("/connectors?expand=status"));
  ASSERT_TRUE(status.contains("a"));
  EXPECT_EQ(status["a"].size(), 1u);
  EXPECT_EQ(status["a"]["status"]["connector"]["state"], "RUNNING");

  Json info = body_of(client->Get("/connectors?expand=info"));
  EXPECT_EQ(info["b"]["info"]["name"], "b");
  EXPECT_FALSE(info["b"].contains("status"));

  Json both = body_of(client->Get("/connectors?expand=status&expand=info&expand=other"));
  EXPECT_TRUE(both["a"].contains("status"));
  EXPECT_TRUE(both["a"].contains("info"));
  EXPECT_EQ(both["a"].size(), 2u);
}

TEST_F(RestServerTest, GetAndDeleteConnector) {
  add_connector("a");
  Json info = body_of(client->Get("/connectors/a"));
  EXPECT_EQ(info["name"], "a");
  EXPECT_EQ(info["type"], "source");
  EXPECT_EQ(info["tasks"],
            Json::parse(R"([{"connector":"a","task":0},{"connector":"a","task":1}])"));
  expect_error(client->Get("/connectors/nope"), 404, "Connector nope not found");

  auto deleted = client->Delete("/connectors/a");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 204);
  EXPECT_TRUE(deleted->body.empty());
  expect_error(client->Delete("/connectors/a"), 404, "Connector a not found");
}

TEST_F(RestServerTest, ConnectorNamesArePercentDecoded) {
  add_connector("my connector");
  EXPECT_EQ(body_of(client->Get("/connectors/my%20connector"))["name"], "my connector");
}

TEST_F(RestServerTest, ConfigGetPutAndPatch) {
  add_connector("a");
  EXPECT_EQ(body_of(client->Get("/connectors/a/config")),
            (Json{{"connector.class", "FileStreamSource"}, {"file", "/tmp/in"}, {"name", "a"}}));

  // PUT on an existing connector: 200; on a new one: 201.
  auto updated = put_json("/connectors/a/config",
                          {{"connector.class", "FileStreamSource"}, {"file", "/tmp/other"}});
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->status, 200);
  EXPECT_EQ(body_of(updated)["config"]["name"], "a");
  auto created = put_json("/connectors/b/config", {{"connector.class", "FileStreamSource"}});
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201);
  EXPECT_EQ(herder.take_calls(),
            (std::vector<std::string>{"info a", "put a replace", "put b replace"}));
  expect_error(put_json("/connectors/a/config", {{"name", "b"}}), 400,
               "Connector name configuration (b) doesn't match connector name in the URL (a)");

  // PATCH merges; null removes a key.
  auto patched = patch_json("/connectors/a/config", {{"file", nullptr}, {"topic", "t"}});
  ASSERT_TRUE(patched);
  EXPECT_EQ(patched->status, 200);
  EXPECT_EQ(body_of(patched)["config"],
            (Json{{"connector.class", "FileStreamSource"}, {"name", "a"}, {"topic", "t"}}));
  expect_error(patch_json("/connectors/nope/config", {{"topic", "t"}}), 404,
               "Connector nope not found");
}

TEST_F(RestServerTest, StatusAndTaskStatus) {
  add_connector("a");
  auto result = client->Get("/connectors/a/status");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body,
            R"({"name":"a","connector":{"state":"RUNNING","worker_id":"127.0.0.1:8083"},)"
            R"("tasks":[{"id":0,"state":"RUNNING","worker_id":"127.0.0.1:8083"},)"
            R"({"id":1,"state":"FAILED","worker_id":"127.0.0.1:8083",)"
            R"("trace":"java.lang.Exception: boom"}],"type":"source"})");
  EXPECT_EQ(body_of(client->Get("/connectors/a/tasks/1/status")),
            Json::parse(R"({"id":1,"state":"FAILED","worker_id":"127.0.0.1:8083",)"
                        R"("trace":"java.lang.Exception: boom"})"));
  expect_error(client->Get("/connectors/a/tasks/7/status"), 404, "No status found for task a-7");
  expect_error(client->Get("/connectors/nope/status"), 404, "Connector nope not found");
  expect_error(client->Get("/connectors/a/tasks/x/status"), 404, "HTTP 404 Not Found");
}

TEST_F(RestServerTest, RestartAnswers204OrTheStatus) {
  add_connector("a");
  auto plain = client->Post("/connectors/a/restart");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 204);
  EXPECT_TRUE(plain->body.empty());
  auto with_tasks = client->Post("/connectors/a/restart?includeTasks=true&onlyFailed=false");
  ASSERT_TRUE(with_tasks);
  EXPECT_EQ(with_tasks->status, 202);
  EXPECT_EQ(body_of(with_tasks)["connector"]["state"], "RESTARTING");
  auto only_failed = client->Post("/connectors/a/restart?onlyFailed=TRUE");
  ASSERT_TRUE(only_failed);
  EXPECT_EQ(only_failed->status, 202);
  EXPECT_EQ(herder.take_calls(),
            (std::vector<std::string>{"restart a", "restart a tasks", "restart a failed"}));
  expect_error(client->Post("/connectors/nope/restart"), 404, "Connector nope not found");
}

TEST_F(RestServerTest, PauseResumeStopAndTaskRestart) {
  add_connector("a");
  for (const auto& [path, status] :
       std::vector<std::pair<std::string, int>>{{"/connectors/a/pause", 202},
                                                {"/connectors/a/resume", 202},
                                                {"/connectors/a/stop", 204}}) {
    auto result = client->Put(path);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, status) << path;
    EXPECT_TRUE(result->body.empty()) << path;
  }
  auto task = client->Post("/connectors/a/tasks/1/restart");
  ASSERT_TRUE(task);
  EXPECT_EQ(task->status, 204);
  EXPECT_EQ(herder.take_calls(),
            (std::vector<std::string>{"pause a", "resume a", "stop a", "restart-task 1 a"}));
  expect_error(client->Put("/connectors/nope/pause"), 404, "Connector nope not found");
}

TEST_F(RestServerTest, TaskConfigs) {
  add_connector("a");
  EXPECT_EQ(body_of(client->Get("/connectors/a/tasks")),
            Json::parse(R"([{"id":{"connector":"a","task":0},"config":{"task.key":"a"}},)"
                        R"({"id":{"connector":"a","task":1},"config":{"task.key":"b"}}])"));
  expect_error(client->Get("/connectors/nope/tasks"), 404, "Connector nope not found");
}

TEST_F(RestServerTest, OffsetsKeepIntegersIntegers) {
  add_connector("a");
  herder.offsets.push_back(
      {Map{{Value("filename"), Value("in.txt")}}, Map{{Value("position"), Value(int64_t{30})}}});
  herder.offsets.push_back(
      {Map{{Value("kafka_topic"), Value("t")}, {Value("kafka_partition"), Value(int32_t{1})}},
       std::nullopt});
  EXPECT_EQ(client->Get("/connectors/a/offsets")->body,
            R"({"offsets":[{"partition":{"filename":"in.txt"},"offset":{"position":30}},)"
            R"({"partition":{"kafka_topic":"t","kafka_partition":1},"offset":null}]})");

  const Json alter = Json::parse(
      R"({"offsets":[{"partition":{"filename":"in.txt"},"offset":{"position":9007199254740993,)"
      R"("ratio":0.5,"done":false,"note":null}},{"partition":{"kafka_topic":"t"},"offset":null}]})");
  expect_error(patch_json("/connectors/a/offsets", alter), 400,
               "Connectors must be in the STOPPED state before their offsets can be modified.");
  herder.entries["a"].state = "STOPPED";
  auto altered = patch_json("/connectors/a/offsets", alter);
  ASSERT_TRUE(altered);
  EXPECT_EQ(altered->status, 200);
  EXPECT_EQ(altered->body,
            R"({"message":"The offsets for this connector have been altered successfully"})");
  ASSERT_EQ(herder.offsets.size(), 2u);
  const Map& offset = *herder.offsets[0].offset;
  EXPECT_EQ(*map_find(offset, "position"), Value(int64_t{9007199254740993}));
  EXPECT_EQ(*map_find(offset, "ratio"), Value(0.5));
  EXPECT_EQ(*map_find(offset, "done"), Value(false));
  EXPECT_TRUE(map_find(offset, "note")->is_null());
  EXPECT_FALSE(herder.offsets[1].offset.has_value());

  expect_error(patch_json("/connectors/a/offsets", {{"offsets", Json::array()}}), 400,
               "Partitions / offsets need to be provided for an alter offsets request");
  expect_error(patch_json("/connectors/a/offsets", Json::object()), 400,
               "Partitions / offsets need to be provided for an alter offsets request");

  auto reset = client->Delete("/connectors/a/offsets");
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->status, 200);
  EXPECT_EQ(reset->body,
            R"({"message":"The offsets for this connector have been reset successfully"})");
  expect_error(client->Delete("/connectors/nope/offsets"), 404, "Connector nope not found");
}

TEST_F(RestServerTest, ListsPlugins) {
  Json connectors = body_of(client->Get("/connector-plugins"));
  ASSERT_EQ(connectors.size(), 2u);
  // Sinks first, as Kafka lists them.
  EXPECT_EQ(connectors[0], (Json{{"class", "org.apache.kafka.connect.file.FileStreamSinkConnector"},
                                 {"type", "sink"},
                                 {"version", "0.1.0"}}));
  EXPECT_EQ(connectors[1]["type"], "source");

  Json all = body_of(client->Get("/connector-plugins?connectorsOnly=false"));
  std::map<std::string, int> types;
  for (const Json& plugin : all) ++types[plugin["type"].get<std::string>()];
  EXPECT_GT(types["transformation"], 5);
  EXPECT_GT(types["predicate"], 1);
  EXPECT_EQ(types["converter"], 3);
  EXPECT_EQ(types["header_converter"], 3);
}

TEST_F(RestServerTest, ValidatesConfigs) {
  auto result =
      put_json("/connector-plugins/FileStreamSource/config/validate",
               {{"connector.class", "org.apache.kafka.connect.file.FileStreamSourceConnector"},
                {"name", "x"}});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  Json infos = body_of(result);
  EXPECT_EQ(infos["error_count"], 1);
  EXPECT_EQ(infos["groups"], Json::parse(R"(["Common"])"));
  ASSERT_EQ(infos["configs"].size(), 2u);
  EXPECT_EQ(
      infos["configs"][0]["definition"],
      Json::parse(R"({"name":"name","type":"STRING","required":true,"default_value":null,)"
                  R"("importance":null,"documentation":"Globally unique name","group":"Common",)"
                  R"("order":1,"width":"NONE","display_name":"name","dependents":[]})"));
  EXPECT_EQ(infos["configs"][0]["value"],
            Json::parse(R"({"name":"name","value":"x","recommended_values":[],"errors":[],)"
                        R"("visible":true})"));
  EXPECT_EQ(infos["configs"][1]["value"]["errors"][0],
            "Missing required configuration \"file\" which has no default value.");

  // Without connector.class the plugin of the path is validated.
  ASSERT_TRUE(
      put_json("/connector-plugins/FileStreamSinkConnector/config/validate", Json::object()));
  EXPECT_EQ(herder.last_config.at("connector.class"), "FileStreamSinkConnector");

  expect_error(
      put_json("/connector-plugins/FileStreamSink/config/validate",
               {{"connector.class", "FileStreamSource"}}),
      400, "Included connector type FileStreamSource does not match request type FileStreamSink");
  expect_error(put_json("/connector-plugins/Nope/config/validate", Json::object()), 400,
               "Failed to find any class that implements Connector and which name matches Nope");
}

TEST_F(RestServerTest, AdminLoggers) {
  auto saved = spdlog::default_logger()->level();
  Json all = body_of(client->Get("/admin/loggers"));
  ASSERT_TRUE(all.contains("root"));
  EXPECT_TRUE(all["root"]["last_modified"].is_null());

  auto set = put_json("/admin/loggers/root", {{"level", "debug"}});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 200);
  EXPECT_TRUE(body_of(set).is_array());
  EXPECT_NE(body_of(set).dump().find("\"root\""), std::string::npos);
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::debug);
  Json root = body_of(client->Get("/admin/loggers/root"));
  EXPECT_EQ(root["level"], "DEBUG");
  EXPECT_TRUE(root["last_modified"].is_number_integer());

  // A namespace no logger has yet gets one, as log4j creates it.
  auto created = put_json("/admin/loggers/sluice.connect.test", {{"level", "ERROR"}});
  ASSERT_TRUE(created);
  EXPECT_EQ(body_of(created), Json::parse(R"(["sluice.connect.test"])"));
  ASSERT_NE(spdlog::get("sluice.connect.test"), nullptr);
  EXPECT_EQ(spdlog::get("sluice.connect.test")->level(), spdlog::level::err);
  auto cluster = put_json("/admin/loggers/sluice.connect.test?scope=cluster", {{"level", "WARN"}});
  ASSERT_TRUE(cluster);
  EXPECT_EQ(cluster->status, 204);
  spdlog::drop("sluice.connect.test");

  expect_error(client->Get("/admin/loggers/no.such.logger"), 404,
               "Logger no.such.logger not found.");
  expect_error(put_json("/admin/loggers/root", {{"level", "LOUD"}}), 404,
               "invalid log level 'LOUD'.");
  expect_error(put_json("/admin/loggers/root", {{"lvl", "INFO"}}), 400,
               "Desired 'level' parameter was not specified in request.");
  spdlog::default_logger()->set_level(saved);
}

TEST_F(RestServerTest, RefusesUnknownPathsMethodsAndBadBodies) {
  expect_error(client->Get("/nothing/here"), 404, "HTTP 404 Not Found");
  expect_error(client->Delete("/connectors"), 405, "HTTP 405 Method Not Allowed");
  expect_error(client->Post("/connectors/a/status"), 405, "HTTP 405 Method Not Allowed");

  auto malformed = client->Post("/connectors", "{\"name\": \"a\",", "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  EXPECT_EQ(body_of(malformed)["message"].get<std::string>().rfind(
                "Cannot deserialize the request body: [json.exception.parse_error", 0),
            0u);
  expect_error(client->Post("/connectors", "{}", "text/plain"), 415,
               "HTTP 415 Unsupported Media Type");
  expect_error(client->Post("/connectors", "", "application/json"), 400,
               "Cannot deserialize the request body: it is empty");
  expect_error(client->Put("/connectors/a/config", "[1]", "application/json; charset=UTF-8"), 400,
               "Cannot deserialize the request body: expected a JSON object of configuration "
               "values");
  EXPECT_TRUE(herder.take_calls().empty());
}

TEST_F(RestServerTest, ServesConcurrentClients) {
  add_connector("a");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      httplib::Client own("127.0.0.1", server->port());
      for (int j = 0; j < 20; ++j)
        if (auto result = own.Get("/connectors/a/status"); result && result->status == 200) ++ok;
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 80);
}

TEST(RestServerStart, RefusesABusyPort) {
  FakeHerder herder;
  RestServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  RestServer first(herder, options);
  ASSERT_TRUE(first.start().is_ok());
  options.port = first.port();
  RestServer second(herder, options);
  Status refused = second.start();
  EXPECT_FALSE(refused.is_ok());
  EXPECT_NE(refused.message().find("127.0.0.1:" + std::to_string(first.port())), std::string::npos);
}

TEST(RestJson, ValuesRoundTrip) {
  const Json json = Json::parse(
      R"({"i":-5,"big":18446744073709551615,"d":1.25,"s":"x","b":true,"n":null,"l":[1,"a"],"m":{"k":2}})");
  const Value value = rest::value_from_json(json);
  ASSERT_TRUE(value.is<Map>());
  EXPECT_EQ(*map_find(value.as<Map>(), "i"), Value(int64_t{-5}));
  EXPECT_TRUE(map_find(value.as<Map>(), "big")->is<double>());
  EXPECT_EQ(*map_find(value.as<Map>(), "d"), Value(1.25));
  EXPECT_EQ(rest::value_to_json(Value(int8_t{3})), Json(3));
  EXPECT_EQ(rest::value_to_json(Value(Bytes{"hi"})), Json("aGk="));
  Json back = rest::value_to_json(value);
  back.erase("big");
  Json expected = json;
  expected.erase("big");
  EXPECT_EQ(back, expected);
}

TEST_F(RestServerTest, MetricsAnswersTheTasksSeriesAsPrometheusText) {
  RegisteredTaskMetrics task("pipe", 3, ConnectorType::sink);
  task.get().sink_record_send.add(12);
  auto result = client->Get("/metrics");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(
      result->body.find("kafka_connect_sink_task_metrics_sink_record_send_total{connector=\"pipe\","
                        "task=\"3\"} 12\n"),
      std::string::npos)
      << result->body;
  // Kafka's API has no /metrics: other methods are refused as unknown paths are.
  auto posted = client->Post("/metrics", "{}", "application/json");
  ASSERT_TRUE(posted);
  EXPECT_NE(posted->status, 200);
}

}  // namespace
}  // namespace sluice::connect
