// SPDX-License-Identifier: Apache-2.0
// The host side of the stand-in model's test data: synthesizes the input windows (integer
// arithmetic only, so that every host computes the same ones), runs tiny_fc.hpp on them and
//
//   make_testdata           prints tiny_fc_testdata.hpp (the inputs and the host's outputs)
//   make_testdata --check   checks the committed tiny_fc_testdata.hpp instead: the same inputs,
//                           and the host's outputs equal to kExpected (exit status 1 if not)
//
// Built and run with --check by the test firmware_tiny_fc_host; by hand, from the repository:
//   c++ -std=c++17 -Iinclude -Iexamples/firmware/stand_in -o make_testdata
//       examples/firmware/stand_in/make_testdata.cpp
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "tiny_fc.hpp"
#include "tiny_fc_testdata.hpp"

namespace {

constexpr std::size_t kWindows = 8;
constexpr int kSteps = 16;
constexpr int kAxes = 3;
static_assert(kSteps * kAxes == static_cast<int>(tiny_fc::kInputSize), "window layout");

struct Window {
  tiny_fc::Input input[tiny_fc::kInputSize];
  tiny_fc::Output output[tiny_fc::kOutputSize];
};

// An accelerometer-like window: per axis a triangle wave whose period, phase and amplitude
// depend on the window, plus a little noise from a linear congruential generator.
void synthesize(std::size_t window, tiny_fc::Input* input) {
  std::uint32_t state = 12345u + 7919u * static_cast<std::uint32_t>(window);
  for (int step = 0; step < kSteps; ++step) {
    for (int axis = 0; axis < kAxes; ++axis) {
      const int period = 4 + static_cast<int>((window + 2 * axis) % 7);
      const int phase = (step + static_cast<int>(window) * (axis + 1)) % period;
      const int triangle = phase < period / 2 ? phase : period - phase;  // 0 .. period / 2
      const int amplitude = 20 + 12 * static_cast<int>((window * 3 + axis) % 8);
      state = state * 1103515245u + 12345u;
      const int noise = static_cast<int>((state >> 16) % 21) - 10;
      int value =
          amplitude * (2 * triangle - period / 2) / (period / 2 > 0 ? period / 2 : 1) + noise - 5;
      value = value < -128 ? -128 : (value > 127 ? 127 : value);
      input[step * kAxes + axis] = static_cast<tiny_fc::Input>(value);
    }
  }
}

bool run_all(Window (&windows)[kWindows]) {
  alignas(16) unsigned char arena[tiny_fc::kArenaBytes];
  for (std::size_t w = 0; w < kWindows; ++w) {
    synthesize(w, windows[w].input);
    const tsq::Status status = tiny_fc::run(windows[w].input, windows[w].output, arena);
    if (!status.is_ok()) {
      std::fprintf(stderr, "window %zu: %s\n", w, status.message());
      return false;
    }
  }
  return true;
}

void print_row(const char* indent, const std::int8_t* values, std::size_t count) {
  std::printf("%s{", indent);
  for (std::size_t i = 0; i < count; ++i) std::printf("%s%d", i == 0 ? "" : ", ", values[i]);
  std::printf("},\n");
}

void print_header(const Window (&windows)[kWindows]) {
  std::printf(
      "// SPDX-License-Identifier: Apache-2.0\n"
      "// Test data of the stand-in model tiny_fc: synthetic three-axis windows and the outputs\n"
      "// that tiny_fc.hpp computes for them on the host. Written by make_testdata.cpp (its\n"
      "// --check mode verifies this file); the firmware check compares the target's outputs\n"
      "// with kExpected byte for byte.\n"
      "#pragma once\n\n"
      "#include <cstddef>\n\n"
      "#include \"tiny_fc.hpp\"\n\n"
      "namespace tiny_fc_testdata {\n\n"
      "inline constexpr std::size_t kWindows = %zu;\n\n"
      "inline constexpr tiny_fc::Input kInputs[kWindows][tiny_fc::kInputSize] = {\n",
      kWindows);
  for (const Window& window : windows) print_row("    ", window.input, tiny_fc::kInputSize);
  std::printf(
      "};\n\ninline constexpr tiny_fc::Output kExpected[kWindows][tiny_fc::kOutputSize] = {\n");
  for (const Window& window : windows) print_row("    ", window.output, tiny_fc::kOutputSize);
  std::printf("};\n\n}  // namespace tiny_fc_testdata\n");
}

int check(const Window (&windows)[kWindows]) {
  int failures = 0;
  if (tiny_fc_testdata::kWindows != kWindows) {
    std::printf("kWindows is %zu, expected %zu\n", tiny_fc_testdata::kWindows, kWindows);
    return 1;
  }
  for (std::size_t w = 0; w < kWindows; ++w) {
    if (std::memcmp(windows[w].input, tiny_fc_testdata::kInputs[w], tiny_fc::kInputSize) != 0) {
      std::printf("window %zu: kInputs differs from the synthesized window\n", w);
      ++failures;
    }
    for (std::size_t i = 0; i < tiny_fc::kOutputSize; ++i) {
      if (windows[w].output[i] != tiny_fc_testdata::kExpected[w][i]) {
        std::printf("window %zu output %zu: host %d, kExpected %d\n", w, i, windows[w].output[i],
                    tiny_fc_testdata::kExpected[w][i]);
        ++failures;
      }
    }
  }
  std::printf("tiny_fc on the host: %zu windows, %d mismatches with tiny_fc_testdata.hpp\n",
              kWindows, failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  static Window windows[kWindows];
  if (!run_all(windows)) return 1;
  if (argc > 1 && std::strcmp(argv[1], "--check") == 0) return check(windows);
  print_header(windows);
  return 0;
}
