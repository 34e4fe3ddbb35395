// The syslog source (src/connect/connectors/syslog*.{h,cc}): the parser on
// RFC 5424's and RFC 3164's own examples, nil values, the BOM and malformed
// input (truncated, mutated, random: every input is a message, none
// crashes); RFC 6587's TCP framing; and the task receiving real UDP
// datagrams and TCP streams sent to 127.0.0.1.

#include "connect/connectors/syslog.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <thread>

namespace sluice::connect::syslog_testing {
namespace {

using namespace std::chrono_literals;

// 2003-12-05T00:00:00Z: every RFC example's date lies before it in 2003.
constexpr int64_t kNow = 1070611200000;
const std::string kBom = "\xEF\xBB\xBF";

// ---- RFC 5424 (section 6.5's examples) ---------------------------------------

TEST(SyslogParser, Rfc5424Example1WithBomAndNilValues) {
  const SyslogMessage m =
      parse_syslog_message("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - " +
                               kBom + "'su root' failed for lonvick on /dev/pts/8",
                           kNow);
  EXPECT_EQ(m.format, SyslogFormat::rfc5424);
  EXPECT_EQ(m.facility, 4);
  EXPECT_EQ(m.severity, 2);
  EXPECT_EQ(m.version, 1);
  EXPECT_EQ(m.timestamp_ms, 1065910455003);
  EXPECT_EQ(m.host, "mymachine.example.com");
  EXPECT_EQ(m.app_name, "su");
  EXPECT_EQ(m.process_id, std::nullopt);
  EXPECT_EQ(m.message_id, "ID47");
  EXPECT_EQ(m.structured_data, std::nullopt);
  EXPECT_EQ(m.message, "'su root' failed for lonvick on /dev/pts/8");
}

TEST(SyslogParser, Rfc5424Example2WithOffsetAndMicroseconds) {
  const SyslogMessage m = parse_syslog_message(
      "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make "
      "the do-nuts.",
      kNow);
  EXPECT_EQ(m.format, SyslogFormat::rfc5424);
  EXPECT_EQ(m.facility, 20);
  EXPECT_EQ(m.severity, 5);
  EXPECT_EQ(m.timestamp_ms, 1061727255000);  // 12:14:15.000 UTC
  EXPECT_EQ(m.host, "192.0.2.1");
  EXPECT_EQ(m.app_name, "myproc");
  EXPECT_EQ(m.process_id, "8710");
  EXPECT_EQ(m.message_id, std::nullopt);
  EXPECT_EQ(m.message, "%% It's time to make the do-nuts.");
}

TEST(SyslogParser, Rfc5424Example3StructuredDataAndBom) {
  const std::string sd = R"([exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"])";
  const SyslogMessage m = parse_syslog_message(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 " + sd + " " + kBom +
          "An application event log entry...",
      kNow);
  EXPECT_EQ(m.format, SyslogFormat::rfc5424);
  EXPECT_EQ(m.app_name, "evntslog");
  EXPECT_EQ(m.structured_data, sd);
  EXPECT_EQ(m.message, "An application event log entry...");
}

TEST(SyslogParser, Rfc5424Example4TwoElementsNoMessage) {
  const std::string sd = R"([exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"])"
                         R"([examplePriority@32473 class="high"])";
  const SyslogMessage m = parse_syslog_message(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 " + sd, kNow);
  EXPECT_EQ(m.format, SyslogFormat::rfc5424);
  EXPECT_EQ(m.structured_data, sd);
  EXPECT_EQ(m.message, "");
}

TEST(SyslogParser, Rfc5424EscapesInParamValues) {
  const std::string sd = R"([id@1 a="x\"y\]z\\" b=""])";
  const SyslogMessage m = parse_syslog_message("<14>1 - host app 1 - " + sd + " text", kNow);
  EXPECT_EQ(m.format, SyslogFormat::rfc5424);
  EXPECT_EQ(m.structured_data, sd);
  EXPECT_EQ(m.message, "text");
}

