#include "net/group_member.h"

#include <cstdlib>
#include <future>

#include "base/clock.h"
#include "net/client_thread.h"
#include "net/kafka_client.h"
#include "protocol/messages/find_coordinator_request.h"
#include "protocol/messages/find_coordinator_response.h"
#include "protocol/messages/heartbeat_request.h"
#include "protocol/messages/heartbeat_response.h"
#include "protocol/messages/join_group_request.h"
#include "protocol/messages/join_group_response.h"
#include "protocol/messages/leave_group_request.h"
#include "protocol/messages/leave_group_response.h"
#include "protocol/messages/offset_commit_request.h"
#include "protocol/messages/offset_commit_response.h"
#include "protocol/messages/sync_group_request.h"
#include "protocol/messages/sync_group_response.h"

namespace sluice::net {
namespace {

bool coordinator_moved(ErrorCode error) {
  return error == ErrorCode::NOT_COORDINATOR || error == ErrorCode::COORDINATOR_NOT_AVAILABLE;
}

// "JoinGroup: REBALANCE_IN_PROGRESS (27)".
Status group_error(const char* api, ErrorCode error) {
  return Status(Errc::io_error, std::string(api) + ": " + error_name(error) + " (" +
                                    std::to_string(to_wire(error)) + ")");
}

}  // namespace

std::vector<Endpoint> parse_bootstrap_servers(const std::string& servers) {
  std::vector<Endpoint> endpoints;
  size_t start = 0;
  while (start <= servers.size()) {
    size_t comma = servers.find(',', start);
    if (comma == std::string::npos) comma = servers.size();
    std::string item = servers.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(' '));
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (auto scheme = item.find("://"); scheme != std::string::npos) item = item.substr(scheme + 3);
    const auto colon = item.rfind(':');
    if (colon != std::string::npos) {
      const int port = std::atoi(item.substr(colon + 1).c_str());
      if (port > 0 && port <= 65535) {
        endpoints.push_back(Endpoint{item.substr(0, colon), static_cast<uint16_t>(port)});
      }
    }
    start = comma + 1;
  }
  return endpoints;
}

// The clients and the background heartbeat, touched on the client thread
// only.
struct GroupMember::Clients {
  Transport* transport = nullptr;
  KafkaClientConfig config;
  std::unique_ptr<KafkaClient> bootstrap;
  std::unique_ptr<KafkaClient> coordinator;
  std::vector<std::unique_ptr<KafkaClient>> retired;  // closed, destroyed at the next tick
  size_t next_bootstrap = 0;
  std::vector<Endpoint> bootstrap_endpoints;
  // The background heartbeat: on while a generation is held.
  bool heartbeating = false;
  bool heartbeat_in_flight = false;
  std::string group_id;
  std::string member_id;
  int32_t generation = -1;
  std::chrono::milliseconds interval{0};
  std::chrono::steady_clock::time_point next_heartbeat;
  std::shared_ptr<std::atomic<bool>> rejoin_needed;

  std::unique_ptr<KafkaClient> make(const Endpoint& endpoint) {
    return std::make_unique<KafkaClient>(*transport, endpoint, config, system_clock(),
                                         [] { return 0.5; });
  }
  void retire(std::unique_ptr<KafkaClient>& client) {
    if (!client) return;
    client->close();
    retired.push_back(std::move(client));
  }
  void tick() {
    retired.clear();
    if (bootstrap) bootstrap->tick();
    if (coordinator) coordinator->tick();
    maybe_heartbeat();
  }
  void maybe_heartbeat() {
    if (!heartbeating || heartbeat_in_flight) return;
    auto now = std::chrono::steady_clock::now();
    if (now < next_heartbeat) return;
    next_heartbeat = now + interval;
    if (!coordinator) {
      rejoin_needed->store(true);
      heartbeating = false;
      return;
    }
    protocol::HeartbeatRequest request;
    request.group_id = group_id;
    request.generation_id = generation;
    request.member_id = member_id;
    heartbeat_in_flight = true;
    const int32_t sent_generation = generation;
    coordinator->send(std::move(request),
                      [this, sent_generation](ClientResult<protocol::HeartbeatResponse> r) {
                        heartbeat_in_flight = false;
                        // An answer for an older generation says nothing now.
                        if (!heartbeating || sent_generation != generation) return;
                        if (!r.ok()) {
                          // No answer: try again at the next interval; the
                          // session timeout decides whether we are out.
                          return;
                        }
                        if (r.message.error_code != to_wire(ErrorCode::NONE)) {
                          heartbeating = false;
                          rejoin_needed->store(true);
                        }
                      });
  }
};

