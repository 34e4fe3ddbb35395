#pragma once
// The two output forms of every client command: an aligned table for people
// and JSON (nlohmann) for scripts. Both go to stdout.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sluice::cli::client {

using Json = nlohmann::ordered_json;

// Columns padded to their widest cell, two spaces apart; the header row in
// upper case, as kafka-consumer-groups.sh prints it.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t size() const { return rows_.size(); }
  void print() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// A JSON document, pretty-printed or on one line, then a newline.
void print_json(const Json& document, bool one_line = false);

// "1,2,3" for replica lists and the like.
std::string join_ints(const std::vector<int32_t>& values);

}  // namespace sluice::cli::client
