#include "connect/java_text.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

namespace sluice::connect {

namespace {

constexpr char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The shortest decimal digits of `number` that read back as the same F, and
// the exponent of the first digit: 1234.5 -> ("12345", 3).
template <class F>
std::pair<std::string, int> shortest_digits(F number) {
  char text[64];
  for (int precision = 0; precision <= 17; ++precision) {
    std::snprintf(text, sizeof text, "%.*e", precision, static_cast<double>(number));
    // Read back as F itself: a float through a double could round twice.
    F back = 0;
    if constexpr (std::is_same_v<F, float>) {
      back = std::strtof(text, nullptr);
    } else {
      back = std::strtod(text, nullptr);
    }
    if (back == number) break;
  }
  std::string mantissa(text, std::strchr(text, 'e'));
  int exponent = std::atoi(std::strchr(text, 'e') + 1);
  std::string digits;
  for (char c : mantissa) {
    if (c >= '0' && c <= '9') digits += c;
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  return {digits, exponent};
}

template <class F>
std::string java_text(F number) {
  if (std::isnan(number)) return "NaN";
  if (std::isinf(number)) return number > 0 ? "Infinity" : "-Infinity";
  std::string sign = std::signbit(number) ? "-" : "";
  if (number == 0) return sign + "0.0";
  auto [digits, exponent] = shortest_digits(std::fabs(number));
  F magnitude = std::fabs(number);
  if (magnitude >= static_cast<F>(1e-3) && magnitude < static_cast<F>(1e7)) {
    std::string whole;
    std::string fraction;
    if (exponent >= 0) {
      std::string padded =
          digits + std::string(std::max(0, exponent + 1 - static_cast<int>(digits.size())), '0');
      whole = padded.substr(0, exponent + 1);
      fraction = padded.substr(exponent + 1);
    } else {
      whole = "0";
      fraction = std::string(-exponent - 1, '0') + digits;
    }
    return sign + whole + "." + (fraction.empty() ? "0" : fraction);
  }
  std::string fraction = digits.size() > 1 ? digits.substr(1) : "0";
  return sign + digits.substr(0, 1) + "." + fraction + "E" + std::to_string(exponent);
}

// Little-endian base-256 magnitude arithmetic for BigInteger conversions.
using Magnitude = std::vector<uint8_t>;

void multiply_add(Magnitude& magnitude, int factor, int addend) {
  int carry = addend;
  for (uint8_t& byte : magnitude) {
    int product = byte * factor + carry;
    byte = static_cast<uint8_t>(product & 0xff);
    carry = product >> 8;
  }
  while (carry) {
    magnitude.push_back(static_cast<uint8_t>(carry & 0xff));
    carry >>= 8;
  }
}

int divide_by_ten(Magnitude& magnitude) {
  int remainder = 0;
  for (size_t i = magnitude.size(); i-- > 0;) {
    int current = (remainder << 8) | magnitude[i];
    magnitude[i] = static_cast<uint8_t>(current / 10);
    remainder = current % 10;
  }
  while (!magnitude.empty() && magnitude.back() == 0) magnitude.pop_back();
  return remainder;
}

// Two's complement, big-endian, minimal (BigInteger.toByteArray).
std::string to_twos_complement(Magnitude magnitude, bool negative) {
  while (!magnitude.empty() && magnitude.back() == 0) magnitude.pop_back();
  magnitude.push_back(0);  // room for the sign bit
  if (negative) {
    int carry = 1;
    for (uint8_t& byte : magnitude) {
      int sum = static_cast<uint8_t>(~byte) + carry;
      byte = static_cast<uint8_t>(sum & 0xff);
      carry = sum >> 8;
    }
  }
  // Drop leading bytes that only repeat the sign.
  while (magnitude.size() > 1) {
    uint8_t top = magnitude.back();
    uint8_t next = magnitude[magnitude.size() - 2];
    if ((top == 0 && !(next & 0x80)) || (top == 0xff && (next & 0x80))) {
      magnitude.pop_back();
    } else {
      break;
    }
  }
  return std::string(magnitude.rbegin(), magnitude.rend());
}

// The magnitude and sign of big-endian two's complement bytes.
Magnitude from_twos_complement(std::string_view bytes, bool& negative) {
  Magnitude magnitude(bytes.rbegin(), bytes.rend());
  negative = !bytes.empty() && (static_cast<uint8_t>(bytes[0]) & 0x80);
  if (negative) {
    int carry = 1;
    for (uint8_t& byte : magnitude) {
      int sum = static_cast<uint8_t>(~byte) + carry;
      byte = static_cast<uint8_t>(sum & 0xff);
      carry = sum >> 8;
    }
  }
  while (!magnitude.empty() && magnitude.back() == 0) magnitude.pop_back();
  return magnitude;
}

std::string two_digits(int64_t number) {
  return std::to_string(100 + number % 100).substr(1);  // 0 <= number < 100
}

}  // namespace

std::string java_double_text(double number) { return java_text(number); }

std::string java_float_text(float number) { return java_text(number); }

std::string base64_encode(std::string_view bytes) {
  std::string text;
  text.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t chunk = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) chunk |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<uint8_t>(bytes[i + 2]);
    text += base64_alphabet[(chunk >> 18) & 63];
    text += base64_alphabet[(chunk >> 12) & 63];
    text += i + 1 < bytes.size() ? base64_alphabet[(chunk >> 6) & 63] : '=';
    text += i + 2 < bytes.size() ? base64_alphabet[chunk & 63] : '=';
  }
  return text;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string bytes;
  uint32_t chunk = 0;
  int bits = 0;
  size_t padding = 0;
  for (char c : text) {
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding) return std::nullopt;  // data after padding
    const char* found = std::strchr(base64_alphabet, c);
    if (!found || c == '\0') return std::nullopt;
    chunk = (chunk << 6) | static_cast<uint32_t>(found - base64_alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((chunk >> bits) & 0xff);
    }
  }
  if (padding > 2 || (text.size() % 4 != 0 && padding) || bits >= 6) return std::nullopt;
  return bytes;
}

