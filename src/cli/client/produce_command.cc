// sluice produce T: lines from stdin or --file, one message each.

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/number_checks.h"
#include "cli/client/admin.h"
#include "cli/client/commands.h"

namespace sluice::cli::client {
namespace {

struct ProduceOptions {
  ConnectionOptions connection;
  std::string topic;
  std::string file;
  std::string key_separator;
  std::vector<std::string> headers;  // key=value
  int partition = -1;                // RD_KAFKA_PARTITION_UA: the partitioner decides
  std::string acks = "all";
  std::string compression = "none";
};

// Delivery reports, counted by librdkafka's callback on the polling thread.
struct Deliveries {
  uint64_t acknowledged = 0;
  uint64_t failed = 0;
  std::string first_error;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* deliveries = static_cast<Deliveries*>(opaque);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++deliveries->acknowledged;
  } else if (deliveries->failed++ == 0) {
    deliveries->first_error = rd_kafka_err2str(message->err);
  }
}

using Headers = std::unique_ptr<rd_kafka_headers_t, void (*)(rd_kafka_headers_t*)>;

Headers parse_headers(const std::vector<std::string>& settings) {
  Headers headers(rd_kafka_headers_new(settings.size()), rd_kafka_headers_destroy);
  for (const std::string& setting : settings) {
    auto [key, value] = split_setting(setting, "-H");
    rd_kafka_header_add(headers.get(), key.data(), static_cast<ssize_t>(key.size()), value.data(),
                        value.size());
  }
  return headers;
}

class LineProducer {
 public:
  LineProducer(const ProduceOptions& options, rd_kafka_t* client, const rd_kafka_headers_t* headers)
      : options_(options), client_(client), headers_(headers) {}

  void send(const std::string& line, uint64_t line_number) {
    std::string_view key, value = line;
    bool has_key = !options_.key_separator.empty();
    if (has_key) {
      size_t at = line.find(options_.key_separator);
      if (at == std::string::npos) {
        throw CommandError("line " + std::to_string(line_number) + " has no key separator '" +
                           options_.key_separator + "'");
      }
      key = std::string_view(line).substr(0, at);
      value = std::string_view(line).substr(at + options_.key_separator.size());
    }
    for (;;) {
      rd_kafka_headers_t* copy = headers_ != nullptr ? rd_kafka_headers_copy(headers_) : nullptr;
      rd_kafka_resp_err_t err = rd_kafka_producev(
          client_, RD_KAFKA_V_TOPIC(options_.topic.c_str()), RD_KAFKA_V_PARTITION(options_.partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(has_key ? key.data() : nullptr, has_key ? key.size() : 0),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(copy),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
      if (copy != nullptr) rd_kafka_headers_destroy(copy);  // not taken on failure
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) check(err, "produce to '" + options_.topic + "'");
      rd_kafka_poll(client_, 100);  // the queue drains as deliveries complete
    }
  }

 private:
  const ProduceOptions& options_;
  rd_kafka_t* client_;
  const rd_kafka_headers_t* headers_;
};

void show_progress(uint64_t sent, const Deliveries& deliveries, bool final_line) {
  std::fprintf(stderr, "\rsent %llu, acknowledged %llu%s", static_cast<unsigned long long>(sent),
               static_cast<unsigned long long>(deliveries.acknowledged), final_line ? "\n" : "");
}

void produce(const ProduceOptions& options) {
  Deliveries deliveries;
  KafkaHandle client = make_client(
      options.connection, Role::kProducer,
      {{"acks", options.acks}, {"compression.codec", options.compression}, {"linger.ms", "5"},
       {"message.timeout.ms", "60000"}},
      [&deliveries](rd_kafka_conf_t* conf) {
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, &deliveries);
      });
  int partitions = topic_partition_count(client.get(), options.connection, options.topic);
  if (options.partition >= partitions) {
    throw CommandError("topic '" + options.topic + "' has no partition " +
                       std::to_string(options.partition) + " (" + std::to_string(partitions) +
                       " partitions)");
  }
  std::ifstream file;
  if (!options.file.empty()) {
    file.open(options.file);
    if (!file) throw CommandError("cannot open " + options.file);
  }
  std::istream& input = options.file.empty() ? std::cin : file;
  Headers headers = parse_headers(options.headers);
  LineProducer producer(options, client.get(), options.headers.empty() ? nullptr : headers.get());
  bool progress = stderr_is_terminal() && !options.file.empty();
  auto next_progress = std::chrono::steady_clock::now();
  uint64_t sent = 0;
  for (std::string line; std::getline(input, line);) {
    producer.send(line, ++sent);
    rd_kafka_poll(client.get(), 0);
    if (progress && std::chrono::steady_clock::now() >= next_progress) {
      show_progress(sent, deliveries, false);
      next_progress += std::chrono::milliseconds(250);
    }
  }
  rd_kafka_flush(client.get(), 60000 + options.connection.timeout_ms());
  if (progress) show_progress(sent, deliveries, true);
  if (deliveries.failed > 0 || deliveries.acknowledged != sent) {
    throw CommandError(std::to_string(sent - deliveries.acknowledged) + " of " + std::to_string(sent) +
                       " messages not delivered to '" + options.topic + "'" +
                       (deliveries.first_error.empty() ? "" : ": " + deliveries.first_error));
  }
  std::printf("Produced %llu messages to %s.\n", static_cast<unsigned long long>(sent), options.topic.c_str());
}

}  // namespace

void add_produce_command(CLI::App& app, Action& action) {
  auto options = std::make_shared<ProduceOptions>();
  CLI::App* command = app.add_subcommand("produce", "Send lines from stdin or a file as messages");
  add_connection_options(command, options->connection, false);
  command->add_option("topic", options->topic, "Topic")->required();
  command->add_option("--file", options->file, "Read lines from this file instead of stdin");
  command->add_option("--key-separator", options->key_separator,
                      "Split each line into key and value at the first occurrence of this string");
  command->add_option("-H,--header", options->headers, "Header key=value on every message (repeatable)");
  command->add_option("-p,--partition", options->partition, "Partition (default: by key, or sticky)")
      ->check(non_negative_number());
  command->add_option("--acks", options->acks, "0, 1 or all")->capture_default_str()
      ->check(CLI::IsMember({"0", "1", "all", "-1"}));
  command->add_option("--compression", options->compression, "none, gzip, snappy, lz4 or zstd")
      ->capture_default_str()->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
  command->callback([&action, options] { action = {"produce", [options] { produce(*options); }}; });
}

}  // namespace sluice::cli::client
