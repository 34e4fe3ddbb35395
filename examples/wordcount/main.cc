// Kafka's WordCountDemo: lines from an input topic, split into lower-case
// words, counted per word; every new count goes to the output topic (a
// String key and a Long value, as Kafka's demo writes them). As Kafka's
// demo, the record cache is off (statestore.cache.max.bytes=0), so every
// intermediate count is written.
//
//   streams-wordcount --bootstrap-server 127.0.0.1:9092 \
//       [--input streams-plaintext-input] [--output streams-wordcount-output]
//       [--application-id streams-wordcount] [--set name=value]...
//
// Runs until SIGINT or SIGTERM; exits 1 if the application fails. SIGUSR1
// prints the count store through an interactive query ("query counts-store
// N entries", a "count <word> <n>" line each, "query end"). The store is
// RocksDB under `state.dir` (`--set state.dir=DIR`; Kafka's default
// /tmp/kafka-streams).

#include <csignal>
#include <iostream>
#include <map>
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
         " [--application-id ID] [--set name=value]...\n";
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
      streams.close();
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  streams.close();
  std::cout << "state " << state_name(streams.state()) << std::endl;
  return 0;
}
