// sluice consume T: prints messages, following the topic until Ctrl-C or -n.

#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/number_checks.h"
#include "cli/client/admin.h"
#include "cli/client/commands.h"
#include "cli/client/output.h"

namespace sluice::cli::client {
namespace {

struct ConsumeOptions {
  ConnectionOptions connection;
  std::string topic;
  bool from_beginning = false;
  std::optional<int64_t> offset;
  std::string from_time;
  std::string group;
  int64_t count = -1;  // -1: follow until interrupted
  int partition = -1;
  std::string format = "%v\\n";
};

std::atomic<bool> interrupted{false};

void on_interrupt(int) { interrupted = true; }

std::string_view payload_text(const void* data, size_t size) {
  return data == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(data), size);
}

// Header (name, value) pairs in order; a null value is an empty string.
std::vector<std::pair<std::string, std::string>> message_headers(rd_kafka_message_t* message) {
  std::vector<std::pair<std::string, std::string>> result;
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return result;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    result.emplace_back(name, std::string(payload_text(value, size)));
  }
  return result;
}

// kcat-style: %k key, %v value, %p partition, %o offset, %t timestamp (ms),
// %T topic, %h headers (k=v,k=v), %% a percent; \n, \t and \\ escapes.
std::string format_message(const std::string& format, rd_kafka_message_t* message) {
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if ((c != '%' && c != '\\') || i + 1 == format.size()) {
      out += c;
      continue;
    }
    char next = format[++i];
    if (c == '\\') {
      out += next == 'n' ? '\n' : next == 't' ? '\t' : next;
      continue;
    }
    switch (next) {
      case 'k': out += payload_text(message->key, message->key_len); break;
      case 'v': out += payload_text(message->payload, message->len); break;
      case 'p': out += std::to_string(message->partition); break;
      case 'o': out += std::to_string(message->offset); break;
      case 't': out += std::to_string(rd_kafka_message_timestamp(message, nullptr)); break;
      case 'T': out += rd_kafka_topic_name(message->rkt); break;
      case 'h':
      {
        std::string joined;
        for (const auto& [name, value] : message_headers(message)) {
          joined += (joined.empty() ? "" : ",") + name + "=" + value;
        }
        out += joined;
        break;
      }
      default: out += '%'; out += next;
    }
  }
  return out;
}

Json message_json(rd_kafka_message_t* message) {
  auto bytes_or_null = [](const void* data, size_t size) {
    return data == nullptr ? Json(nullptr) : Json(std::string(payload_text(data, size)));
  };
  Json headers = Json::array();
  for (const auto& [name, value] : message_headers(message)) headers.push_back({{"key", name}, {"value", value}});
  return {{"topic", rd_kafka_topic_name(message->rkt)},
          {"partition", message->partition},
          {"offset", message->offset},
          {"timestamp", rd_kafka_message_timestamp(message, nullptr)},
          {"key", bytes_or_null(message->key, message->key_len)},
          {"value", bytes_or_null(message->payload, message->len)},
          {"headers", headers}};
}

using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)>;

// The partitions to read without a group, each with its start offset.
PartitionList start_positions(rd_kafka_t* client, const ConsumeOptions& options, int partitions) {
  PartitionList list(rd_kafka_topic_partition_list_new(partitions), rd_kafka_topic_partition_list_destroy);
  int64_t start = options.from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
  if (options.offset) start = *options.offset;
  if (!options.from_time.empty()) start = parse_iso8601_ms(options.from_time);
  for (int p = 0; p < partitions; ++p) {
    if (options.partition >= 0 && p != options.partition) continue;
    rd_kafka_topic_partition_list_add(list.get(), options.topic.c_str(), p)->offset = start;
  }
  if (!options.from_time.empty()) {
    // Timestamps in, first offsets at or after them out (-1, the end, when none).
    check(rd_kafka_offsets_for_times(client, list.get(), options.connection.timeout_ms()),
          "offsets for " + options.from_time);
    for (int i = 0; i < list->cnt; ++i) {
      if (list->elems[i].offset < 0) list->elems[i].offset = RD_KAFKA_OFFSET_END;
    }
  }
  return list;
}

