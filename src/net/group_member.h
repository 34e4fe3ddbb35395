#pragma once
// A member of a classic Kafka group (JoinGroup/SyncGroup, KIP-848's
// ConsumerGroupHeartbeat is not spoken), for clients whose group protocol
// librdkafka cannot run: a distributed Connect worker (protocol type
// "connect", Kafka's WorkerCoordinator without its assignor) and a stream
// thread (protocol type "consumer", protocol "stream": Kafka Streams' own
// assignor). Spoken with KafkaClient on a ClientThread of its own:
// FindCoordinator, JoinGroup (rejoining with the member id given on
// MEMBER_ID_REQUIRED, KIP-394), the leader's assignment computed by the
// caller, SyncGroup, Heartbeat, OffsetCommit with the member's generation,
// and LeaveGroup. What the two callers need differently are options and
// calls, not copies: the protocols offered (in order of preference), and
// who heartbeats.
//
// Heartbeats: with `background_heartbeat_interval` set, the member's own
// thread heartbeats every interval while a generation is held (Kafka's
// consumer heartbeat thread), so a long restore or a slow record does not
// cost the membership; an answer other than NONE (REBALANCE_IN_PROGRESS:
// someone joins or leaves) sets rejoin_needed(). Without it the caller
// calls heartbeat() itself (Connect's herder, between its own work).
//
// The calls are synchronous: the caller's thread waits for the answer (a
// JoinGroup waits while the coordinator gathers the group, up to the
// rebalance timeout).
//
// Thread-safety: join, heartbeat, commit and leave from one thread at a
// time (the owner's); rejoin_needed and cancel_waits from any.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/error_code.h"
#include "base/result.h"
#include "net/transport.h"

namespace sluice::net {

class ClientThread;

// `bootstrap.servers`: "host:port,host:port" (a scheme prefix is dropped,
// an entry without a valid port skipped) as endpoints.
std::vector<Endpoint> parse_bootstrap_servers(const std::string& servers);

class GroupMember {
 public:
  struct Options {
    std::vector<Endpoint> bootstrap;
    std::string group_id;
    std::string client_id = "sluice";
    std::string protocol_type = "consumer";  // "connect" for Connect's workers
    std::string thread_name = "group-member";
    std::chrono::milliseconds session_timeout{45'000};     // session.timeout.ms
    std::chrono::milliseconds rebalance_timeout{300'000};  // max.poll.interval.ms
    // heartbeat.interval.ms of the member's own heartbeats; zero: none, the
    // caller calls heartbeat().
    std::chrono::milliseconds background_heartbeat_interval{0};
  };
  struct Protocol {
    std::string name;
    std::vector<uint8_t> metadata;
  };
  struct JoinedMember {
    std::string id;
    std::vector<uint8_t> metadata;
  };
  // The leader's assignment for the protocol the group chose: member id ->
  // its bytes.
  using Assign = std::function<std::map<std::string, std::vector<uint8_t>>(
      const std::string& protocol, const std::vector<JoinedMember>& members)>;
  struct Joined {
    int32_t generation = -1;
    std::string member_id;
    std::string leader_id;
    std::string protocol;
    std::vector<uint8_t> assignment;
  };
  // Topic and partition -> the next offset to consume.
  using Offsets = std::map<std::pair<std::string, int32_t>, int64_t>;

  explicit GroupMember(Options options);
  ~GroupMember();
  GroupMember(const GroupMember&) = delete;
  GroupMember& operator=(const GroupMember&) = delete;

  // One rebalance: JoinGroup offering `protocols` in order of preference,
  // the assignment by `assign` when this member leads, and SyncGroup. An
  // error says what failed (Kafka's error name in the message); the next
  // call starts again (finding the coordinator when needed).
  Result<Joined> join(const std::vector<Protocol>& protocols, const Assign& assign);
  // One Heartbeat with this generation: Kafka's error code,
  // NETWORK_EXCEPTION when no answer came. An error ends the generation
  // (join again).
  ErrorCode heartbeat();
  // OffsetCommit of `offsets` with this generation: the first partition's
  // error, NETWORK_EXCEPTION when no answer came.
  ErrorCode commit(const Offsets& offsets);
  // Leaves the group (best effort, up to 5 s even after cancel_waits) so
  // the others rebalance at once.
  void leave(const std::string& reason);
  // Set by a heartbeat answered with an error (or, in the background, not
  // sent for want of a coordinator): the group is rebalancing or this member
  // was removed; join again.
  bool rejoin_needed() const { return rejoin_needed_->load(); }
  // From any thread: a call waiting for an answer (a JoinGroup can wait for
  // the whole rebalance) gives up at once; for shutdown.
  void cancel_waits() { cancelled_ = true; }
  bool in_group() const { return generation_ >= 0; }
  int32_t generation() const { return generation_; }
  const std::string& member_id() const { return member_id_; }

 private:
  struct Clients;
  template <class Request, class Response>
  Result<Response> call(bool to_coordinator, Request request, std::chrono::milliseconds timeout);
  Status find_coordinator();
  void forget_coordinator();
  // An error of the coordinator's that says what this member must forget.
  void note_error(ErrorCode error);
  void set_background_heartbeat(bool on);

  Options options_;
  std::unique_ptr<ClientThread> thread_;
  std::shared_ptr<Clients> clients_;  // used on thread_ only
  bool coordinator_known_ = false;
  std::string member_id_;
  int32_t generation_ = -1;
  std::shared_ptr<std::atomic<bool>> rejoin_needed_ = std::make_shared<std::atomic<bool>>(true);
  std::atomic<bool> cancelled_{false};
};

}  // namespace sluice::net
