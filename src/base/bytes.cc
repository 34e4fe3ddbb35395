#include "base/bytes.h"

namespace sluice {

std::vector<WireWriter::Slice> WireWriter::slices() const {
  std::vector<Slice> out;
  out.reserve(2 * externals_.size() + 1);
  size_t copied_until = 0;
  for (const External& external : externals_) {
    if (external.buffer_offset > copied_until)
      out.push_back({buffer_.data() + copied_until, external.buffer_offset - copied_until});
    out.push_back({external.bytes.data(), external.bytes.size()});
    copied_until = external.buffer_offset;
  }
  if (buffer_.size() > copied_until)
    out.push_back({buffer_.data() + copied_until, buffer_.size() - copied_until});
  return out;
}

std::vector<uint8_t> WireWriter::to_vector() const {
  std::vector<uint8_t> out;
  out.reserve(size());
  for (const Slice& slice : slices()) out.insert(out.end(), slice.data, slice.data + slice.size);
  return out;
}

}  // namespace sluice
