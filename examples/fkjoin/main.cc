// Two joins Kafka Streams does without co-partitioned keys:
//  - a foreign-key join (KIP-213): each order ("product|quantity", keyed by
//    order id) meets its product's row (keyed by product id); the output
//    topic holds "quantity x name" per order, and a tombstone when the order
//    or its product goes (so, read as a table, it is the join of both);
//  - a stream-globaltable join: each click ("user|page", keyed by session)
//    meets its user's row in a global table of every partition of `users`;
//    the output holds "page@region" per click that has a user.
//
//   streams-fkjoin --bootstrap-server 127.0.0.1:9092 [--application-id streams-fkjoin]
//       [--orders orders] [--products products] [--orders-output orders-enriched]
//       [--clicks clicks] [--users users] [--clicks-output clicks-enriched]
//       [--set name=value]...
//
// Runs until SIGINT or SIGTERM; exits 1 if the application fails.

#include <csignal>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "streams/dsl.h"
#include "streams/kafka_streams.h"

namespace {

volatile std::sig_atomic_t stop_requested = 0;
void request_stop(int) { stop_requested = 1; }

// "a|b" -> ("a", "b").
std::pair<std::string, std::string> split_bar(const std::string& value) {
  size_t bar = value.find('|');
  if (bar == std::string::npos) return {value, ""};
  return {value.substr(0, bar), value.substr(bar + 1)};
}

int usage(const std::string& problem) {
  std::cerr << "streams-fkjoin: " << problem << "\n"
            << "usage: streams-fkjoin --bootstrap-server HOST:PORT [--application-id ID]"
               " [--orders T] [--products T] [--orders-output T] [--clicks T] [--users T]"
               " [--clicks-output T] [--set name=value]...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice::streams;  // NOLINT(google-build-using-namespace): an application
  std::map<std::string, std::string> properties = {{"application.id", "streams-fkjoin"}};
  std::map<std::string, std::string> topics = {
      {"--orders", "orders"}, {"--products", "products"}, {"--orders-output", "orders-enriched"},
      {"--clicks", "clicks"}, {"--users", "users"},       {"--clicks-output", "clicks-enriched"}};
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return usage("missing value after " + flag);
    std::string value = argv[++i];
    if (flag == "--bootstrap-server") {
      properties["bootstrap.servers"] = value;
    } else if (flag == "--application-id") {
      properties["application.id"] = value;
    } else if (topics.count(flag) != 0) {
      topics[flag] = value;
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
  Consumed strings{serdes::string(), serdes::string()};
  auto orders = builder.table(topics["--orders"], strings);
  auto products = builder.table(topics["--products"], strings);
  orders
      .join(
          products, [](const std::string& order) { return split_bar(order).first; },
          [](const std::string& order, const std::string& name) -> std::optional<std::string> {
            return split_bar(order).second + " x " + name;
          })
      .to_stream()
      .to(topics["--orders-output"],
          Produced{serdes::string(), serdes::optional(serdes::string())});
  auto users = builder.global_table(topics["--users"], strings);
  builder.stream(topics["--clicks"], strings)
      .join(
          users,
          [](const std::string&, const std::string& click) { return split_bar(click).first; },
          [](const std::string& click, const std::string& region) {
            return split_bar(click).second + "@" + region;
          })
      .to(topics["--clicks-output"], Produced{serdes::string(), serdes::string()});

  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  KafkaStreams streams(builder.build(), config);
  try {
    streams.start();
  } catch (const std::exception& e) {
    std::cerr << "streams-fkjoin: cannot start: " << e.what() << "\n";
    return 1;
  }
  KafkaStreams::State last = KafkaStreams::State::created;
  while (stop_requested == 0) {
    KafkaStreams::State state = streams.state();
    if (state != last) {
      std::cout << "state " << state_name(state) << std::endl;
      last = state;
    }
    if (state == KafkaStreams::State::error) {
      std::cerr << "streams-fkjoin: " << streams.error() << "\n";
      streams.close();
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  streams.close();
  std::cout << "state " << state_name(streams.state()) << std::endl;
  return 0;
}
