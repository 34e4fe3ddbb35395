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

std::vector<uint8_t> encode_voters_batch(const VoterSet& voters, int64_t now_ms) {
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
  const std::vector<uint8_t> value = protocol::encode_to_vector(record, 0);
  // Kafka's control record key: version 0, then the type.
  const std::vector<uint8_t> key{0, 0, 0, static_cast<uint8_t>(voters_control_type)};
  record::BatchOptions options;
  options.control = true;
  record::BatchBuilder builder(options);
  builder.append(now_ms, Bytes(key), Bytes(value));
  auto batch = builder.build();
  SLUICE_ASSERT(batch.is_ok(), "a control batch always builds");
  return std::move(batch.value());
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