std::string twos_complement_bytes(int64_t number) {
  bool negative = number < 0;
  uint64_t magnitude_value =
      negative ? 0 - static_cast<uint64_t>(number) : static_cast<uint64_t>(number);
  Magnitude magnitude;
  for (; magnitude_value; magnitude_value >>= 8)
    magnitude.push_back(static_cast<uint8_t>(magnitude_value & 0xff));
  return to_twos_complement(std::move(magnitude), negative);
}

std::optional<Decimal> decimal_from_text(std::string_view text) {
  size_t position = 0;
  bool negative = false;
  if (position < text.size() && (text[position] == '-' || text[position] == '+')) {
    negative = text[position++] == '-';
  }
  Magnitude magnitude;
  int scale = 0;
  bool seen_point = false;
  bool seen_digit = false;
  for (; position < text.size(); ++position) {
    char c = text[position];
    if (c >= '0' && c <= '9') {
      multiply_add(magnitude, 10, c - '0');
      seen_digit = true;
      if (seen_point) ++scale;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return std::nullopt;
  if (position < text.size()) {
    if (text[position] != 'e' && text[position] != 'E') return std::nullopt;
    std::string exponent_text(text.substr(position + 1));
    char* end = nullptr;
    long exponent = std::strtol(exponent_text.c_str(), &end, 10);
    if (exponent_text.empty() || *end != '\0') return std::nullopt;
    scale -= static_cast<int>(exponent);
  }
  return Decimal{to_twos_complement(std::move(magnitude), negative), scale};
}

std::string decimal_to_text(const Decimal& decimal) {
  bool negative = false;
  Magnitude magnitude = from_twos_complement(decimal.unscaled, negative);
  std::string digits;
  while (!magnitude.empty()) digits += static_cast<char>('0' + divide_by_ten(magnitude));
  if (digits.empty()) digits = "0";
  std::reverse(digits.begin(), digits.end());
  if (decimal.scale < 0) {
    digits += std::string(-decimal.scale, '0');
  } else if (decimal.scale > 0) {
    size_t scale = static_cast<size_t>(decimal.scale);
    if (digits.size() <= scale) digits = std::string(scale - digits.size() + 1, '0') + digits;
    digits.insert(digits.size() - scale, ".");
  }
  return (negative ? "-" : "") + digits;
}

std::string iso8601_text(const DateTime& value) {
  using namespace std::chrono;
  sys_time<milliseconds> point{milliseconds(value.millis)};
  sys_days day = floor<days>(point);
  year_month_day date{day};
  int64_t millis_of_day = (point - day).count();
  std::string time = two_digits(millis_of_day / 3'600'000) + ":" +
                     two_digits(millis_of_day / 60'000 % 60) + ":" +
                     two_digits(millis_of_day / 1000 % 60) + "." +
                     std::to_string(1000 + millis_of_day % 1000).substr(1) + "Z";
  char date_text[32];
  std::snprintf(date_text, sizeof date_text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  if (value.millis < millis_per_day) return time;  // as Kafka: any time before the epoch's 2nd day
  if (value.millis % millis_per_day == 0) return date_text;
  return std::string(date_text) + "T" + time;
}

}  // namespace sluice::connect
