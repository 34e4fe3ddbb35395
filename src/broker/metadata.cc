// Metadata: brokers (as seen from the request's listener), topics with ids,
// partitions, leaders, epochs, replicas and ISR. Unknown topics are created
// when auto.create.topics.enable and the request allows it (v4+; always
// before); the creation runs on the controller thread and the answer then
// carries the ready topic. Null topics (v1+; an empty list in v0) means all.
// With ACLs (Kafka's rules): listing all topics leaves out those the client
// may not DESCRIBE, a named one answers TOPIC_AUTHORIZATION_FAILED (by id:
// UNKNOWN_TOPIC_ID, which tells nothing), and auto-creation needs CREATE on
// the cluster or the topic.
#include "base/error_code.h"
#include "broker/admin_common.h"
#include "broker/broker.h"
#include "broker/handlers.h"
#include "broker/metadata_answer.h"
#include "cluster/controller.h"

namespace sluice::broker {
namespace {

using protocol::MetadataRequest;
using protocol::MetadataResponse;

// The topic's entry: its part encoded once per image (metadata_answer.h),
// then the operations of who asks (never cached: they differ by principal).
void add_topic(MetadataAnswer& answer, const Broker& broker, const RequestContext& context,
               const cluster::MetadataImagePtr& image, const cluster::TopicImage& topic,
               bool include_operations) {
  const int32_t operations = include_operations
                                 ? broker.authorization().authorized_operations(
                                       context.connection(), security::ResourceType::TOPIC,
                                       topic.name, topic_authorized_operations_all)
                                 : authorized_operations_omitted;
  answer.add_topic(broker.metadata_topic_parts().part(image, topic, context.api_version()),
                   operations);
}

MetadataResponse::MetadataResponseTopic topic_error(std::optional<std::string> name,
                                                    const Uuid& id, ErrorCode code) {
  MetadataResponse::MetadataResponseTopic out;
  out.error_code = to_wire(code);
  out.name = std::move(name);
  out.topic_id = id;
  return out;
}

bool may_auto_create(const Broker& broker, const MetadataRequest& request, int16_t version) {
  if (!broker.config().auto_create_topics) return false;
  return version < 4 || request.allow_auto_topic_creation;
}

bool may_describe(const Broker& broker, const RequestContext& context, const std::string& topic) {
  return broker.authorization().allows_topic(context.connection(), security::AclOperation::DESCRIBE,
                                             topic);
}

bool may_create(const Broker& broker, const RequestContext& context, const std::string& topic) {
  const Authorization& authorization = broker.authorization();
  return authorization.allows_cluster(context.connection(), security::AclOperation::CREATE) ||
         authorization.allows_topic(context.connection(), security::AclOperation::CREATE, topic);
}

// The names `request` asks for that do not exist but may be created.
std::vector<std::string> topics_to_create(const Broker& broker, const RequestContext& context,
                                          const MetadataRequest& request,
                                          const cluster::MetadataImage& image) {
  std::vector<std::string> out;
  if (!request.topics || !may_auto_create(broker, request, context.api_version())) return out;
  for (const auto& wanted : *request.topics) {
    if (!wanted.name || image.topic(*wanted.name) != nullptr) continue;
    if (!cluster::validate_topic_name(*wanted.name).ok()) continue;
    if (!may_describe(broker, context, *wanted.name) || !may_create(broker, context, *wanted.name))
      continue;
    if (std::find(out.begin(), out.end(), *wanted.name) == out.end()) out.push_back(*wanted.name);
  }
  return out;
}

MetadataAnswer build_response(const Broker& broker, const RequestContext& context,
                              const MetadataRequest& request,
                              const cluster::MetadataImagePtr& image_ptr,
                              const std::map<std::string, ErrorCode>& creation_errors) {
  const int16_t version = context.api_version();
  const cluster::MetadataImage& image = *image_ptr;
  MetadataAnswer answer;
  MetadataResponse& response = answer.head;
  const std::vector<BrokerAddress> listed =
      brokers_for_listener(image, context.connection().listener_name);
  for (const BrokerAddress& address : listed)
    response.brokers.push_back({address.node_id, address.host, address.port, address.rack, {}});
  response.cluster_id = image.cluster_id;
  response.controller_id = controller_id_for_clients(image, listed);
  response.cluster_authorized_operations =
      request.include_cluster_authorized_operations
          ? broker.authorization().authorized_operations(
                context.connection(), security::ResourceType::CLUSTER,
                security::kClusterResourceName, cluster_authorized_operations_all)
          : authorized_operations_omitted;
  const bool operations = request.include_topic_authorized_operations;
  const bool all_topics = !request.topics || (version == 0 && request.topics->empty());
  if (all_topics) {
    for (const auto& [name, topic] : image.topics)
      if (may_describe(broker, context, name))
        add_topic(answer, broker, context, image_ptr, *topic, operations);
    return answer;
  }
  for (const auto& wanted : *request.topics) {
    if (!wanted.name) {  // by id (v10+)
      const cluster::TopicImage* topic = image.topic(wanted.topic_id);
      if (topic == nullptr || wanted.topic_id.is_zero() ||
          !may_describe(broker, context, topic->name))
        answer.add_error(topic_error(std::nullopt, wanted.topic_id, ErrorCode::UNKNOWN_TOPIC_ID));
      else
        add_topic(answer, broker, context, image_ptr, *topic, operations);
      continue;
    }
    const std::string& name = *wanted.name;
    if (!may_describe(broker, context, name)) {
      answer.add_error(topic_error(name, Uuid{}, ErrorCode::TOPIC_AUTHORIZATION_FAILED));
    } else if (const cluster::TopicImage* topic = image.topic(name)) {
      add_topic(answer, broker, context, image_ptr, *topic, operations);
    } else if (!cluster::validate_topic_name(name).ok()) {
      answer.add_error(topic_error(name, Uuid{}, ErrorCode::INVALID_TOPIC_EXCEPTION));
    } else if (auto failed = creation_errors.find(name); failed != creation_errors.end()) {
      answer.add_error(topic_error(name, Uuid{}, failed->second));
    } else if (may_auto_create(broker, request, version) && !may_create(broker, context, name)) {
      answer.add_error(topic_error(name, Uuid{}, ErrorCode::TOPIC_AUTHORIZATION_FAILED));
    } else {
      ErrorCode code = may_auto_create(broker, request, version)
                           ? ErrorCode::LEADER_NOT_AVAILABLE  // being created elsewhere
                           : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
      answer.add_error(topic_error(name, Uuid{}, code));
    }
  }
  return answer;
}

}  // namespace

std::vector<BrokerAddress> brokers_for_listener(const cluster::MetadataImage& image,
                                                const std::string& listener_name) {
  std::vector<BrokerAddress> out;
  for (const auto& [id, broker] : image.brokers) {
    if (broker.fenced) continue;
    for (const cluster::BrokerEndpoint& endpoint : broker.endpoints) {
      if (endpoint.listener_name != listener_name) continue;
      out.push_back({id, endpoint.host, endpoint.port, broker.rack});
      break;
    }
  }
  return out;
}

int32_t controller_id_for_clients(const cluster::MetadataImage& image,
                                  const std::vector<BrokerAddress>& listed) {
  for (const BrokerAddress& address : listed)
    if (address.node_id == image.controller_id) return image.controller_id;
  return listed.empty() ? -1 : listed.front().node_id;
}

bool is_internal_topic_name(const std::string& name) { return cluster::is_internal_topic(name); }

static void reply_metadata(RequestContext& context, const MetadataAnswer& answer) {
  context.reply(answer, answer.keep_alive());
}

// Answers a Metadata request whose missing topics were just created (or
// not: `results`, one per name of `missing`).
static void answer_after_creation(Broker& broker, RequestContext& context,
                                  const MetadataRequest& request,
                                  const std::vector<std::string>& missing,
                                  const std::vector<cluster::CreateTopicResult>& results) {
  std::map<std::string, ErrorCode> errors;
  for (size_t i = 0; i < results.size(); ++i) {
    ErrorCode code = results[i].error.code;
    // A concurrent creation of the same topic is not an error for the reader.
    if (code != ErrorCode::NONE && code != ErrorCode::TOPIC_ALREADY_EXISTS)
      errors[missing[i]] =
          code == ErrorCode::INVALID_REPLICATION_FACTOR ? ErrorCode::LEADER_NOT_AVAILABLE : code;
  }
  reply_metadata(context,
                 build_response(broker, context, request, broker.controller().image(), errors));
}

// The answer, from the image as it is now.
void answer_metadata(Broker& broker, RequestContext context, MetadataRequest request) {
  cluster::MetadataImagePtr image = broker.controller().image();
  std::vector<std::string> missing = topics_to_create(broker, context, request, *image);
  if (missing.empty()) {
    reply_metadata(context, build_response(broker, context, request, image, {}));
    return;
  }
  std::vector<cluster::NewTopic> topics;
  for (const std::string& name : missing) {
    cluster::NewTopic topic;
    topic.name = name;
    topics.push_back(std::move(topic));
  }
  // Another node is the active controller: the creation goes to it and this
  // answer waits for its answer on the quorum's thread, holding no thread
  // (the controller thread blocked up to the forward's 30 s before).
  auto shared = std::make_shared<RequestContext>(std::move(context));
  auto forwarded = [&broker, shared, request,
                    missing](std::vector<cluster::CreateTopicResult> results) {
    answer_after_creation(broker, *shared, request, missing, results);
  };
  if (broker.controller().forward_create_topics_async(topics, false, forwarded)) return;
  // Creating appends to the metadata log and fsyncs: off the reactor.
  broker.submit_to_controller(std::move(*shared), [&broker, request = std::move(request), missing,
                                                   topics](RequestContext& context) {
    answer_after_creation(broker, context, request, missing,
                          broker.controller().create_topics(topics, false));
  });
}

// Handled at its turn (RequestContext::handle_at_turn): pipelined behind an
// acks=all Produce that waits seconds for a dead follower to leave the ISR,
// an answer built at arrival left naming the dead leader after the client
// had the new one from another broker, and librdkafka 2.0 (Metadata v4, no
// leader epochs) took it: a partition's producer stayed on the dead broker
// for minutes. Kafka builds it once the Produce is answered.
void handle_metadata(Broker& broker, RequestContext context, MetadataRequest request) {
  context.handle_at_turn([&broker, request = std::move(request)](RequestContext turn) {
    answer_metadata(broker, std::move(turn), request);
  });
}

}  // namespace sluice::broker