TEST(SyslogParser, Rfc5424AllNil) {
  const SyslogMessage m = parse_syslog_message("<14>1 - - - - - -", kNow);
  EXPECT_EQ(m.format, SyslogFormat::rfc5424);
  EXPECT_EQ(m.facility, 1);
  EXPECT_EQ(m.severity, 6);
  EXPECT_EQ(m.timestamp_ms, std::nullopt);
  EXPECT_EQ(m.host, std::nullopt);
  EXPECT_EQ(m.app_name, std::nullopt);
  EXPECT_EQ(m.message_id, std::nullopt);
  EXPECT_EQ(m.message, "");
}

TEST(SyslogParser, NotQuiteRfc5424KeepsThePriorityAndTheText) {
  // Month 13, an unterminated SD element, a missing SD, a zero version.
  const std::vector<std::string> bodies = {
      "1 2003-13-11T22:14:15Z host app - - - msg", "1 2003-10-11T22:14:15Z h a - - [x a=\"1\" msg",
      "1 2003-10-11T22:14:15Z h a - -", "01 - - - - - -", "1 2003-10-11T22:14:15 h a - - - m"};
  for (const std::string& body : bodies) {
    const SyslogMessage m = parse_syslog_message("<34>" + body, kNow);
    EXPECT_EQ(m.format, SyslogFormat::unparsed) << body;
    EXPECT_EQ(m.facility, 4) << body;
    EXPECT_EQ(m.severity, 2) << body;
    EXPECT_EQ(m.message, body);
  }
}

// ---- RFC 3164 (section 5.4's examples) ----------------------------------------

TEST(SyslogParser, Rfc3164Example1HostAndTag) {
  const SyslogMessage m = parse_syslog_message(
      "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", kNow);
  EXPECT_EQ(m.format, SyslogFormat::rfc3164);
  EXPECT_EQ(m.facility, 4);
  EXPECT_EQ(m.severity, 2);
  EXPECT_EQ(m.version, std::nullopt);
  EXPECT_EQ(m.timestamp_ms, 1065910455000);
  EXPECT_EQ(m.host, "mymachine");
  EXPECT_EQ(m.app_name, "su");
  EXPECT_EQ(m.message, "'su root' failed for lonvick on /dev/pts/8");
}

TEST(SyslogParser, Rfc3164Example2NoPriorityIsUnparsed) {
  const SyslogMessage m = parse_syslog_message("Use the BFG!", kNow);
  EXPECT_EQ(m.format, SyslogFormat::unparsed);
  EXPECT_EQ(m.facility, std::nullopt);
  EXPECT_EQ(m.severity, std::nullopt);
  EXPECT_EQ(m.message, "Use the BFG!");
}

TEST(SyslogParser, Rfc3164Example3PaddedDayNoTag) {
  const SyslogMessage m = parse_syslog_message("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!", kNow);
  EXPECT_EQ(m.format, SyslogFormat::rfc3164);
  EXPECT_EQ(m.facility, 1);
  EXPECT_EQ(m.severity, 5);
  EXPECT_EQ(m.timestamp_ms, 1044466338000);
  EXPECT_EQ(m.host, "10.0.0.99");
  EXPECT_EQ(m.app_name, std::nullopt);
  EXPECT_EQ(m.message, "Use the BFG!");
}

TEST(SyslogParser, Rfc3164Example4ExtraTimeTextIsReadAsTheRfcSaysARelayWould) {
  const std::string rest =
      "1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%  Ingredients: Mix=OK, "
      "Jelly=OK # Devices: Mixer=OK, Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, "
      "Conveyer2=OK # %%";
  const SyslogMessage m = parse_syslog_message("<165>Aug 24 05:34:00 CST " + rest, kNow);
  EXPECT_EQ(m.format, SyslogFormat::rfc3164);
  EXPECT_EQ(m.timestamp_ms, 1061703240000);
  EXPECT_EQ(m.host, "CST");
  EXPECT_EQ(m.app_name, std::nullopt);
  EXPECT_EQ(m.message, rest);
}

