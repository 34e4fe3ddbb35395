// The network layer with a toy handler: answers leave in request order even
// when they complete out of order, oversized frames close the connection,
// idle connections are closed, and stop() drains answers already owed.
#include "net/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>

namespace sluice::net {
namespace {

// Answers each frame with its own bytes. Frames starting with 'D' are held
// back until release_delayed(), so later requests complete first.
class EchoHandler : public RequestHandler {
 public:
  void handle(const ConnectionInfo&, FrameBuffer frame, Respond respond) override {
    Response response;
    response.body.write_raw(Bytes(frame));
    if (!frame.empty() && frame[0] == 'D') {
      std::lock_guard lock(mutex_);
      delayed_.emplace_back(std::move(respond), std::move(response));
      return;
    }
    respond(std::move(response));
  }
  void release_delayed() {
    std::vector<std::pair<Respond, Response>> delayed;
    {
      std::lock_guard lock(mutex_);
      delayed.swap(delayed_);
    }
    std::thread([delayed = std::move(delayed)]() mutable {
      for (auto& [respond, response] : delayed) respond(std::move(response));
    }).join();
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<Respond, Response>> delayed_;
};

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

void send_frame(int fd, const std::string& body) {
  WireWriter writer;
  writer.write_int32(static_cast<int32_t>(body.size()));
  writer.write_raw(body);
  auto bytes = writer.to_vector();
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

// The next answer's body, or nullopt when the server closed the connection.
std::optional<std::string> read_frame(int fd) {
  uint8_t size_bytes[4];
  if (::recv(fd, size_bytes, 4, MSG_WAITALL) != 4) return std::nullopt;
  WireReader reader(size_bytes);
  std::string body(static_cast<size_t>(reader.read_int32()), '\0');
  if (!body.empty() && ::recv(fd, body.data(), body.size(), MSG_WAITALL) != static_cast<ssize_t>(body.size()))
    return std::nullopt;
  return body;
}

struct TestServer {
  EchoHandler handler;
  Server server;
  explicit TestServer(ServerConfig config) : server(with_listener(std::move(config)), handler) {
    Status status = server.start();
    EXPECT_TRUE(status.is_ok()) << status.to_string();
  }
  static ServerConfig with_listener(ServerConfig config) {
    config.listeners = {{"PLAINTEXT", "127.0.0.1", 0}};
    config.reactor_threads = 2;
    return config;
  }
  uint16_t port() const { return server.bound_port(0); }
};

TEST(Server, AnswersPipelinedRequestsInRequestOrder) {
  TestServer test({});
  int fd = connect_to(test.port());
  send_frame(fd, "D-first");
  send_frame(fd, "second");
  send_frame(fd, "third");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  test.handler.release_delayed();
  EXPECT_EQ(read_frame(fd), "D-first");
  EXPECT_EQ(read_frame(fd), "second");
  EXPECT_EQ(read_frame(fd), "third");
  ::close(fd);
}

TEST(Server, ClosesTheConnectionOnAnOversizedFrame) {
  ServerConfig config;
  config.socket_request_max_bytes = 16;
  TestServer test(config);
  int fd = connect_to(test.port());
  send_frame(fd, std::string(17, 'x'));
  EXPECT_EQ(read_frame(fd), std::nullopt);
  ::close(fd);

  int again = connect_to(test.port());  // the server still serves others
  send_frame(again, "ok");
  EXPECT_EQ(read_frame(again), "ok");
  ::close(again);
}

TEST(Server, ClosesTheConnectionOnANegativeSize) {
  TestServer test({});
  int fd = connect_to(test.port());
  const uint8_t negative[] = {0xff, 0xff, 0xff, 0xf0};
  ASSERT_EQ(::send(fd, negative, 4, MSG_NOSIGNAL), 4);
  EXPECT_EQ(read_frame(fd), std::nullopt);
  ::close(fd);
}

TEST(Server, ClosesIdleConnections) {
  ServerConfig config;
  config.connections_max_idle_ms = 100;
  TestServer test(config);
  int fd = connect_to(test.port());
  send_frame(fd, "hello");
  EXPECT_EQ(read_frame(fd), "hello");
  EXPECT_EQ(read_frame(fd), std::nullopt);  // closed after ~100 ms of silence
  ::close(fd);
}

TEST(Server, ServesManyConnectionsAtOnce) {
  TestServer test({});
  std::vector<int> fds;
  for (int i = 0; i < 200; ++i) fds.push_back(connect_to(test.port()));
  for (size_t i = 0; i < fds.size(); ++i) send_frame(fds[i], "n" + std::to_string(i));
  for (size_t i = 0; i < fds.size(); ++i) EXPECT_EQ(read_frame(fds[i]), "n" + std::to_string(i));
  for (int fd : fds) ::close(fd);
}

TEST(Server, StopDrainsAnswersAlreadyOwed) {
  auto test = std::make_unique<TestServer>(ServerConfig{});
  int fd = connect_to(test->port());
  send_frame(fd, "D-late");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::thread stopper([&] { test->server.stop(2000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  test->handler.release_delayed();
  EXPECT_EQ(read_frame(fd), "D-late");
  stopper.join();
  ::close(fd);
}

}  // namespace
}  // namespace sluice::net
