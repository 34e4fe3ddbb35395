#include "connect/runtime/group_member.h"

#include <spdlog/spdlog.h>

#include <future>
#include <random>

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
#include "protocol/messages/sync_group_request.h"
#include "protocol/messages/sync_group_response.h"

namespace sluice::connect {

// The clients, touched on the client thread only.
struct GroupMember::Clients {
  net::Transport* transport = nullptr;
  net::KafkaClientConfig config;
  std::unique_ptr<net::KafkaClient> bootstrap;
  std::unique_ptr<net::KafkaClient> coordinator;
  std::vector<std::unique_ptr<net::KafkaClient>> retired;  // closed, destroyed at the next tick
  size_t next_bootstrap = 0;
  std::vector<net::Endpoint> bootstrap_endpoints;

  std::unique_ptr<net::KafkaClient> make(const net::Endpoint& endpoint) {
    return std::make_unique<net::KafkaClient>(*transport, endpoint, config, system_clock(),
                                              [] { return 0.5; });
  }
  void retire(std::unique_ptr<net::KafkaClient>& client) {
    if (!client) return;
    client->close();
    retired.push_back(std::move(client));
  }
  void tick() {
    retired.clear();
    if (bootstrap) bootstrap->tick();
    if (coordinator) coordinator->tick();
  }
};

GroupMember::GroupMember(Options options)
    : options_(std::move(options)),
      thread_(std::make_unique<net::ClientThread>()),
      clients_(std::make_shared<Clients>()) {
  clients_->transport = &thread_->transport();
  clients_->config.client_id = options_.client_id;
  // A JoinGroup is answered when the group is complete: up to the
  // rebalance timeout, plus the time to get there.
  clients_->config.request_timeout = options_.rebalance_timeout + std::chrono::seconds(5);
  clients_->bootstrap_endpoints = options_.bootstrap;
  thread_->start("connect-group", [clients = clients_] { clients->tick(); });
}

GroupMember::~GroupMember() {
  thread_->stop([clients = clients_] {
    clients->retire(clients->bootstrap);
    clients->retire(clients->coordinator);
  });
}

template <class Request, class Response>
Result<Response> GroupMember::call(bool to_coordinator, Request request,
                                   std::chrono::milliseconds timeout, bool cancellable) {
  auto promise = std::make_shared<std::promise<Result<Response>>>();
  std::future<Result<Response>> answer = promise->get_future();
  const bool posted = thread_->post([clients = clients_, to_coordinator, promise,
                                     request = std::move(request)]() mutable {
    std::unique_ptr<net::KafkaClient>& client =
        to_coordinator ? clients->coordinator : clients->bootstrap;
    if (!client) {
      if (to_coordinator || clients->bootstrap_endpoints.empty()) {
        promise->set_value(Status(Errc::io_error, "no coordinator"));
        return;
      }
      const auto& endpoints = clients->bootstrap_endpoints;
      client = clients->make(endpoints[clients->next_bootstrap++ % endpoints.size()]);
    }
    client->send(std::move(request), [promise](net::ClientResult<Response> result) {
      if (!result.ok()) {
        promise->set_value(Status(Errc::io_error, result.status.message.empty()
                                                      ? net::client_errc_name(result.status.code)
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
  while (answer.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (cancellable && cancelled_) return Status(Errc::io_error, "the worker is stopping");
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
  if (error != group_errors::kNone) {
    return Status(Errc::io_error, "FindCoordinator: error " + std::to_string(error));
  }
  if (port <= 0 || port > 65535) return Status(Errc::io_error, "FindCoordinator: bad port");
  const net::Endpoint endpoint{host, static_cast<uint16_t>(port)};
  std::promise<void> done;
  auto made = done.get_future();
  const bool posted = thread_->post([clients = clients_, endpoint, &done] {
    if (!clients->coordinator || !(clients->coordinator->endpoint() == endpoint)) {
      clients->retire(clients->coordinator);
      clients->coordinator = clients->make(endpoint);
    }
    done.set_value();
  });
  if (!posted) return Status(Errc::io_error, "the group client is stopping");
  made.wait();
  coordinator_known_ = true;
  return Status::ok();
}

Result<GroupMember::Joined> GroupMember::join(
    const std::vector<std::pair<std::string, std::vector<uint8_t>>>& protocols,
    const Assign& assign) {
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
    request.protocol_type = "connect";
    for (const auto& [name, metadata] : protocols) {
      protocol::JoinGroupRequest::JoinGroupRequestProtocol offered;
      offered.name = name;
      offered.metadata = metadata;
      request.protocols.push_back(std::move(offered));
    }
    auto response = call<protocol::JoinGroupRequest, protocol::JoinGroupResponse>(
        true, std::move(request), wait);
    if (!response.is_ok()) {
      forget_coordinator();
      return response.status();
    }
    joined = std::move(*response);
    if (joined.error_code == group_errors::kMemberIdRequired && attempt == 0) {
      member_id_ = joined.member_id;  // KIP-394: join again with the id given
      continue;
    }
    break;
  }
  if (joined.error_code != group_errors::kNone) {
    if (joined.error_code == group_errors::kUnknownMemberId) member_id_.clear();
    if (joined.error_code == group_errors::kNotCoordinator ||
        joined.error_code == group_errors::kCoordinatorNotAvailable) {
      forget_coordinator();
    }
    return Status(Errc::io_error, "JoinGroup: error " + std::to_string(joined.error_code));
  }
  member_id_ = joined.member_id;
  const std::string protocol_name = joined.protocol_name.value_or("");

  protocol::SyncGroupRequest sync;
  sync.group_id = options_.group_id;
  sync.generation_id = joined.generation_id;
  sync.member_id = member_id_;
  sync.protocol_type = "connect";
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
  if (synced->error_code != group_errors::kNone) {
    if (synced->error_code == group_errors::kUnknownMemberId) member_id_.clear();
    if (synced->error_code == group_errors::kNotCoordinator ||
        synced->error_code == group_errors::kCoordinatorNotAvailable) {
      forget_coordinator();
    }
    return Status(Errc::io_error, "SyncGroup: error " + std::to_string(synced->error_code));
  }
  generation_ = joined.generation_id;
  return Joined{joined.generation_id, member_id_, joined.leader, protocol_name,
                std::move(synced->assignment)};
}

int16_t GroupMember::heartbeat() {
  if (generation_ < 0) return group_errors::kRebalanceInProgress;
  protocol::HeartbeatRequest request;
  request.group_id = options_.group_id;
  request.generation_id = generation_;
  request.member_id = member_id_;
  auto response = call<protocol::HeartbeatRequest, protocol::HeartbeatResponse>(
      true, std::move(request), options_.session_timeout);
  if (!response.is_ok()) {
    forget_coordinator();
    return group_errors::kNetwork;
  }
  const int16_t error = response->error_code;
  if (error == group_errors::kUnknownMemberId) member_id_.clear();
  if (error == group_errors::kNotCoordinator || error == group_errors::kCoordinatorNotAvailable) {
    forget_coordinator();
  }
  if (error != group_errors::kNone) generation_ = -1;
  return error;
}

void GroupMember::leave() {
  if (member_id_.empty() || !coordinator_known_) return;
  protocol::LeaveGroupRequest request;
  request.group_id = options_.group_id;
  request.member_id = member_id_;
  protocol::LeaveGroupRequest::MemberIdentity me;
  me.member_id = member_id_;
  me.reason = "the worker is stopping";
  request.members.push_back(std::move(me));
  (void)call<protocol::LeaveGroupRequest, protocol::LeaveGroupResponse>(true, std::move(request),
                                                                        std::chrono::seconds(5));
  member_id_.clear();
  generation_ = -1;
}

}  // namespace sluice::connect