TEST(SyslogParser, Rfc3164Example5BadTimestampIsUnparsed) {
  const std::string rest =
      "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!";
  const SyslogMessage m = parse_syslog_message("<0>" + rest, kNow);
  EXPECT_EQ(m.format, SyslogFormat::unparsed);
  EXPECT_EQ(m.facility, 0);
  EXPECT_EQ(m.severity, 0);
  EXPECT_EQ(m.timestamp_ms, std::nullopt);
  EXPECT_EQ(m.message, rest);
}

TEST(SyslogParser, Rfc3164TagWithProcessIdAndNoHostname) {
  SyslogMessage m =
      parse_syslog_message("<30>Dec  1 08:00:00 host sshd[1234]: Accepted publickey", kNow);
  EXPECT_EQ(m.timestamp_ms, 1070265600000);
  EXPECT_EQ(m.host, "host");
  EXPECT_EQ(m.app_name, "sshd");
  EXPECT_EQ(m.process_id, "1234");
  EXPECT_EQ(m.message, "Accepted publickey");

  m = parse_syslog_message("<30>Dec 01 08:00:00 cron[99]: job done", kNow);
  EXPECT_EQ(m.format, SyslogFormat::rfc3164);
  EXPECT_EQ(m.host, std::nullopt);
  EXPECT_EQ(m.app_name, "cron");
  EXPECT_EQ(m.process_id, "99");
  EXPECT_EQ(m.message, "job done");
}

TEST(SyslogParser, Rfc3164DecemberReadInJanuaryIsLastYear) {
  const int64_t new_year = 1072915210000;  // 2004-01-01T00:00:10Z
  const SyslogMessage m = parse_syslog_message("<13>Dec 31 23:59:59 h t: x", new_year);
  EXPECT_EQ(m.timestamp_ms, 1072915199000);  // 2003-12-31T23:59:59Z
}

TEST(SyslogParser, Rfc3164WithAnRfc3339Timestamp) {
  const SyslogMessage m =
      parse_syslog_message("<13>2024-05-01T10:00:00+02:00 web nginx: GET /", kNow);
  EXPECT_EQ(m.format, SyslogFormat::rfc3164);
  EXPECT_EQ(m.timestamp_ms, 1714550400000);
  EXPECT_EQ(m.host, "web");
  EXPECT_EQ(m.app_name, "nginx");
  EXPECT_EQ(m.message, "GET /");
}

TEST(SyslogParser, BadPrioritiesAreUnparsedWholeText) {
  const std::vector<std::string> texts = {
      "<192>1 - - - - - -", "<>x", "<1a>x", "<1234>x", "<", "<13", ""};
  for (const std::string& text : texts) {
    const SyslogMessage m = parse_syslog_message(text, kNow);
    EXPECT_EQ(m.format, SyslogFormat::unparsed) << text;
    EXPECT_EQ(m.facility, std::nullopt) << text;
    EXPECT_EQ(m.message, text);
  }
  const SyslogMessage only_priority = parse_syslog_message("<191>", kNow);
  EXPECT_EQ(only_priority.facility, 23);
  EXPECT_EQ(only_priority.severity, 7);
  EXPECT_EQ(only_priority.message, "");
}

