// Kafka's WordCountDemo: lines from an input topic, split into lower-case
// words, counted per word; every new count goes to the output topic (a
// String key and a Long value, as Kafka's demo writes them). As Kafka's
// demo, the record cache is off (statestore.cache.max.bytes=0), so every
// intermediate count is written.
//
//   streams-wordcount --bootstrap-server 127.0.0.1:9092 \
//       [--input streams-plaintext-input] [--output streams-wordcount-output]
//       [--application-id streams-wordcount] [--application-server HOST:PORT]
//       [--set name=value]...
//
// Runs until SIGINT or SIGTERM; exits 1 if the application fails. SIGUSR1
// prints the count store through an interactive query ("query counts-store
// N entries", a "count <word> <n>" line each, "query end"). The store is
// RocksDB under `state.dir` (`--set state.dir=DIR`; Kafka's default
// /tmp/kafka-streams).
//
// --application-server HOST:PORT (Kafka's application.server; as Kafka's
// WordCountInteractiveQueriesExample) serves queries over HTTP there, each
// instance its own, every instance telling where a word's count lives:
//   GET /count/<word>  200 {"word", "count", "host"} from this instance's
//                      store when it runs the word's partition (404 with
//                      "count": null for a word not counted yet); else 307
//                      to http://<owner>/count/<word>, {"word", "host"}
//                      naming the owner; 503 while no owner is known
//                      (rebalancing) or the store is not queryable here
//   GET /instances     every instance: {"host", "port", "stores",
//                      "partitions", "standby_stores", "standby_partitions"}

#include <httplib.h>

#include <csignal>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "streams/dsl.h"
#include "streams/kafka_streams.h"

namespace {

volatile std::sig_atomic_t stop_requested = 0;
void request_stop(int) { stop_requested = 1; }
volatile std::sig_atomic_t query_requested = 0;
void request_query(int) { query_requested = 1; }

// Every count of this instance's tasks, read while the stream threads run.
void print_counts(const sluice::streams::KafkaStreams& streams) {
  using namespace sluice::streams;  // NOLINT(google-build-using-namespace): an application
  try {
    auto counts = streams.store("counts-store",
                                queryable_store_types::key_value_store<std::string, int64_t>());
    std::vector<std::pair<std::string, int64_t>> all = counts.all();
    std::cout << "query counts-store " << all.size() << " entries\n";
    for (const auto& [word, count] : all) std::cout << "count " << word << " " << count << "\n";
    std::cout << "query end" << std::endl;
  } catch (const InvalidStateStoreException& e) {
    std::cout << "query failed: " << e.what() << std::endl;
  }
}

nlohmann::json partitions_json(const std::set<sluice::streams::TopicPartition>& partitions) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& partition : partitions) {
    out.push_back({{"topic", partition.topic}, {"partition", partition.partition}});
  }
  return out;
}

void reply(httplib::Response& response, int status, const nlohmann::json& body) {
  response.status = status;
  response.set_content(body.dump(), "application/json");
}

// GET /count/<word>: the count from this instance's store when it runs the
// word's partition, else where it lives (Kafka's queryMetadataForKey).
void answer_count(const sluice::streams::KafkaStreams& streams,
                  const sluice::streams::HostInfo& self, const std::string& word,
                  httplib::Response& response) {
  using namespace sluice::streams;  // NOLINT(google-build-using-namespace): an application
  std::optional<KeyQueryMetadata> where =
      streams.query_metadata_for_key("counts-store", word, serdes::string());
  if (!where || where->active_host == HostInfo::unavailable()) {
    return reply(response, 503, {{"word", word}, {"error", "no owner known yet (rebalancing)"}});
  }
  const std::string owner = where->active_host.to_string();
  if (where->active_host != self) {
    response.set_header("Location", "http://" + owner + "/count/" + word);
    return reply(response, 307, {{"word", word}, {"host", owner}});
  }
  auto counts = streams.store(
      StoreQueryParameters<queryable_store_types::KeyValueStoreType<std::string, int64_t>>::
          from_name_and_type("counts-store",
                             queryable_store_types::key_value_store<std::string, int64_t>())
              .with_partition(where->partition));
  std::optional<int64_t> count = counts.get(word);
  reply(response, count ? 200 : 404,
        {{"word", word},
         {"count", count ? nlohmann::json(*count) : nlohmann::json()},
         {"host", owner}});
}

// GET /instances: every instance of the application (Kafka's
// metadataForAllStreamsClients).
void answer_instances(const sluice::streams::KafkaStreams& streams, httplib::Response& response) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& metadata : streams.metadata_for_all_stream_clients()) {
    out.push_back({{"host", metadata.host_info.host},
                   {"port", metadata.host_info.port},
                   {"stores", metadata.state_store_names},
                   {"partitions", partitions_json(metadata.topic_partitions)},
                   {"standby_stores", metadata.standby_state_store_names},
                   {"standby_partitions", partitions_json(metadata.standby_topic_partitions)}});
  }
  reply(response, 200, out);
}

