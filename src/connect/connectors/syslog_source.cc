// A syslog source configured as Confluent's SyslogSourceConnector
// (io.confluent.connect.syslog.SyslogSourceConnector): `syslog.listener`
// (UDP or TCP), `syslog.port`, `syslog.listen.address`, `topic` (or
// datagen-style `kafka.topic`), `syslog.queue.batch.size`. One task listens;
// each message becomes a record whose value is a Struct (the parsed fields,
// the sender's address and the raw text) and whose key is the host.
//
// All socket work happens inside poll(), on the task's thread: no thread of
// our own and no queue in the process. While the runtime is busy between
// polls, UDP datagrams wait in the kernel's receive buffer (enlarged at
// start; what overflows it is lost, as UDP syslog always may lose) and TCP
// senders are held back by TCP's own flow control.
//
// Delivery: syslog cannot be replayed, so records carry no source offsets:
// what reaches Kafka is what arrived while the task ran (at-most-once for
// anything sent while the worker is down or the task is stopped).

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "connect/connectors/connectors.h"
#include "connect/connectors/syslog.h"
#include "connect/errors.h"

namespace sluice::connect {
namespace {

constexpr const char* kSyslogListenerKey = "syslog.listener";
constexpr const char* kSyslogPortKey = "syslog.port";
constexpr const char* kSyslogListenAddressKey = "syslog.listen.address";
constexpr const char* kSyslogTopicKey = "topic";
constexpr const char* kSyslogKafkaTopicKey = "kafka.topic";
constexpr const char* kSyslogBatchSizeKey = "syslog.queue.batch.size";
constexpr const char* kSyslogDefaultTopic = "syslog";
// A UDP datagram holds at most 65507 bytes of payload; TCP frames are held to
// the same size so one peer cannot make the task buffer without bound.
constexpr size_t kSyslogMessageBytesMax = 64 * 1024;
// Bounds: connections held open at once, and the receive buffer asked for
// (the kernel caps it at net.core.rmem_max).
constexpr size_t kSyslogConnectionsMax = 256;
constexpr int kSyslogReceiveBufferBytes = 4 * 1024 * 1024;
constexpr int kSyslogListenBacklog = 128;

std::vector<ConfigKey> syslog_config_keys() {
  return {
      {kSyslogListenerKey, ConfigType::string, false, "UDP",
       one_of_case_insensitive({"UDP", "TCP"})},
      {kSyslogPortKey, ConfigType::integer, true, std::nullopt,
       [](const ConfigValue& value) -> std::optional<ConfigProblem> {
         const auto* port = std::get_if<int32_t>(&value);
         if (port && *port >= 0 && *port <= 65535) return std::nullopt;
         return ConfigProblem{"Value must be a port from 0 (any free port) to 65535"};
       }},
      {kSyslogListenAddressKey, ConfigType::string, false, "0.0.0.0", non_empty_string()},
      {kSyslogTopicKey, ConfigType::string, false, kSyslogDefaultTopic, non_empty_string()},
      {kSyslogKafkaTopicKey, ConfigType::string, false, std::nullopt, nullptr},
      {kSyslogBatchSizeKey, ConfigType::integer, false, "1000",
       [](const ConfigValue& value) -> std::optional<ConfigProblem> {
         const auto* size = std::get_if<int32_t>(&value);
         if (size && *size >= 1) return std::nullopt;
         return ConfigProblem{"Value must be at least 1"};
       }},
  };
}

// `topic` when given, else `kafka.topic`, else "syslog": the configuration
// cannot tell `topic`'s default from a value, so the properties decide.
std::string syslog_topic(const Properties& config) {
  for (const char* key : {kSyslogTopicKey, kSyslogKafkaTopicKey}) {
    auto found = config.find(key);
    if (found != config.end() && !found->second.empty()) return found->second;
  }
  return kSyslogDefaultTopic;
}

Status syslog_io_error(const std::string& what) {
  return Status(Errc::io_error, "syslog source: " + what + ": " + std::strerror(errno));
}

int64_t syslog_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string syslog_address_text(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof text);
  } else if (address.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, text,
              sizeof text);
  }
  return text;
}