// Every prefix of every example, every single-byte mutation of them, and
// seeded random bytes: each parses to something, and an unparsed one keeps
// its text.
TEST(SyslogParser, TruncatedMutatedAndRandomInputNeverBreaksIt) {
  const std::vector<std::string> examples = {
      "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - " + kBom + "'su root'",
      R"(<165>1 2003-10-11T22:14:15.003Z h evntslog - ID47 [a@1 b="c\"d"][e f="g"] msg)",
      "<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
      "<30>Dec  1 08:00:00 host sshd[1234]: Accepted",
      "<13>2024-05-01T10:00:00.123456+02:00 web nginx[7]: GET /"};
  std::mt19937 random(19);
  size_t parsed = 0;
  for (const std::string& example : examples) {
    for (size_t length = 0; length <= example.size(); ++length) {
      const SyslogMessage m = parse_syslog_message(example.substr(0, length), kNow);
      if (m.format == SyslogFormat::unparsed && m.facility == std::nullopt) {
        EXPECT_EQ(m.message, example.substr(0, length));
      }
      ++parsed;
    }
    for (size_t at = 0; at < example.size(); ++at) {
      std::string mutated = example;
      mutated[at] = static_cast<char>(random() % 256);
      (void)parse_syslog_message(mutated, kNow);
      ++parsed;
    }
  }
  for (int round = 0; round < 2000; ++round) {
    std::string noise(random() % 80, '\0');
    for (char& c : noise) c = static_cast<char>(random() % 256);
    if (round % 2 == 0) noise.insert(0, "<13>");
    (void)parse_syslog_message(noise, kNow);
    ++parsed;
  }
  EXPECT_GT(parsed, 2000u);
}

// ---- RFC 6587 framing -----------------------------------------------------------

std::vector<std::string> frames_of(SyslogFrameReader& reader) {
  std::vector<std::string> frames;
  while (auto frame = reader.next_frame()) frames.push_back(*frame);
  return frames;
}

TEST(SyslogFrames, NewlineDelimitedWithCrLfAndEmptyLines) {
  SyslogFrameReader reader(1024);
  reader.append("<13>a\n<13>b\r\n\n\r\n<13>c");
  EXPECT_EQ(frames_of(reader), (std::vector<std::string>{"<13>a", "<13>b"}));
  EXPECT_EQ(reader.finish(), "<13>c");
  EXPECT_EQ(reader.finish(), std::nullopt);
}

TEST(SyslogFrames, OctetCountedAcrossReads) {
  SyslogFrameReader reader(1024);
  reader.append("1");
  EXPECT_EQ(reader.next_frame(), std::nullopt);
  reader.append("2 <13>hi");
  EXPECT_EQ(reader.next_frame(), std::nullopt);
  reader.append(" there5 <1>x\n<13>line\n");
  // An octet-counted frame may hold a line end; framing may change per frame.
  EXPECT_EQ(frames_of(reader), (std::vector<std::string>{"<13>hi there", "<1>x\n", "<13>line"}));
}

TEST(SyslogFrames, OversizedFramesStayBounded) {
  SyslogFrameReader counted(4);
  counted.append("10 abcdef");
  EXPECT_EQ(counted.next_frame(), "abcd");
  counted.append("ghij2 ok");
  EXPECT_EQ(frames_of(counted), (std::vector<std::string>{"ok"}));

  SyslogFrameReader lines(4);
  lines.append("abcdefghij\nxy\n");
  EXPECT_EQ(frames_of(lines), (std::vector<std::string>{"abcd", "efgh", "ij", "xy"}));
}

TEST(SyslogFrames, DigitsThatAreNoLengthAreALine) {
  SyslogFrameReader reader(1024);
  reader.append("0 zero\n12345\n");
  EXPECT_EQ(frames_of(reader), (std::vector<std::string>{"0 zero", "12345"}));
}

// ---- the task on real sockets ---------------------------------------------------

class NoOffsets final : public OffsetReader {
 public:
  std::optional<Map> offset(const Map&) override { return std::nullopt; }
};

Properties syslog_config(const std::string& listener) {
  return {{"connector.class", "SyslogSource"},
          {"syslog.listener", listener},
          {"syslog.port", "0"},
          {"syslog.listen.address", "127.0.0.1"},
          {"topic", "logs"}};
}

