// DescribeCluster: cluster id, controller id and the brokers as seen from
// the request's listener. A broker answers only for endpoint type 1
// (brokers); asking it for controllers is MISMATCHED_ENDPOINT_TYPE, as
// Kafka's brokers answer.
#include "base/error_code.h"
#include "broker/admin_common.h"
#include "broker/broker.h"
#include "broker/handlers.h"

namespace sluice::broker {

using protocol::DescribeClusterRequest;
using protocol::DescribeClusterResponse;

void handle_describe_cluster(Broker& broker, RequestContext context,
                             DescribeClusterRequest request) {
  constexpr int8_t endpoint_type_brokers = 1;
  constexpr int8_t endpoint_type_controllers = 2;
  DescribeClusterResponse response;
  response.error_message = std::nullopt;
  response.endpoint_type = request.endpoint_type;
  if (request.endpoint_type != endpoint_type_brokers) {
    response.error_code = to_wire(request.endpoint_type == endpoint_type_controllers
                                      ? ErrorCode::MISMATCHED_ENDPOINT_TYPE
                                      : ErrorCode::UNSUPPORTED_ENDPOINT_TYPE);
    response.error_message = "The request was sent to a broker with an unsupported endpoint type.";
    context.reply(response);
    return;
  }
  cluster::MetadataImagePtr image = broker.controller().image();
  response.cluster_id = image->cluster_id;
  const std::vector<BrokerAddress> listed =
      brokers_for_listener(*image, context.connection().listener_name);
  response.controller_id = controller_id_for_clients(*image, listed);
  for (const BrokerAddress& address : listed)
    response.brokers.push_back({address.node_id, address.host, address.port, address.rack, {}});
  // Kafka fills the operations in only for a client that may DESCRIBE the cluster.
  const Authorization& authorization = broker.authorization();
  response.cluster_authorized_operations = authorized_operations_omitted;
  if (request.include_cluster_authorized_operations &&
      authorization.allows_cluster(context.connection(), security::AclOperation::DESCRIBE))
    response.cluster_authorized_operations = authorization.authorized_operations(
        context.connection(), security::ResourceType::CLUSTER, security::kClusterResourceName,
        cluster_authorized_operations_all);
  context.reply(response);
}

}  // namespace sluice::broker