// A datagram's trailing line end and NULs (logger(1) and others add them)
// are no part of the message.
std::string_view syslog_trim_datagram(std::string_view payload) {
  while (!payload.empty() &&
         (payload.back() == '\n' || payload.back() == '\r' || payload.back() == '\0')) {
    payload.remove_suffix(1);
  }
  return payload;
}

std::string syslog_upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

SchemaPtr syslog_optional(SchemaType type) { return primitive_schema(type, /*optional=*/true); }

// The records' value: every field a message may carry, optional where the
// message may lack it. `date` is the message's own time; the record's
// timestamp is the time it was received (a sender's clock, or RFC 3164's
// guessed year, must not decide the topic's retention).
SchemaPtr syslog_value_schema() {
  static const SchemaPtr schema = SchemaBuilder::structure()
                                      .name("sluice.connect.syslog.Message")
                                      .field("format", primitive_schema(SchemaType::string))
                                      .field("facility", syslog_optional(SchemaType::int32))
                                      .field("severity", syslog_optional(SchemaType::int32))
                                      .field("version", syslog_optional(SchemaType::int32))
                                      .field("date", timestamp_schema().optional().build_or_die())
                                      .field("host", syslog_optional(SchemaType::string))
                                      .field("appName", syslog_optional(SchemaType::string))
                                      .field("processId", syslog_optional(SchemaType::string))
                                      .field("messageId", syslog_optional(SchemaType::string))
                                      .field("structuredData", syslog_optional(SchemaType::string))
                                      .field("message", primitive_schema(SchemaType::string))
                                      .field("remoteAddress", primitive_schema(SchemaType::string))
                                      .field("rawMessage", primitive_schema(SchemaType::string))
                                      .build_or_die();
  return schema;
}

void syslog_put(Struct& row, std::string_view field, Value value) {
  Status put = row.put(field, std::move(value));
  SLUICE_ASSERT(put.is_ok(), "a syslog field does not match the record schema");
}

template <class T>
void syslog_put_optional(Struct& row, std::string_view field, const std::optional<T>& value) {
  if (value) syslog_put(row, field, Value(*value));
}

ConnectRecord syslog_record(std::string_view raw, const std::string& remote,
                            const std::string& topic) {
  const int64_t now_ms = syslog_now_ms();
  SyslogMessage parsed = parse_syslog_message(raw, now_ms);
  Struct row(syslog_value_schema());
  syslog_put(row, "format", syslog_format_name(parsed.format));
  syslog_put_optional(row, "facility", parsed.facility);
  syslog_put_optional(row, "severity", parsed.severity);
  syslog_put_optional(row, "version", parsed.version);
  if (parsed.timestamp_ms) syslog_put(row, "date", DateTime{*parsed.timestamp_ms});
  syslog_put_optional(row, "host", parsed.host);
  syslog_put_optional(row, "appName", parsed.app_name);
  syslog_put_optional(row, "processId", parsed.process_id);
  syslog_put_optional(row, "messageId", parsed.message_id);
  syslog_put_optional(row, "structuredData", parsed.structured_data);
  syslog_put(row, "message", std::move(parsed.message));
  syslog_put(row, "remoteAddress", remote);
  syslog_put(row, "rawMessage", std::string(raw));
  // Keyed by the sending host, so one host's messages keep their order in
  // one partition; a message without a hostname is keyed by its sender.
  std::string key = parsed.host.value_or(remote);
  // No source partition or offset: nothing to resume from (see the top).
  return make_source_record({}, {}, topic, std::nullopt, primitive_schema(SchemaType::string),
                            Value(std::move(key)), syslog_value_schema(), Value(std::move(row)),
                            now_ms);
}

enum class SyslogProtocol { udp, tcp };

// One accepted TCP connection and the frames it has sent so far.
struct SyslogConnection {
  int fd = -1;
  std::string remote;
  SyslogFrameReader frames{kSyslogMessageBytesMax};
  bool closed = false;   // the peer closed or failed: no more reads
  bool drained = false;  // closed, and every frame handed out: drop it
};

