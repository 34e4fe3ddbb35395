// CreateTopics, DeleteTopics and CreatePartitions: validated and committed
// by the controller (cluster/controller.h) on its own thread, since a commit
// fsyncs the metadata log; the answer is sent from there.
#include <set>

#include "base/error_code.h"
#include "broker/broker.h"
#include "broker/forwarding.h"
#include "broker/handlers.h"
#include "cluster/controller.h"
#include "cluster/topic_config.h"

namespace sluice::broker {
namespace {

using protocol::CreatePartitionsRequest;
using protocol::CreatePartitionsResponse;
using protocol::CreateTopicsRequest;
using protocol::CreateTopicsResponse;
using protocol::DeleteTopicsRequest;
using protocol::DeleteTopicsResponse;

// The names that appear more than once: Kafka rejects each such entry.
template <class Items, class NameOf>
std::set<std::string> duplicate_names(const Items& items, NameOf name_of) {
  std::set<std::string> seen, duplicates;
  for (const auto& item : items)
    if (!seen.insert(name_of(item)).second) duplicates.insert(name_of(item));
  return duplicates;
}

// The configs a new topic would have (CreateTopics v5+).
std::vector<CreateTopicsResponse::CreatableTopicConfigs> topic_configs(
    const Broker& broker, const cluster::MetadataImage& image,
    const std::map<std::string, std::string>& overrides) {
  std::vector<CreateTopicsResponse::CreatableTopicConfigs> out;
  for (const cluster::ResolvedConfig& config : cluster::resolve_topic_configs(
           overrides, image, broker.config().values, broker.config().node_id)) {
    CreateTopicsResponse::CreatableTopicConfigs entry;
    entry.name = config.name;
    entry.value = config.sensitive ? std::nullopt : config.value;
    entry.read_only = false;
    entry.config_source = static_cast<int8_t>(config.source);
    entry.is_sensitive = config.sensitive;
    out.push_back(std::move(entry));
  }
  return out;
}

// Turns one request entry into the controller's NewTopic, or an error.
cluster::ApiError to_new_topic(const CreateTopicsRequest::CreatableTopic& topic,
                               cluster::NewTopic& out) {
  out.name = topic.name;
  out.num_partitions = topic.num_partitions;
  out.replication_factor = topic.replication_factor;
  for (const auto& assignment : topic.assignments) {
    if (out.assignments.count(assignment.partition_index))
      return {ErrorCode::INVALID_REPLICA_ASSIGNMENT,
              "Duplicate partition index " + std::to_string(assignment.partition_index)};
    out.assignments[assignment.partition_index] = assignment.broker_ids;
  }
  for (const auto& config : topic.configs) {
    if (!config.value)
      return {ErrorCode::INVALID_REQUEST,
              "Null value not supported for topic configs: " + config.name};
    out.configs[config.name] = *config.value;
  }
  return {};
}

// Answers added to the controller's for the topics the client may not touch
// (Kafka: TOPIC_AUTHORIZATION_FAILED, or CLUSTER_AUTHORIZATION_FAILED... per
// topic), which never reach the controller.
template <class Response>
using Adjust = std::function<void(Response&)>;

void create_topics(Broker& broker, RequestContext& context, const CreateTopicsRequest& request,
                   const Adjust<CreateTopicsResponse>& adjust) {
  const std::set<std::string> duplicates =
      duplicate_names(request.topics, [](const auto& topic) { return topic.name; });
  std::vector<cluster::NewTopic> new_topics;
  std::vector<size_t> index_of;  // new_topics[i] answers request.topics[index_of[i]]
  CreateTopicsResponse response;
  for (size_t i = 0; i < request.topics.size(); ++i) {
    const auto& topic = request.topics[i];
    CreateTopicsResponse::CreatableTopicResult result;
    result.name = topic.name;
    result.error_message = std::nullopt;
    cluster::NewTopic new_topic;
    cluster::ApiError error =
        duplicates.count(topic.name)
            ? cluster::ApiError{ErrorCode::INVALID_REQUEST,
                                "Create topics request contains multiple entries for the "
                                "topic " +
                                    topic.name}
            : to_new_topic(topic, new_topic);
    if (error.ok()) {
      index_of.push_back(i);
      new_topics.push_back(std::move(new_topic));
    } else {
      result.error_code = to_wire(error.code);
      result.error_message = error.message_or_null();
    }
    response.topics.push_back(std::move(result));
  }
  cluster::MetadataImagePtr before = broker.controller().image();
  std::vector<cluster::CreateTopicResult> results =
      broker.controller().create_topics(new_topics, request.validate_only);
  for (size_t k = 0; k < results.size(); ++k) {
    auto& out = response.topics[index_of[k]];
    const cluster::CreateTopicResult& result = results[k];
    out.error_code = to_wire(result.error.code);
    out.error_message = result.error.message_or_null();
    if (!result.error.ok()) continue;
    out.topic_id = request.validate_only ? Uuid{} : result.topic_id;
    out.num_partitions = result.num_partitions;
    out.replication_factor = result.replication_factor;
    out.configs = topic_configs(broker, *before, new_topics[k].configs);
  }
  if (adjust) adjust(response);
  context.reply(response);
}

void delete_topics(Broker& broker, RequestContext& context, const DeleteTopicsRequest& request,
                   const Adjust<DeleteTopicsResponse>& adjust) {
  std::vector<cluster::TopicRef> refs;
  std::vector<cluster::ApiError> request_errors;
  if (context.api_version() >= 6) {
    for (const auto& topic : request.topics) {
      cluster::TopicRef ref{topic.name.value_or(""), topic.topic_id};
      cluster::ApiError error;
      if (topic.name && !topic.topic_id.is_zero())
        error = {ErrorCode::INVALID_REQUEST, "Only one of the topic name and id may be given."};
      else if (!topic.name && topic.topic_id.is_zero())
        error = {ErrorCode::INVALID_REQUEST, "Neither the topic name nor its id was given."};
      refs.push_back(std::move(ref));
      request_errors.push_back(std::move(error));
    }
  } else {
    for (const std::string& name : request.topic_names) {
      refs.push_back({name, Uuid{}});
      request_errors.push_back({});
    }
  }
  std::vector<cluster::TopicRef> valid;
  for (size_t i = 0; i < refs.size(); ++i)
    if (request_errors[i].ok()) valid.push_back(refs[i]);
  std::vector<cluster::DeleteTopicResult> results = broker.controller().delete_topics(valid);
  DeleteTopicsResponse response;
  size_t next = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    DeleteTopicsResponse::DeletableTopicResult out;
    const cluster::ApiError& error =
        request_errors[i].ok() ? results[next].error : request_errors[i];
    if (request_errors[i].ok()) {
      const cluster::DeleteTopicResult& result = results[next++];
      out.name = result.name.empty() ? std::nullopt : std::optional<std::string>(result.name);
      out.topic_id = result.topic_id;
    } else {
      out.name = refs[i].name.empty() ? std::nullopt : std::optional<std::string>(refs[i].name);
      out.topic_id = refs[i].id;
    }
    if (context.api_version() < 6 && !out.name) out.name = "";  // not nullable before v6
    out.error_code = to_wire(error.code);
    out.error_message = error.message_or_null();
    response.responses.push_back(std::move(out));
  }
  if (adjust) adjust(response);
  context.reply(response);
}

void create_partitions(Broker& broker, RequestContext& context,
                       const CreatePartitionsRequest& request,
                       const Adjust<CreatePartitionsResponse>& adjust) {
  const std::set<std::string> duplicates =
      duplicate_names(request.topics, [](const auto& topic) { return topic.name; });
  // The topics that are not duplicates grow in one controller operation
  // (one metadata batch, bounded by cluster::records_per_operation_max).
  std::vector<cluster::NewPartitions> growths;
  for (const auto& topic : request.topics) {
    if (duplicates.count(topic.name)) continue;
    cluster::NewPartitions& growth = growths.emplace_back();
    growth.topic = topic.name;
    growth.count = topic.count;
    if (topic.assignments)
      for (const auto& assignment : *topic.assignments)
        growth.assignments.push_back(assignment.broker_ids);
  }
  std::vector<cluster::ApiError> results =
      broker.controller().create_partitions(growths, request.validate_only);
  CreatePartitionsResponse response;
  size_t next = 0;
  for (const auto& topic : request.topics) {
    cluster::ApiError error =
        duplicates.count(topic.name)
            ? cluster::ApiError{ErrorCode::INVALID_REQUEST, "Duplicate topic in request."}
            : results[next++];
    response.results.push_back({topic.name, to_wire(error.code), error.message_or_null(), {}});
  }
  if (adjust) adjust(response);
  context.reply(response);
}

// Kafka: creating needs CREATE on the cluster or the topic, deleting DELETE
// and growing ALTER on the topic. Takes the refused entries out of `items`;
// `answer` gives the refused entry's result.
template <class Items, class NameOf>
std::vector<typename Items::value_type> take_refused(
    Items& items, NameOf name_of, const std::function<bool(const std::string&)>& allowed) {
  std::vector<typename Items::value_type> refused;
  std::erase_if(items, [&](const auto& item) {
    if (allowed(name_of(item))) return false;
    refused.push_back(item);
    return true;
  });
  return refused;
}

// Kafka's controller mutation quota (controller_mutation_rate): each entry
// draws its partitions from the client's token bucket. Strict (the request
// versions that know THROTTLING_QUOTA_EXCEEDED) refuses the entries met
// while the bucket is empty and takes them out of `items`; permissive (older
// versions) lets every entry through. Either way the answer carries the
// throttle time. Validate-only requests change nothing and draw nothing.
template <class Items, class MutationsOf>
std::vector<typename Items::value_type> take_throttled(Broker& broker, RequestContext& context,
                                                       Items& items, MutationsOf mutations_of,
                                                       bool strict, bool validate_only) {
  std::vector<typename Items::value_type> throttled;
  QuotaManager& quota = broker.quotas().controller_mutation;
  if (!quota.enabled() || validate_only) return throttled;
  const QuotaClient client = quota_client_of(context);
  std::erase_if(items, [&](const auto& item) {
    const double count = static_cast<double>(mutations_of(item));
    const int64_t now = quota_clock_ms();
    if (!strict) {
      context.throttle(quota.take_mutations_permissive(client, count, now));
      return false;
    }
    const int32_t throttle = quota.take_mutations_strict(client, count, now);
    if (throttle == 0) return false;
    context.throttle(throttle);
    throttled.push_back(item);
    return true;
  });
  return throttled;
}

constexpr const char* throttled_message = "The throttling quota has been exceeded.";

// Runs `work` on the controller (forwarded when this node is not it), with
// `adjust` adding the refused entries' answers.
template <class Request, class Work>
void run_on_controller(Broker& broker, RequestContext context, Request request,
                       Adjust<typename Request::Response> adjust, Work work) {
  if (forward_to_controller(broker, context, request, adjust)) return;
  broker.submit_to_controller(
      std::move(context), [&broker, request = std::move(request), adjust = std::move(adjust), work](
                              RequestContext& context) { work(broker, context, request, adjust); });
}

}  // namespace

