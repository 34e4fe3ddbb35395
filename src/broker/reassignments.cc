// Partition reassignment: AlterPartitionReassignments (45) and
// ListPartitionReassignments (46), forwarded to the active controller like
// the other admin requests (Kafka forwards both) and run on its controller
// thread (controller_reassignments.cc).
#include "base/error_code.h"
#include "broker/broker.h"
#include "broker/forwarding.h"
#include "broker/handlers.h"

namespace sluice::broker {
namespace {

using namespace protocol;

std::vector<cluster::TopicReassignment> targets_of(
    const AlterPartitionReassignmentsRequest& request) {
  std::vector<cluster::TopicReassignment> topics;
  for (const auto& topic : request.topics) {
    cluster::TopicReassignment& out = topics.emplace_back();
    out.topic = topic.name;
    for (const auto& partition : topic.partitions)
      out.partitions.push_back({partition.partition_index, partition.replicas});
  }
  return topics;
}

AlterPartitionReassignmentsResponse alter_response(
    const AlterPartitionReassignmentsRequest& request,
    const std::vector<std::vector<cluster::ApiError>>& results) {
  AlterPartitionReassignmentsResponse response;
  for (size_t t = 0; t < request.topics.size(); ++t) {
    auto& topic = response.responses.emplace_back();
    topic.name = request.topics[t].name;
    for (size_t p = 0; p < request.topics[t].partitions.size(); ++p) {
      auto& partition = topic.partitions.emplace_back();
      partition.partition_index = request.topics[t].partitions[p].partition_index;
      const cluster::ApiError& error = results[t][p];
      partition.error_code = to_wire(error.code);
      if (!error.ok() && !error.message.empty()) partition.error_message = error.message;
    }
  }
  return response;
}

ListPartitionReassignmentsResponse list_response(
    const std::vector<cluster::OngoingReassignment>& ongoing) {
  ListPartitionReassignmentsResponse response;
  for (const cluster::OngoingReassignment& partition : ongoing) {
    if (response.topics.empty() || response.topics.back().name != partition.topic)
      response.topics.emplace_back().name = partition.topic;
    auto& out = response.topics.back().partitions.emplace_back();
    out.partition_index = partition.partition;
    out.replicas = partition.replicas;
    out.adding_replicas = partition.adding;
    out.removing_replicas = partition.removing;
  }
  return response;
}

}  // namespace

void handle_alter_partition_reassignments(Broker& broker, RequestContext context,
                                          AlterPartitionReassignmentsRequest request) {
  if (forward_to_controller(broker, context, request)) return;
  broker.submit_to_controller(
      std::move(context), [&broker, request = std::move(request)](RequestContext& context) {
        context.reply(alter_response(
            request, broker.controller().alter_partition_reassignments(targets_of(request))));
      });
}

void handle_list_partition_reassignments(Broker& broker, RequestContext context,
                                         ListPartitionReassignmentsRequest request) {
  if (forward_to_controller(broker, context, request)) return;
  broker.submit_to_controller(
      std::move(context), [&broker, request = std::move(request)](RequestContext& context) {
        std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> topics;
        if (request.topics) {
          topics.emplace();
          for (const auto& topic : *request.topics)
            topics->emplace_back(topic.name, topic.partition_indexes);
        }
        context.reply(list_response(broker.controller().list_partition_reassignments(topics)));
      });
}

}  // namespace sluice::broker