class SyslogListener final : public SyslogSourceTask {
 public:
  ~SyslogListener() override {
    close_sockets();
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  Status start(const Properties& config, OffsetReader& /*offsets*/) override {
    auto parsed = SimpleConfig::parse(syslog_config_keys(), config);
    if (!parsed.is_ok()) return parsed.status();
    protocol_ = syslog_upper(*parsed->get_string(kSyslogListenerKey)) == "TCP"
                    ? SyslogProtocol::tcp
                    : SyslogProtocol::udp;
    topic_ = syslog_topic(config);
    batch_size_ = static_cast<size_t>(parsed->get_int(kSyslogBatchSizeKey));
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return syslog_io_error("eventfd");
    return open_listener(*parsed->get_string(kSyslogListenAddressKey),
                         static_cast<uint16_t>(parsed->get_int(kSyslogPortKey)));
  }

  // Messages that arrived, at most syslog.queue.batch.size; waits up to
  // `max_wait` for the first one. stop() wakes a waiting poll at once.
  Result<std::vector<ConnectRecord>> poll(std::chrono::milliseconds max_wait) override {
    std::lock_guard io(io_mutex_);
    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    std::vector<ConnectRecord> records;
    while (!stopping_.load() && listen_fd_ >= 0) {
      if (Status read = read_ready(records); !read) return read;
      if (!records.empty()) break;
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      if (Status waited = wait_readable(left); !waited) return waited;
    }
    return records;
  }

  // Callable from any thread: wakes a waiting poll, then closes the sockets
  // once no poll uses them (the port is free when this returns).
  void stop() override {
    stopping_.store(true);
    if (wake_fd_ >= 0) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
    }
    std::lock_guard io(io_mutex_);
    close_sockets();
  }

  uint16_t bound_port() const override { return bound_port_.load(); }

 private:
  Status open_listener(const std::string& address, uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = protocol_ == SyslogProtocol::tcp ? SOCK_STREAM : SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (::getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
      return config_error(kSyslogListenAddressKey, address, "not an IP address");
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, ::freeaddrinfo);
    listen_fd_ = ::socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return syslog_io_error("socket");
    const int on = 1;
    // A restarted task binds again while old connections sit in TIME_WAIT.
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (protocol_ == SyslogProtocol::udp) {
      ::setsockopt(listen_fd_, SOL_SOCKET, SO_RCVBUF, &kSyslogReceiveBufferBytes,
                   sizeof kSyslogReceiveBufferBytes);
    }
    if (::bind(listen_fd_, found->ai_addr, found->ai_addrlen) != 0) {
      return syslog_io_error("cannot bind " + address + ":" + std::to_string(port));
    }
    if (protocol_ == SyslogProtocol::tcp && ::listen(listen_fd_, kSyslogListenBacklog) != 0) {
      return syslog_io_error("listen");
    }
    return remember_port();
  }