void handle_create_topics(Broker& broker, RequestContext context, CreateTopicsRequest request) {
  const Authorization& authorization = broker.authorization();
  const net::ConnectionInfo& connection = context.connection();
  const bool cluster_create =
      authorization.allows_cluster(connection, security::AclOperation::CREATE);
  auto refused = take_refused(
      request.topics, [](const auto& topic) { return topic.name; },
      [&](const std::string& name) {
        return cluster_create ||
               authorization.allows_topic(connection, security::AclOperation::CREATE, name);
      });
  const int64_t default_partitions = broker.config().get_int("num.partitions");
  auto throttled = take_throttled(
      broker, context, request.topics,
      [default_partitions](const auto& topic) -> int64_t {
        if (!topic.assignments.empty()) return static_cast<int64_t>(topic.assignments.size());
        return topic.num_partitions > 0 ? topic.num_partitions : default_partitions;
      },
      context.api_version() >= 6, request.validate_only);
  Adjust<CreateTopicsResponse> adjust;
  if (!refused.empty() || !throttled.empty())
    adjust = [refused, throttled](CreateTopicsResponse& response) {
      auto answer = [&response](const auto& topic, ErrorCode code, const char* message) {
        CreateTopicsResponse::CreatableTopicResult result;
        result.name = topic.name;
        result.error_code = to_wire(code);
        result.error_message = message;
        response.topics.push_back(std::move(result));
      };
      for (const auto& topic : refused)
        answer(topic, ErrorCode::TOPIC_AUTHORIZATION_FAILED, "Authorization failed.");
      for (const auto& topic : throttled)
        answer(topic, ErrorCode::THROTTLING_QUOTA_EXCEEDED, throttled_message);
    };
  run_on_controller(broker, std::move(context), std::move(request), std::move(adjust),
                    create_topics);
}

