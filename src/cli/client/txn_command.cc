// sluice txn list | describe: Kafka's kafka-transactions.sh list and
// describe (ListTransactions to every broker, FindCoordinator for the
// transactional id then DescribeTransactions to its coordinator), with the
// tool's columns.

#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "base/error_code.h"
#include "cli/client/commands.h"
#include "cli/client/kafka_wire.h"
#include "cli/client/output.h"
#include "protocol/messages/describe_transactions_request.h"
#include "protocol/messages/describe_transactions_response.h"
#include "protocol/messages/find_coordinator_request.h"
#include "protocol/messages/find_coordinator_response.h"
#include "protocol/messages/list_transactions_request.h"
#include "protocol/messages/list_transactions_response.h"

namespace sluice::cli::client {
namespace {

struct TxnOptions {
  ConnectionOptions connection;
  std::string transactional_id;
  std::optional<int64_t> duration_filter_ms;
};

std::string error_text(int16_t code) { return error_name(static_cast<ErrorCode>(code)); }

// --- list ---

void list_transactions(const TxnOptions& options) {
  protocol::MetadataResponse metadata =
      fetch_metadata(options.connection, std::vector<std::string>{});
  protocol::ListTransactionsRequest request;
  if (options.duration_filter_ms) request.duration_filter = *options.duration_filter_ms;
  Table table({"TransactionalId", "Coordinator", "ProducerId", "TransactionState"});
  Json rows = Json::array();
  // Each broker answers for the __transaction_state partitions it leads.
  for (const auto& broker : metadata.brokers) {
    const std::string address = broker.host + ":" + std::to_string(broker.port);
    protocol::ListTransactionsResponse answer =
        WireConnection::open(options.connection, address)->call(request);
    if (answer.error_code != 0)
      throw CommandError("broker " + std::to_string(broker.node_id) + ": " +
                         error_text(answer.error_code));
    for (const auto& state : answer.transaction_states) {
      table.add({state.transactional_id, std::to_string(broker.node_id),
                 std::to_string(state.producer_id), state.transaction_state});
      rows.push_back({{"transactional_id", state.transactional_id},
                      {"coordinator", broker.node_id},
                      {"producer_id", state.producer_id},
                      {"state", state.transaction_state}});
    }
  }
  if (options.connection.json) return print_json(rows);
  table.print();
}

// --- describe ---

// The coordinator of `transactional_id`: node id and "host:port".
std::pair<int32_t, std::string> find_coordinator(const TxnOptions& options) {
  protocol::FindCoordinatorRequest request;
  request.key_type = 1;
  request.key = options.transactional_id;
  request.coordinator_keys = {options.transactional_id};
  // The broker creates __transaction_state on the first lookup and answers
  // COORDINATOR_NOT_AVAILABLE meanwhile: retried within the timeout.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options.connection.timeout_ms());
  for (;;) {
    protocol::FindCoordinatorResponse answer =
        WireConnection::open(options.connection)->call(request);
    int16_t error = answer.error_code;
    int32_t node = answer.node_id;
    std::string host = answer.host;
    int32_t port = answer.port;
    if (!answer.coordinators.empty()) {
      const auto& only = answer.coordinators.front();
      error = only.error_code;
      node = only.node_id;
      host = only.host;
      port = only.port;
    }
    if (error == 0) return {node, host + ":" + std::to_string(port)};
    if (error != to_wire(ErrorCode::COORDINATOR_NOT_AVAILABLE) ||
        std::chrono::steady_clock::now() > deadline)
      throw CommandError("no coordinator for transactional id '" + options.transactional_id +
                         "': " + error_text(error));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void describe_transaction(const TxnOptions& options) {
  auto [coordinator, address] = find_coordinator(options);
  protocol::DescribeTransactionsRequest request;
  request.transactional_ids = {options.transactional_id};
  protocol::DescribeTransactionsResponse answer =
      WireConnection::open(options.connection, address)->call(request);
  if (answer.transaction_states.empty()) throw CommandError("no answer for the transactional id");
  const auto& state = answer.transaction_states.front();
  if (state.error_code != 0)
    throw CommandError("failed to describe transaction state of transactional-id `" +
                       options.transactional_id + "`: " + error_text(state.error_code));
  std::string partitions;
  for (const auto& topic : state.topics)
    for (int32_t partition : topic.partitions)
      partitions += (partitions.empty() ? "" : ",") + topic.topic + "-" + std::to_string(partition);
  // Kafka's tool: the start time and duration only while a transaction runs.
  std::string start = "None";
  std::string duration = "None";
  if (state.transaction_start_time_ms >= 0) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    start = std::to_string(state.transaction_start_time_ms);
    duration = std::to_string(now_ms - state.transaction_start_time_ms);
  }
  if (options.connection.json) {
    return print_json({{"coordinator", coordinator},
                       {"transactional_id", state.transactional_id},
                       {"producer_id", state.producer_id},
                       {"producer_epoch", state.producer_epoch},
                       {"state", state.transaction_state},
                       {"timeout_ms", state.transaction_timeout_ms},
                       {"start_time_ms", state.transaction_start_time_ms},
                       {"topic_partitions", partitions}});
  }
  Table table({"CoordinatorId", "TransactionalId", "ProducerId", "ProducerEpoch",
               "TransactionState", "TransactionTimeoutMs", "CurrentTransactionStartTimeMs",
               "TransactionDurationMs", "TopicPartitions"});
  table.add({std::to_string(coordinator), state.transactional_id, std::to_string(state.producer_id),
             std::to_string(state.producer_epoch), state.transaction_state,
             std::to_string(state.transaction_timeout_ms), start, duration, partitions});
  table.print();
}

}  // namespace

void add_txn_commands(CLI::App& app, Action& action) {
  CLI::App* txn = app.add_subcommand("txn", "Transactions (kafka-transactions.sh)");
  txn->require_subcommand(1);

  auto list_options = std::make_shared<TxnOptions>();
  CLI::App* list =
      txn->add_subcommand("list", "List transactions (ListTransactions, every broker)");
  add_connection_options(list, list_options->connection, true);
  list->add_option("--duration-filter", list_options->duration_filter_ms,
                   "Only transactions running longer than this many ms");
  list->callback([&action, list_options] {
    action = {"txn list", [list_options] { list_transactions(*list_options); }};
  });

  auto describe_options = std::make_shared<TxnOptions>();
  CLI::App* describe =
      txn->add_subcommand("describe", "Describe a transaction (DescribeTransactions)");
  add_connection_options(describe, describe_options->connection, true);
  describe
      ->add_option("--transactional-id", describe_options->transactional_id, "The transactional id")
      ->required();
  describe->callback([&action, describe_options] {
    action = {"txn describe", [describe_options] { describe_transaction(*describe_options); }};
  });
}

}  // namespace sluice::cli::client
