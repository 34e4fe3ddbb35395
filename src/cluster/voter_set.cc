#include "cluster/voter_set.h"

#include "base/assert.h"
#include "protocol/codec.h"
#include "protocol/messages.h"
#include "record/batch.h"
#include "record/batch_builder.h"
#include "record/record_reader.h"

namespace sluice::cluster {

std::optional<net::Endpoint> VoterNode::endpoint(const std::string& listener) const {
  for (const VoterEndpoint& endpoint : endpoints)
    if (endpoint.name == listener) return net::Endpoint{endpoint.host, endpoint.port};
  if (endpoints.empty()) return std::nullopt;
  return net::Endpoint{endpoints.front().host, endpoints.front().port};
}

protocol::VotersRecord voters_record(const VoterSet& voters) {
  protocol::VotersRecord record;
  for (const auto& [id, node] : voters) {
    protocol::VotersRecord::Voter voter;
    voter.voter_id = id;
    voter.voter_directory_id = node.directory_id;
    for (const VoterEndpoint& endpoint : node.endpoints)
      voter.endpoints.push_back({endpoint.name, endpoint.host, endpoint.port, {}});
    voter.kraft_version_feature.min_supported_version = node.kraft_version_min;
    voter.kraft_version_feature.max_supported_version = node.kraft_version_max;
    record.voters.push_back(std::move(voter));
  }
  return record;
}

VoterSet voter_set(const protocol::VotersRecord& record) {
  VoterSet voters;
  for (const auto& voter : record.voters) {
    VoterNode node;
    node.id = voter.voter_id;
    node.directory_id = voter.voter_directory_id;
    for (const auto& endpoint : voter.endpoints)
      node.endpoints.push_back({endpoint.name, endpoint.host, endpoint.port});
    node.kraft_version_min = voter.kraft_version_feature.min_supported_version;
    node.kraft_version_max = voter.kraft_version_feature.max_supported_version;
    voters[node.id] = std::move(node);
  }
  return voters;
}

std::set<int32_t> voter_ids(const VoterSet& voters) {
  std::set<int32_t> ids;
  for (const auto& [id, node] : voters) ids.insert(id);
  return ids;
}

VoterSet voter_set(const std::set<int32_t>& ids) {
  VoterSet voters;
  for (int32_t id : ids) voters[id].id = id;
  return voters;
}

std::vector<uint8_t> encode_voters_batch(const VoterSet& voters, int64_t now_ms) {
  return record::build_control_batch(
      {{voters_control_type, protocol::encode_to_vector(voters_record(voters), 0)}}, now_ms);
}

std::optional<int16_t> control_type(Bytes batch) {
  auto reader = record::RecordReader::open(batch);
  if (!reader) return std::nullopt;
  record::Record record;
  if (!reader->next(record) || !record.key || record.key->size() < 4) return std::nullopt;
  return static_cast<int16_t>(((*record.key)[2] << 8) | (*record.key)[3]);
}

std::optional<VoterSet> decode_voters_batch(Bytes batch) {
  auto header = record::read_batch_header(batch);
  if (!header || !header->is_control() || control_type(batch) != voters_control_type)
    return std::nullopt;
  auto reader = record::RecordReader::open(batch);
  if (!reader) return std::nullopt;
  record::Record first;
  if (!reader->next(first) || !first.value) return std::nullopt;
  protocol::VotersRecord record;
  if (!protocol::decode_exact(*first.value, 0, record)) return std::nullopt;
  return voter_set(record);
}

std::string describe(const VoterSet& voters) {
  std::string out;
  for (const auto& [id, node] : voters) {
    if (!out.empty()) out += ",";
    out += std::to_string(id);
    if (!node.endpoints.empty())
      out += "@" + node.endpoints.front().host + ":" + std::to_string(node.endpoints.front().port);
  }
  return "[" + out + "]";
}

}  // namespace sluice::cluster