void validate(const ConsumeOptions& options, int partitions) {
  if (options.partition >= partitions) {
    throw CommandError("topic '" + options.topic + "' has no partition " + std::to_string(options.partition));
  }
  int starts = (options.from_beginning ? 1 : 0) + (options.offset ? 1 : 0) + (options.from_time.empty() ? 0 : 1);
  if (starts > 1) throw CommandError("give one of --from-beginning, --offset, --from-time");
  if (!options.group.empty() && (options.offset || !options.from_time.empty() || options.partition >= 0)) {
    // As kafka-console-consumer.sh: a group member starts from the group's offsets.
    throw CommandError("--offset, --from-time and --partition cannot be used with -g (a group starts "
                       "from its committed offsets; use `sluice group reset-offsets`)");
  }
}

void start_consuming(rd_kafka_t* client, const ConsumeOptions& options, int partitions) {
  if (options.group.empty()) {
    PartitionList list = start_positions(client, options, partitions);
    check(rd_kafka_assign(client, list.get()), "assign partitions of '" + options.topic + "'");
    return;
  }
  PartitionList topics(rd_kafka_topic_partition_list_new(1), rd_kafka_topic_partition_list_destroy);
  rd_kafka_topic_partition_list_add(topics.get(), options.topic.c_str(), RD_KAFKA_PARTITION_UA);
  check(rd_kafka_subscribe(client, topics.get()), "subscribe to '" + options.topic + "'");
}

// True when the message is data; throws on an error that ends the command.
bool is_data(rd_kafka_message_t* message, const ConsumeOptions& options) {
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
  if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return false;
  if (message->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
      message->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
    throw CommandError("unknown topic '" + options.topic + "'");
  }
  if (message->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    throw CommandError("lost every broker of " + options.connection.bootstrap_servers);
  }
  return false;  // transient (a rebalance, a retried fetch): librdkafka carries on
}

void consume(const ConsumeOptions& options) {
  std::vector<std::pair<std::string, std::string>> defaults = {
      {"enable.partition.eof", "false"},
      {"auto.offset.reset", options.from_beginning ? "earliest" : "latest"}};
  if (options.group.empty()) {
    // librdkafka's assign() wants a group id; without -g nothing is committed
    // and the group never joins, so it stays invisible to the broker.
    defaults.insert(defaults.end(), {{"group.id", "sluice-cli-assign"}, {"enable.auto.commit", "false"}});
  } else {
    defaults.emplace_back("group.id", options.group);
  }
  KafkaHandle client = make_client(options.connection, Role::kConsumer, defaults);
  int partitions = topic_partition_count(client.get(), options.connection, options.topic);
  validate(options, partitions);
  start_consuming(client.get(), options, partitions);
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  int64_t printed = 0;
  while (!interrupted && (options.count < 0 || printed < options.count)) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(client.get(), 100);
    if (message == nullptr) continue;
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> owned(message, rd_kafka_message_destroy);
    if (!is_data(message, options)) continue;
    if (options.connection.json) {
      print_json(message_json(message), true);
    } else {
      std::string text = format_message(options.format, message);
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    std::fflush(stdout);
    ++printed;
  }
  // Commits the group's offsets of what was printed (auto commit).
  rd_kafka_consumer_close(client.get());
}

}  // namespace

void add_consume_command(CLI::App& app, Action& action) {
  auto options = std::make_shared<ConsumeOptions>();
  CLI::App* command = app.add_subcommand("consume", "Print messages of a topic");
  add_connection_options(command, options->connection, true);
  command->add_option("topic", options->topic, "Topic")->required();
  command->add_flag("--from-beginning", options->from_beginning, "Start at the log start offset");
  // As kafka-console-consumer.sh: an offset is 0 or above (librdkafka would
  // take -5 for a logical offset and answer only "Invalid argument").
  command->add_option("--offset", options->offset, "Start every partition (or -p) at this offset (0 or above)")
      ->check(number_check("an offset (0 or above; --from-beginning starts at the earliest)",
                           [](double value) { return value >= 0; }));
  command->add_option("--from-time", options->from_time, "Start at the first message at or after this ISO 8601 time");
  command->add_option("-g,--group", options->group, "Consume as a member of this group (offsets committed)");
  command->add_option("-n,--count", options->count, "Exit after this many messages (default: follow until Ctrl-C)")
      ->check(positive_number());
  command->add_option("-p,--partition", options->partition, "Only this partition")->check(non_negative_number());
  command->add_option("--format", options->format,
                      "Output per message: %k key, %v value, %p partition, %o offset, %t timestamp ms, "
                      "%T topic, %h headers k=v,..; \\n \\t escapes (default '%v\\n')")
      ->capture_default_str();
  command->callback([&action, options] { action = {"consume", [options] { consume(*options); }}; });
}

}  // namespace sluice::cli::client
