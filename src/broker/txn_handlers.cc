// The transaction coordinator's APIs (src/txn/, Kafka's KafkaApis handlers
// for them): FindCoordinator for transactions (key type 1), InitProducerId
// with a transactional id, AddPartitionsToTxn (v0-5, the batched and
// verify-only forms of KIP-890 part 1), AddOffsetsToTxn, EndTxn (v5:
// transactions v2), DescribeTransactions, ListTransactions; and the broker's
// TxnService (open at start, stopped after the server drained).
#include <spdlog/spdlog.h>

#include <map>
#include <mutex>

#include "broker/admin_common.h"
#include "broker/broker.h"
#include "broker/handlers.h"
#include "group/group_coordinator.h"
#include "txn/txn_service.h"

namespace sluice::broker {

using namespace protocol;

namespace {

// Replies from the strand that completes the operation;
// RequestContext::reply may be called from any thread.
template <class Response>
std::function<void(const Response&)> reply_with(RequestContext context) {
  auto shared = std::make_shared<RequestContext>(std::move(context));
  return [shared](const Response& response) { shared->reply(response); };
}

// Kafka answers clients that predate PRODUCER_FENCED (the versions below
// `first_version`) INVALID_PRODUCER_EPOCH instead, as they handle it alike.
int16_t fenced_for(ErrorCode error, int16_t version, int16_t first_version) {
  if (error == ErrorCode::PRODUCER_FENCED && version < first_version)
    return to_wire(ErrorCode::INVALID_PRODUCER_EPOCH);
  return to_wire(error);
}

}  // namespace

Status Broker::open_transactions() {
  txn::TxnServiceOptions options;
  options.clock = environment_.clock;
  txn::TxnConfig& txn = options.txn;
  txn.state_log_partitions =
      static_cast<int32_t>(config_.get_int("transaction.state.log.num.partitions"));
  txn.max_timeout_ms = static_cast<int32_t>(config_.get_int("transaction.max.timeout.ms"));
  txn.id_expiration_ms = config_.get_int("transactional.id.expiration.ms");
  txn.abort_timed_out_interval_ms =
      config_.get_int("transaction.abort.timed.out.transaction.cleanup.interval.ms");
  txn.remove_expired_interval_ms =
      config_.get_int("transaction.remove.expired.transaction.cleanup.interval.ms");
  options.replication_factor =
      static_cast<int16_t>(config_.get_int("transaction.state.log.replication.factor"));
  options.segment_bytes = config_.get_int("transaction.state.log.segment.bytes");
  options.min_isr = static_cast<int32_t>(config_.get_int("transaction.state.log.min.isr"));
  options.node_id = BrokerId{config_.node_id};
  options.lone_node = lone_node();
  auto service = txn::TxnService::open(*controller_, *replica_manager_, txn_producer_ids(),
                                       txn_marker_sender(), options);
  if (!service) return service.status();
  transactions_ = std::move(*service);
  return Status::ok();
}

void Broker::close_transactions() {
  if (transactions_) transactions_->stop();
}

// FindCoordinator for transactions: the leader of the id's
// __transaction_state partition on the listener the request came in on;
// the topic is created on the first lookup (COORDINATOR_NOT_AVAILABLE until
// it exists and its partition has a leader), as Kafka does.
void handle_find_transaction_coordinator(Broker& broker, RequestContext context,
                                         const FindCoordinatorRequest& request) {
  txn::TxnService& transactions = broker.transactions();
  transactions.request_topic();
  const int16_t version = context.api_version();
  std::vector<std::string> keys =
      version >= 4 ? request.coordinator_keys : std::vector<std::string>{request.key};
  const cluster::MetadataImagePtr image = broker.metadata_image();
  const auto addresses = brokers_for_listener(*image, context.connection().listener_name);
  FindCoordinatorResponse response;
  for (const std::string& key : keys) {
    FindCoordinatorResponse::Coordinator out;
    out.key = key;
    const bool denied =
        !broker.authorization().allows(context.connection(), security::AclOperation::DESCRIBE,
                                       security::ResourceType::TRANSACTIONAL_ID, key);
    const int32_t leader =
        transactions.topic_exists() && !denied ? transactions.coordinator_node(key) : -1;
    const BrokerAddress* found = nullptr;
    for (const BrokerAddress& address : addresses)
      if (address.node_id == leader) found = &address;
    if (found != nullptr) {
      out.node_id = found->node_id;
      out.host = found->host;
      out.port = found->port;
      out.error_code = to_wire(ErrorCode::NONE);
      out.error_message = std::nullopt;
    } else {
      out.node_id = -1;
      out.host = "";
      out.port = -1;
      const ErrorCode error = denied ? ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                                     : ErrorCode::COORDINATOR_NOT_AVAILABLE;
      out.error_code = to_wire(error);
      out.error_message = error_name(error);
    }
    response.coordinators.push_back(std::move(out));
  }
  if (version < 4) {
    const auto& only = response.coordinators.front();
    response.error_code = only.error_code;
    response.error_message = only.error_message;
    response.node_id = only.node_id;
    response.host = only.host;
    response.port = only.port;
    response.coordinators.clear();
  }
  context.reply(response);
}

// InitProducerId with a transactional id (the idempotent case is
// init_producer_id.cc's). The request's producer id and epoch are KIP-360's
// expected ones (both or neither: checked by the caller).
void handle_transactional_init_producer_id(Broker& broker, RequestContext context,
                                           const InitProducerIdRequest& request) {
  const int16_t version = context.api_version();
  std::optional<txn::ProducerIdAndEpoch> expected;
  if (request.producer_id != -1) expected = {request.producer_id, request.producer_epoch};
  auto reply = reply_with<InitProducerIdResponse>(std::move(context));
  broker.transactions().coordinator().init_producer_id(
      TransactionalId{request.transactional_id.value_or("")}, request.transaction_timeout_ms,
      expected, [reply, version](txn::TxnProducerResult result) {
        InitProducerIdResponse response;
        response.error_code = fenced_for(result.error, version, 4);
        response.producer_id = result.producer_id;
        response.producer_epoch = result.producer_epoch;
        reply(response);
      });
}

namespace {

using TxnPartitionErrors = std::map<txn::MarkerPartition, ErrorCode>;

AddPartitionsToTxnResponse::AddPartitionsToTxnResult txn_result(const std::string& id,
                                                                const TxnPartitionErrors& errors) {
  AddPartitionsToTxnResponse::AddPartitionsToTxnResult result;
  result.transactional_id = id;
  for (const auto& [partition, error] : errors) {
    if (result.topic_results.empty() || result.topic_results.back().name != partition.topic)
      result.topic_results.emplace_back().name = partition.topic;
    auto& answer = result.topic_results.back().results_by_partition.emplace_back();
    answer.partition_index = partition.partition;
    answer.partition_error_code = to_wire(error);
  }
  return result;
}

// Kafka's check before the coordinator: a partition the metadata does not
// know fails the whole transaction (UNKNOWN_TOPIC_OR_PARTITION for it,
// OPERATION_NOT_ATTEMPTED for the others). Empty when all are known.
TxnPartitionErrors unknown_partitions(const cluster::MetadataImage& image,
                                      const txn::TxnPartitions& partitions) {
  TxnPartitionErrors errors;
  bool any_unknown = false;
  for (const auto& partition : partitions) {
    const cluster::TopicImage* topic = image.topic(partition.topic);
    const bool known = topic != nullptr && topic->partition(partition.partition) != nullptr;
    errors[partition] =
        known ? ErrorCode::OPERATION_NOT_ATTEMPTED : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
    any_unknown = any_unknown || !known;
  }
  if (!any_unknown) errors.clear();
  return errors;
}

bool may_write_txn(const Broker& broker, const RequestContext& context,
                   const std::string& transactional_id) {
  return broker.authorization().allows(context.connection(), security::AclOperation::WRITE,
                                       security::ResourceType::TRANSACTIONAL_ID, transactional_id);
}

// Kafka's ACL checks of a client's AddPartitionsToTxn: without WRITE on the
// transactional id every partition fails; a topic without WRITE fails
// (TOPIC_AUTHORIZATION_FAILED) and the others are not attempted. Empty when
// all is allowed.
TxnPartitionErrors refused_partitions(const Broker& broker, const RequestContext& context,
                                      const std::string& transactional_id,
                                      const txn::TxnPartitions& partitions) {
  TxnPartitionErrors errors;
  if (!may_write_txn(broker, context, transactional_id)) {
    for (const auto& partition : partitions)
      errors[partition] = ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    return errors;
  }
  bool any_denied = false;
  for (const auto& partition : partitions) {
    const bool denied = !broker.authorization().allows_topic(
        context.connection(), security::AclOperation::WRITE, partition.topic);
    errors[partition] =
        denied ? ErrorCode::TOPIC_AUTHORIZATION_FAILED : ErrorCode::OPERATION_NOT_ATTEMPTED;
    any_denied = any_denied || denied;
  }
  if (!any_denied) errors.clear();
  return errors;
}

template <class Topics>
txn::TxnPartitions partitions_of(const Topics& topics) {
  txn::TxnPartitions partitions;
  for (const auto& topic : topics)
    for (int32_t partition : topic.partitions) partitions.insert({topic.name, partition});
  return partitions;
}

// One transaction of an AddPartitionsToTxn request: `done` gets its errors
// per partition (on a strand, or here).
void add_partitions_of(Broker& broker, const cluster::MetadataImage& image,
                       const AddPartitionsToTxnRequest::AddPartitionsToTxnTransaction& txn,
                       int16_t version, std::function<void(TxnPartitionErrors)> done) {
  const txn::TxnPartitions partitions = partitions_of(txn.topics);
  if (TxnPartitionErrors errors = unknown_partitions(image, partitions); !errors.empty())
    return done(std::move(errors));
  auto& coordinator = broker.transactions().coordinator();
  if (txn.verify_only)
    return coordinator.verify_partitions(
        TransactionalId{txn.transactional_id}, ProducerId{txn.producer_id},
        ProducerEpoch{txn.producer_epoch}, partitions, std::move(done));
  // v5 from a partition leader (KIP-890 part 2: Produce v12, transactions
  // v2) adds for a client of transactions v2, as Kafka 4.0 takes it.
  std::optional<int16_t> client_transaction_version;
  if (version >= 5) client_transaction_version = 2;
  coordinator.add_partitions(
      TransactionalId{txn.transactional_id}, ProducerId{txn.producer_id},
      ProducerEpoch{txn.producer_epoch}, partitions,
      [partitions, version, done = std::move(done)](ErrorCode error) {
        const auto code = static_cast<ErrorCode>(fenced_for(error, version, 2));
        TxnPartitionErrors errors;
        for (const auto& partition : partitions) errors[partition] = code;
        done(std::move(errors));
      },
      client_transaction_version);
}

}  // namespace

void handle_add_partitions_to_txn(Broker& broker, RequestContext context,
                                  AddPartitionsToTxnRequest request) {
  const int16_t version = context.api_version();
  if (version < 4) {
    // One transaction in the v3 fields: answered by topic.
    AddPartitionsToTxnRequest::AddPartitionsToTxnTransaction only;
    only.transactional_id = request.v3_and_below_transactional_id;
    only.producer_id = request.v3_and_below_producer_id;
    only.producer_epoch = request.v3_and_below_producer_epoch;
    only.topics = std::move(request.v3_and_below_topics);
    if (TxnPartitionErrors refused =
            refused_partitions(broker, context, only.transactional_id, partitions_of(only.topics));
        !refused.empty()) {
      AddPartitionsToTxnResponse response;
      response.results_by_topic_v3_and_below =
          txn_result(only.transactional_id, refused).topic_results;
      return context.reply(response);
    }
    auto reply = reply_with<AddPartitionsToTxnResponse>(std::move(context));
    add_partitions_of(broker, *broker.metadata_image(), only, version,
                      [reply, id = only.transactional_id](const TxnPartitionErrors& errors) {
                        AddPartitionsToTxnResponse response;
                        response.results_by_topic_v3_and_below =
                            txn_result(id, errors).topic_results;
                        reply(response);
                      });
    return;
  }
  // v4+ (brokers, KIP-890): several transactions, answered once all are;
  // brokers need CLUSTER_ACTION.
  if (!broker.authorization().allows_cluster(context.connection(),
                                             security::AclOperation::CLUSTER_ACTION)) {
    AddPartitionsToTxnResponse response;
    response.error_code = to_wire(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    return context.reply(response);
  }
  struct Gather {
    std::mutex mutex;
    size_t left = 0;
    AddPartitionsToTxnResponse response;
  };
  auto gather = std::make_shared<Gather>();
  gather->left = request.transactions.size();
  auto reply = reply_with<AddPartitionsToTxnResponse>(std::move(context));
  if (request.transactions.empty()) return reply(gather->response);
  const cluster::MetadataImagePtr image = broker.metadata_image();
  for (const auto& txn : request.transactions) {
    add_partitions_of(broker, *image, txn, version,
                      [gather, reply, id = txn.transactional_id](const TxnPartitionErrors& errors) {
                        std::unique_lock lock(gather->mutex);
                        gather->response.results_by_transaction.push_back(txn_result(id, errors));
                        if (--gather->left > 0) return;
                        AddPartitionsToTxnResponse response = std::move(gather->response);
                        lock.unlock();
                        reply(response);
                      });
  }
}

// AddOffsetsToTxn: the group's __consumer_offsets partition joins the
// transaction (its offsets are then committed with TxnOffsetCommit).
void handle_add_offsets_to_txn(Broker& broker, RequestContext context,
                               AddOffsetsToTxnRequest request) {
  const int16_t version = context.api_version();
  const bool txn_denied = !may_write_txn(broker, context, request.transactional_id);
  if (txn_denied || !broker.authorization().allows_group(
                        context.connection(), security::AclOperation::READ, request.group_id)) {
    AddOffsetsToTxnResponse response;
    response.error_code = to_wire(txn_denied ? ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                                             : ErrorCode::GROUP_AUTHORIZATION_FAILED);
    return context.reply(response);
  }
  const int32_t offsets_partition = group::partition_for_group(
      request.group_id, broker.groups().coordinator().config().offsets_topic_partitions);
  auto reply = reply_with<AddOffsetsToTxnResponse>(std::move(context));
  broker.transactions().coordinator().add_partitions(
      TransactionalId{request.transactional_id}, ProducerId{request.producer_id},
      ProducerEpoch{request.producer_epoch}, {{group::offsets_topic, offsets_partition}},
      [reply, version](ErrorCode error) {
        AddOffsetsToTxnResponse response;
        response.error_code = fenced_for(error, version, 2);
        reply(response);
      });
}

void handle_end_txn(Broker& broker, RequestContext context, EndTxnRequest request) {
  const int16_t version = context.api_version();
  if (!may_write_txn(broker, context, request.transactional_id)) {
    EndTxnResponse response;
    response.error_code = to_wire(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    return context.reply(response);
  }
  // EndTxn v5 comes from clients of transactions v2 (KIP-890 part 2).
  const int16_t client_transaction_version = version > 4 ? 2 : 0;
  auto reply = reply_with<EndTxnResponse>(std::move(context));
  broker.transactions().coordinator().end_txn(
      TransactionalId{request.transactional_id}, ProducerId{request.producer_id},
      ProducerEpoch{request.producer_epoch}, request.committed, client_transaction_version,
      [reply, version](txn::TxnProducerResult result) {
        EndTxnResponse response;
        response.error_code = fenced_for(result.error, version, 2);
        response.producer_id = result.producer_id;
        response.producer_epoch = result.producer_epoch;
        reply(response);
      });
}

// Kafka's checks: DESCRIBE on each transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED otherwise), and a transaction's
// partitions shown only for topics the principal may DESCRIBE.
void handle_describe_transactions(Broker& broker, RequestContext context,
                                  DescribeTransactionsRequest request) {
  using TransactionState = DescribeTransactionsResponse::TransactionState;
  struct Gather {
    std::mutex mutex;
    size_t left = 0;
    std::vector<std::optional<TransactionState>> states;
  };
  auto gather = std::make_shared<Gather>();
  gather->left = request.transactional_ids.size();
  gather->states.resize(request.transactional_ids.size());
  const Authorization& authorization = broker.authorization();
  const net::ConnectionInfo connection = context.connection();
  auto reply = reply_with<DescribeTransactionsResponse>(std::move(context));
  if (request.transactional_ids.empty()) return reply(DescribeTransactionsResponse{});
  auto deliver = [gather, reply](size_t i, TransactionState state) {
    std::unique_lock lock(gather->mutex);
    gather->states[i] = std::move(state);
    if (--gather->left > 0) return;
    DescribeTransactionsResponse response;
    for (auto& answered : gather->states)
      response.transaction_states.push_back(std::move(*answered));
    lock.unlock();
    reply(response);
  };
  auto failed = [](const std::string& transactional_id, ErrorCode error) {
    TransactionState state;
    state.error_code = to_wire(error);
    state.transactional_id = transactional_id;
    state.producer_id = -1;
    state.producer_epoch = -1;
    state.transaction_start_time_ms = -1;
    return state;
  };
  for (size_t i = 0; i < request.transactional_ids.size(); ++i) {
    const std::string& id = request.transactional_ids[i];
    if (!authorization.allows(connection, security::AclOperation::DESCRIBE,
                              security::ResourceType::TRANSACTIONAL_ID, id)) {
      deliver(i, failed(id, ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED));
      continue;
    }
    broker.transactions().coordinator().describe(
        TransactionalId{id},
        [deliver, failed, i, &authorization, connection](txn::TxnDescription description) {
          if (description.error != ErrorCode::NONE)
            return deliver(i, failed(description.transactional_id, description.error));
          TransactionState state;
          state.transactional_id = description.transactional_id;
          state.transaction_state = description.state;
          state.transaction_timeout_ms = description.timeout_ms;
          state.transaction_start_time_ms = description.start_timestamp_ms;
          state.producer_id = description.producer_id;
          state.producer_epoch = description.producer_epoch;
          for (const auto& partition : description.partitions) {
            if (!authorization.allows_topic(connection, security::AclOperation::DESCRIBE,
                                            partition.topic))
              continue;
            if (state.topics.empty() || state.topics.back().topic != partition.topic)
              state.topics.emplace_back().topic = partition.topic;
            state.topics.back().partitions.push_back(partition.partition);
          }
          deliver(i, std::move(state));
        });
  }
}

// ListTransactions: the transactions of the partitions this broker
// coordinates (admin clients ask every broker).
void handle_list_transactions(Broker& broker, RequestContext context,
                              ListTransactionsRequest request) {
  txn::TxnListFilters filters;
  filters.states.insert(request.state_filters.begin(), request.state_filters.end());
  filters.producer_ids.insert(request.producer_id_filters.begin(),
                              request.producer_id_filters.end());
  filters.duration_ms = request.duration_filter;
  const Authorization& authorization = broker.authorization();
  const net::ConnectionInfo connection = context.connection();
  auto reply = reply_with<ListTransactionsResponse>(std::move(context));
  broker.transactions().coordinator().list(std::move(filters), [reply, &authorization, connection](
                                                                   txn::TxnListResult result) {
    ListTransactionsResponse response;
    response.error_code = to_wire(result.error);
    response.unknown_state_filters = std::move(result.unknown_state_filters);
    for (auto& listing : result.transactions) {
      // Kafka lists only the transactions the principal may DESCRIBE.
      if (!authorization.allows(connection, security::AclOperation::DESCRIBE,
                                security::ResourceType::TRANSACTIONAL_ID, listing.transactional_id))
        continue;
      auto& state = response.transaction_states.emplace_back();
      state.transactional_id = std::move(listing.transactional_id);
      state.producer_id = listing.producer_id;
      state.transaction_state = std::move(listing.state);
    }
    reply(response);
  });
}

}  // namespace sluice::broker
