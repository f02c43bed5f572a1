// SPDX-License-Identifier: Apache-2.0
// A generated firmware model on the host (x86-64, or aarch64 under qemu-aarch64): every test
// window through run(), every output byte against the outputs the QuantizedModel computed when
// the header was written. Prints the predicted classes and a digest of all output bytes, which
// the cross-platform comparison reads. Exit status 0 only if every byte matches.
//
// Built per model with TSQ_MODEL_HEADER, TSQ_TESTDATA_HEADER, TSQ_MODEL and TSQ_TESTDATA naming
// the generated headers and their namespaces.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include TSQ_MODEL_HEADER
#include TSQ_TESTDATA_HEADER

namespace model = TSQ_MODEL;
namespace testdata = TSQ_TESTDATA;

alignas(16) unsigned char arena[model::kArenaBytes];

int main() {
  std::uint32_t digest = 2166136261u;  // FNV-1a over every output byte, window by window
  std::size_t mismatches = 0;
  std::printf("classes:");
  for (std::size_t w = 0; w < testdata::kWindows; ++w) {
    model::Output output[model::kOutputSize] = {};
    const tsq::Status status = model::run(testdata::kInputs[w], output, arena);
    if (!status.is_ok()) {
      std::printf("\nwindow %zu: %s: %s\n", w, tsq::error_code_name(status.code()),
                  status.message());
      return 1;
    }
    std::size_t best = 0;
    for (std::size_t i = 0; i < model::kOutputSize; ++i) {
      mismatches += output[i] != testdata::kExpected[w][i];
      digest = (digest ^ static_cast<std::uint8_t>(output[i])) * 16777619u;
      if (output[i] > output[best]) best = i;
    }
    std::printf(" %zu", best);
  }
  std::printf("\noutput digest: %u over %zu windows; %zu bytes differ from the host model's\n",
              static_cast<unsigned>(digest), testdata::kWindows, mismatches);
  return mismatches == 0 ? 0 : 1;
}
