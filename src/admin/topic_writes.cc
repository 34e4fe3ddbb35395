#include "admin/topic_writes.h"

#include <chrono>
#include <future>
#include <memory>

#include "admin/admin_access.h"
#include "broker/broker.h"
#include "storage/checkpoint_file.h"

namespace sluice::admin {
namespace {

using json = nlohmann::ordered_json;
using protocol::CreateTopicsRequest;
using protocol::CreateTopicsResponse;
using protocol::DeleteTopicsRequest;
using protocol::DeleteTopicsResponse;

// Versions that answer what the endpoints show (v7: the new topic's id;
// v6: error messages and the id of each deleted topic).
constexpr int16_t create_topics_version = 7;
constexpr int16_t delete_topics_version = 6;
// The broker's deadline for the metadata change (the request's timeout_ms),
// and how long the admin thread waits for its answer beyond that.
constexpr std::chrono::milliseconds request_timeout{15000};
constexpr std::chrono::milliseconds answer_grace{5000};

// Hands `request` to the broker's Kafka API as `caller` and waits for the
// answer into `out`. The failure's answer when the broker closed the
// "connection" (it refused the request outright), did not answer in time,
// or answered bytes that do not decode.
template <class Request>
std::optional<JsonAnswer> call_broker(broker::Broker& broker, const AdminAccess& caller,
                                      const Request& request, int16_t version,
                                      typename Request::Response& out) {
  protocol::RequestHeader header;
  header.request_api_key = Request::api_key;
  header.request_api_version = version;
  header.correlation_id = 1;
  header.client_id = "sluice-admin-http";
  WireWriter writer;
  protocol::encode_request_header(writer, header);
  request.encode(writer, version);
  const std::vector<uint8_t> frame = writer.to_vector();
  auto answer = std::make_shared<std::promise<net::Response>>();
  std::future<net::Response> answered = answer->get_future();
  broker.handle(caller.connection(),
                std::make_shared<const FrameBuffer>(frame.begin(), frame.end()),
                net::taking_turn_at_once(
                    [answer](net::Response response) { answer->set_value(std::move(response)); }));
  if (answered.wait_for(request_timeout + answer_grace) != std::future_status::ready)
    return error_json(503, "REQUEST_TIMED_OUT", "the broker did not answer in time");
  const net::Response response = answered.get();
  if (!response.send)
    return error_json(500, "UNKNOWN_SERVER_ERROR", "the broker refused the request (see its log)");
  const std::vector<uint8_t> bytes = response.bytes();
  WireReader reader(bytes);
  protocol::ResponseHeader response_header;
  Status status =
      protocol::decode_response_header(reader, Request::api_key, version, response_header);
  if (status.is_ok()) status = out.decode(reader, version);
  if (!status.is_ok())
    return error_json(500, "UNKNOWN_SERVER_ERROR", "undecodable answer: " + status.message());
  return std::nullopt;
}

JsonAnswer kafka_error(int16_t code, const std::optional<std::string>& message) {
  const auto error = static_cast<ErrorCode>(code);
  return error_json(http_status_of(error), error_name(error), message.value_or(error_name(error)));
}

Status bad_body(const std::string& why) { return Status(Errc::invalid_value, why); }

// The integer at `key` of `object`, or `fallback` when absent.
Result<int64_t> integer_field(const json& object, const char* key, int64_t fallback,
                              int64_t minimum, int64_t maximum) {
  auto found = object.find(key);
  if (found == object.end()) return fallback;
  if (!found->is_number_integer()) return bad_body(std::string(key) + " must be an integer");
  const int64_t value = found->get<int64_t>();
  if (value < minimum || value > maximum)
    return bad_body(std::string(key) + " must be in [" + std::to_string(minimum) + ", " +
                    std::to_string(maximum) + "] (-1: the broker's default)");
  return value;
}

Result<std::vector<CreateTopicsRequest::CreatableTopicConfig>> configs_field(const json& object) {
  std::vector<CreateTopicsRequest::CreatableTopicConfig> out;
  auto found = object.find("configs");
  if (found == object.end()) return out;
  if (!found->is_object()) return bad_body("configs must be an object of strings");
  for (const auto& [name, value] : found->items()) {
    if (!value.is_string()) return bad_body("configs." + name + " must be a string");
    CreateTopicsRequest::CreatableTopicConfig config;
    config.name = name;
    config.value = value.get<std::string>();
    out.push_back(std::move(config));
  }
  return out;
}

}  // namespace

int http_status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::NONE:
      return 200;
    case ErrorCode::TOPIC_AUTHORIZATION_FAILED:
    case ErrorCode::CLUSTER_AUTHORIZATION_FAILED:
      return 403;
    case ErrorCode::UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode::UNKNOWN_TOPIC_ID:
      return 404;
    case ErrorCode::TOPIC_ALREADY_EXISTS:
      return 409;
    case ErrorCode::INVALID_TOPIC_EXCEPTION:
    case ErrorCode::INVALID_PARTITIONS:
    case ErrorCode::INVALID_REPLICATION_FACTOR:
    case ErrorCode::INVALID_REPLICA_ASSIGNMENT:
    case ErrorCode::INVALID_CONFIG:
    case ErrorCode::INVALID_REQUEST:
    case ErrorCode::POLICY_VIOLATION:
      return 400;
    case ErrorCode::REQUEST_TIMED_OUT:
    case ErrorCode::NOT_CONTROLLER:
    case ErrorCode::THROTTLING_QUOTA_EXCEEDED:
      return 503;
    default:
      return 500;
  }
}

