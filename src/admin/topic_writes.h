#pragma once
// The admin API's write endpoints:
//
//   POST   /v1/topics      {"name", "partitions"?, "replication_factor"?, "configs"?: {k: v}}
//                          201 {"name", "topic_id", "partitions", "replication_factor"}
//   DELETE /v1/topics/{t}  200 {"name", "topic_id"}
//
// Both are a CreateTopics / DeleteTopics request handed to the broker's own
// Kafka API (broker::Broker::handle) on the caller's behalf: the same ACL
// checks (CREATE on the cluster or the topic; DELETE on the topic), the same
// validation, the same forwarding to the active controller. Omitted
// partitions or replication factor take the broker's defaults (-1, KIP-464).
// A Kafka error answers {"error": its name, "message"} with the HTTP status
// http_status_of() gives it (403 for authorization, 409 TOPIC_ALREADY_EXISTS,
// 404 UNKNOWN_TOPIC_OR_PARTITION, 400 for invalid input).
//
// Threads: an admin worker thread, which waits (bounded) for the broker's
// answer; the broker handles the request on its controller (or quorum)
// thread, never blocking a reactor.

#include <string>

#include "admin/json_api.h"
#include "base/error_code.h"
#include "base/result.h"
#include "protocol/protocol.h"

namespace sluice::broker {
class Broker;
}

namespace sluice::admin {

class AdminAccess;

// The request body of POST /v1/topics as a CreateTopics entry; unknown keys,
// wrong types and an empty name are errors (a typo is not silently ignored).
Result<protocol::CreateTopicsRequest::CreatableTopic> parse_new_topic(const std::string& body);

int http_status_of(ErrorCode code);

JsonAnswer create_topic(broker::Broker& broker, const AdminAccess& caller, const std::string& body);
JsonAnswer delete_topic(broker::Broker& broker, const AdminAccess& caller, const std::string& name);

}  // namespace sluice::admin
