// Syslog's two message grammars and RFC 6587's TCP framing (see syslog.h).
//
// RFC 5424 (section 6):
//   SYSLOG-MSG = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP
//                MSGID SP STRUCTURED-DATA [SP MSG]
// with "-" for an absent field and an optional UTF-8 BOM before MSG.
// RFC 3164 (section 4.1): PRI TIMESTAMP SP HOSTNAME SP TAG[PID]: CONTENT with
// a timestamp "Mmm dd hh:mm:ss". Real senders bend RFC 3164 (no hostname,
// RFC 3339 timestamps), so its parse is lenient; RFC 5424's is strict, and a
// message that is not quite RFC 5424 is read again as RFC 3164, as RFC 3164
// section 4.3 tells a relay to treat what it does not recognise.

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>

#include "connect/connectors/syslog.h"

namespace sluice::connect {
namespace {

constexpr int32_t kSyslogPriorityMax = 191;  // facility 23, severity 7
constexpr std::string_view kSyslogNil = "-";
constexpr std::string_view kSyslogBom = "\xEF\xBB\xBF";
// RFC 5424's field lengths (section 6): longer tokens are not RFC 5424.
constexpr size_t kSyslogHostnameMax = 255;
constexpr size_t kSyslogAppNameMax = 48;
constexpr size_t kSyslogProcessIdMax = 128;
constexpr size_t kSyslogMessageIdMax = 32;
constexpr size_t kSyslogSdNameMax = 32;
// RFC 3164 limits a TAG to 32 characters; programs' names are often longer.
constexpr size_t kSyslogTagMax = 48;
constexpr int64_t kSyslogMillisPerSecond = 1000;
constexpr int64_t kSyslogFutureSlackMs = 7LL * 86'400'000;
// An octet count longer than this is no frame length (RFC 6587's MSG-LEN is
// a frame size; ten digits is already beyond anything we accept).
constexpr size_t kSyslogFrameLengthDigitsMax = 9;

bool syslog_is_digit(char c) { return c >= '0' && c <= '9'; }
bool syslog_is_print_ascii(char c) { return c >= 33 && c <= 126; }

// Reads `count` digits at `text[at]` as a number; nullopt if any is not a digit.
std::optional<int32_t> syslog_digits(std::string_view text, size_t at, size_t count) {
  if (at + count > text.size()) return std::nullopt;
  int32_t value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (!syslog_is_digit(text[i])) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
// days_from_civil): no time zone database, no locale, no mktime.
int64_t syslog_days_from_civil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

struct SyslogCivilTime {
  int32_t year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0;

  bool valid() const {
    return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 &&
           second <= 60;  // 60: a leap second
  }
  int64_t epoch_ms() const {
    const int64_t days = syslog_days_from_civil(year, month, day);
    const int64_t seconds = days * 86'400 + hour * 3600 + minute * 60 + second;
    return seconds * kSyslogMillisPerSecond + millis;
  }
};

// "hh:mm:ss" at text[at].
bool syslog_read_clock(std::string_view text, size_t at, SyslogCivilTime& time) {
  auto hour = syslog_digits(text, at, 2);
  auto minute = syslog_digits(text, at + 3, 2);
  auto second = syslog_digits(text, at + 6, 2);
  if (!hour || !minute || !second || text[at + 2] != ':' || text[at + 5] != ':') return false;
  time.hour = *hour;
  time.minute = *minute;
  time.second = *second;
  return true;
}

// RFC 3339 as RFC 5424 restricts it: YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm).
// Fractions beyond milliseconds are dropped (the record holds milliseconds).
std::optional<int64_t> syslog_parse_rfc3339(std::string_view text) {
  SyslogCivilTime time;
  auto year = syslog_digits(text, 0, 4);
  auto month = syslog_digits(text, 5, 2);
  auto day = syslog_digits(text, 8, 2);
  if (!year || !month || !day || text[4] != '-' || text[7] != '-') return std::nullopt;
  if (text.size() < 19 || (text[10] != 'T' && text[10] != 't')) return std::nullopt;
  time.year = *year;
  time.month = *month;
  time.day = *day;
  if (!syslog_read_clock(text, 11, time)) return std::nullopt;
  size_t at = 19;
  if (at < text.size() && text[at] == '.') {
    const size_t first = ++at;
    while (at < text.size() && syslog_is_digit(text[at])) ++at;
    if (at == first) return std::nullopt;
    int32_t millis = 0;
    for (size_t i = first; i < first + 3; ++i) {
      millis = millis * 10 + (i < at ? text[i] - '0' : 0);
    }
    time.millis = millis;
  }
  if (!time.valid() || at >= text.size()) return std::nullopt;
  int64_t offset_minutes = 0;
  if (text[at] == 'Z' || text[at] == 'z') {
    ++at;
  } else if (text[at] == '+' || text[at] == '-') {
    auto hours = syslog_digits(text, at + 1, 2);
    auto minutes = syslog_digits(text, at + 4, 2);
    if (!hours || !minutes || text[at + 3] != ':' || *hours > 23 || *minutes > 59) {
      return std::nullopt;
    }
    offset_minutes = (*hours * 60 + *minutes) * (text[at] == '-' ? -1 : 1);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != text.size()) return std::nullopt;
  return time.epoch_ms() - offset_minutes * 60 * kSyslogMillisPerSecond;
}

int32_t syslog_utc_year(int64_t epoch_ms) {
  const time_t seconds = static_cast<time_t>(epoch_ms / kSyslogMillisPerSecond);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  return utc.tm_year + 1900;
}

// RFC 3164's "Mmm dd hh:mm:ss" (the day space-padded: "Feb  5"; "Feb 05" is
// accepted too), exactly 15 characters, in the year `syslog.h` describes.
std::optional<int64_t> syslog_parse_bsd_time(std::string_view text, int64_t now_ms) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 15 || text[3] != ' ' || text[6] != ' ') return std::nullopt;
  const auto month = std::find(kMonths.begin(), kMonths.end(), text.substr(0, 3));
  if (month == kMonths.end()) return std::nullopt;
  SyslogCivilTime time;
  time.month = static_cast<int32_t>(month - kMonths.begin()) + 1;
  const char tens = text[4] == ' ' ? '0' : text[4];
  if (!syslog_is_digit(tens) || !syslog_is_digit(text[5])) return std::nullopt;
  time.day = (tens - '0') * 10 + (text[5] - '0');
  if (!syslog_read_clock(text, 7, time) || !time.valid()) return std::nullopt;
  time.year = syslog_utc_year(now_ms);
  if (time.epoch_ms() > now_ms + kSyslogFutureSlackMs) --time.year;
  return time.epoch_ms();
}

// "<PRIVAL>" at the start: 1 to 3 digits, at most 191. Consumed on success.
std::optional<int32_t> syslog_take_priority(std::string_view& text) {
  if (text.size() < 3 || text[0] != '<') return std::nullopt;
  size_t digits = 0;
  while (digits < 3 && 1 + digits < text.size() && syslog_is_digit(text[1 + digits])) ++digits;
  if (digits == 0 || 1 + digits >= text.size() || text[1 + digits] != '>') return std::nullopt;
  const int32_t priority = *syslog_digits(text, 1, digits);
  if (priority > kSyslogPriorityMax) return std::nullopt;
  text.remove_prefix(digits + 2);
  return priority;
}

// The text up to the next space (or the end), consumed with that space.
std::string_view syslog_take_token(std::string_view& text) {
  const size_t space = text.find(' ');
  std::string_view token = text.substr(0, space);
  text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
  return token;
}

// An RFC 5424 header field: 1..max printable ASCII characters; "-" is absent.
bool syslog_take_header_field(std::string_view& text, size_t max,
                              std::optional<std::string>& field) {
  if (text.empty()) return false;
  const std::string_view token = syslog_take_token(text);
  if (token.empty() || token.size() > max) return false;
  if (!std::all_of(token.begin(), token.end(), syslog_is_print_ascii)) return false;
  if (token != kSyslogNil) field = std::string(token);
  return true;
}

bool syslog_is_sd_name_char(char c) {
  return syslog_is_print_ascii(c) && c != '=' && c != ']' && c != '"';
}

// An SD-NAME (SD-ID or PARAM-NAME) at text[at]: 1..32 characters.
bool syslog_skip_sd_name(std::string_view text, size_t& at) {
  const size_t first = at;
  while (at < text.size() && syslog_is_sd_name_char(text[at])) ++at;
  return at > first && at - first <= kSyslogSdNameMax;
}

// One SD-ELEMENT at text[at] ('['): "[SD-ID *(SP PARAM-NAME=\"value\")]", the
// value's '"', '\' and ']' escaped with '\'. Advances past its ']'.
bool syslog_skip_sd_element(std::string_view text, size_t& at) {
  ++at;  // '['
  if (!syslog_skip_sd_name(text, at)) return false;
  while (at < text.size() && text[at] == ' ') {
    ++at;
    if (!syslog_skip_sd_name(text, at)) return false;
    if (at + 1 >= text.size() || text[at] != '=' || text[at + 1] != '"') return false;
    at += 2;
    while (at < text.size() && text[at] != '"') at += text[at] == '\\' ? 2 : 1;
    if (at >= text.size()) return false;
    ++at;  // the closing '"'
  }
  if (at >= text.size() || text[at] != ']') return false;
  ++at;
  return true;
}

// STRUCTURED-DATA: "-" or one or more SD-ELEMENTs, followed by the end or a
// space before MSG. Consumed with that space on success.
bool syslog_take_structured_data(std::string_view& text, std::optional<std::string>& field) {
  size_t at = 0;
  if (text.starts_with(kSyslogNil)) {
    at = 1;
  } else {
    while (at < text.size() && text[at] == '[') {
      if (!syslog_skip_sd_element(text, at)) return false;
    }
    if (at == 0) return false;
    field = std::string(text.substr(0, at));
  }
  if (at < text.size() && text[at] != ' ') return false;
  text.remove_prefix(std::min(at + 1, text.size()));
  return true;
}

// RFC 5424 after the PRI; nullopt when the text does not follow it.
std::optional<SyslogMessage> syslog_parse_rfc5424(std::string_view text) {
  SyslogMessage parsed;
  parsed.format = SyslogFormat::rfc5424;
  const std::string_view version = syslog_take_token(text);
  if (version.empty() || version.size() > 3 || version[0] == '0') return std::nullopt;
  parsed.version = syslog_digits(version, 0, version.size());
  if (!parsed.version) return std::nullopt;
  const std::string_view timestamp = syslog_take_token(text);
  if (timestamp != kSyslogNil) {
    parsed.timestamp_ms = syslog_parse_rfc3339(timestamp);
    if (!parsed.timestamp_ms) return std::nullopt;
  }
  if (!syslog_take_header_field(text, kSyslogHostnameMax, parsed.host) ||
      !syslog_take_header_field(text, kSyslogAppNameMax, parsed.app_name) ||
      !syslog_take_header_field(text, kSyslogProcessIdMax, parsed.process_id) ||
      !syslog_take_header_field(text, kSyslogMessageIdMax, parsed.message_id) ||
      !syslog_take_structured_data(text, parsed.structured_data)) {
    return std::nullopt;
  }
  // A BOM marks MSG as UTF-8 (section 6.4); it is no part of the text.
  if (text.starts_with(kSyslogBom)) text.remove_prefix(kSyslogBom.size());
  parsed.message = std::string(text);
  return parsed;
}

// RFC 3164's TAG at the start of MSG: "tag: ", "tag[pid]: " (the space
// optional). Anything else leaves MSG whole: a first word is no tag unless
// a colon or a [pid] says so.
void syslog_take_tag(std::string_view& text, SyslogMessage& parsed) {
  const size_t end = text.find_first_of(" :[");
  if (end == 0 || end == std::string_view::npos || end > kSyslogTagMax) return;
  size_t at = end;
  std::optional<std::string> process_id;
  if (text[at] == '[') {
    const size_t close = text.find(']', at);
    if (close == std::string_view::npos || close + 1 >= text.size()) return;
    process_id = std::string(text.substr(at + 1, close - at - 1));
    at = close + 1;
  }
  if (text[at] != ':') return;
  parsed.app_name = std::string(text.substr(0, end));
  parsed.process_id = std::move(process_id);
  text.remove_prefix(at + 1);
  if (text.starts_with(' ')) text.remove_prefix(1);
}

// RFC 3164 after the PRI; nullopt without a timestamp it understands.
std::optional<SyslogMessage> syslog_parse_rfc3164(std::string_view text, int64_t now_ms) {
  SyslogMessage parsed;
  parsed.format = SyslogFormat::rfc3164;
  if (text.size() == 15 || (text.size() > 15 && text[15] == ' ')) {
    parsed.timestamp_ms = syslog_parse_bsd_time(text.substr(0, 15), now_ms);
  }
  if (parsed.timestamp_ms) {
    text.remove_prefix(std::min<size_t>(16, text.size()));
  } else {
    // rsyslog's and syslog-ng's RFC 3339 timestamp in an RFC 3164 header.
    std::string_view rest = text;
    parsed.timestamp_ms = syslog_parse_rfc3339(syslog_take_token(rest));
    if (!parsed.timestamp_ms) return std::nullopt;
    text = rest;
  }
  // The hostname is the next word, unless that word is already the tag
  // (local senders leave the hostname out).
  const std::string_view first_word = text.substr(0, text.find(' '));
  if (!first_word.empty() && !first_word.ends_with(':') &&
      first_word.find('[') == std::string_view::npos) {
    parsed.host = std::string(syslog_take_token(text));
  }
  syslog_take_tag(text, parsed);
  parsed.message = std::string(text);
  return parsed;
}

}  // namespace

