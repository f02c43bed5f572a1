// SPDX-License-Identifier: Apache-2.0
// Runs a generated integer-only model on the microcontroller over the test windows and
// compares every output byte with the outputs the host computed (kExpected); a non-ok Status
// or a single differing byte fails the program, and with it the test. It also measures what
// the model needs besides flash: the stack below the caller and the arena bytes a run writes,
// and checks that the outputs do not depend on what the arena held before the run.
//
// With the argument "trace" (qemu -semihosting-config enable=on,target=native,arg=model_check,
// arg=trace, or -append trace when the ELF's path is short) it only runs the instruction-count
// brackets that scripts/firmware-report.sh reads from QEMU's execution log: the empty bracket,
// the calibration loop twice, one inference on window 0.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "harness.hpp"
#include "measure.hpp"
#include "model_under_test.hpp"  // configured: the model chosen with TSQ_FIRMWARE_MODEL
#include "semihosting.h"

namespace {

using firmware::out;

static_assert(model::kInputSize > 0 && model::kOutputSize > 0, "the model has no input or output");

// A static buffer, as in a real firmware, in .bss; scripts/firmware-report.sh finds it in the
// linker map by its name.
constexpr std::size_t kArenaStorage = model::kArenaBytes > 0 ? model::kArenaBytes : 1;
alignas(16) unsigned char arena[kArenaStorage];
model::Output output[model::kOutputSize];
model::Output first_output[model::kOutputSize];

// Called through a volatile pointer, so that the model stays a function of its own: the
// footprint report attributes code by symbol, and the instruction count brackets one call.
tsq::Status (*volatile run_model)(const model::Input*, model::Output*, unsigned char*) = model::run;

// Two arena patterns: a byte the model writes with one of them is caught by the other.
constexpr unsigned char kArenaPaint[2] = {0xA5, 0x5A};

struct Measured {
  tsq::Status status;
  std::size_t stack_bytes = 0;
  std::size_t stack_available = 0;
  std::size_t arena_bytes = 0;
};

Measured run_measured(const model::Input* input, unsigned char arena_paint) {
  firmware::paint(arena, sizeof arena, arena_paint);
  firmware::paint_stack();
  const std::uintptr_t sp = firmware::stack_pointer();
  Measured measured;
  measured.status = run_model(input, output, arena);
  measured.stack_bytes = firmware::stack_used_below(sp);
  measured.stack_available = firmware::stack_available(sp);
  measured.arena_bytes = firmware::high_water(arena, sizeof arena, arena_paint);
  return measured;
}

std::size_t argmax(const model::Output* scores) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < model::kOutputSize; ++i) {
    if (scores[i] > scores[best]) best = i;
  }
  return best;
}

bool check_status(const tsq::Status& status, std::size_t window) {
  if (TSQ_FW_CHECK(status.is_ok())) return true;
  out << "  window " << window << ": " << tsq::error_code_name(status.code()) << ": "
      << status.message() << '\n';
  return false;
}

// Every byte against the host's output; a mismatch prints the first differing bytes.
std::size_t compare(const model::Output* got, const model::Output* expected, std::size_t window) {
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < model::kOutputSize; ++i) mismatches += got[i] != expected[i];
  if (TSQ_FW_CHECK_EQ(mismatches, std::size_t{0})) return 0;
  out << "  window " << window << ": " << mismatches << " of " << model::kOutputSize
      << " outputs differ from the host's (output: target/host)";
  std::size_t shown = 0;
  for (std::size_t i = 0; i < model::kOutputSize && shown < 8; ++i) {
    if (got[i] == expected[i]) continue;
    out << (shown++ == 0 ? " " : ", ") << i << ": " << got[i] << '/' << expected[i];
  }
  out << '\n';
  return mismatches;
}

void print_usage(const Measured& worst) {
  out << "stack used: " << worst.stack_bytes << " bytes, arena used: " << worst.arena_bytes
      << " of " << model::kArenaBytes << " bytes\n";
  out << "stack reserved: " << firmware::stack_reserved() << " bytes\n";
}

