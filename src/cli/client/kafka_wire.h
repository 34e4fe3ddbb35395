#pragma once
// A blocking, one-request-at-a-time Kafka connection built on the project's
// own protocol codecs, for what Debian 12's librdkafka (2.0) has no API for:
// Metadata v10+ (topic ids, broker racks) and IncrementalAlterConfigs
// (librdkafka 2.2+). Everything else goes through librdkafka.
//
// PLAINTEXT listeners only (no TLS or SASL); versions are negotiated with
// ApiVersions v0 first, so it works with any Kafka broker from 2.1 on.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/uuid.h"
#include "cli/client/common.h"
#include "protocol/codec.h"
#include "protocol/headers.h"
#include "protocol/messages/incremental_alter_configs_request.h"
#include "protocol/messages/incremental_alter_configs_response.h"
#include "protocol/messages/metadata_request.h"
#include "protocol/messages/metadata_response.h"

namespace sluice::cli::client {

class WireConnection {
 public:
  // The connection for `options`: its bootstrap servers (or `servers` when
  // given), after checking -X (a bad property, or a security protocol other
  // than PLAINTEXT, is a CommandError).
  static std::unique_ptr<WireConnection> open(const ConnectionOptions& options,
                                              const std::string& servers = "");

  // Connects to the first reachable "host:port" of a comma-separated list
  // within `timeout_ms` each, and learns its API versions. CommandError when
  // none answers.
  WireConnection(const std::string& servers, int timeout_ms);
  ~WireConnection();
  WireConnection(const WireConnection&) = delete;
  WireConnection& operator=(const WireConnection&) = delete;

  // Sends `request` in the highest version both sides support and returns the
  // decoded response. CommandError on I/O failure or no common version.
  template <class Request>
  typename Request::Response call(const Request& request) {
    int16_t version = negotiate(Request::api_key, Request::message_name, Request::min_version,
                                Request::max_version);
    WireWriter writer;
    write_header(writer, Request::api_key, version);
    request.encode(writer, version);
    std::vector<uint8_t> answer = round_trip(writer.to_vector());
    typename Request::Response response;
    decode_response(answer, Request::api_key, version, response);
    return response;
  }

  const std::string& address() const { return address_; }

 private:
  int16_t negotiate(int16_t api_key, const char* name, int16_t min_version, int16_t max_version);
  void write_header(WireWriter& writer, int16_t api_key, int16_t version);
  std::vector<uint8_t> round_trip(const std::vector<uint8_t>& request);
  template <class Response>
  void decode_response(const std::vector<uint8_t>& answer, int16_t api_key, int16_t version,
                       Response& response) {
    WireReader reader(answer);
    protocol::ResponseHeader header;
    Status status = protocol::decode_response_header(reader, api_key, version, header);
    if (status) status = response.decode(reader, version);
    if (!status) {
      throw CommandError(std::string("bad ") + Response::message_name + " from " + address_ +
                         ": " + status.message());
    }
  }
  void learn_api_versions();

  int fd_ = -1;
  int timeout_ms_;
  std::string address_;
  int32_t next_correlation_id_ = 1;
  std::map<int16_t, std::pair<int16_t, int16_t>> broker_versions_;
};

// Metadata of the named topics, or of all topics when `topics` is nullopt,
// from the bootstrap servers; never auto-creates.
protocol::MetadataResponse fetch_metadata(const ConnectionOptions& options,
                                          const std::optional<std::vector<std::string>>& topics);

// Kafka's printed form of a Uuid (Uuid.toString): URL-safe base64, no padding.
std::string uuid_to_base64url(const Uuid& uuid);

}  // namespace sluice::cli::client