std::unique_ptr<SyslogSourceTask> start_syslog(const Properties& config) {
  auto task = make_syslog_source_task();
  NoOffsets offsets;
  Status started = task->start(config, offsets);
  EXPECT_TRUE(started.is_ok()) << started.message();
  EXPECT_NE(task->bound_port(), 0);
  return task;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

void send_datagram(uint16_t port, const std::string& payload) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  const sockaddr_in to = loopback(port);
  EXPECT_EQ(::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                     sizeof to),
            static_cast<ssize_t>(payload.size()));
  ::close(fd);
}

int connect_tcp(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in to = loopback(port);
  EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to), 0);
  return fd;
}

std::vector<ConnectRecord> poll_records(SourceTask& task, size_t count) {
  std::vector<ConnectRecord> all;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (all.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto polled = task.poll(100ms);
    EXPECT_TRUE(polled.is_ok()) << polled.status().message();
    if (!polled.is_ok()) break;
    for (ConnectRecord& record : *polled) all.push_back(std::move(record));
  }
  return all;
}

Value field(const ConnectRecord& record, const std::string& name) {
  auto value = record.value.as<Struct>().get(name);
  EXPECT_TRUE(value.is_ok()) << name;
  return value.is_ok() ? *value : Value();
}

TEST(SyslogSource, ReceivesUdpDatagrams) {
  auto task = start_syslog(syslog_config("UDP"));
  send_datagram(task->bound_port(),
                "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - hello\n");
  send_datagram(task->bound_port(), "\x01\x02 not syslog");
  std::vector<ConnectRecord> records = poll_records(*task, 2);
  ASSERT_EQ(records.size(), 2u);

  const ConnectRecord& first = records[0];
  EXPECT_EQ(first.topic, "logs");
  EXPECT_EQ(first.key, Value("mymachine.example.com"));
  EXPECT_EQ(first.value_schema->name, "sluice.connect.syslog.Message");
  EXPECT_EQ(field(first, "format"), Value("RFC5424"));
  EXPECT_EQ(field(first, "facility"), Value(int32_t{4}));
  EXPECT_EQ(field(first, "severity"), Value(int32_t{2}));
  EXPECT_EQ(field(first, "date"), Value(DateTime{1065910455003}));
  EXPECT_EQ(field(first, "appName"), Value("su"));
  EXPECT_EQ(field(first, "messageId"), Value("ID47"));
  EXPECT_EQ(field(first, "processId"), Value());
  EXPECT_EQ(field(first, "message"), Value("hello"));
  EXPECT_EQ(field(first, "remoteAddress"), Value("127.0.0.1"));
  EXPECT_EQ(field(first, "rawMessage"),
            Value("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - hello"));
  const auto& origin = std::get<SourceOrigin>(first.origin);
  EXPECT_TRUE(origin.source_partition.empty());
  EXPECT_TRUE(origin.source_offset.empty());
  EXPECT_TRUE(first.value.as<Struct>().validate().is_ok());

  const ConnectRecord& malformed = records[1];
  EXPECT_EQ(malformed.key, Value("127.0.0.1"));  // no hostname: keyed by its sender
  EXPECT_EQ(field(malformed, "format"), Value("UNPARSED"));
  EXPECT_EQ(field(malformed, "message"), Value("\x01\x02 not syslog"));
  EXPECT_EQ(field(malformed, "rawMessage"), Value("\x01\x02 not syslog"));
  task->stop();
}