void handle_delete_topics(Broker& broker, RequestContext context, DeleteTopicsRequest request) {
  const Authorization& authorization = broker.authorization();
  const net::ConnectionInfo& connection = context.connection();
  const cluster::MetadataImagePtr image = broker.metadata_image();
  auto may_delete = [&](const std::string& name) {
    return authorization.allows_topic(connection, security::AclOperation::DELETE, name);
  };
  auto name_of_ref = [&image](const auto& topic) -> std::string {
    if (topic.name) return *topic.name;
    const cluster::TopicImage* found = image->topic(topic.topic_id);
    return found != nullptr ? found->name : std::string();
  };
  auto refused_names = take_refused(
      request.topic_names, [](const std::string& name) { return name; }, may_delete);
  auto refused_refs = take_refused(request.topics, name_of_ref, [&](const std::string& name) {
    return name.empty() || may_delete(name);  // an unknown id: the controller answers it
  });
  auto partitions_of = [&image](const std::string& name) -> int64_t {
    const cluster::TopicImage* topic = image->topic(name);
    return topic != nullptr ? static_cast<int64_t>(topic->partitions.size()) : 0;
  };
  const bool strict = context.api_version() >= 5;
  auto throttled_names =
      take_throttled(broker, context, request.topic_names, partitions_of, strict, false);
  auto throttled_refs = take_throttled(
      broker, context, request.topics,
      [&](const auto& topic) { return partitions_of(name_of_ref(topic)); }, strict, false);
  Adjust<DeleteTopicsResponse> adjust;
  if (!refused_names.empty() || !refused_refs.empty() || !throttled_names.empty() ||
      !throttled_refs.empty())
    adjust = [refused_names, refused_refs, throttled_names,
              throttled_refs](DeleteTopicsResponse& response) {
      auto answer_names = [&response](const auto& names, ErrorCode code, const char* message) {
        for (const std::string& name : names)
          response.responses.push_back(
              {name,
               Uuid{},
               to_wire(code),
               message ? std::optional<std::string>(message) : std::nullopt,
               {}});
      };
      auto answer_refs = [&response](const auto& refs, ErrorCode code, const char* message) {
        for (const auto& ref : refs)
          response.responses.push_back(
              {ref.name,
               ref.topic_id,
               to_wire(code),
               message ? std::optional<std::string>(message) : std::nullopt,
               {}});
      };
      answer_names(refused_names, ErrorCode::TOPIC_AUTHORIZATION_FAILED, nullptr);
      answer_refs(refused_refs, ErrorCode::TOPIC_AUTHORIZATION_FAILED, nullptr);
      answer_names(throttled_names, ErrorCode::THROTTLING_QUOTA_EXCEEDED, throttled_message);
      answer_refs(throttled_refs, ErrorCode::THROTTLING_QUOTA_EXCEEDED, throttled_message);
    };
  run_on_controller(broker, std::move(context), std::move(request), std::move(adjust),
                    delete_topics);
}