const char* syslog_format_name(SyslogFormat format) {
  switch (format) {
    case SyslogFormat::rfc5424:
      return "RFC5424";
    case SyslogFormat::rfc3164:
      return "RFC3164";
    case SyslogFormat::unparsed:
      return "UNPARSED";
  }
  return "UNPARSED";
}

SyslogMessage parse_syslog_message(std::string_view raw, int64_t now_ms) {
  std::string_view text = raw;
  const std::optional<int32_t> priority = syslog_take_priority(text);
  std::optional<SyslogMessage> parsed;
  if (priority) {
    if (!text.empty() && syslog_is_digit(text[0])) parsed = syslog_parse_rfc5424(text);
    if (!parsed) parsed = syslog_parse_rfc3164(text, now_ms);
  }
  if (!parsed) {
    // Kept as it came: the record still carries the text (and the raw
    // bytes), so nothing a sender wrote is lost to a parse error.
    parsed.emplace();
    parsed->message = std::string(text);
  }
  if (priority) {
    parsed->facility = *priority / 8;
    parsed->severity = *priority % 8;
  }
  return std::move(*parsed);
}

// ---- RFC 6587 framing ---------------------------------------------------------

SyslogFrameReader::SyslogFrameReader(size_t frame_bytes_max)
    : frame_bytes_max_(std::max<size_t>(1, frame_bytes_max)) {}

