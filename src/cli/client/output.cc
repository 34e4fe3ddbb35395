#include "cli/client/output.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace sluice::cli::client {

void Table::print() const {
  std::vector<size_t> widths(headers_.size(), 0);
  auto widen = [&widths](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  widen(headers_);
  for (const auto& row : rows_) widen(row);
  auto print_row = [&widths](const std::vector<std::string>& row, bool upper) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      std::string cell = i < row.size() ? row[i] : "";
      if (upper) std::transform(cell.begin(), cell.end(), cell.begin(), ::toupper);
      line += cell;
      // No padding after the last column: lines end without trailing blanks.
      if (i + 1 < widths.size()) line += std::string(widths[i] - cell.size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  };
  print_row(headers_, true);
  for (const auto& row : rows_) print_row(row, false);
}

void print_json(const Json& document, bool one_line) {
  // Keys and values are bytes: anything not UTF-8 is replaced, never fatal.
  std::string text = document.dump(one_line ? -1 : 2, ' ', false, Json::error_handler_t::replace);
  std::printf("%s\n", text.c_str());
}

std::string join_ints(const std::vector<int32_t>& values) {
  std::string text;
  for (int32_t value : values) {
    if (!text.empty()) text += ",";
    text += std::to_string(value);
  }
  return text;
}

}  // namespace sluice::cli::client