  Status remember_port() {
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
      return syslog_io_error("getsockname");
    }
    const uint16_t port = bound.ss_family == AF_INET6
                              ? reinterpret_cast<const sockaddr_in6&>(bound).sin6_port
                              : reinterpret_cast<const sockaddr_in&>(bound).sin_port;
    bound_port_.store(ntohs(port));
    return Status::ok();
  }

  // Everything readable now without blocking, up to the batch size.
  Status read_ready(std::vector<ConnectRecord>& records) {
    if (protocol_ == SyslogProtocol::udp) return read_datagrams(records);
    take_frames(records);
    accept_connections();
    for (auto& connection : connections_) {
      if (records.size() >= batch_size_) break;
      read_connection(*connection);
    }
    take_frames(records);
    drop_closed_connections();
    return Status::ok();
  }

  Status read_datagrams(std::vector<ConnectRecord>& records) {
    std::string& payload = datagram_;
    payload.resize(kSyslogMessageBytesMax);
    while (records.size() < batch_size_) {
      sockaddr_storage sender{};
      socklen_t sender_length = sizeof sender;
      const ssize_t got = ::recvfrom(listen_fd_, payload.data(), payload.size(), 0,
                                     reinterpret_cast<sockaddr*>(&sender), &sender_length);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (got < 0) return syslog_io_error("recvfrom");
      const std::string_view message =
          syslog_trim_datagram(std::string_view(payload.data(), static_cast<size_t>(got)));
      if (message.empty()) continue;
      records.push_back(syslog_record(message, syslog_address_text(sender), topic_));
    }
    return Status::ok();
  }

  void accept_connections() {
    for (size_t accepted = 0; accepted < kSyslogConnectionsMax; ++accepted) {
      sockaddr_storage peer{};
      socklen_t peer_length = sizeof peer;
      const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_length,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN: none waiting; other errors: the peer left already
      if (connections_.size() >= kSyslogConnectionsMax) {
        spdlog::warn("connect: syslog source refuses a connection from {}: {} are open",
                     syslog_address_text(peer), kSyslogConnectionsMax);
        ::close(fd);
        continue;
      }
      connections_.push_back(std::make_unique<SyslogConnection>());
      connections_.back()->fd = fd;
      connections_.back()->remote = syslog_address_text(peer);
    }
  }

  // One read per connection and round, so one busy sender cannot starve
  // the others.
  void read_connection(SyslogConnection& connection) {
    if (connection.closed) return;
    char chunk[16 * 1024];
    const ssize_t got = ::read(connection.fd, chunk, sizeof chunk);
    if (got > 0) {
      connection.frames.append(std::string_view(chunk, static_cast<size_t>(got)));
    } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      connection.closed = true;
    }
  }

  // Complete frames of every connection, up to the batch size; a closed
  // connection's last unterminated line too, once its frames are taken.
  void take_frames(std::vector<ConnectRecord>& records) {
    for (auto& connection : connections_) {
      while (records.size() < batch_size_) {
        std::optional<std::string> frame = connection->frames.next_frame();
        if (!frame && connection->closed) {
          frame = connection->frames.finish();
          connection->drained = !frame;
        }
        if (!frame) break;
        records.push_back(syslog_record(*frame, connection->remote, topic_));
      }
    }
  }

  void drop_closed_connections() {
    // A closed connection whose frames did not fit this batch stays until
    // a later poll has handed them out.
    std::erase_if(connections_, [](const std::unique_ptr<SyslogConnection>& connection) {
      if (!connection->drained) return false;
      ::close(connection->fd);
      return true;
    });
  }

  // Sleeps until a socket is readable, stop() wakes it, or `limit` passed.
  Status wait_readable(std::chrono::steady_clock::duration limit) {
    std::vector<pollfd> watched;
    watched.push_back({wake_fd_, POLLIN, 0});
    watched.push_back({listen_fd_, POLLIN, 0});
    for (const auto& connection : connections_) {
      if (!connection->closed) watched.push_back({connection->fd, POLLIN, 0});
    }
    const auto limit_ms = std::chrono::ceil<std::chrono::milliseconds>(limit).count();
    const int ready = ::poll(watched.data(), watched.size(), static_cast<int>(limit_ms));
    if (ready < 0 && errno != EINTR) return syslog_io_error("poll");
    return Status::ok();
  }

  void close_sockets() {
    for (auto& connection : connections_) ::close(connection->fd);
    connections_.clear();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    bound_port_.store(0);
    // The wake descriptor stays open until destruction: a stop() racing
    // with another may still write to it.
  }

  SyslogProtocol protocol_ = SyslogProtocol::udp;
  std::string topic_;
  size_t batch_size_ = 1000;
  std::mutex io_mutex_;  // held by poll while it uses the sockets, and by stop
  std::atomic<bool> stopping_{false};
  std::atomic<uint16_t> bound_port_{0};
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::vector<std::unique_ptr<SyslogConnection>> connections_;
  std::string datagram_;  // the receive buffer, kept across polls
};

class SyslogSourceConnector final : public Connector {
 public:
  ConnectorType type() const override { return ConnectorType::source; }
  std::vector<ConfigKey> config_keys() const override { return syslog_config_keys(); }

  Status start(const Properties& config) override {
    auto parsed = SimpleConfig::parse(syslog_config_keys(), config);
    if (!parsed.is_ok()) return parsed.status();
    config_ = config;
    return Status::ok();
  }

  // One port, one listener: one task whatever tasks.max allows (a second
  // task could not bind the port).
  std::vector<Properties> task_configs(int /*max_tasks*/) override { return {config_}; }

  std::unique_ptr<SourceTask> make_source_task() override { return make_syslog_source_task(); }

 private:
  Properties config_;
};

}  // namespace

std::unique_ptr<SyslogSourceTask> make_syslog_source_task() {
  return std::make_unique<SyslogListener>();
}

std::unique_ptr<Connector> make_syslog_source_connector() {
  return std::make_unique<SyslogSourceConnector>();
}

}  // namespace sluice::connect
