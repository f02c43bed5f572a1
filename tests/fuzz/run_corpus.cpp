// SPDX-License-Identifier: Apache-2.0
// main() for a fuzz target without libFuzzer: feeds each given file, and every file of each given
// folder, once to LLVMFuzzerTestOneInput. This is how the seed corpus and the crash regressions
// run as an ordinary test with any compiler (and under the sanitizers in the asan preset), and
// how one crash input is replayed in a debugger:
//
//   tsq_fuzz_npz_corpus tests/fuzz/corpus/npz tests/fuzz/regressions/npz
//   tsq_fuzz_npz_corpus crash-0123abcd
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

// Reads a file into an allocation of exactly its size, so that AddressSanitizer reports a
// read one byte past the input as libFuzzer's own buffers would.
bool run_file(const std::filesystem::path& path) {
  std::FILE* file = std::fopen(path.string().c_str(), "rb");
  if (file == nullptr) {
    std::fprintf(stderr, "cannot open %s\n", path.string().c_str());
    return false;
  }
  std::vector<std::uint8_t> bytes;
  std::uint8_t chunk[4096];
  std::size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file)) > 0) {
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) {
    std::fprintf(stderr, "cannot read %s\n", path.string().c_str());
    return false;
  }
  // Named before it runs: if it crashes, the last line says which input did it.
  std::printf("  %s (%zu bytes)\n", path.string().c_str(), bytes.size());
  std::fflush(stdout);
  const std::unique_ptr<std::uint8_t[]> input(new std::uint8_t[bytes.size()]);
  std::copy(bytes.begin(), bytes.end(), input.get());
  LLVMFuzzerTestOneInput(input.get(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_FOLDER...\n", argv[0]);
    return 2;
  }
  std::size_t total = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path argument(argv[i]);
    std::error_code error;
    if (std::filesystem::is_regular_file(argument, error)) {
      if (!run_file(argument)) return 1;
      ++total;
      continue;
    }
    // A missing folder is an error: a typo must not turn the test into a no-op.
    if (!std::filesystem::is_directory(argument, error)) {
      std::fprintf(stderr, "%s: no such file or folder\n", argv[i]);
      return 1;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(argument, error)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    if (error) {
      std::fprintf(stderr, "%s: cannot list: %s\n", argv[i], error.message().c_str());
      return 1;
    }
    std::sort(files.begin(), files.end());  // a fixed order, for reproducible runs
    for (const auto& path : files) {
      if (!run_file(path)) return 1;
    }
    std::printf("%s: ran %zu inputs\n", argv[i], files.size());
    total += files.size();
  }
  // A seed corpus that went missing must not pass as a successful run.
  if (total == 0) {
    std::fprintf(stderr, "no inputs found\n");
    return 1;
  }
  return 0;
}