// The query endpoint at application.server, on a thread of its own.
class QueryServer {
 public:
  QueryServer(const sluice::streams::KafkaStreams& streams, sluice::streams::HostInfo self)
      : streams_(streams), self_(std::move(self)) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(2); };
    server_.Get(
        R"(/count/(.+))", [this](const httplib::Request& request, httplib::Response& response) {
          guarded(response, [&] { answer_count(streams_, self_, request.matches[1], response); });
        });
    server_.Get("/instances", [this](const httplib::Request&, httplib::Response& response) {
      guarded(response, [&] { answer_instances(streams_, response); });
    });
    if (!server_.bind_to_port(self_.host, self_.port)) {
      throw std::runtime_error("cannot listen on " + self_.to_string());
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~QueryServer() {
    server_.stop();
    thread_.join();
  }
  QueryServer(const QueryServer&) = delete;
  QueryServer& operator=(const QueryServer&) = delete;

 private:
  // Not queryable now (not running, the store restoring or moving): 503.
  template <class Answer>
  static void guarded(httplib::Response& response, Answer answer) {
    try {
      answer();
    } catch (const std::exception& e) {
      reply(response, 503, {{"error", e.what()}});
    }
  }

  const sluice::streams::KafkaStreams& streams_;
  const sluice::streams::HostInfo self_;
  httplib::Server server_;
  std::thread thread_;
};

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string word; in >> word;) {
    for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    words.push_back(word);
  }
  return words;
}

int usage(const std::string& problem) {
  std::cerr
      << "streams-wordcount: " << problem << "\n"
      << "usage: streams-wordcount --bootstrap-server HOST:PORT [--input TOPIC] [--output TOPIC]"
         " [--application-id ID] [--application-server HOST:PORT] [--set name=value]...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice::streams;  // NOLINT(google-build-using-namespace): an application
  std::map<std::string, std::string> properties = {{"application.id", "streams-wordcount"},
                                                   {"statestore.cache.max.bytes", "0"}};
  std::string input = "streams-plaintext-input";
  std::string output = "streams-wordcount-output";
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return usage("missing value after " + flag);
    std::string value = argv[++i];
    if (flag == "--bootstrap-server") {
      properties["bootstrap.servers"] = value;
    } else if (flag == "--input") {
      input = value;
    } else if (flag == "--output") {
      output = value;
    } else if (flag == "--application-id") {
      properties["application.id"] = value;
    } else if (flag == "--application-server") {
      properties["application.server"] = value;
    } else if (flag == "--set") {
      size_t equals = value.find('=');
      if (equals == std::string::npos) return usage("--set needs name=value");
      properties[value.substr(0, equals)] = value.substr(equals + 1);
    } else {
      return usage("unknown flag " + flag);
    }
  }
  StreamsConfig config;
  try {
    config = StreamsConfig::from_properties(properties);
  } catch (const std::invalid_argument& e) {
    return usage(e.what());
  }

  StreamsBuilder builder;
  builder.stream(input, Consumed{serdes::string(), serdes::string()})
      .flat_map_values(words_of)
      .group_by([](const std::string&, const std::string& word) { return word; })
      .count(Materialized<std::string, int64_t>::as("counts-store"))
      .to_stream()
      .to(output, Produced{serdes::string(), serdes::long_()});

  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  std::signal(SIGUSR1, request_query);
  KafkaStreams streams(builder.build(), config);
  try {
    streams.start();
  } catch (const std::exception& e) {
    std::cerr << "streams-wordcount: cannot start: " << e.what() << "\n";
    return 1;
  }
  if (streams.metrics_port() != 0) {
    std::cout << "metrics on port " << streams.metrics_port() << std::endl;
  }
  std::unique_ptr<QueryServer> queries;
  if (std::optional<HostInfo> self = host_info_from_endpoint(config.application_server)) {
    try {
      queries = std::make_unique<QueryServer>(streams, *self);
    } catch (const std::exception& e) {
      std::cerr << "streams-wordcount: " << e.what() << "\n";
      streams.close();
      return 1;
    }
    std::cout << "queries on http://" << self->to_string() << std::endl;
  }
  KafkaStreams::State last = KafkaStreams::State::created;
  while (stop_requested == 0) {
    KafkaStreams::State state = streams.state();
    if (state != last) {
      std::cout << "state " << state_name(state) << std::endl;
      last = state;
    }
    if (query_requested != 0) {
      query_requested = 0;
      print_counts(streams);
    }
    if (state == KafkaStreams::State::error) {
      std::cerr << "streams-wordcount: " << streams.error() << "\n";
      queries.reset();
      streams.close();
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  queries.reset();  // no query while the stores close
  streams.close();
  std::cout << "state " << state_name(streams.state()) << std::endl;
  return 0;
}
