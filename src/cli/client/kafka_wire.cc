#include "cli/client/kafka_wire.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "protocol/messages/api_versions_request.h"
#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/request_header.h"

namespace sluice::cli::client {
namespace {

std::pair<std::string, std::string> host_and_port(std::string server) {
  size_t scheme = server.find("://");
  if (scheme != std::string::npos) server = server.substr(scheme + 3);
  size_t colon = server.rfind(':');
  if (colon == std::string::npos) return {server, "9092"};
  std::string host = server.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, server.substr(colon + 1)};
}

bool wait_for(int fd, short events, int timeout_ms) {
  pollfd entry{fd, events, 0};
  int ready;
  do {
    ready = ::poll(&entry, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  return ready == 1;
}

// A connected, blocking socket to one address of `host`, or -1.
int connect_with_timeout(const std::string& host, const std::string& port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int connected = -1;
  for (addrinfo* entry = found; entry != nullptr && connected < 0; entry = entry->ai_next) {
    int fd = ::socket(entry->ai_family, entry->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int rc = ::connect(fd, entry->ai_addr, entry->ai_addrlen);
    int error = 0;
    socklen_t length = sizeof error;
    if (rc < 0 && errno == EINPROGRESS && wait_for(fd, POLLOUT, timeout_ms)) {
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
      rc = error == 0 ? 0 : -1;
    }
    if (rc == 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      connected = fd;
    } else {
      ::close(fd);
    }
  }
  freeaddrinfo(found);
  return connected;
}

bool write_all(int fd, const uint8_t* data, size_t size, int timeout_ms) {
  while (size > 0) {
    if (!wait_for(fd, POLLOUT, timeout_ms)) return false;
    ssize_t written = ::send(fd, data, size, MSG_NOSIGNAL);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

bool read_all(int fd, uint8_t* data, size_t size, int timeout_ms) {
  while (size > 0) {
    if (!wait_for(fd, POLLIN, timeout_ms)) return false;
    ssize_t got = ::recv(fd, data, size, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    data += got;
    size -= static_cast<size_t>(got);
  }
  return true;
}

}  // namespace

WireConnection::WireConnection(const std::string& servers, int timeout_ms)
    : timeout_ms_(timeout_ms) {
  size_t start = 0;
  while (fd_ < 0 && start <= servers.size()) {
    size_t comma = servers.find(',', start);
    std::string server = servers.substr(start, comma == std::string::npos ? comma : comma - start);
    start = comma == std::string::npos ? servers.size() + 1 : comma + 1;
    auto [host, port] = host_and_port(server);
    fd_ = connect_with_timeout(host, port, timeout_ms);
    if (fd_ >= 0) address_ = server;
  }
  if (fd_ < 0) {
    throw CommandError("cannot reach broker " + servers + " within " + seconds_text(timeout_ms));
  }
  learn_api_versions();
}

std::unique_ptr<WireConnection> WireConnection::open(const ConnectionOptions& options,
                                                     const std::string& servers) {
  validate_client_settings(options);
  auto settings = parse_settings(options.raw_settings, "-X");
  auto protocol = settings.find("security.protocol");
  if (protocol != settings.end() && protocol->second != "plaintext" && protocol->second != "PLAINTEXT") {
    throw CommandError("topic ids, racks and config changes need a PLAINTEXT listener (librdkafka 2.0 "
                       "has no API for them), not security.protocol=" + protocol->second);
  }
  return std::make_unique<WireConnection>(servers.empty() ? options.bootstrap_servers : servers,
                                          options.timeout_ms());
}

WireConnection::~WireConnection() {
  if (fd_ >= 0) ::close(fd_);
}

void WireConnection::learn_api_versions() {
  // v0: every broker answers it, and its response header is always v0.
  protocol::ApiVersionsResponse response;
  WireWriter writer;
  write_header(writer, protocol::ApiVersionsRequest::api_key, 0);
  protocol::ApiVersionsRequest{}.encode(writer, 0);
  decode_response(round_trip(writer.to_vector()), protocol::ApiVersionsRequest::api_key, 0,
                  response);
  if (response.error_code != 0) {
    throw CommandError("ApiVersions refused by " + address_ + " (error " +
                       std::to_string(response.error_code) + ")");
  }
  for (const auto& api : response.api_keys) {
    broker_versions_[api.api_key] = {api.min_version, api.max_version};
  }
}

int16_t WireConnection::negotiate(int16_t api_key, const char* name, int16_t min_version,
                                  int16_t max_version) {
  auto found = broker_versions_.find(api_key);
  if (found != broker_versions_.end()) {
    int16_t low = std::max(min_version, found->second.first);
    int16_t high = std::min(max_version, found->second.second);
    if (low <= high) return high;
  }
  throw CommandError(std::string("broker ") + address_ + " does not support " + name +
                     " in a version this client speaks");
}

void WireConnection::write_header(WireWriter& writer, int16_t api_key, int16_t version) {
  protocol::RequestHeader header;
  header.request_api_key = api_key;
  header.request_api_version = version;
  header.correlation_id = next_correlation_id_++;
  header.client_id = "sluice-cli";
  protocol::encode_request_header(writer, header);
}

std::vector<uint8_t> WireConnection::round_trip(const std::vector<uint8_t>& request) {
  uint8_t size_prefix[4];
  uint32_t size = static_cast<uint32_t>(request.size());
  for (int i = 0; i < 4; ++i) size_prefix[i] = static_cast<uint8_t>(size >> (24 - 8 * i));
  if (!write_all(fd_, size_prefix, 4, timeout_ms_) ||
      !write_all(fd_, request.data(), request.size(), timeout_ms_)) {
    throw CommandError("cannot send a request to broker " + address_);
  }
  if (!read_all(fd_, size_prefix, 4, timeout_ms_)) {
    throw CommandError("no answer from broker " + address_ + " within the timeout");
  }
  uint32_t answer_size = 0;
  for (int i = 0; i < 4; ++i) answer_size = (answer_size << 8) | size_prefix[i];
  if (answer_size > (256u << 20)) {
    throw CommandError(address_ + " did not answer like a Kafka broker (frame of " +
                       std::to_string(answer_size) + " bytes)");
  }
  std::vector<uint8_t> answer(answer_size);
  if (!read_all(fd_, answer.data(), answer.size(), timeout_ms_)) {
    throw CommandError("answer from broker " + address_ + " cut short");
  }
  return answer;
}

protocol::MetadataResponse fetch_metadata(const ConnectionOptions& options,
                                          const std::optional<std::vector<std::string>>& topics) {
  std::unique_ptr<WireConnection> connection = WireConnection::open(options);
  protocol::MetadataRequest request;
  request.allow_auto_topic_creation = false;
  if (topics) {
    request.topics.emplace();
    for (const std::string& name : *topics) {
      protocol::MetadataRequest::MetadataRequestTopic topic;
      topic.name = name;
      request.topics->push_back(topic);
    }
  } else {
    request.topics = std::nullopt;
  }
  return connection->call(request);
}

std::string uuid_to_base64url(const Uuid& uuid) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string text;
  uint32_t bits = 0;
  int bit_count = 0;
  for (uint8_t byte : uuid.bytes) {
    bits = (bits << 8) | byte;
    bit_count += 8;
    while (bit_count >= 6) {
      bit_count -= 6;
      text += alphabet[(bits >> bit_count) & 0x3f];
    }
  }
  if (bit_count > 0) text += alphabet[(bits << (6 - bit_count)) & 0x3f];
  return text;
}

}  // namespace sluice::cli::client