GroupMember::GroupMember(Options options)
    : options_(std::move(options)),
      thread_(std::make_unique<ClientThread>()),
      clients_(std::make_shared<Clients>()) {
  clients_->transport = &thread_->transport();
  clients_->config.client_id = options_.client_id;
  // A JoinGroup is answered when the group is complete: up to the
  // rebalance timeout, plus the time to get there.
  clients_->config.request_timeout = options_.rebalance_timeout + std::chrono::seconds(5);
  clients_->bootstrap_endpoints = options_.bootstrap;
  clients_->group_id = options_.group_id;
  clients_->interval = options_.background_heartbeat_interval;
  clients_->rejoin_needed = rejoin_needed_;
  thread_->start(options_.thread_name, [clients = clients_] { clients->tick(); });
}

GroupMember::~GroupMember() {
  thread_->stop([clients = clients_] {
    clients->heartbeating = false;
    clients->retire(clients->bootstrap);
    clients->retire(clients->coordinator);
  });
}

template <class Request, class Response>
Result<Response> GroupMember::call(bool to_coordinator, Request request,
                                   std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Result<Response>>>();
  std::future<Result<Response>> answer = promise->get_future();
  const bool posted = thread_->post(
      [clients = clients_, to_coordinator, promise, request = std::move(request)]() mutable {
        std::unique_ptr<KafkaClient>& client =
            to_coordinator ? clients->coordinator : clients->bootstrap;
        if (!client) {
          if (to_coordinator || clients->bootstrap_endpoints.empty()) {
            promise->set_value(Status(Errc::io_error, "no coordinator"));
            return;
          }
          const auto& endpoints = clients->bootstrap_endpoints;
          client = clients->make(endpoints[clients->next_bootstrap++ % endpoints.size()]);
        }
        client->send(std::move(request), [promise](ClientResult<Response> result) {
          if (!result.ok()) {
            promise->set_value(Status(Errc::io_error, result.status.message.empty()
                                                          ? client_errc_name(result.status.code)
                                                          : result.status.message));
            return;
          }
          promise->set_value(std::move(result.message));
        });
      });
  if (!posted) return Status(Errc::io_error, "the group client is stopping");
  // The client's own request timeout answers a call given up here later;
  // nobody waits for it then.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (answer.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    if (cancelled_) return Status(Errc::io_error, "the group member is stopping");
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(Errc::io_error, "no answer from the group coordinator");
    }
  }
  return answer.get();
}

void GroupMember::forget_coordinator() {
  coordinator_known_ = false;
  (void)thread_->post([clients = clients_] {
    clients->retire(clients->coordinator);
    // A bootstrap server that failed is replaced by the next one.
    if (clients->bootstrap && !clients->bootstrap->ready()) clients->retire(clients->bootstrap);
  });
}

void GroupMember::note_error(ErrorCode error) {
  if (error == ErrorCode::UNKNOWN_MEMBER_ID) member_id_.clear();
  if (coordinator_moved(error)) forget_coordinator();
}

void GroupMember::set_background_heartbeat(bool on) {
  if (options_.background_heartbeat_interval.count() <= 0) return;
  (void)thread_->post([clients = clients_, on, generation = generation_, member_id = member_id_] {
    clients->heartbeating = on;
    clients->generation = generation;
    clients->member_id = member_id;
    clients->next_heartbeat = std::chrono::steady_clock::now() + clients->interval;
  });
}

