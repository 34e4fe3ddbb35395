#include "cluster/quorum_state_file.h"

#include <nlohmann/json.hpp>

namespace sluice::cluster {

std::string encode_quorum_state(const raft::QuorumState& state, const std::string& cluster_id) {
  nlohmann::json json;
  json["clusterId"] = cluster_id;
  json["leaderId"] = state.leader.value_or(-1);
  json["leaderEpoch"] = state.epoch;
  json["votedId"] = state.voted_for.value_or(-1);
  json["appliedOffset"] = 0;
  json["currentVoters"] = nlohmann::json::array();
  json["data_version"] = 0;
  return json.dump();
}

Result<raft::QuorumState> decode_quorum_state(const std::string& text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    return Status(Errc::invalid_value, "not a JSON object");
  for (const char* field : {"leaderId", "leaderEpoch", "votedId"})
    if (!json.contains(field) || !json[field].is_number_integer())
      return Status(Errc::invalid_value, std::string("no integer field ") + field);
  raft::QuorumState state;
  state.epoch = json["leaderEpoch"].get<int32_t>();
  if (int32_t leader = json["leaderId"].get<int32_t>(); leader >= 0) state.leader = leader;
  if (int32_t voted = json["votedId"].get<int32_t>(); voted >= 0) state.voted_for = voted;
  if (state.epoch < 0) return Status(Errc::invalid_value, "a negative leaderEpoch");
  return state;
}

QuorumStateFile::QuorumStateFile(storage::FileSystem& fs, std::string path, std::string cluster_id,
                                 raft::Epoch minimum_epoch,
                                 std::function<void(const std::string&)> on_fatal)
    : fs_(fs),
      path_(std::move(path)),
      cluster_id_(std::move(cluster_id)),
      on_fatal_(std::move(on_fatal)) {
  state_.epoch = minimum_epoch;
}

Status QuorumStateFile::load() {
  auto exists = fs_.exists(path_);
  if (!exists) return Status(exists.status().code(), path_ + ": " + exists.status().message());
  if (!*exists) return Status::ok();
  auto bytes = storage::read_whole_file(fs_, path_);
  if (!bytes) return Status(bytes.status().code(), path_ + ": " + bytes.status().message());
  auto state = decode_quorum_state(std::string(bytes->begin(), bytes->end()));
  if (!state) return Status(Errc::invalid_value, path_ + ": " + state.status().message());
  if (state->epoch >= state_.epoch) state_ = *state;
  return Status::ok();
}

void QuorumStateFile::write(const raft::QuorumState& state) {
  std::string text = encode_quorum_state(state, cluster_id_);
  Status written = storage::write_file_atomically(
      fs_, path_, Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  if (!written) {
    std::string message = path_ + ": writing the quorum state failed: " + written.to_string();
    if (on_fatal_) on_fatal_(message);
    return;
  }
  state_ = state;
}

}  // namespace sluice::cluster
