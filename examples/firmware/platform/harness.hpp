// SPDX-License-Identifier: Apache-2.0
// The test harness of the firmware programs: text output over semihosting, and check macros
// that print the failing file:line and count failures. Catch2 does not run on the
// microcontroller (it needs exceptions and a heap). finish() prints the counts and returns the
// program's exit code, 1 if any check failed, which QEMU passes on as its own exit status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace firmware {

// An unsigned value printed in hexadecimal (0x0000002a).
struct Hex {
  std::uint32_t value;
};

// Text output by lines: characters collect in a buffer that goes to the host with one
// semihosting call per line, since every call is a trap into the emulator.
class Output {
 public:
  Output& operator<<(const char* text);
  Output& operator<<(char c);
  Output& operator<<(bool value) { return *this << (value ? "true" : "false"); }
  Output& operator<<(Hex hex);

  // Integers in decimal, int8_t and uint8_t included (as numbers, not characters).
  template <typename Integer, typename = std::enable_if_t<std::is_integral<Integer>::value &&
                                                          !std::is_same<Integer, char>::value &&
                                                          !std::is_same<Integer, bool>::value>>
  Output& operator<<(Integer value) {
    static_assert(sizeof(Integer) <= 4, "the harness prints 32-bit integers");
    if constexpr (std::is_signed<Integer>::value) {
      if (value < 0) {
        *this << '-';
        return write_unsigned(0u - static_cast<std::uint32_t>(value));
      }
    }
    return write_unsigned(static_cast<std::uint32_t>(value));
  }

  void flush();

 private:
  Output& write_unsigned(std::uint32_t value);

  static constexpr std::size_t kCapacity = 128;
  char line_[kCapacity + 1] = {};
  std::size_t length_ = 0;
};

extern Output out;

namespace detail {
// Counts one check; a failed one starts the line "file:line: check failed: <expression>".
bool record_check(bool passed, const char* expression, const char* file, int line);
}  // namespace detail

// Counts one check; prints the failing expression with file:line. Returns `passed`.
inline bool check(bool passed, const char* expression, const char* file, int line) {
  if (detail::record_check(passed, expression, file, line)) return true;
  out << '\n';
  return false;
}

// The same for actual == expected; a failure also prints both values.
template <typename Actual, typename Expected>
bool check_equal(const Actual& actual, const Expected& expected, const char* expression,
                 const char* file, int line) {
  if (detail::record_check(actual == expected, expression, file, line)) return true;
  out << " (" << actual << " vs " << expected << ")\n";
  return false;
}

std::uint32_t checks_run();
std::uint32_t checks_failed();

// Prints "checks: <n> passed, <m> failed" and returns main's exit code: 0, or 1 on a failure.
int finish();

}  // namespace firmware

// Both print the failing expression with file:line and count the failure, and return whether
// the check passed, so that the caller can add a line of context:
//   if (!TSQ_FW_CHECK_EQ(got, want)) firmware::out << "  window " << w << '\n';
#define TSQ_FW_CHECK(condition) \
  ::firmware::check(static_cast<bool>(condition), #condition, __FILE__, __LINE__)
#define TSQ_FW_CHECK_EQ(actual, expected) \
  ::firmware::check_equal((actual), (expected), #actual " == " #expected, __FILE__, __LINE__)
