#pragma once
// java.text.SimpleDateFormat in UTC, as TimestampConverter (`format`) and
// TimestampRouter (`timestamp.format`) use it: the pattern letters y M d H k
// K h m s S E a z Z X, quoted literals ('T', ''), formatting and parsing.
// Parsing is strict where Java's default is lenient (a month 13 fails here;
// Java rolls it into the next year) and reads two-digit years (yy) as
// 2000-2099; letters Java knows but this does not (G Y w W D F u L) are
// refused when the pattern is compiled.

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace sluice::connect {

class DateFormat {
 public:
  // Fails on a letter outside the supported set, or an unterminated quote.
  static Result<DateFormat> compile(const std::string& pattern);

  std::string format(int64_t millis) const;
  // The milliseconds since the epoch; text after the pattern is ignored, as
  // DateFormat.parse(String) does.
  Result<int64_t> parse(const std::string& text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Element {
    char letter = 0;   // 0: literal text
    int count = 0;     // repetitions of the letter
    std::string text;  // the literal
  };

  std::string pattern_;
  std::vector<Element> elements_;
};

}  // namespace sluice::connect