Status GroupMember::find_coordinator() {
  protocol::FindCoordinatorRequest request;
  request.key = options_.group_id;
  request.key_type = 0;  // a group
  request.coordinator_keys = {options_.group_id};
  auto response = call<protocol::FindCoordinatorRequest, protocol::FindCoordinatorResponse>(
      false, std::move(request), std::chrono::seconds(15));
  if (!response.is_ok()) {
    forget_coordinator();
    return response.status();
  }
  int16_t error = response->error_code;
  std::string host = response->host;
  int32_t port = response->port;
  if (!response->coordinators.empty()) {
    const auto& first = response->coordinators.front();
    error = first.error_code;
    host = first.host;
    port = first.port;
  }
  if (error != to_wire(ErrorCode::NONE)) {
    return group_error("FindCoordinator", static_cast<ErrorCode>(error));
  }
  if (port <= 0 || port > 65535) return Status(Errc::io_error, "FindCoordinator: bad port");
  const Endpoint endpoint{host, static_cast<uint16_t>(port)};
  auto done = std::make_shared<std::promise<void>>();
  auto made = done->get_future();
  const bool posted = thread_->post([clients = clients_, endpoint, done] {
    if (!clients->coordinator || !(clients->coordinator->endpoint() == endpoint)) {
      clients->retire(clients->coordinator);
      clients->coordinator = clients->make(endpoint);
    }
    done->set_value();
  });
  if (!posted) return Status(Errc::io_error, "the group client is stopping");
  made.wait();
  coordinator_known_ = true;
  return Status::ok();
}

Result<GroupMember::Joined> GroupMember::join(const std::vector<Protocol>& protocols,
                                              const Assign& assign) {
  set_background_heartbeat(false);
  rejoin_needed_->store(false);
  generation_ = -1;
  if (!coordinator_known_) {
    if (Status found = find_coordinator(); !found) return found;
  }
  const auto wait = options_.rebalance_timeout + std::chrono::seconds(10);
  protocol::JoinGroupResponse joined;
  for (int attempt = 0;; ++attempt) {
    protocol::JoinGroupRequest request;
    request.group_id = options_.group_id;
    request.session_timeout_ms = static_cast<int32_t>(options_.session_timeout.count());
    request.rebalance_timeout_ms = static_cast<int32_t>(options_.rebalance_timeout.count());
    request.member_id = member_id_;
    request.protocol_type = options_.protocol_type;
    for (const Protocol& offer : protocols) {
      protocol::JoinGroupRequest::JoinGroupRequestProtocol offered;
      offered.name = offer.name;
      offered.metadata = offer.metadata;
      request.protocols.push_back(std::move(offered));
    }
    auto response = call<protocol::JoinGroupRequest, protocol::JoinGroupResponse>(
        true, std::move(request), wait);
    if (!response.is_ok()) {
      forget_coordinator();
      return response.status();
    }
    joined = std::move(*response);
    if (joined.error_code == to_wire(ErrorCode::MEMBER_ID_REQUIRED) && attempt == 0) {
      member_id_ = joined.member_id;  // KIP-394: join again with the id given
      continue;
    }
    break;
  }
  if (const auto error = static_cast<ErrorCode>(joined.error_code); error != ErrorCode::NONE) {
    note_error(error);
    return group_error("JoinGroup", error);
  }
  member_id_ = joined.member_id;
  // Null only with an error; the preferred protocol otherwise.
  const std::string protocol_name =
      joined.protocol_name.value_or(protocols.empty() ? "" : protocols.front().name);

  protocol::SyncGroupRequest sync;
  sync.group_id = options_.group_id;
  sync.generation_id = joined.generation_id;
  sync.member_id = member_id_;
  sync.protocol_type = options_.protocol_type;
  sync.protocol_name = protocol_name;
  if (joined.leader == member_id_) {
    std::vector<JoinedMember> members;
    for (auto& member : joined.members) {
      members.push_back(JoinedMember{member.member_id, std::move(member.metadata)});
    }
    for (auto& [id, bytes] : assign(protocol_name, members)) {
      protocol::SyncGroupRequest::SyncGroupRequestAssignment one;
      one.member_id = id;
      one.assignment = std::move(bytes);
      sync.assignments.push_back(std::move(one));
    }
  }
  auto synced =
      call<protocol::SyncGroupRequest, protocol::SyncGroupResponse>(true, std::move(sync), wait);
  if (!synced.is_ok()) {
    forget_coordinator();
    return synced.status();
  }
  if (const auto error = static_cast<ErrorCode>(synced->error_code); error != ErrorCode::NONE) {
    note_error(error);
    return group_error("SyncGroup", error);
  }
  generation_ = joined.generation_id;
  set_background_heartbeat(true);
  return Joined{joined.generation_id, member_id_, joined.leader, protocol_name,
                std::move(synced->assignment)};
}