TEST(SyslogSource, ReceivesTcpStreamsInBothFramings) {
  auto task = start_syslog(syslog_config("tcp"));
  const int fd = connect_tcp(task->bound_port());
  const std::string counted = "<13>Feb  5 17:32:18 host2 app: two";
  const std::string stream = "<13>Feb  5 17:32:18 host1 app[7]: one\r\n" +
                             std::to_string(counted.size()) + " " + counted +
                             "<13>Feb  5 17:32:18 host3 app: three, no line end";
  // In pieces, as TCP may deliver it.
  for (size_t at = 0; at < stream.size(); at += 10) {
    const std::string piece = stream.substr(at, 10);
    ASSERT_EQ(::write(fd, piece.data(), piece.size()), static_cast<ssize_t>(piece.size()));
  }
  ::close(fd);
  std::vector<ConnectRecord> records = poll_records(*task, 3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(field(records[0], "message"), Value("one"));
  EXPECT_EQ(field(records[0], "processId"), Value("7"));
  EXPECT_EQ(records[0].key, Value("host1"));
  EXPECT_EQ(field(records[1], "message"), Value("two"));
  EXPECT_EQ(field(records[1], "rawMessage"), Value(counted));
  EXPECT_EQ(field(records[2], "message"), Value("three, no line end"));
  EXPECT_EQ(field(records[2], "remoteAddress"), Value("127.0.0.1"));
  task->stop();
}

TEST(SyslogSource, TwoTcpSendersAtOnce) {
  auto task = start_syslog(syslog_config("TCP"));
  const int first = connect_tcp(task->bound_port());
  const int second = connect_tcp(task->bound_port());
  for (int i = 0; i < 5; ++i) {
    const std::string a = "<13>Feb  5 17:32:18 a t: " + std::to_string(i) + "\n";
    const std::string b = "<13>Feb  5 17:32:18 b t: " + std::to_string(i) + "\n";
    ASSERT_EQ(::write(first, a.data(), a.size()), static_cast<ssize_t>(a.size()));
    ASSERT_EQ(::write(second, b.data(), b.size()), static_cast<ssize_t>(b.size()));
  }
  std::vector<ConnectRecord> records = poll_records(*task, 10);
  ASSERT_EQ(records.size(), 10u);
  // Each sender's messages keep their order.
  std::map<std::string, std::vector<std::string>> by_host;
  for (const ConnectRecord& record : records) {
    by_host[record.key.as<std::string>()].push_back(field(record, "message").as<std::string>());
  }
  const std::vector<std::string> in_order = {"0", "1", "2", "3", "4"};
  EXPECT_EQ(by_host["a"], in_order);
  EXPECT_EQ(by_host["b"], in_order);
  ::close(first);
  ::close(second);
  task->stop();
}

TEST(SyslogSource, PollHandsOutAtMostTheBatchSize) {
  Properties config = syslog_config("UDP");
  config["syslog.queue.batch.size"] = "2";
  auto task = start_syslog(config);
  for (int i = 0; i < 5; ++i) send_datagram(task->bound_port(), "<13>1 - - - - - - m");
  std::this_thread::sleep_for(50ms);
  auto first = task->poll(0ms);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->size(), 2u);
  EXPECT_EQ(poll_records(*task, 3).size(), 3u);
  task->stop();
}

// A closed connection whose frames outnumber a batch stays until every
// frame, its unterminated last line included, was handed out.
TEST(SyslogSource, AClosedConnectionIsDrainedAcrossPolls) {
  Properties config = syslog_config("TCP");
  config["syslog.queue.batch.size"] = "1";
  auto task = start_syslog(config);
  const int fd = connect_tcp(task->bound_port());
  const std::string lines = "<13>1 - h - - - - a\n<13>1 - h - - - - b\n<13>1 - h - - - - c";
  ASSERT_EQ(::write(fd, lines.data(), lines.size()), static_cast<ssize_t>(lines.size()));
  ::close(fd);
  std::this_thread::sleep_for(50ms);
  std::vector<std::string> messages;
  for (int round = 0; round < 50 && messages.size() < 3; ++round) {
    auto polled = task->poll(20ms);
    ASSERT_TRUE(polled.is_ok());
    ASSERT_LE(polled->size(), 1u);
    for (const ConnectRecord& record : *polled) {
      messages.push_back(field(record, "message").as<std::string>());
    }
  }
  EXPECT_EQ(messages, (std::vector<std::string>{"a", "b", "c"}));
  task->stop();
}

