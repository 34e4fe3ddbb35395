#include "connect/date_format.h"

#include <cctype>
#include <chrono>
#include <cstring>

#include "connect/data.h"

namespace sluice::connect {

namespace {

constexpr const char* supported_letters = "yMdHkKhmsSEazZX";
constexpr const char* java_letters = "GyMdkHmsSEDFwWahKzZYuXL";
constexpr const char* month_names[] = {"January",   "February", "March",    "April",
                                       "May",       "June",     "July",     "August",
                                       "September", "October",  "November", "December"};
constexpr const char* day_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                     "Thursday", "Friday", "Saturday"};

struct Fields {
  int64_t year = 1970;
  int64_t month = 1;
  int64_t day = 1;
  int64_t hour = 0;
  int64_t minute = 0;
  int64_t second = 0;
  int64_t millis = 0;
  int64_t offset_minutes = 0;
  bool pm = false;
  bool has_am_pm = false;
  bool twelve_hour = false;
};

std::string padded(int64_t number, int width) {
  std::string digits = std::to_string(number < 0 ? -number : number);
  if (static_cast<int>(digits.size()) < width) digits.insert(0, width - digits.size(), '0');
  return (number < 0 ? "-" : "") + digits;
}

bool is_numeric_letter(char letter) {
  return letter != 0 && std::strchr("yMdHkKhmsS", letter) && letter != 'E';
}

bool equals_prefix_ignore_case(const std::string& text, size_t position, const std::string& word) {
  if (text.size() - position < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[position + i])) !=
        std::tolower(static_cast<unsigned char>(word[i]))) {
      return false;
    }
  }
  return true;
}

// Matches one of `names` (full, or its 3-letter abbreviation) at position.
int match_name(const std::string& text, size_t& position, const char* const* names, int count) {
  for (bool full : {true, false}) {
    for (int i = 0; i < count; ++i) {
      std::string name = full ? names[i] : std::string(names[i]).substr(0, 3);
      if (equals_prefix_ignore_case(text, position, name)) {
        position += name.size();
        return i;
      }
    }
  }
  return -1;
}

bool parse_number(const std::string& text, size_t& position, size_t width_max, int64_t& number) {
  bool negative = false;
  if (position < text.size() && text[position] == '-') {
    negative = true;
    ++position;
  }
  size_t start = position;
  while (position < text.size() && std::isdigit(static_cast<unsigned char>(text[position])) &&
         (width_max == 0 || position - start < width_max)) {
    ++position;
  }
  if (position == start) return false;
  number = std::stoll(text.substr(start, position - start));
  if (negative) number = -number;
  return true;
}

bool parse_offset(const std::string& text, size_t& position, int64_t& offset_minutes) {
  if (position < text.size() && (text[position] == 'Z' || text[position] == 'z')) {
    ++position;
    offset_minutes = 0;
    return true;
  }
  for (const char* zone : {"UTC", "GMT"}) {
    if (equals_prefix_ignore_case(text, position, zone)) {
      position += 3;
      if (position >= text.size() || (text[position] != '+' && text[position] != '-')) {
        offset_minutes = 0;
        return true;
      }
    }
  }
  if (position >= text.size() || (text[position] != '+' && text[position] != '-')) return false;
  int sign = text[position++] == '-' ? -1 : 1;
  int64_t hours = 0;
  int64_t minutes = 0;
  if (!parse_number(text, position, 2, hours)) return false;
  if (position < text.size() && text[position] == ':') ++position;
  if (position < text.size() && std::isdigit(static_cast<unsigned char>(text[position]))) {
    if (!parse_number(text, position, 2, minutes)) return false;
  }
  offset_minutes = sign * (hours * 60 + minutes);
  return true;
}

int64_t days_from_civil(int64_t year, int64_t month, int64_t day) {
  using namespace std::chrono;
  return sys_days(std::chrono::year(static_cast<int>(year)) / static_cast<unsigned>(month) /
                  static_cast<unsigned>(day))
      .time_since_epoch()
      .count();
}

}  // namespace

Result<DateFormat> DateFormat::compile(const std::string& pattern) {
  DateFormat format;
  format.pattern_ = pattern;
  auto invalid = [&pattern](const std::string& why) {
    return Status(Errc::invalid_value, why + " in " + pattern);
  };
  for (size_t i = 0; i < pattern.size();) {
    char c = pattern[i];
    if (c == '\'') {
      size_t end = pattern.find('\'', i + 1);
      if (end == std::string::npos) return invalid("Unterminated quote");
      Element literal;
      literal.text = end == i + 1 ? "'" : pattern.substr(i + 1, end - i - 1);
      format.elements_.push_back(literal);
      i = end + 1;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      if (!std::strchr(java_letters, c))
        return invalid(std::string("Illegal pattern character '") + c + "'");
      if (!std::strchr(supported_letters, c))
        return invalid(std::string("Unsupported pattern character '") + c + "'");
      size_t end = i;
      while (end < pattern.size() && pattern[end] == c) ++end;
      format.elements_.push_back(Element{c, static_cast<int>(end - i), {}});
      i = end;
    } else {
      format.elements_.push_back(Element{0, 0, std::string(1, c)});
      ++i;
    }
  }
  return format;
}

