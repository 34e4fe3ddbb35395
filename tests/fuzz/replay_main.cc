// A driver for the fuzz targets when libFuzzer is not available (g++ builds):
// runs every file of the seed corpus, then a fixed number of deterministic
// mutations of them (bit flips, truncations, splices, random lengths), so a
// short version of each fuzzer runs under ASan+UBSan in `make test`.
// Usage: <target>_replay <corpus dir> [iterations] [more input dirs...]
// The extra directories (regressions: inputs that once crashed) are run as
// they are, before the mutations; a missing directory is skipped.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using Input = std::vector<uint8_t>;

std::vector<Input> load_corpus(const std::filesystem::path& dir) {
  std::vector<Input> corpus;
  if (!std::filesystem::is_directory(dir)) return corpus;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream file(entry.path(), std::ios::binary);
    corpus.emplace_back(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  return corpus;
}

Input mutate(const std::vector<Input>& corpus, std::mt19937_64& rng) {
  Input input = corpus.empty() ? Input{} : corpus[rng() % corpus.size()];
  int mutations = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < mutations; ++i) {
    switch (rng() % 5) {
      case 0:  // flip a bit
        if (!input.empty()) input[rng() % input.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // truncate
        if (!input.empty()) input.resize(rng() % input.size());
        break;
      case 2:  // overwrite a byte with an extreme value (lengths: 0x7f, 0x80, 0xff)
        if (!input.empty()) {
          static constexpr uint8_t extremes[] = {0x00, 0x7f, 0x80, 0xff, 0x01};
          input[rng() % input.size()] = extremes[rng() % std::size(extremes)];
        }
        break;
      case 3:  // splice with another corpus entry
        if (!corpus.empty()) {
          const Input& other = corpus[rng() % corpus.size()];
          size_t cut = input.empty() ? 0 : rng() % input.size();
          input.resize(cut);
          if (!other.empty()) {
            size_t from = rng() % other.size();
            input.insert(input.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
          }
        }
        break;
      default:  // random bytes appended
        for (int n = static_cast<int>(rng() % 16); n > 0; --n) input.push_back(static_cast<uint8_t>(rng()));
        break;
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <corpus dir> [iterations] [more input dirs...]\n", argv[0]);
    return 2;
  }
  std::vector<Input> corpus = load_corpus(argv[1]);
  if (corpus.empty()) {  // a wrong path must not pass as a clean run
    std::fprintf(stderr, "%s: no seed inputs in %s\n", argv[0], argv[1]);
    return 1;
  }
  long iterations = argc > 2 ? std::atol(argv[2]) : 20000;
  for (const Input& input : corpus) LLVMFuzzerTestOneInput(input.data(), input.size());
  size_t extra_count = 0;
  for (int i = 3; i < argc; ++i) {
    for (const Input& input : load_corpus(argv[i])) {
      LLVMFuzzerTestOneInput(input.data(), input.size());
      ++extra_count;
    }
  }
  std::mt19937_64 rng(0x5eed);
  for (long i = 0; i < iterations; ++i) {
    Input input = mutate(corpus, rng);
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("%zu corpus inputs, %zu regression inputs and %ld mutations ran clean\n",
              corpus.size(), extra_count, iterations);
  return 0;
}