void handle_create_partitions(Broker& broker, RequestContext context,
                              CreatePartitionsRequest request) {
  const Authorization& authorization = broker.authorization();
  const net::ConnectionInfo& connection = context.connection();
  auto refused = take_refused(
      request.topics, [](const auto& topic) { return topic.name; },
      [&](const std::string& name) {
        return authorization.allows_topic(connection, security::AclOperation::ALTER, name);
      });
  const cluster::MetadataImagePtr image = broker.metadata_image();
  auto throttled = take_throttled(
      broker, context, request.topics,
      [&image](const auto& topic) -> int64_t {
        const cluster::TopicImage* found = image->topic(topic.name);
        const int64_t now = found != nullptr ? static_cast<int64_t>(found->partitions.size()) : 0;
        return std::max<int64_t>(topic.count - now, 0);
      },
      context.api_version() >= 3, request.validate_only);
  Adjust<CreatePartitionsResponse> adjust;
  if (!refused.empty() || !throttled.empty())
    adjust = [refused, throttled](CreatePartitionsResponse& response) {
      for (const auto& topic : refused)
        response.results.push_back({topic.name,
                                    to_wire(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
                                    std::string("Authorization failed."),
                                    {}});
      for (const auto& topic : throttled)
        response.results.push_back({topic.name,
                                    to_wire(ErrorCode::THROTTLING_QUOTA_EXCEEDED),
                                    std::string(throttled_message),
                                    {}});
    };
  run_on_controller(broker, std::move(context), std::move(request), std::move(adjust),
                    create_partitions);
}

}  // namespace sluice::broker