TEST(SyslogSource, PollWaitsAtMostMaxWait) {
  auto task = start_syslog(syslog_config("UDP"));
  const auto before = std::chrono::steady_clock::now();
  auto polled = task->poll(150ms);
  const auto waited = std::chrono::steady_clock::now() - before;
  ASSERT_TRUE(polled.is_ok());
  EXPECT_TRUE(polled->empty());
  EXPECT_GE(waited, 140ms);
  EXPECT_LT(waited, 1s);
  task->stop();
}

TEST(SyslogSource, StopWakesAWaitingPollAndFreesThePort) {
  for (const std::string& listener : std::vector<std::string>{"UDP", "TCP"}) {
    auto task = start_syslog(syslog_config(listener));
    const uint16_t port = task->bound_port();
    std::chrono::steady_clock::duration waited{};
    std::thread poller([&] {
      const auto before = std::chrono::steady_clock::now();
      auto polled = task->poll(10s);
      waited = std::chrono::steady_clock::now() - before;
      EXPECT_TRUE(polled.is_ok());
    });
    std::this_thread::sleep_for(100ms);
    task->stop();
    poller.join();
    EXPECT_LT(waited, 2s) << listener;
    EXPECT_EQ(task->bound_port(), 0);
    auto after = task->poll(50ms);
    ASSERT_TRUE(after.is_ok());
    EXPECT_TRUE(after->empty());
    // The port can be bound again.
    const int fd = ::socket(AF_INET, listener == "UDP" ? SOCK_DGRAM : SOCK_STREAM, 0);
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    const sockaddr_in address = loopback(port);
    EXPECT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0)
        << listener;
    ::close(fd);
  }
}

TEST(SyslogSource, RefusedSettings) {
  NoOffsets offsets;
  auto refused = [&](const Properties& config) {
    Status started = make_syslog_source_task()->start(config, offsets);
    EXPECT_FALSE(started.is_ok());
    return started.message();
  };
  Properties config = syslog_config("TCPSSL");
  EXPECT_NE(refused(config).find("syslog.listener"), std::string::npos);
  config = syslog_config("UDP");
  config.erase("syslog.port");
  EXPECT_EQ(refused(config),
            "Missing required configuration \"syslog.port\" which has no default value.");
  config = syslog_config("UDP");
  config["syslog.port"] = "70000";
  EXPECT_NE(refused(config).find("syslog.port"), std::string::npos);
  config = syslog_config("UDP");
  config["syslog.listen.address"] = "localhost.invalid";
  EXPECT_NE(refused(config).find("not an IP address"), std::string::npos);
}

TEST(SyslogSource, KafkaTopicIsTakenWhenTopicIsUnset) {
  Properties config = syslog_config("UDP");
  config.erase("topic");
  config["kafka.topic"] = "from-kafka-topic";
  auto task = start_syslog(config);
  send_datagram(task->bound_port(), "<13>1 - - - - - - m");
  std::vector<ConnectRecord> records = poll_records(*task, 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].topic, "from-kafka-topic");
  task->stop();
}

TEST(SyslogSource, TheConnectorRunsOneTaskAndFindsItByItsNames) {
  const ConnectorPlugin* plugin = find_connector_plugin("SyslogSource");
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->class_name, "io.confluent.connect.syslog.SyslogSourceConnector");
  EXPECT_EQ(find_connector_plugin("SyslogSourceConnector"), plugin);
  auto connector = plugin->make();
  ASSERT_TRUE(connector->start(syslog_config("UDP")).is_ok());
  EXPECT_EQ(connector->task_configs(4).size(), 1u);
  EXPECT_FALSE(connector->start({{"syslog.listener", "UDP"}}).is_ok());  // no port
}

}  // namespace
}  // namespace sluice::connect::syslog_testing
