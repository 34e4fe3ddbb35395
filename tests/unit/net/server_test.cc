// The network layer with a toy handler: answers leave in request order even
// when they complete out of order, oversized frames close the connection,
// idle connections are closed, and stop() drains answers already owed.
#include "net/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "base/metrics.h"

namespace sluice::net {
namespace {

// Answers each frame with its own bytes. Frames starting with 'D' are held
// back, frame included (as acks=all holds its request until the fsync), until
// release_delayed(), so later requests complete first. Frames starting with
// 'T' are put off to their turn (Response::at_turn) and answered with how
// many held frames had been released when their turn came.
class EchoHandler : public RequestHandler {
 public:
  void handle(const ConnectionInfo&, std::shared_ptr<const FrameBuffer> frame, Respond respond) override {
    Response response;
    response.body.write_raw(Bytes(*frame));
    ++handled_;
    if (!frame->empty() && (*frame)[0] == 'T') {
      std::string text(frame->begin(), frame->end());
      respond(Response::at_turn([this, text](Respond turn) {
        ++turns_;
        Response answer;
        answer.body.write_raw(text + " after " + std::to_string(released_.load()) + " released");
        turn(std::move(answer));
      }));
      return;
    }
    if (!frame->empty() && (*frame)[0] == 'D') {
      std::lock_guard lock(mutex_);
      delayed_.push_back({std::move(respond), std::move(response), std::move(frame)});
      return;
    }
    respond(std::move(response));
  }
  void release_delayed() {
    std::vector<Delayed> delayed;
    {
      std::lock_guard lock(mutex_);
      delayed.swap(delayed_);
    }
    released_ += static_cast<int>(delayed.size());
    std::thread([delayed = std::move(delayed)]() mutable {
      for (Delayed& held : delayed) {
        held.frame.reset();
        held.respond(std::move(held.response));
      }
    }).join();
  }
  size_t delayed_count() {
    std::lock_guard lock(mutex_);
    return delayed_.size();
  }
  int handled() const { return handled_; }
  int turns() const { return turns_; }