Result<CreateTopicsRequest::CreatableTopic> parse_new_topic(const std::string& body) {
  const json object = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return bad_body("the body must be a JSON object");
  for (const auto& [key, value] : object.items())
    if (key != "name" && key != "partitions" && key != "replication_factor" && key != "configs")
      return bad_body("unknown field " + key +
                      " (known: name, partitions, replication_factor, configs)");
  auto name = object.find("name");
  if (name == object.end() || !name->is_string() || name->get<std::string>().empty())
    return bad_body("name must be a non-empty string");
  auto partitions = integer_field(object, "partitions", -1, -1, INT32_MAX);
  if (!partitions) return partitions.status();
  auto replication_factor = integer_field(object, "replication_factor", -1, -1, INT16_MAX);
  if (!replication_factor) return replication_factor.status();
  auto configs = configs_field(object);
  if (!configs) return configs.status();
  CreateTopicsRequest::CreatableTopic topic;
  topic.name = name->get<std::string>();
  topic.num_partitions = static_cast<int32_t>(*partitions);
  topic.replication_factor = static_cast<int16_t>(*replication_factor);
  topic.configs = std::move(*configs);
  return topic;
}

JsonAnswer create_topic(broker::Broker& broker, const AdminAccess& caller,
                        const std::string& body) {
  auto topic = parse_new_topic(body);
  if (!topic) return error_json(400, "INVALID_REQUEST", topic.status().message());
  CreateTopicsRequest request;
  request.topics.push_back(std::move(*topic));
  request.timeout_ms = static_cast<int32_t>(request_timeout.count());
  CreateTopicsResponse response;
  if (auto failed = call_broker(broker, caller, request, create_topics_version, response))
    return *failed;
  if (response.topics.size() != 1)
    return error_json(500, "UNKNOWN_SERVER_ERROR", "CreateTopics answered no single topic");
  const CreateTopicsResponse::CreatableTopicResult& result = response.topics.front();
  if (result.error_code != 0) return kafka_error(result.error_code, result.error_message);
  return {201,
          {{"name", result.name},
           {"topic_id", storage::uuid_to_base64(result.topic_id)},
           {"partitions", result.num_partitions},
           {"replication_factor", result.replication_factor}}};
}

JsonAnswer delete_topic(broker::Broker& broker, const AdminAccess& caller,
                        const std::string& name) {
  DeleteTopicsRequest request;
  DeleteTopicsRequest::DeleteTopicState topic;
  topic.name = name;  // by name only: the topic id stays zero
  request.topics.push_back(std::move(topic));
  request.timeout_ms = static_cast<int32_t>(request_timeout.count());
  DeleteTopicsResponse response;
  if (auto failed = call_broker(broker, caller, request, delete_topics_version, response))
    return *failed;
  if (response.responses.size() != 1)
    return error_json(500, "UNKNOWN_SERVER_ERROR", "DeleteTopics answered no single topic");
  const DeleteTopicsResponse::DeletableTopicResult& result = response.responses.front();
  if (result.error_code != 0) return kafka_error(result.error_code, result.error_message);
  return {200,
          {{"name", result.name.value_or(name)},
           {"topic_id", storage::uuid_to_base64(result.topic_id)}}};
}

}  // namespace sluice::admin
