// Joins on sluice-streams: ad impressions left-joined with the clicks that
// follow them within 10 s (a stream-stream windowed join), and a users
// table outer-joined with a regions table (a table-table join whose
// deletions reach the output as tombstones).
//
//   streams-joins --bootstrap-server 127.0.0.1:9092 [--prefix P]
//       [--application-id streams-joins] [--set name=value]...
//
// Topics: P-impressions and P-clicks (keyed by ad) -> P-attributed
// ("[impression, click]" or "[impression, null]"; an ad named with a number
// N, "ad7", goes to partition N mod the partition count, so one ad's
// results are on a partition known in advance: a StreamPartitioner);
// P-users and P-regions (keyed by user) -> P-user-regions ("[name, region]",
// either side "null", a tombstone when both are gone).
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

std::string text(const std::string& value) { return value; }
template <class T>
std::string text(const std::optional<T>& value) {
  return value ? text(*value) : "null";
}

// The number an ad's name ends with ("ad17": 17), if any.
std::optional<int32_t> trailing_number(const std::string& name) {
  size_t digits = name.find_last_not_of("0123456789") + 1;
  if (digits == name.size() || name.size() - digits > 9) return std::nullopt;
  return std::stoi(name.substr(digits));
}

int usage(const std::string& problem) {
  std::cerr << "streams-joins: " << problem << "\n"
            << "usage: streams-joins --bootstrap-server HOST:PORT [--prefix P]"
               " [--application-id ID] [--set name=value]...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice::streams;  // NOLINT(google-build-using-namespace): an application
  // Every update is written (tombstones included): no record cache, as the
  // test's models expect.
  std::map<std::string, std::string> properties = {{"application.id", "streams-joins"},
                                                   {"statestore.cache.max.bytes", "0"}};
  std::string prefix = "joins";
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return usage("missing value after " + flag);
    std::string value = argv[++i];
    if (flag == "--bootstrap-server") {
      properties["bootstrap.servers"] = value;
    } else if (flag == "--prefix") {
      prefix = value;
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
  Consumed<std::string, std::string> strings{serdes::string(), serdes::string()};
  auto impressions = builder.stream(prefix + "-impressions", strings);
  auto clicks = builder.stream(prefix + "-clicks", strings);
  impressions
      .left_join(
          clicks,
          [](const std::string& impression, const std::optional<std::string>& click) {
            return "[" + impression + ", " + text(click) + "]";
          },
          // A minute of grace: the test's inputs are never that late.
          JoinWindows::of_time_difference_and_grace(std::chrono::seconds(10),
                                                    std::chrono::minutes(1))
              .before(std::chrono::seconds(0)))
      .to(prefix + "-attributed",
          Produced{serdes::string(), serdes::string()}.with_stream_partitioner(
              single_partition<std::string, std::string>(
                  [](const std::string&, const std::string& ad, const std::string&,
                     int32_t partitions) -> std::optional<int32_t> {
                    std::optional<int32_t> number = trailing_number(ad);
                    if (!number) return std::nullopt;  // the default partitioner
                    return *number % partitions;
                  })));

  auto users = builder.table(prefix + "-users", strings);
  auto regions = builder.table(prefix + "-regions", strings);
  users
      .outer_join(regions,
                  [](const std::optional<std::string>& name,
                     const std::optional<std::string>& region) -> std::optional<std::string> {
                    return "[" + text(name) + ", " + text(region) + "]";
                  })
      .to_stream()
      .to(prefix + "-user-regions", Produced{serdes::string(), serdes::optional(serdes::string())});

  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  KafkaStreams streams(builder.build(), config);
  try {
    streams.start();
  } catch (const std::exception& e) {
    std::cerr << "streams-joins: cannot start: " << e.what() << "\n";
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
      std::cerr << "streams-joins: " << streams.error() << "\n";
      streams.close();
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  streams.close();
  std::cout << "state " << state_name(streams.state()) << std::endl;
  return 0;
}
