// The APIs that move partition leadership and ISRs: AlterPartition (56),
// which partition leaders send to the controller for ISR changes, and
// ElectLeaders (43), an admin's preferred or unclean election (forwarded to
// the active controller like the other metadata-changing admin requests).
// Both run on the controller thread: the answer waits for the commit.
#include "base/error_code.h"
#include "broker/admin_common.h"
#include "broker/broker.h"
#include "broker/forwarding.h"
#include "broker/handlers.h"

namespace sluice::broker {
namespace {

using namespace protocol;

std::vector<std::vector<cluster::AlterPartitionItem>> items_of(const AlterPartitionRequest& request,
                                                               int16_t version) {
  std::vector<std::vector<cluster::AlterPartitionItem>> topics;
  for (const auto& topic : request.topics) {
    auto& items = topics.emplace_back();
    for (const auto& partition : topic.partitions) {
      cluster::AlterPartitionItem& item = items.emplace_back();
      item.topic_id = topic.topic_id;
      item.topic_name = topic.topic_name;
      item.partition = partition.partition_index;
      item.leader_epoch = partition.leader_epoch;
      item.leader_recovery_state = partition.leader_recovery_state;
      item.partition_epoch = partition.partition_epoch;
      // Before version 3 the ISR has no broker epochs (-1: not checked).
      if (version >= 3)
        for (const auto& member : partition.new_isr_with_epochs)
          item.new_isr.push_back({member.broker_id, member.broker_epoch});
      else
        for (int32_t id : partition.new_isr) item.new_isr.push_back({id, -1});
    }
  }
  return topics;
}

AlterPartitionResponse response_of(const AlterPartitionRequest& request,
                                   const cluster::AlterPartitionReply& reply) {
  AlterPartitionResponse response;
  response.error_code = to_wire(reply.error.code);
  if (!reply.error.ok()) return response;
  for (size_t t = 0; t < request.topics.size() && t < reply.topics.size(); ++t) {
    auto& topic = response.topics.emplace_back();
    topic.topic_name = request.topics[t].topic_name;
    topic.topic_id = request.topics[t].topic_id;
    const auto& results = reply.topics[t];
    for (size_t p = 0; p < results.size(); ++p) {
      auto& out = topic.partitions.emplace_back();
      out.partition_index = request.topics[t].partitions[p].partition_index;
      out.error_code = to_wire(results[p].error);
      if (results[p].error != ErrorCode::NONE) continue;
      out.leader_id = results[p].leader;
      out.leader_epoch = results[p].leader_epoch;
      out.isr = results[p].isr;
      out.leader_recovery_state = results[p].leader_recovery_state;
      out.partition_epoch = results[p].partition_epoch;
    }
  }
  return response;
}

ElectLeadersResponse election_response(const std::vector<cluster::ElectionResult>& results) {
  ElectLeadersResponse response;
  for (const cluster::ElectionResult& result : results) {
    if (response.replica_election_results.empty() ||
        response.replica_election_results.back().topic != result.topic)
      response.replica_election_results.emplace_back().topic = result.topic;
    auto& out = response.replica_election_results.back().partition_result.emplace_back();
    out.partition_id = result.partition;
    out.error_code = to_wire(result.error.code);
    out.error_message =
        result.error.message.empty() ? std::nullopt : std::optional(result.error.message);
  }
  return response;
}

}  // namespace

AlterPartitionResponse alter_partition_here(cluster::Controller& controller,
                                            const AlterPartitionRequest& request, int16_t version) {
  cluster::AlterPartitionReply reply = controller.alter_partition(
      request.broker_id, request.broker_epoch, items_of(request, version), version);
  return response_of(request, reply);
}

void handle_alter_partition(Broker& broker, RequestContext context, AlterPartitionRequest request) {
  const int16_t version = context.api_version();
  broker.submit_to_controller(std::move(context), [&broker, version, request = std::move(request)](
                                                      RequestContext& context) {
    context.reply(alter_partition_here(broker.controller(), request, version));
  });
}

void handle_elect_leaders(Broker& broker, RequestContext context, ElectLeadersRequest request) {
  if (request.election_type != 0 && request.election_type != 1) {
    ElectLeadersResponse response;
    response.error_code = to_wire(ErrorCode::INVALID_REQUEST);
    context.reply(response);
    return;
  }
  if (forward_to_controller(broker, context, request)) return;
  broker.submit_to_controller(
      std::move(context), [&broker, request = std::move(request)](RequestContext& context) {
        std::optional<std::vector<std::pair<std::string, int32_t>>> partitions;
        if (request.topic_partitions) {
          partitions.emplace();
          for (const auto& topic : *request.topic_partitions)
            for (int32_t partition : topic.partitions)
              partitions->emplace_back(topic.topic, partition);
        }
        const auto type = static_cast<cluster::ElectionType>(request.election_type);
        context.reply(election_response(broker.controller().elect_leaders(type, partitions)));
      });
}

}  // namespace sluice::broker
