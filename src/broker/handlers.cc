#include "broker/handlers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <vector>

#include "broker/broker.h"
#include "broker/broker_config.h"

namespace sluice::broker {
namespace {

using namespace protocol;

// Ordered by API key. ApiVersions answers with exactly these ranges: every
// version Kafka 3.9 served (README, "Compatibility"), old ones included.
constexpr ApiHandler handler_table[] = {
    api<ProduceRequest, handle_produce>(),
    api<FetchRequest, handle_fetch>(),
    api<ListOffsetsRequest, handle_list_offsets>(),
    api<MetadataRequest, handle_metadata>(),
    api<OffsetCommitRequest, handle_offset_commit>(),
    api<OffsetFetchRequest, handle_offset_fetch>(),
    api<FindCoordinatorRequest, handle_find_coordinator>(),
    api<JoinGroupRequest, handle_join_group>(),
    api<HeartbeatRequest, handle_heartbeat>(),
    api<LeaveGroupRequest, handle_leave_group>(),
    api<SyncGroupRequest, handle_sync_group>(),
    api<DescribeGroupsRequest, handle_describe_groups>(),
    api<ListGroupsRequest, handle_list_groups>(),
    api<SaslHandshakeRequest, handle_sasl_handshake>(),
    api<ApiVersionsRequest, handle_api_versions>(0, 4),
    api<CreateTopicsRequest, handle_create_topics>(),
    api<DeleteTopicsRequest, handle_delete_topics>(),
    api<DeleteRecordsRequest, handle_delete_records>(),
    api<InitProducerIdRequest, handle_init_producer_id>(),
    api<OffsetForLeaderEpochRequest, handle_offset_for_leader_epoch>(),
    api<AddPartitionsToTxnRequest, handle_add_partitions_to_txn>(),
    api<AddOffsetsToTxnRequest, handle_add_offsets_to_txn>(),
    api<EndTxnRequest, handle_end_txn>(),
    api<WriteTxnMarkersRequest, handle_write_txn_markers>(),
    api<TxnOffsetCommitRequest, handle_txn_offset_commit>(),
    api<DescribeAclsRequest, handle_describe_acls>(),
    api<CreateAclsRequest, handle_create_acls>(),
    api<DeleteAclsRequest, handle_delete_acls>(),
    api<DescribeConfigsRequest, handle_describe_configs>(),
    api<AlterConfigsRequest, handle_alter_configs>(),
    api<DescribeLogDirsRequest, handle_describe_log_dirs>(),
    api<SaslAuthenticateRequest, handle_sasl_authenticate>(),
    api<CreatePartitionsRequest, handle_create_partitions>(),
    api<DeleteGroupsRequest, handle_delete_groups>(),
    api<ElectLeadersRequest, handle_elect_leaders, security::AclOperation::ALTER>(),
    api<IncrementalAlterConfigsRequest, handle_incremental_alter_configs>(),
    api<AlterPartitionReassignmentsRequest, handle_alter_partition_reassignments,
        security::AclOperation::ALTER>(),
    api<ListPartitionReassignmentsRequest, handle_list_partition_reassignments,
        security::AclOperation::DESCRIBE>(),
    api<OffsetDeleteRequest, handle_offset_delete>(),
    api<DescribeClientQuotasRequest, handle_describe_client_quotas,
        security::AclOperation::DESCRIBE_CONFIGS>(),
    api<AlterClientQuotasRequest, handle_alter_client_quotas>(),
    api<DescribeUserScramCredentialsRequest, handle_describe_user_scram_credentials,
        security::AclOperation::DESCRIBE>(),
    api<AlterUserScramCredentialsRequest, handle_alter_user_scram_credentials>(),
    api<VoteRequest, handle_vote, security::AclOperation::CLUSTER_ACTION>(),
    api<BeginQuorumEpochRequest, handle_begin_quorum_epoch,
        security::AclOperation::CLUSTER_ACTION>(),
    api<EndQuorumEpochRequest, handle_end_quorum_epoch, security::AclOperation::CLUSTER_ACTION>(),
    api<DescribeQuorumRequest, handle_describe_quorum, security::AclOperation::DESCRIBE>(),
    api<AlterPartitionRequest, handle_alter_partition, security::AclOperation::CLUSTER_ACTION>(),
    api<UpdateFeaturesRequest, handle_update_features, security::AclOperation::ALTER>(),
    api<FetchSnapshotRequest, handle_fetch_snapshot, security::AclOperation::CLUSTER_ACTION>(),
    api<DescribeClusterRequest, handle_describe_cluster>(),
    api<DescribeProducersRequest, handle_describe_producers>(),
    api<BrokerRegistrationRequest, handle_broker_registration,
        security::AclOperation::CLUSTER_ACTION>(),
    api<BrokerHeartbeatRequest, handle_broker_heartbeat, security::AclOperation::CLUSTER_ACTION>(),
    api<UnregisterBrokerRequest, handle_unregister_broker, security::AclOperation::ALTER>(),
    api<DescribeTransactionsRequest, handle_describe_transactions>(),
    api<ListTransactionsRequest, handle_list_transactions>(),
    api<AllocateProducerIdsRequest, handle_allocate_producer_ids,
        security::AclOperation::CLUSTER_ACTION>(),
    api<AddRaftVoterRequest, handle_add_raft_voter, security::AclOperation::ALTER>(),
    api<RemoveRaftVoterRequest, handle_remove_raft_voter, security::AclOperation::ALTER>(),
    api<UpdateRaftVoterRequest, handle_update_raft_voter, security::AclOperation::CLUSTER_ACTION>(),
};

std::vector<ApiHandler> table_for(ApiListener listener) {
  std::vector<ApiHandler> table;
  for (const ApiHandler& handler : handler_table)
    if (find_api(handler.api_key)->listeners & listener) table.push_back(handler);
  return table;
}

}  // namespace

std::span<const ApiHandler> api_handlers() { return handler_table; }

std::span<const ApiHandler> api_handlers(ListenerRole role) {
  static const std::vector<ApiHandler> broker_table = table_for(broker_listener);
  static const std::vector<ApiHandler> controller_table = table_for(controller_listener);
  return role == ListenerRole::controller ? controller_table : broker_table;
}

ListenerRole listener_role(const BrokerConfig& config, const std::string& listener_name) {
  return config.is_controller_listener(listener_name) ? ListenerRole::controller
                                                      : ListenerRole::broker;
}

const ApiHandler* find_handler(int16_t api_key, ListenerRole role) {
  for (const ApiHandler& handler : api_handlers(role))
    if (handler.api_key == api_key) return &handler;
  return nullptr;
}

const ApiHandler* find_handler(int16_t api_key) {
  for (const ApiHandler& handler : handler_table)
    if (handler.api_key == api_key) return &handler;
  return nullptr;
}

RateLimitedLog& request_warnings() {
  static RateLimitedLog warnings;
  return warnings;
}

bool cluster_allows(const Broker& broker, const RequestContext& context,
                    security::AclOperation operation) {
  return broker.authorization().allows_cluster(context.connection(), operation);
}

void reject_undecodable(RequestContext context, const Status& status) {
  const ApiInfo* api = find_api(context.header().request_api_key);
  const char* name = api ? api->name : "unknown";
  request_warnings().warn(fmt::format("{} v{} does not decode", name, context.api_version()),
                          "closing connection {} from {}: {} v{} request does not decode: {}",
                          context.connection().connection_id, context.connection().peer_address,
                          name, context.api_version(), status.to_string());
  context.close_connection();
}

}  // namespace sluice::broker
