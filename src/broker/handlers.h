#pragma once
// The table of APIs the broker serves: one line per API with the version
// range served and its handler (handlers.cc). Each listener serves the part
// of it its role calls for (ListenerRole), and its ApiVersions advertises
// exactly that part. Adding an API touches the table and the handler's own
// file.

#include <cstdint>
#include <span>
#include <string>

#include "base/error_code.h"
#include "base/rate_limited_log.h"
#include "broker/request_context.h"
#include "protocol/protocol.h"
#include "security/acl_types.h"

namespace sluice::cluster {
class Controller;
}
namespace sluice::txn {
class ProducerIdGenerator;
}

namespace sluice::broker {

class Broker;
struct BrokerConfig;

// Decodes the request body from `reader` and handles it.
using HandlerFn = void (*)(Broker&, RequestContext, WireReader&);

struct ApiHandler {
  int16_t api_key;
  int16_t min_version;
  int16_t max_version;
  HandlerFn handle;
};

// Every API of the table, whatever the listener.
std::span<const ApiHandler> api_handlers();
const ApiHandler* find_handler(int16_t api_key);

// Kafka's listener kinds: a listener named in `controller.listener.names`
// serves the controller's APIs, every other one the brokers' (client) APIs.
// Which APIs each kind serves is the schema's `listeners` field
// (protocol::ApiInfo::listeners, Kafka's ApiMessageType.ListenerType).
enum class ListenerRole : uint8_t { broker, controller };
// The handler table of one role: the APIs of the table whose schema lists
// that kind of listener, in key order. An API outside it is not advertised
// in that listener's ApiVersions, and a request for it closes the
// connection, as Kafka does for an API not enabled on a listener.
std::span<const ApiHandler> api_handlers(ListenerRole role);
const ApiHandler* find_handler(int16_t api_key, ListenerRole role);
// The role of the listener named `listener_name` under `config`.
ListenerRole listener_role(const BrokerConfig& config, const std::string& listener_name);

// The warnings a client can repeat at will (a request the broker rejects,
// in a reconnect loop), written once per kind and interval with the count
// suppressed (base/rate_limited_log.h). Keys name the kind, not the peer.
RateLimitedLog& request_warnings();

// Adapts a typed handler `void handle_x(Broker&, RequestContext, XRequest)`:
// decodes the body; a body that does not decode closes the connection, as
// Kafka does for a request it cannot parse.
void reject_undecodable(RequestContext context, const Status& status);

// Whether the connection may do `operation` on the cluster (the
// authorization of handlers whose whole request needs it).
bool cluster_allows(const Broker& broker, const RequestContext& context,
                    security::AclOperation operation);

// No cluster-wide permission needed before the handler (it checks its own).
inline constexpr security::AclOperation no_cluster_operation = security::AclOperation::UNKNOWN;

template <class Request, void (*Handle)(Broker&, RequestContext, Request),
          security::AclOperation ClusterOperation = no_cluster_operation>
void decode_then_handle(Broker& broker, RequestContext context, WireReader& reader) {
  Request request;
  Status status = request.decode(reader, context.api_version());
  if (!status) {
    reject_undecodable(std::move(context), status);
    return;
  }
  // Kafka: an API that acts on the whole cluster needs its operation on the
  // cluster resource, else its top-level error is CLUSTER_AUTHORIZATION_FAILED.
  if constexpr (ClusterOperation != no_cluster_operation) {
    if (!cluster_allows(broker, context, ClusterOperation)) {
      typename Request::Response refused;
      refused.error_code = to_wire(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
      context.reply(refused);
      return;
    }
  }
  Handle(broker, std::move(context), std::move(request));
}

template <class Request, void (*Handle)(Broker&, RequestContext, Request),
          security::AclOperation ClusterOperation = no_cluster_operation>
constexpr ApiHandler api(int16_t min_version, int16_t max_version) {
  return ApiHandler{Request::api_key, min_version, max_version,
                    &decode_then_handle<Request, Handle, ClusterOperation>};
}

// Every version the schema knows.
template <class Request, void (*Handle)(Broker&, RequestContext, Request),
          security::AclOperation ClusterOperation = no_cluster_operation>
constexpr ApiHandler api() {
  return api<Request, Handle, ClusterOperation>(Request::min_version, Request::max_version);
}

// Handlers, one declaration per API (each defined in its own file).
void handle_api_versions(Broker&, RequestContext, protocol::ApiVersionsRequest);
void reply_api_versions_unsupported(RequestContext);
// Metadata and admin (metadata.cc, topics.cc, configs.cc, describe_cluster.cc).
void handle_metadata(Broker&, RequestContext, protocol::MetadataRequest);
void handle_create_topics(Broker&, RequestContext, protocol::CreateTopicsRequest);
void handle_delete_topics(Broker&, RequestContext, protocol::DeleteTopicsRequest);
void handle_describe_configs(Broker&, RequestContext, protocol::DescribeConfigsRequest);
void handle_alter_configs(Broker&, RequestContext, protocol::AlterConfigsRequest);
void handle_create_partitions(Broker&, RequestContext, protocol::CreatePartitionsRequest);
void handle_incremental_alter_configs(Broker&, RequestContext,
                                      protocol::IncrementalAlterConfigsRequest);
void handle_describe_cluster(Broker&, RequestContext, protocol::DescribeClusterRequest);
// Finalized feature levels (update_features.cc).
void handle_update_features(Broker&, RequestContext, protocol::UpdateFeaturesRequest);
void handle_describe_acls(Broker&, RequestContext, protocol::DescribeAclsRequest);
void handle_create_acls(Broker&, RequestContext, protocol::CreateAclsRequest);
void handle_delete_acls(Broker&, RequestContext, protocol::DeleteAclsRequest);
void handle_sasl_handshake(Broker&, RequestContext, protocol::SaslHandshakeRequest);
void handle_sasl_authenticate(Broker&, RequestContext, protocol::SaslAuthenticateRequest);
// Client quotas (quota_handlers.cc).
void handle_describe_client_quotas(Broker&, RequestContext, protocol::DescribeClientQuotasRequest);
void handle_alter_client_quotas(Broker&, RequestContext, protocol::AlterClientQuotasRequest);
void handle_describe_user_scram_credentials(Broker&, RequestContext,
                                            protocol::DescribeUserScramCredentialsRequest);
void handle_alter_user_scram_credentials(Broker&, RequestContext,
                                         protocol::AlterUserScramCredentialsRequest);
// Brokers' lifecycle, on the controller (broker_registration.cc).
void handle_broker_registration(Broker&, RequestContext, protocol::BrokerRegistrationRequest);
void handle_broker_heartbeat(Broker&, RequestContext, protocol::BrokerHeartbeatRequest);
void handle_unregister_broker(Broker&, RequestContext, protocol::UnregisterBrokerRequest);
// Partition leadership and ISRs (partition_leadership.cc).
void handle_alter_partition(Broker&, RequestContext, protocol::AlterPartitionRequest);
// AlterPartition run by this node's controller; on the controller thread.
protocol::AlterPartitionResponse alter_partition_here(
    cluster::Controller& controller, const protocol::AlterPartitionRequest& request,
    int16_t version);
void handle_elect_leaders(Broker&, RequestContext, protocol::ElectLeadersRequest);
// Partition reassignment, forwarded to the controller (reassignments.cc).
void handle_alter_partition_reassignments(Broker&, RequestContext,
                                          protocol::AlterPartitionReassignmentsRequest);
void handle_list_partition_reassignments(Broker&, RequestContext,
                                         protocol::ListPartitionReassignmentsRequest);
// Producer ids (producer_ids.cc, init_producer_id.cc; issue 17).
void handle_allocate_producer_ids(Broker&, RequestContext, protocol::AllocateProducerIdsRequest);
// AllocateProducerIds run by this node's controller; on the controller thread.
protocol::AllocateProducerIdsResponse allocate_producer_ids_here(
    cluster::Controller& controller, const protocol::AllocateProducerIdsRequest& request);
void handle_init_producer_id(Broker&, RequestContext, protocol::InitProducerIdRequest);
// An idempotent producer's (no transactional id) answer: a new id, epoch 0,
// or COORDINATOR_LOAD_IN_PROGRESS while no id is at hand.
protocol::InitProducerIdResponse init_idempotent_producer_id(
    txn::ProducerIdGenerator& producer_ids);
// Data path (produce.cc, fetch.cc, ...).
void handle_produce(Broker&, RequestContext, protocol::ProduceRequest);
void handle_fetch(Broker&, RequestContext, protocol::FetchRequest);
void handle_list_offsets(Broker&, RequestContext, protocol::ListOffsetsRequest);
void handle_delete_records(Broker&, RequestContext, protocol::DeleteRecordsRequest);
void handle_offset_for_leader_epoch(Broker&, RequestContext, protocol::OffsetForLeaderEpochRequest);
void handle_describe_log_dirs(Broker&, RequestContext, protocol::DescribeLogDirsRequest);
// Transaction markers as leader, from the transaction coordinator (write_txn_markers.cc).
void handle_write_txn_markers(Broker&, RequestContext, protocol::WriteTxnMarkersRequest);
// The producer state of partitions hosted here (describe_producers.cc).
void handle_describe_producers(Broker&, RequestContext, protocol::DescribeProducersRequest);
// Consumer groups (group_handlers.cc).
void handle_find_coordinator(Broker&, RequestContext, protocol::FindCoordinatorRequest);
// Transactions (txn_handlers.cc; issue 17).
void handle_find_transaction_coordinator(Broker&, RequestContext,
                                         const protocol::FindCoordinatorRequest&);
void handle_transactional_init_producer_id(Broker&, RequestContext,
                                           const protocol::InitProducerIdRequest&);
void handle_add_partitions_to_txn(Broker&, RequestContext, protocol::AddPartitionsToTxnRequest);
void handle_add_offsets_to_txn(Broker&, RequestContext, protocol::AddOffsetsToTxnRequest);
void handle_end_txn(Broker&, RequestContext, protocol::EndTxnRequest);
void handle_describe_transactions(Broker&, RequestContext, protocol::DescribeTransactionsRequest);
void handle_list_transactions(Broker&, RequestContext, protocol::ListTransactionsRequest);
void handle_join_group(Broker&, RequestContext, protocol::JoinGroupRequest);
void handle_sync_group(Broker&, RequestContext, protocol::SyncGroupRequest);
void handle_heartbeat(Broker&, RequestContext, protocol::HeartbeatRequest);
void handle_leave_group(Broker&, RequestContext, protocol::LeaveGroupRequest);
void handle_offset_commit(Broker&, RequestContext, protocol::OffsetCommitRequest);
void handle_offset_fetch(Broker&, RequestContext, protocol::OffsetFetchRequest);
void handle_describe_groups(Broker&, RequestContext, protocol::DescribeGroupsRequest);
void handle_list_groups(Broker&, RequestContext, protocol::ListGroupsRequest);
void handle_delete_groups(Broker&, RequestContext, protocol::DeleteGroupsRequest);
void handle_offset_delete(Broker&, RequestContext, protocol::OffsetDeleteRequest);
void handle_txn_offset_commit(Broker&, RequestContext, protocol::TxnOffsetCommitRequest);
// The metadata quorum (quorum_handlers.cc).
void handle_vote(Broker&, RequestContext, protocol::VoteRequest);
void handle_begin_quorum_epoch(Broker&, RequestContext, protocol::BeginQuorumEpochRequest);
void handle_end_quorum_epoch(Broker&, RequestContext, protocol::EndQuorumEpochRequest);
void handle_describe_quorum(Broker&, RequestContext, protocol::DescribeQuorumRequest);
void handle_add_raft_voter(Broker&, RequestContext, protocol::AddRaftVoterRequest);
void handle_remove_raft_voter(Broker&, RequestContext, protocol::RemoveRaftVoterRequest);
void handle_update_raft_voter(Broker&, RequestContext, protocol::UpdateRaftVoterRequest);
void handle_fetch_snapshot(Broker&, RequestContext, protocol::FetchSnapshotRequest);
// A Fetch received on a controller listener: the quorum's replication.
void handle_metadata_fetch(Broker&, RequestContext, protocol::FetchRequest);

}  // namespace sluice::broker
