#pragma once
// Syslog as the syslog source connector reads it (syslog_source.cc): the
// parser of one message (RFC 5424 and RFC 3164), the TCP framing of RFC 6587
// (octet counting and newline-delimited), both pure logic in syslog_format.cc,
// and the source task, exposed so tests can learn the port it bound.
// Nothing here throws or asserts on input: any byte string is a message,
// parsed as far as it follows one of the RFCs.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "connect/connector.h"

namespace sluice::connect {

// Which grammar a message followed: RFC 5424 (a version after the PRI),
// RFC 3164 (a PRI and a BSD timestamp, or an RFC 3339 one as rsyslog sends),
// or neither (no PRI, or no timestamp after it): then only what could be
// read (the PRI's facility and severity, if any) is set and `message` holds
// the text after the PRI (or the whole text).
enum class SyslogFormat { rfc5424, rfc3164, unparsed };

// "RFC5424", "RFC3164", "UNPARSED": the records' `format` field.
const char* syslog_format_name(SyslogFormat format);

struct SyslogMessage {
  SyslogFormat format = SyslogFormat::unparsed;
  std::optional<int32_t> facility;  // PRI / 8: 0..23
  std::optional<int32_t> severity;  // PRI % 8: 0 (emergency) .. 7 (debug)
  std::optional<int32_t> version;   // RFC 5424 only
  std::optional<int64_t> timestamp_ms;
  // RFC 5424's nil value "-" reads as absent.
  std::optional<std::string> host;
  std::optional<std::string> app_name;  // RFC 3164: the TAG
  std::optional<std::string> process_id;
  std::optional<std::string> message_id;
  // RFC 5424's STRUCTURED-DATA as it was sent ("[id k=\"v\"][id2 ...]").
  std::optional<std::string> structured_data;
  std::string message;  // RFC 5424: without a leading UTF-8 BOM
};

// Parses one message (a UDP datagram's payload or one TCP frame, without its
// line end). `now_ms` completes RFC 3164 timestamps, which carry no year: the
// current UTC year, or the previous one when that would put the time more
// than a week ahead (December's messages read in January). RFC 3164 times
// without a zone are taken as UTC.
SyslogMessage parse_syslog_message(std::string_view raw, int64_t now_ms);

// Splits a TCP byte stream into messages as RFC 6587 frames them: a frame
// that starts with a digit is octet-counted ("LEN SP MSG"), any other ends at
// LF (a CR before it is dropped; empty lines are skipped). A frame is at most
// `frame_bytes_max` bytes: a longer line is cut into pieces of that size, and
// of a longer octet-counted frame the first `frame_bytes_max` bytes are kept
// and the rest skipped, so memory stays bounded whatever a peer sends.
class SyslogFrameReader {
 public:
  explicit SyslogFrameReader(size_t frame_bytes_max);

  void append(std::string_view bytes);
  // The next complete frame, or nullopt until more bytes are appended.
  std::optional<std::string> next_frame();
  // The peer closed the stream: what is left (a last line without its LF,
  // a truncated octet-counted frame) as one last frame.
  std::optional<std::string> finish();

 private:
  std::optional<std::string> octet_counted_frame(size_t digits);
  std::optional<std::string> line_frame();

  size_t frame_bytes_max_;
  std::string buffer_;
  size_t skip_bytes_ = 0;  // the rest of an oversized octet-counted frame
};

// The task of the syslog source connector: listens on UDP or TCP from
// start() to stop().
class SyslogSourceTask : public SourceTask {
 public:
  // The port the listener is bound to (`syslog.port=0` binds a free one,
  // which is how tests listen); 0 before start() and after stop().
  virtual uint16_t bound_port() const = 0;
};

std::unique_ptr<SyslogSourceTask> make_syslog_source_task();

}  // namespace sluice::connect