 private:
  struct Delayed {
    Respond respond;
    Response response;
    std::shared_ptr<const FrameBuffer> frame;
  };
  std::mutex mutex_;
  std::vector<Delayed> delayed_;
  std::atomic<int> handled_{0};
  std::atomic<int> released_{0};
  std::atomic<int> turns_{0};
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

// A frame announcing `size` bytes followed by `body` (a truncated frame when
// the body is shorter).
std::vector<uint8_t> frame_bytes(const std::string& body, int32_t size) {
  WireWriter writer;
  writer.write_int32(size);
  writer.write_raw(body);
  return writer.to_vector();
}

void send_bytes(int fd, const std::vector<uint8_t>& bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

void send_frame(int fd, const std::string& body) {
  send_bytes(fd, frame_bytes(body, static_cast<int32_t>(body.size())));
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

// A handler that blocks its reactor (as a disk wait would) shows in the
// callback-duration histogram and its max gauge (reactor_timing.h).
TEST(Server, RecordsHowLongAReactorSpendsInOneCallback) {
  class SlowHandler : public RequestHandler {
   public:
    void handle(const ConnectionInfo&, std::shared_ptr<const FrameBuffer> frame,
                Respond respond) override {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      Response response;
      response.body.write_raw(Bytes(*frame));
      respond(std::move(response));
    }
  } handler;
  ServerConfig config;
  config.listeners = {{"PLAINTEXT", "127.0.0.1", 0}};
  config.reactor_threads = 1;
  Server server(std::move(config), handler);
  ASSERT_TRUE(server.start());
  metrics::Registry& registry = metrics::default_registry();
  metrics::Histogram& durations =
      registry.histogram_family("sluice_reactor_callback_duration_seconds", "", {"reactor"}, {})
          .labels({"reactor-0"});
  const uint64_t callbacks_before = durations.snapshot().count();
  int fd = connect_to(server.bound_port(0));
  send_frame(fd, "slow");
  EXPECT_EQ(read_frame(fd), "slow");
  ::close(fd);
  server.stop(0);
  EXPECT_GT(durations.snapshot().count(), callbacks_before);
  EXPECT_GE(registry.gauge_family("sluice_reactor_callback_max_seconds", "", {"reactor"})
                .labels({"reactor-0"})
                .value(),
            0.03);
  EXPECT_NE(registry.render().find(
                "sluice_reactor_callback_duration_seconds_bucket{reactor=\"reactor-0\""),
            std::string::npos);
}

// ConnectionInfo::reactor runs a task posted from another thread on the
// connection's own reactor thread, the one its requests are handled on.
TEST(Server, ConnectionReactorRunsPostedTasksOnTheConnectionsThread) {
  class PostingHandler : public RequestHandler {
   public:
    void handle(const ConnectionInfo& info, std::shared_ptr<const FrameBuffer> frame,
                Respond respond) override {
      handled_on = std::this_thread::get_id();
      ASSERT_TRUE(info.reactor);
      std::thread([this, reactor = info.reactor, frame, respond = std::move(respond)]() mutable {
        reactor->post([this, frame, respond = std::move(respond)] {
          ran_on = std::this_thread::get_id();
          Response response;
          response.body.write_raw(Bytes(*frame));
          respond(std::move(response));
        });
      }).join();
    }
    std::thread::id handled_on, ran_on;
  } handler;
  ServerConfig config;
  config.listeners = {{"PLAINTEXT", "127.0.0.1", 0}};
  config.reactor_threads = 2;
  Server server(std::move(config), handler);
  ASSERT_TRUE(server.start());
  for (int i = 0; i < 2; ++i) {  // one connection per reactor
    int fd = connect_to(server.bound_port(0));
    send_frame(fd, "posted");
    EXPECT_EQ(read_frame(fd), "posted");
    EXPECT_EQ(handler.ran_on, handler.handled_on);
    ::close(fd);
  }
  server.stop(0);
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

// Large bodies are read with SO_RCVLOWAT set to what is missing: a body that
// trickles in is still read whole, and the mark is back to 1 for the next
// small frame (were it not, that frame would wait for bytes never sent).
TEST(Server, ReadsALargeFrameSentInPiecesThenASmallOne) {
  TestServer test({});
  int fd = connect_to(test.port());
  std::string body(3 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  std::vector<uint8_t> bytes = frame_bytes(body, static_cast<int32_t>(body.size()));
  constexpr size_t kPiece = 100'003;  // not a multiple of anything the server reads
  for (size_t at = 0; at < bytes.size(); at += kPiece) {
    size_t length = std::min(kPiece, bytes.size() - at);
    ASSERT_EQ(::send(fd, bytes.data() + at, length, MSG_NOSIGNAL), static_cast<ssize_t>(length));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(read_frame(fd), body);
  send_frame(fd, "small");
  EXPECT_EQ(read_frame(fd), "small");
  ::close(fd);
}

TEST(Server, ClosesWhenThePeerEndsInsideALargeFrame) {
  TestServer test({});
  int fd = connect_to(test.port());
  send_bytes(fd, frame_bytes(std::string(300'000, 'x'), 1 << 20));  // then nothing: the sender stops
  ::shutdown(fd, SHUT_WR);
  EXPECT_EQ(read_frame(fd), std::nullopt);  // closed, within the 5 s receive timeout
  ::close(fd);
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

// Waits (up to 5 s) until `condition` holds; the tests assert on it after.
template <class Condition>
bool eventually(Condition condition) {
  for (int i = 0; i < 500 && !condition(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return condition();
}

// Kafka handles a connection's requests one at a time; a request put off to
// its turn (Response::at_turn: Metadata, FindCoordinator) is handled only
// once every earlier one is answered, and its answer keeps its place.
TEST(Server, HandlesARequestPutOffToItsTurnOnceTheEarlierOnesAreAnswered) {
  TestServer test({});
  int fd = connect_to(test.port());
  send_frame(fd, "D-first");
  send_frame(fd, "T-snapshot");
  send_frame(fd, "third");
  ASSERT_TRUE(eventually([&] { return test.handler.handled() == 3; }));
  ASSERT_TRUE(eventually([&] { return test.handler.delayed_count() == 1; }));
  EXPECT_EQ(test.handler.turns(), 0);  // "D-first" is not answered yet
  test.handler.release_delayed();
  EXPECT_EQ(read_frame(fd), "D-first");
  EXPECT_EQ(read_frame(fd), "T-snapshot after 1 released");
  EXPECT_EQ(read_frame(fd), "third");
  EXPECT_EQ(test.handler.turns(), 1);
  // Nothing before it: handled at once.
  send_frame(fd, "T-alone");
  EXPECT_EQ(read_frame(fd), "T-alone after 1 released");
  // Two in a row behind a held one: each in its turn, in order.
  send_frame(fd, "D-second");
  send_frame(fd, "T-a");
  send_frame(fd, "T-b");
  ASSERT_TRUE(eventually([&] { return test.handler.delayed_count() == 1; }));
  ASSERT_TRUE(eventually([&] { return test.handler.handled() == 7; }));
  EXPECT_EQ(test.handler.turns(), 2);
  test.handler.release_delayed();
  EXPECT_EQ(read_frame(fd), "D-second");
  EXPECT_EQ(read_frame(fd), "T-a after 2 released");
  EXPECT_EQ(read_frame(fd), "T-b after 2 released");
  ::close(fd);
}

// A connection closed while a request waits for its turn drops it unrun.
TEST(Server, DropsARequestWaitingForItsTurnWhenTheConnectionCloses) {
  TestServer test({});
  int fd = connect_to(test.port());
  send_frame(fd, "D-held");
  send_frame(fd, "T-never");
  ASSERT_TRUE(eventually([&] { return test.handler.handled() == 2; }));
  ::close(fd);
  ASSERT_TRUE(eventually([&] { return test.server.open_connections() == 0; }));
  // The connection is gone: releasing the held answer starts nothing.
  test.handler.release_delayed();
  EXPECT_EQ(test.handler.turns(), 0);
}

// queued.max.request.bytes: a frame that does not fit is not read until the
// frames holding the memory are dropped, on any connection; then it is.
TEST(Server, StopsReadingWhileRequestMemoryIsSpent) {
  ServerConfig config;
  config.queued_max_request_bytes = 1000;
  TestServer test(config);
  int first = connect_to(test.port());
  int second = connect_to(test.port());
  send_frame(first, "D" + std::string(599, 'a'));  // held by the handler: 600 bytes held
  ASSERT_TRUE(eventually([&] { return test.handler.delayed_count() == 1; }));
  EXPECT_EQ(test.server.request_bytes_held(), 600);
  send_frame(second, std::string(500, 'b'));  // 1100 > 1000: waits, unread
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(test.handler.handled(), 1);
  EXPECT_EQ(test.server.request_bytes_held(), 600);

  test.handler.release_delayed();  // drops the first frame: the second is read and answered
  EXPECT_EQ(read_frame(first), "D" + std::string(599, 'a'));
  EXPECT_EQ(read_frame(second), std::string(500, 'b'));
  EXPECT_TRUE(eventually([&] { return test.server.request_bytes_held() == 0; }));
  ::close(first);
  ::close(second);
}

// A frame larger than the whole bound proceeds once nothing else is held:
// a bound below socket.request.max.bytes slows such frames, never deadlocks.
TEST(Server, AFrameLargerThanTheBoundIsReadWhenNothingElseIsHeld) {
  ServerConfig config;
  config.queued_max_request_bytes = 100;
  TestServer test(config);
  int fd = connect_to(test.port());
  send_frame(fd, std::string(5000, 'x'));
  EXPECT_EQ(read_frame(fd), std::string(5000, 'x'));
  send_frame(fd, "D-held");
  ASSERT_TRUE(eventually([&] { return test.handler.delayed_count() == 1; }));
  int other = connect_to(test.port());
  send_frame(other, std::string(5000, 'y'));  // waits for the held frame
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(test.handler.handled(), 2);
  test.handler.release_delayed();
  EXPECT_EQ(read_frame(fd), "D-held");
  EXPECT_EQ(read_frame(other), std::string(5000, 'y'));
  ::close(fd);
  ::close(other);
}

// A connection closed while it waits for memory (here by the idle timer:
// it has no request in flight) gives up its place: nothing is granted to it,
// and the others go on.
TEST(Server, AConnectionClosedWhileWaitingForMemoryHoldsNothing) {
  ServerConfig config;
  config.queued_max_request_bytes = 1000;
  config.connections_max_idle_ms = 200;
  TestServer test(config);
  int holder = connect_to(test.port());
  send_frame(holder, "D" + std::string(899, 'a'));
  ASSERT_TRUE(eventually([&] { return test.handler.delayed_count() == 1; }));
  int waiter = connect_to(test.port());
  send_frame(waiter, std::string(900, 'w'));
  EXPECT_EQ(read_frame(waiter), std::nullopt);  // closed idle, its frame unread
  EXPECT_EQ(test.handler.handled(), 1);
  test.handler.release_delayed();
  EXPECT_EQ(read_frame(holder), "D" + std::string(899, 'a'));
  EXPECT_TRUE(eventually([&] { return test.server.request_bytes_held() == 0; }));
  int next = connect_to(test.port());
  send_frame(next, std::string(900, 'n'));
  EXPECT_EQ(read_frame(next), std::string(900, 'n'));
  ::close(holder);
  ::close(waiter);
  ::close(next);
}

// A frame a handler still holds when the server stops (as the broker's
// flusher may) returns its bytes after the reactors stopped, while another
// connection was waiting for them: the waiter, which will never resume, is
// not granted nor posted to (ASan checks the twin). The server object still
// exists then, as in Broker::stop; answers must not outlive it (request.h).
TEST(Server, AFrameReleasedAfterStopWakesNoStoppedConnection) {
  EchoHandler handler;
  ServerConfig config = TestServer::with_listener({});
  config.queued_max_request_bytes = 1000;
  auto server = std::make_unique<Server>(config, handler);
  ASSERT_TRUE(server->start().is_ok());
  int holder = connect_to(server->bound_port(0));
  send_frame(holder, "D" + std::string(899, 'a'));
  ASSERT_TRUE(eventually([&] { return handler.delayed_count() == 1; }));
  int waiter = connect_to(server->bound_port(0));
  send_frame(waiter, std::string(900, 'w'));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server->stop(0);
  handler.release_delayed();  // drops the frame: its bytes go back to a pool nobody waits on
  EXPECT_EQ(handler.handled(), 1);
  EXPECT_EQ(server->request_bytes_held(), 0);
  server.reset();
  ::close(holder);
  ::close(waiter);
}

// sluice.request.receive.timeout.ms: a peer that stops inside a frame body
// is dropped (it would hold its reservation until connections.max.idle.ms).
TEST(Server, DropsAFrameThatStallsMidway) {
  ServerConfig config;
  config.request_receive_timeout_ms = 100;
  TestServer test(config);
  int fd = connect_to(test.port());
  send_frame(fd, "whole");  // a frame received in time is served
  EXPECT_EQ(read_frame(fd), "whole");
  send_bytes(fd, frame_bytes(std::string(300, 'x'), 1000));  // then the sender stalls
  EXPECT_EQ(read_frame(fd), std::nullopt);                    // closed after ~100 ms
  EXPECT_TRUE(eventually([&] { return test.server.request_bytes_held() == 0; }));
  ::close(fd);
}

// Answers "F<n>" with text around two slices of a file sent by sendfile (its
// first n bytes, then 5000 bytes from position 7) and a placeholder range too
// short to be referenced, which the body copies. Other frames are echoed.
class FileSliceHandler : public RequestHandler {
 public:
  explicit FileSliceHandler(int fd) : fd_(fd) {}
  void handle(const ConnectionInfo&, std::shared_ptr<const FrameBuffer> frame, Respond respond) override {
    Response response;
    std::string text(frame->begin(), frame->end());
    if (text.empty() || text[0] != 'F') {
      response.body.write_raw(text);
      respond(std::move(response));
      return;
    }
    size_t length = std::stoul(text.substr(1));
    response.body.write_raw(std::string_view("head"));
    response.body.write_external(Bytes(file_slice_placeholder(), length));
    response.body.write_raw(std::string_view("mid"));
    response.body.write_external(Bytes(file_slice_placeholder(), 10));  // below the threshold: ignored
    response.body.write_external(Bytes(file_slice_placeholder(), 5000));
    response.body.write_raw(std::string_view("tail"));
    response.file_slices = {{fd_, 0, length}, {fd_, 7, 5000}};
    respond(std::move(response));
  }

 private:
  int fd_;
};

TEST(Server, SendsFileSlicesWhereTheBodyHoldsTheirPlaceholders) {
  std::string contents(3 << 20, '\0');  // larger than the socket buffers: sendfile must wait to write
  for (size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>('a' + (i * 7) % 26);
  char path[] = "/tmp/sluice-sendfile-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  ASSERT_EQ(::write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));

  FileSliceHandler handler(fd);
  ServerConfig config = TestServer::with_listener({});
  Server server(config, handler);
  ASSERT_TRUE(server.start().is_ok());
  int client = connect_to(server.bound_port(0));
  send_frame(client, "F" + std::to_string(contents.size()));
  send_frame(client, "after");
  std::string small_slice(10, '\0');  // written as bytes: the placeholder reads as zeros
  EXPECT_EQ(read_frame(client),
            "head" + contents + "mid" + small_slice + contents.substr(7, 5000) + "tail");
  EXPECT_EQ(read_frame(client), "after");

  // A slice past the end of the file (it was truncated): the frame cannot be
  // finished, so the connection closes; the server keeps serving.
  send_frame(client, "F" + std::to_string(contents.size() + 100));
  auto truncated = read_frame(client);
  EXPECT_EQ(truncated, std::nullopt);
  ::close(client);
  int again = connect_to(server.bound_port(0));
  send_frame(again, "ok");
  EXPECT_EQ(read_frame(again), "ok");
  ::close(again);
  server.stop();
  ::close(fd);
}

}  // namespace
}  // namespace sluice::net