std::string DateFormat::format(int64_t millis) const {
  using namespace std::chrono;
  sys_time<milliseconds> point{milliseconds(millis)};
  sys_days day_point = floor<days>(point);
  year_month_day date{day_point};
  int64_t of_day = (point - day_point).count();
  int64_t hour = of_day / 3'600'000;
  unsigned weekday_index = weekday(day_point).c_encoding();
  std::string out;
  for (const Element& element : elements_) {
    int n = element.count;
    switch (element.letter) {
      case 0:
        out += element.text;
        break;
      case 'y': {
        int64_t year_value = static_cast<int>(date.year());
        out += n == 2 ? padded(year_value % 100, 2) : padded(year_value, n);
        break;
      }
      case 'M': {
        unsigned month = static_cast<unsigned>(date.month());
        if (n >= 4) {
          out += month_names[month - 1];
        } else if (n == 3) {
          out += std::string(month_names[month - 1]).substr(0, 3);
        } else {
          out += padded(month, n);
        }
        break;
      }
      case 'd':
        out += padded(static_cast<unsigned>(date.day()), n);
        break;
      case 'H':
        out += padded(hour, n);
        break;
      case 'k':
        out += padded(hour == 0 ? 24 : hour, n);
        break;
      case 'K':
        out += padded(hour % 12, n);
        break;
      case 'h':
        out += padded(hour % 12 == 0 ? 12 : hour % 12, n);
        break;
      case 'm':
        out += padded(of_day / 60'000 % 60, n);
        break;
      case 's':
        out += padded(of_day / 1000 % 60, n);
        break;
      case 'S':
        out += padded(of_day % 1000, n);
        break;
      case 'E':
        out +=
            n >= 4 ? day_names[weekday_index] : std::string(day_names[weekday_index]).substr(0, 3);
        break;
      case 'a':
        out += hour < 12 ? "AM" : "PM";
        break;
      case 'z':
        out += n >= 4 ? "Coordinated Universal Time" : "UTC";
        break;
      case 'Z':
        out += "+0000";
        break;
      case 'X':
        out += "Z";
        break;
    }
  }
  return out;
}

Result<int64_t> DateFormat::parse(const std::string& text) const {
  Fields fields;
  size_t position = 0;
  auto fail = [&text]() {
    return Status(Errc::invalid_value, "Unparseable date: \"" + text + "\"");
  };
  for (size_t i = 0; i < elements_.size(); ++i) {
    const Element& element = elements_[i];
    // Adjacent numeric fields (yyyyMMdd) read a fixed width each.
    bool adjacent = i + 1 < elements_.size() && is_numeric_letter(elements_[i + 1].letter);
    size_t width = adjacent ? static_cast<size_t>(element.count) : 0;
    int64_t number = 0;
    switch (element.letter) {
      case 0:
        if (text.compare(position, element.text.size(), element.text) != 0) return fail();
        position += element.text.size();
        break;
      case 'M':
        if (element.count >= 3) {
          int month = match_name(text, position, month_names, 12);
          if (month < 0) return fail();
          fields.month = month + 1;
          break;
        }
        [[fallthrough]];
      case 'y':
      case 'd':
      case 'H':
      case 'k':
      case 'K':
      case 'h':
      case 'm':
      case 's':
      case 'S':
        if (!parse_number(text, position, width, number)) return fail();
        switch (element.letter) {
          case 'y':
            fields.year = element.count == 2 && number < 100 ? 2000 + number : number;
            break;
          case 'M':
            fields.month = number;
            break;
          case 'd':
            fields.day = number;
            break;
          case 'H':
            fields.hour = number;
            break;
          case 'k':
            fields.hour = number == 24 ? 0 : number;
            break;
          case 'K':
          case 'h':
            fields.hour = number % 12;
            fields.twelve_hour = true;
            break;
          case 'm':
            fields.minute = number;
            break;
          case 's':
            fields.second = number;
            break;
          case 'S':
            fields.millis = number;
            break;
        }
        break;
      case 'E':
        if (match_name(text, position, day_names, 7) < 0) return fail();
        break;
      case 'a':
        if (equals_prefix_ignore_case(text, position, "AM") ||
            equals_prefix_ignore_case(text, position, "PM")) {
          fields.pm = std::toupper(static_cast<unsigned char>(text[position])) == 'P';
          fields.has_am_pm = true;
          position += 2;
        } else {
          return fail();
        }
        break;
      case 'z':
      case 'Z':
      case 'X':
        if (!parse_offset(text, position, fields.offset_minutes)) return fail();
        break;
    }
  }
  if (fields.month < 1 || fields.month > 12 || fields.day < 1 || fields.day > 31 ||
      fields.hour > 23 || fields.minute > 59 || fields.second > 59 || fields.millis > 999) {
    return fail();
  }
  if (fields.has_am_pm && fields.pm && fields.hour < 12) fields.hour += 12;
  int64_t millis = days_from_civil(fields.year, fields.month, fields.day) * millis_per_day +
                   fields.hour * 3'600'000 + fields.minute * 60'000 + fields.second * 1000 +
                   fields.millis;
  return millis - fields.offset_minutes * 60'000;
}

}  // namespace sluice::connect