// FNV-1a over every output byte, window by window: the same digest as the host check
// (host_check.cpp) prints, so that one test can compare every platform's outputs.
std::uint32_t add_to_digest(std::uint32_t digest, const model::Output* scores) {
  for (std::size_t i = 0; i < model::kOutputSize; ++i) {
    digest = (digest ^ static_cast<std::uint8_t>(scores[i])) * 16777619u;
  }
  return digest;
}

int check_all_windows() {
  Measured worst;
  std::uint32_t digest = 2166136261u;
  for (std::size_t w = 0; w < testdata::kWindows; ++w) {
    const Measured first = run_measured(testdata::kInputs[w], kArenaPaint[0]);
    if (!check_status(first.status, w)) continue;
    std::memcpy(first_output, output, sizeof output);
    const Measured second = run_measured(testdata::kInputs[w], kArenaPaint[1]);
    check_status(second.status, w);

    const std::size_t mismatches = compare(first_output, testdata::kExpected[w], w);
    digest = add_to_digest(digest, first_output);
    if (!TSQ_FW_CHECK(std::memcmp(first_output, output, sizeof output) == 0)) {
      out << "  window " << w << ": the outputs depend on the arena's previous contents\n";
    }
    for (const Measured* run : {&first, &second}) {
      if (!TSQ_FW_CHECK(run->stack_bytes < run->stack_available)) {
        out << "  window " << w << ": the stack may have overflowed\n";
      }
      if (run->stack_bytes > worst.stack_bytes) worst.stack_bytes = run->stack_bytes;
      if (run->arena_bytes > worst.arena_bytes) worst.arena_bytes = run->arena_bytes;
    }
    out << "window " << w << ": class " << argmax(first_output) << " (expected "
        << argmax(testdata::kExpected[w]) << ")" << (mismatches == 0 ? "" : ", MISMATCH") << '\n';
  }
  print_usage(worst);
  out << "output digest: " << digest << " over " << testdata::kWindows << " windows\n";
  return firmware::finish();
}

int trace_brackets() {
  firmware_trace_begin();
  firmware_trace_end();
  firmware_trace_begin();
  firmware::spin(1000);
  firmware_trace_end();
  firmware_trace_begin();
  firmware::spin(2000);
  firmware_trace_end();

  firmware::paint(arena, sizeof arena, kArenaPaint[0]);
  firmware::paint_stack();
  const std::uintptr_t sp = firmware::stack_pointer();
  firmware_trace_begin();
  const tsq::Status status = run_model(testdata::kInputs[0], output, arena);
  firmware_trace_end();
  Measured measured;
  measured.stack_bytes = firmware::stack_used_below(sp);
  measured.arena_bytes = firmware::high_water(arena, sizeof arena, kArenaPaint[0]);

  out << "trace brackets: empty, spin 1000, spin 2000, inference on window 0\n";
  if (check_status(status, 0)) compare(output, testdata::kExpected[0], 0);
  print_usage(measured);
  return firmware::finish();
}

// True when a word after the program name is "trace". QEMU refuses a command line longer than
// the buffer, which then reads as empty.
bool trace_requested() {
  char line[160];
  semihosting_command_line(line, sizeof line);
  for (const char* word = std::strchr(line, ' '); word != nullptr; word = std::strchr(word, ' ')) {
    ++word;
    if (std::strncmp(word, "trace", 5) == 0 && (word[5] == '\0' || word[5] == ' ')) return true;
  }
  return false;
}

}  // namespace

int main() {
  out << "tsq firmware check: " << firmware::kModelName << " on " << firmware::kBoard << " ("
      << firmware::kCpu << "), " << testdata::kWindows << " windows, input " << model::kInputSize
      << ", output " << model::kOutputSize << ", arena " << model::kArenaBytes << " bytes\n";
  return trace_requested() ? trace_brackets() : check_all_windows();
}
