#include "connect/runtime/connect_protocol.h"

#include <map>

namespace sluice::connect {
namespace {

class Writer {
 public:
  void i16(int16_t v) { be(static_cast<uint16_t>(v), 2); }
  void i32(int32_t v) { be(static_cast<uint32_t>(v), 4); }
  void i64(int64_t v) { be(static_cast<uint64_t>(v), 8); }
  void str(const std::string& s) {
    i16(static_cast<int16_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  void bytes(const std::vector<uint8_t>& b) {
    i32(static_cast<int32_t>(b.size()));
    out.insert(out.end(), b.begin(), b.end());
  }
  std::vector<uint8_t> out;

 private:
  void be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
};

class Reader {
 public:
  explicit Reader(const std::vector<uint8_t>& in) : in_(in) {}
  bool i16(int16_t& v) { return be(v); }
  bool i32(int32_t& v) { return be(v); }
  bool i64(int64_t& v) { return be(v); }
  bool str(std::string& s) {
    int16_t n = 0;
    if (!i16(n) || n < 0 || static_cast<size_t>(n) > in_.size() - pos_) return false;
    s.assign(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
             in_.begin() + static_cast<std::ptrdiff_t>(pos_) + n);
    pos_ += static_cast<size_t>(n);
    return true;
  }
  // Nullable bytes: false on a malformed length; `null` set for -1.
  bool bytes(std::vector<uint8_t>& b, bool& null) {
    int32_t n = 0;
    if (!i32(n)) return false;
    null = n < 0;
    if (null) return true;
    if (static_cast<size_t>(n) > in_.size() - pos_) return false;
    b.assign(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
             in_.begin() + static_cast<std::ptrdiff_t>(pos_) + n);
    pos_ += static_cast<size_t>(n);
    return true;
  }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  template <class T>
  bool be(T& v) {
    if (in_.size() - pos_ < sizeof(T)) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < sizeof(T); ++i) x = (x << 8) | in_[pos_ + i];
    pos_ += sizeof(T);
    v = static_cast<T>(x);
    return true;
  }
  const std::vector<uint8_t>& in_;
  size_t pos_ = 0;
};

// Grouped by connector as Kafka writes them: the connector's entry holds
// -1 when the Connector object itself is included.
void write_allocation(Writer& w, const Allocation& a) {
  std::map<std::string, std::vector<int32_t>> by_connector;
  for (const std::string& c : a.connectors) by_connector[c].push_back(kConnectorTask);
  for (const auto& [c, t] : a.tasks) by_connector[c].push_back(t);
  w.i32(static_cast<int32_t>(by_connector.size()));
  for (const auto& [c, tasks] : by_connector) {
    w.str(c);
    w.i32(static_cast<int32_t>(tasks.size()));
    for (int32_t t : tasks) w.i32(t);
  }
}

bool read_allocation(Reader& r, Allocation& a) {
  int32_t count = 0;
  if (!r.i32(count)) return false;
  if (count < 0) return true;  // null
  for (int32_t i = 0; i < count; ++i) {
    std::string connector;
    int32_t tasks = 0;
    if (!r.str(connector) || !r.i32(tasks) || tasks < 0) return false;
    for (int32_t j = 0; j < tasks; ++j) {
      int32_t t = 0;
      if (!r.i32(t)) return false;
      if (t == kConnectorTask) {
        a.connectors.insert(connector);
      } else {
        a.tasks.emplace(connector, t);
      }
    }
  }
  return true;
}

Status malformed_protocol(const char* what) {
  return Status(Errc::invalid_value, std::string("malformed Connect protocol ") + what);
}

}  // namespace

std::vector<uint8_t> encode_assignment(const ConnectAssignment& a) {
  Writer w;
  w.i16(a.version);
  w.i16(a.error);
  w.str(a.leader);
  w.str(a.leader_url);
  w.i64(a.config_offset);
  write_allocation(w, a.assigned);
  write_allocation(w, a.revoked);
  w.i32(a.delay_ms);
  return std::move(w.out);
}

Result<ConnectAssignment> decode_assignment(const std::vector<uint8_t>& bytes) {
  Reader r(bytes);
  ConnectAssignment a;
  if (!r.i16(a.version) || a.version < 0) return malformed_protocol("assignment");
  if (!r.i16(a.error) || !r.str(a.leader) || !r.str(a.leader_url) || !r.i64(a.config_offset) ||
      !read_allocation(r, a.assigned)) {
    return malformed_protocol("assignment");
  }
  if (a.version == 0) return a;  // the eager protocol has no more fields
  if (r.at_end()) return a;      // Kafka tolerates missing fields with defaults
  if (!read_allocation(r, a.revoked)) return malformed_protocol("assignment");
  if (!r.at_end() && !r.i32(a.delay_ms)) return malformed_protocol("assignment");
  return a;
}

std::vector<uint8_t> encode_metadata(const WorkerMetadata& m) {
  Writer w;
  w.i16(m.version);
  w.str(m.url);
  w.i64(m.config_offset);
  if (m.allocation) {
    w.bytes(encode_assignment(*m.allocation));
  } else {
    w.i32(-1);
  }
  return std::move(w.out);
}

Result<WorkerMetadata> decode_metadata(const std::vector<uint8_t>& bytes) {
  Reader r(bytes);
  WorkerMetadata m;
  if (!r.i16(m.version) || m.version < 0 || !r.str(m.url) || !r.i64(m.config_offset)) {
    return malformed_protocol("metadata");
  }
  if (m.version == 0 || r.at_end()) return m;
  std::vector<uint8_t> allocation;
  bool null = false;
  if (!r.bytes(allocation, null)) return malformed_protocol("metadata");
  if (!null) {
    auto decoded = decode_assignment(allocation);
    if (!decoded.is_ok()) return decoded.status();
    m.allocation = std::move(*decoded);
  }
  return m;
}

}  // namespace sluice::connect