ErrorCode GroupMember::heartbeat() {
  if (generation_ < 0) return ErrorCode::REBALANCE_IN_PROGRESS;
  protocol::HeartbeatRequest request;
  request.group_id = options_.group_id;
  request.generation_id = generation_;
  request.member_id = member_id_;
  auto response = call<protocol::HeartbeatRequest, protocol::HeartbeatResponse>(
      true, std::move(request), options_.session_timeout);
  if (!response.is_ok()) {
    forget_coordinator();
    return ErrorCode::NETWORK_EXCEPTION;
  }
  const auto error = static_cast<ErrorCode>(response->error_code);
  if (error != ErrorCode::NONE) {
    note_error(error);
    generation_ = -1;
    rejoin_needed_->store(true);
  }
  return error;
}

ErrorCode GroupMember::commit(const Offsets& offsets) {
  if (offsets.empty()) return ErrorCode::NONE;
  if (generation_ < 0) return ErrorCode::ILLEGAL_GENERATION;
  protocol::OffsetCommitRequest request;
  request.group_id = options_.group_id;
  request.generation_id_or_member_epoch = generation_;
  request.member_id = member_id_;
  for (const auto& [partition, offset] : offsets) {
    if (request.topics.empty() || request.topics.back().name != partition.first) {
      protocol::OffsetCommitRequest::OffsetCommitRequestTopic topic;
      topic.name = partition.first;
      request.topics.push_back(std::move(topic));
    }
    protocol::OffsetCommitRequest::OffsetCommitRequestPartition entry;
    entry.partition_index = partition.second;
    entry.committed_offset = offset;
    entry.committed_metadata = "";
    request.topics.back().partitions.push_back(std::move(entry));
  }
  auto response = call<protocol::OffsetCommitRequest, protocol::OffsetCommitResponse>(
      true, std::move(request), std::chrono::seconds(30));
  if (!response.is_ok()) {
    forget_coordinator();
    return ErrorCode::NETWORK_EXCEPTION;
  }
  for (const auto& topic : response->topics) {
    for (const auto& partition : topic.partitions) {
      const auto error = static_cast<ErrorCode>(partition.error_code);
      if (error == ErrorCode::NONE) continue;
      note_error(error);
      return error;
    }
  }
  return ErrorCode::NONE;
}

void GroupMember::leave(const std::string& reason) {
  cancelled_ = false;  // a shutdown cancelled the waits before: this one is short
  set_background_heartbeat(false);
  if (member_id_.empty() || !coordinator_known_) return;
  protocol::LeaveGroupRequest request;
  request.group_id = options_.group_id;
  request.member_id = member_id_;
  protocol::LeaveGroupRequest::MemberIdentity me;
  me.member_id = member_id_;
  me.reason = reason;
  request.members.push_back(std::move(me));
  (void)call<protocol::LeaveGroupRequest, protocol::LeaveGroupResponse>(true, std::move(request),
                                                                        std::chrono::seconds(5));
  member_id_.clear();
  generation_ = -1;
}

}  // namespace sluice::net
