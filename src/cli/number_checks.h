#pragma once
// Flag checks for numbers with short messages. CLI11's PositiveNumber and
// NonNegativeNumber report their bounds with std::to_string of the largest
// double: a 300-digit number in a one-line error.

#include <CLI/CLI.hpp>

#include <string>

namespace sluice::cli {

// `what` names the accepted values in the message, e.g. "a number above 0".
template <class Accept>
CLI::Validator number_check(std::string what, Accept accept) {
  return CLI::Validator(
      [what, accept](std::string& input) -> std::string {
        double value = 0;
        if (CLI::detail::lexical_cast(input, value) && accept(value)) return {};
        return "'" + input + "' is not " + what;
      },
      what);
}

inline CLI::Validator positive_number() {
  return number_check("a number above 0", [](double value) { return value > 0; });
}

inline CLI::Validator non_negative_number() {
  return number_check("a number 0 or above", [](double value) { return value >= 0; });
}

}  // namespace sluice::cli
