#pragma once
// A distributed worker's membership of its group (Kafka's WorkerCoordinator
// without the assignment logic): FindCoordinator, JoinGroup with protocol
// type "connect", SyncGroup, Heartbeat and LeaveGroup, spoken with the
// project's own Kafka client (librdkafka cannot run a custom group
// protocol) on a thread of its own. The calls here are synchronous: the
// herder's thread makes them and waits for the answer (a JoinGroup waits
// while the coordinator gathers the group, up to the rebalance timeout).
//
// Thread-safety: one caller thread at a time (the herder's).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "net/transport.h"

namespace sluice::net {
class ClientThread;
class KafkaClient;
}  // namespace sluice::net

namespace sluice::connect {

// Kafka's error codes the member acts on.
namespace group_errors {
inline constexpr int16_t kNone = 0;
inline constexpr int16_t kCoordinatorNotAvailable = 15;
inline constexpr int16_t kNotCoordinator = 16;
inline constexpr int16_t kIllegalGeneration = 22;
inline constexpr int16_t kUnknownMemberId = 25;
inline constexpr int16_t kRebalanceInProgress = 27;
inline constexpr int16_t kMemberIdRequired = 79;
inline constexpr int16_t kNetwork = -1;  // no answer (connection, timeout)
}  // namespace group_errors

class GroupMember {
 public:
  struct Options {
    std::vector<net::Endpoint> bootstrap;
    std::string group_id;
    std::string client_id = "connect";
    std::chrono::milliseconds session_timeout{10'000};
    std::chrono::milliseconds rebalance_timeout{60'000};
  };
  struct JoinedMember {
    std::string id;
    std::vector<uint8_t> metadata;
  };
  // The leader's assignment: member id -> its bytes.
  using Assign = std::function<std::map<std::string, std::vector<uint8_t>>(
      const std::string& protocol, const std::vector<JoinedMember>& members)>;
  struct Joined {
    int32_t generation = -1;
    std::string member_id;
    std::string leader_id;
    std::string protocol;
    std::vector<uint8_t> assignment;
  };

  explicit GroupMember(Options options);
  ~GroupMember();
  GroupMember(const GroupMember&) = delete;
  GroupMember& operator=(const GroupMember&) = delete;

  // One rebalance: JoinGroup offering `protocols` (name, metadata) in order
  // of preference, the assignment by `assign` when this member leads, and
  // SyncGroup. An error says what failed (its code in the message);
  // the next call starts again (finding the coordinator when needed).
  Result<Joined> join(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& protocols,
                      const Assign& assign);
  // Kafka's error code of one Heartbeat (kNetwork when none came back).
  int16_t heartbeat();
  // Leaves the group (best effort) so the others rebalance at once.
  void leave();
  // From any thread: a call waiting for an answer (a JoinGroup can wait
  // for the whole rebalance) gives up at once; for shutdown.
  void cancel_waits() { cancelled_ = true; }
  bool in_group() const { return generation_ >= 0; }
  int32_t generation() const { return generation_; }
  const std::string& member_id() const { return member_id_; }

 private:
  struct Clients;
  template <class Request, class Response>
  Result<Response> call(bool to_coordinator, Request request, std::chrono::milliseconds timeout,
                        bool cancellable = true);
  Status find_coordinator();
  void forget_coordinator();

  Options options_;
  std::unique_ptr<net::ClientThread> thread_;
  std::shared_ptr<Clients> clients_;  // used on thread_ only
  bool coordinator_known_ = false;
  std::string member_id_;
  int32_t generation_ = -1;
  std::atomic<bool> cancelled_{false};
};

}  // namespace sluice::connect