void SyslogFrameReader::append(std::string_view bytes) {
  if (skip_bytes_ > 0) {
    const size_t skipped = std::min(skip_bytes_, bytes.size());
    skip_bytes_ -= skipped;
    bytes.remove_prefix(skipped);
  }
  buffer_.append(bytes);
}

std::optional<std::string> SyslogFrameReader::next_frame() {
  while (!buffer_.empty()) {
    size_t digits = 0;
    while (digits < buffer_.size() && syslog_is_digit(buffer_[digits])) ++digits;
    std::optional<std::string> frame;
    // "LEN SP": octet counting; digits not followed by a space (yet) wait
    // for more bytes unless they cannot be a length.
    if (digits > 0 && buffer_[0] != '0' && digits <= kSyslogFrameLengthDigitsMax) {
      if (digits == buffer_.size()) return std::nullopt;
      if (buffer_[digits] == ' ') return octet_counted_frame(digits);
    }
    frame = line_frame();
    if (!frame) return std::nullopt;
    if (!frame->empty()) return frame;
  }
  return std::nullopt;
}

std::optional<std::string> SyslogFrameReader::octet_counted_frame(size_t digits) {
  const size_t length = static_cast<size_t>(std::stoull(buffer_.substr(0, digits)));
  const size_t kept = std::min(length, frame_bytes_max_);
  const size_t header = digits + 1;
  if (buffer_.size() < header + kept) return std::nullopt;
  std::string frame = buffer_.substr(header, kept);
  const size_t available = buffer_.size() - header;
  const size_t consumed = std::min(length, available);
  buffer_.erase(0, header + consumed);
  skip_bytes_ = length - consumed;
  return frame;
}

std::optional<std::string> SyslogFrameReader::line_frame() {
  const size_t end = buffer_.find('\n');
  if (end == std::string::npos || end > frame_bytes_max_) {
    if (end == std::string::npos && buffer_.size() < frame_bytes_max_) return std::nullopt;
    std::string piece = buffer_.substr(0, frame_bytes_max_);
    buffer_.erase(0, frame_bytes_max_);
    return piece;
  }
  const size_t length = end > 0 && buffer_[end - 1] == '\r' ? end - 1 : end;
  std::string line = buffer_.substr(0, length);
  buffer_.erase(0, end + 1);
  return line;
}

std::optional<std::string> SyslogFrameReader::finish() {
  skip_bytes_ = 0;
  if (buffer_.empty()) return std::nullopt;
  std::string rest = std::move(buffer_);
  buffer_.clear();
  if (rest.ends_with('\r')) rest.pop_back();
  if (rest.size() > frame_bytes_max_) rest.resize(frame_bytes_max_);
  if (rest.empty()) return std::nullopt;
  return rest;
}

}  // namespace sluice::connect
