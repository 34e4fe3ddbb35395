#pragma once
// A blocking Kafka-protocol connection to an in-process broker, for the
// broker's unit tests: request frames out, response frames in.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <vector>

#include "protocol/protocol.h"

namespace sluice::broker::testing {

// A blocking Kafka-protocol connection: frames out, frames in.
class KafkaConnection {
 public:
  explicit KafkaConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~KafkaConnection() { ::close(fd_); }
  bool connected() const { return connected_; }

  template <class Request>
  void send(const Request& request, int16_t version, int32_t correlation_id) {
    protocol::RequestHeader header;
    header.request_api_key = Request::api_key;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = "broker-unit-test";
    WireWriter writer;
    protocol::encode_request_header(writer, header);
    request.encode(writer, version);
    std::vector<uint8_t> body = writer.to_vector();
    uint32_t size = htonl(static_cast<uint32_t>(body.size()));
    std::vector<uint8_t> frame(4);
    std::memcpy(frame.data(), &size, 4);
    frame.insert(frame.end(), body.begin(), body.end());
    ASSERT_EQ(::write(fd_, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  }

  // The next response frame (after its size), or nullopt after `timeout`.
  std::optional<std::vector<uint8_t>> receive(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::vector<uint8_t> size_bytes(4);
    if (!read_exactly(size_bytes, timeout)) return std::nullopt;
    uint32_t size = 0;
    std::memcpy(&size, size_bytes.data(), 4);
    std::vector<uint8_t> frame(ntohl(size));
    if (!read_exactly(frame, timeout)) return std::nullopt;
    return frame;
  }

  template <class Response>
  static int32_t decode(const std::vector<uint8_t>& frame, int16_t version, Response& response) {
    WireReader reader(frame);
    protocol::ResponseHeader header;
    EXPECT_TRUE(
        protocol::decode_response_header(reader, Response::api_key, version, header).is_ok());
    EXPECT_TRUE(response.decode(reader, version).is_ok());
    return header.correlation_id;
  }

 private:
  bool read_exactly(std::vector<uint8_t>& out, std::chrono::milliseconds timeout) {
    size_t have = 0;
    auto until = std::chrono::steady_clock::now() + timeout;
    while (have < out.size()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd poll_fd{fd_, POLLIN, 0};
      if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) return false;
      ssize_t got = ::read(fd_, out.data() + have, out.size() - have);
      if (got <= 0) return false;
      have += static_cast<size_t>(got);
    }
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace sluice::broker::testing
