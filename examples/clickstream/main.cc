// The clickstream application (README.md beside this file): page views per
// minute, unique users per 5-minute hopping window and clicks enriched with
// their user, written to output topics and shown live on a small page.
//
//   streams-clickstream --bootstrap-server 127.0.0.1:9092
//       [--application-id clickstream] [--http 127.0.0.1:8088 | --http none]
//       [--clicks clicks] [--users users] [--pageviews-output pageviews-per-minute]
//       [--unique-output unique-users-5m] [--enriched-output clicks-enriched]
//       [--parts pageviews,unique,enriched] [--windows 5] [--recent 15]
//       [--set name=value]...
//
// Prints "serving http://HOST:PORT/" once the page is up and "state X" on
// every change of state; runs until SIGINT or SIGTERM; exits 1 if the
// application fails.

#include <chrono>
#include <csignal>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "clickstream_topology.h"
#include "live_view.h"
#include "page_server.h"
#include "streams/kafka_streams.h"

namespace {

volatile std::sig_atomic_t stop_requested = 0;
void request_stop(int) { stop_requested = 1; }

int usage(const std::string& problem) {
  std::cerr << "streams-clickstream: " << problem << "\n"
            << "usage: streams-clickstream --bootstrap-server HOST:PORT [--application-id ID]"
               " [--http HOST:PORT|none] [--clicks TOPIC] [--users TOPIC]"
               " [--pageviews-output TOPIC] [--unique-output TOPIC] [--enriched-output TOPIC]"
               " [--parts pageviews,unique,enriched] [--windows N] [--recent N]"
               " [--set name=value]...\n";
  return 2;
}

struct Options {
  std::map<std::string, std::string> properties = {
      {"application.id", "clickstream"},
      // A click that is not JSON is logged and skipped rather than
      // stopping the demo.
      {"default.deserialization.exception.handler",
       "org.apache.kafka.streams.errors.LogAndContinueExceptionHandler"},
      // Results reach the topics (and the page) about every second.
      {"commit.interval.ms", "1000"},
      // Every update is written (each window's count goes 1, 2, ..., n), as
      // the README says: no record cache.
      {"statestore.cache.max.bytes", "0"}};
  clickstream::Topics topics;
  clickstream::Parts parts;
  std::string http_host = "127.0.0.1";
  int http_port = 8088;
  bool http = true;
  size_t windows = 5;
  size_t recent = 15;
};

bool parse_parts(const std::string& text, clickstream::Parts& parts) {
  parts = {false, false, false};
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    if (part == "pageviews") {
      parts.pageviews = true;
    } else if (part == "unique") {
      parts.unique_users = true;
    } else if (part == "enriched") {
      parts.enriched = true;
    } else {
      return false;
    }
  }
  return true;
}

bool parse_count(const std::string& text, size_t& count) {
  try {
    size_t used = 0;
    unsigned long value = std::stoul(text, &used);
    if (used != text.size() || value == 0 || value > 1000) return false;
    count = value;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool parse_http(const std::string& text, Options& options) {
  if (text == "none") {
    options.http = false;
    return true;
  }
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  std::string digits = text.substr(colon + 1);
  unsigned long port = 0;
  try {
    size_t used = 0;
    port = std::stoul(digits, &used);
    if (used != digits.size()) return false;
  } catch (const std::exception&) {
    return false;
  }
  if (port > 65535 || colon == 0) return false;
  options.http_host = text.substr(0, colon);
  options.http_port = static_cast<int>(port);
  return true;
}

// Returns an empty string, or what is wrong with the command line.
std::string parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return "missing value after " + flag;
    std::string value = argv[++i];
    if (flag == "--bootstrap-server") {
      options.properties["bootstrap.servers"] = value;
    } else if (flag == "--application-id") {
      options.properties["application.id"] = value;
    } else if (flag == "--clicks") {
      options.topics.clicks = value;
    } else if (flag == "--users") {
      options.topics.users = value;
    } else if (flag == "--pageviews-output") {
      options.topics.pageviews_per_minute = value;
    } else if (flag == "--unique-output") {
      options.topics.unique_users = value;
    } else if (flag == "--enriched-output") {
      options.topics.enriched = value;
    } else if (flag == "--parts") {
      if (!parse_parts(value, options.parts)) return "--parts takes pageviews, unique, enriched";
    } else if (flag == "--http") {
      if (!parse_http(value, options)) return "--http takes HOST:PORT or none";
    } else if (flag == "--windows") {
      if (!parse_count(value, options.windows)) return "--windows takes a number from 1 to 1000";
    } else if (flag == "--recent") {
      if (!parse_count(value, options.recent)) return "--recent takes a number from 1 to 1000";
    } else if (flag == "--set") {
      size_t equals = value.find('=');
      if (equals == std::string::npos) return "--set needs name=value";
      options.properties[value.substr(0, equals)] = value.substr(equals + 1);
    } else {
      return "unknown flag " + flag;
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice::streams;  // NOLINT(google-build-using-namespace): an application
  Options options;
  if (std::string problem = parse_options(argc, argv, options); !problem.empty()) {
    return usage(problem);
  }
  StreamsConfig config;
  try {
    config = StreamsConfig::from_properties(options.properties);
  } catch (const std::invalid_argument& e) {
    return usage(e.what());
  }

  clickstream::LiveView view(options.windows, options.recent);
  clickstream::Observers observers{
      [&view] { view.on_click(); },
      [&view](const std::string& id, const nlohmann::json&) { view.on_user(id); },
      [&view](const Windowed<std::string>& page, int64_t views) { view.on_pageviews(page, views); },
      [&view](const Windowed<std::string>& page, int64_t users) {
        view.on_unique_users(page, users);
      },
      [&view](const std::string&, const nlohmann::json& click) { view.on_enriched(click); }};
  StreamsBuilder builder;
  try {
    clickstream::build_topology(builder, options.topics, options.parts, observers);
  } catch (const std::exception& e) {
    std::cerr << "streams-clickstream: " << e.what() << "\n";
    return 1;
  }

  clickstream::PageServer server(view);
  if (options.http) {
    try {
      int port = server.start(options.http_host, options.http_port);
      std::cout << "serving http://" << options.http_host << ":" << port << "/" << std::endl;
    } catch (const std::exception& e) {
      std::cerr << "streams-clickstream: " << e.what() << "\n";
      return 1;
    }
  }

  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  KafkaStreams streams(builder.build(), config);
  try {
    streams.start();
  } catch (const std::exception& e) {
    std::cerr << "streams-clickstream: cannot start: " << e.what() << "\n";
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
      std::cerr << "streams-clickstream: " << streams.error() << "\n";
      streams.close();
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  streams.close();
  server.stop();
  std::cout << "state " << state_name(streams.state()) << std::endl;
  return 0;
}
