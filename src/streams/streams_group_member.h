#pragma once
// A stream thread's membership of its application's group, spoken with the
// project's own Kafka client (librdkafka has no API for a custom
// assignor): FindCoordinator, JoinGroup with protocol type "consumer" and
// protocol "stream", SyncGroup (the leader's assignment computed by the
// caller), OffsetCommit with the member's generation, and LeaveGroup. The
// same shape as Connect's GroupMember (src/connect/runtime).
//
// Heartbeats run on the member's own client thread every heartbeat
// interval once joined (Kafka's heartbeat thread), so a long restore or a
// slow record does not cost the membership; an answer other than NONE
// (REBALANCE_IN_PROGRESS: someone joins or leaves) sets rejoin_needed().
//
// Thread-safety: join, commit and leave from one thread at a time (the
// stream thread's); rejoin_needed and cancel_waits from any.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "net/transport.h"

namespace sluice::net {
class ClientThread;
}  // namespace sluice::net

namespace sluice::streams {

// Kafka's error codes the member acts on.
namespace group_errors {
inline constexpr int16_t kNone = 0;
inline constexpr int16_t kCoordinatorLoadInProgress = 14;
inline constexpr int16_t kCoordinatorNotAvailable = 15;
inline constexpr int16_t kNotCoordinator = 16;
inline constexpr int16_t kIllegalGeneration = 22;
inline constexpr int16_t kUnknownMemberId = 25;
inline constexpr int16_t kRebalanceInProgress = 27;
inline constexpr int16_t kFencedInstanceId = 82;
inline constexpr int16_t kMemberIdRequired = 79;
inline constexpr int16_t kNetwork = -1;  // no answer (connection, timeout)
}  // namespace group_errors

// "host:port,host:port" (a scheme prefix is dropped) as endpoints.
std::vector<net::Endpoint> parse_bootstrap_servers(const std::string& servers);

class StreamsGroupMember {
 public:
  struct Options {
    std::vector<net::Endpoint> bootstrap;
    std::string group_id;
    std::string client_id = "streams";
    std::chrono::milliseconds session_timeout{45'000};     // session.timeout.ms
    std::chrono::milliseconds heartbeat_interval{3'000};   // heartbeat.interval.ms
    std::chrono::milliseconds rebalance_timeout{300'000};  // max.poll.interval.ms
  };
  struct JoinedMember {
    std::string id;
    std::vector<uint8_t> metadata;
  };
  // The leader's assignment: member id -> its bytes.
  using Assign = std::function<std::map<std::string, std::vector<uint8_t>>(
      const std::vector<JoinedMember>& members)>;
  struct Joined {
    int32_t generation = -1;
    std::string member_id;
    std::string leader_id;
    std::vector<uint8_t> assignment;
  };

  explicit StreamsGroupMember(Options options);
  ~StreamsGroupMember();
  StreamsGroupMember(const StreamsGroupMember&) = delete;
  StreamsGroupMember& operator=(const StreamsGroupMember&) = delete;

  // One rebalance: JoinGroup with `subscription` (a consumer protocol
  // Subscription), the assignment by `assign` when this member leads, and
  // SyncGroup. An error says what failed (its code in the message); the
  // next call starts again (finding the coordinator when needed).
  Result<Joined> join(const std::vector<uint8_t>& subscription, const Assign& assign);
  // OffsetCommit of `offsets` (topic, partition -> next offset) with this
  // member's generation; Kafka's error code (the first partition's error,
  // kNetwork when no answer came).
  int16_t commit(const std::map<std::pair<std::string, int32_t>, int64_t>& offsets);
  // Leaves the group (best effort) so the others rebalance at once.
  void leave(const std::string& reason);
  // Set by a heartbeat answered with an error (or none): the group is
  // rebalancing or this member was removed; join again.
  bool rejoin_needed() const { return rejoin_needed_->load(); }
  // From any thread: a call waiting for an answer gives up at once.
  void cancel_waits() { cancelled_ = true; }
  int32_t generation() const { return generation_; }
  const std::string& member_id() const { return member_id_; }

 private:
  struct Clients;
  template <class Request, class Response>
  Result<Response> call(bool to_coordinator, Request request, std::chrono::milliseconds timeout);
  Status find_coordinator();
  void forget_coordinator();
  void set_heartbeat(bool on);

  Options options_;
  std::unique_ptr<net::ClientThread> thread_;
  std::shared_ptr<Clients> clients_;  // used on thread_ only
  bool coordinator_known_ = false;
  std::string member_id_;
  int32_t generation_ = -1;
  std::shared_ptr<std::atomic<bool>> rejoin_needed_ = std::make_shared<std::atomic<bool>>(true);
  std::atomic<bool> cancelled_{false};
};

}  // namespace sluice::streams
