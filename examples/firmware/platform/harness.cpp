// SPDX-License-Identifier: Apache-2.0
#include "harness.hpp"

#include "semihosting.h"

namespace firmware {

// Zero-initialized (.bss): no constructor has to run before main.
Output out;

namespace {
std::uint32_t check_count = 0;
std::uint32_t failure_count = 0;
}  // namespace

Output& Output::operator<<(const char* text) {
  while (*text != '\0') *this << *text++;
  return *this;
}

Output& Output::operator<<(char c) {
  line_[length_++] = c;
  if (c == '\n' || length_ == kCapacity) flush();
  return *this;
}

Output& Output::operator<<(Hex hex) {
  *this << "0x";
  for (int shift = 28; shift >= 0; shift -= 4) {
    const auto digit = static_cast<char>((hex.value >> shift) & 0xFu);
    *this << static_cast<char>(digit < 10 ? '0' + digit : 'a' + digit - 10);
  }
  return *this;
}

Output& Output::write_unsigned(std::uint32_t value) {
  char digits[10];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (count > 0) *this << digits[--count];
  return *this;
}

void Output::flush() {
  if (length_ == 0) return;
  line_[length_] = '\0';
  semihosting_write0(line_);
  length_ = 0;
}

namespace detail {

bool record_check(bool passed, const char* expression, const char* file, int line) {
  ++check_count;
  if (passed) return true;
  ++failure_count;
  out << file << ':' << line << ": check failed: " << expression;
  return false;
}

}  // namespace detail

std::uint32_t checks_run() { return check_count; }
std::uint32_t checks_failed() { return failure_count; }

int finish() {
  out << "checks: " << check_count - failure_count << " passed, " << failure_count << " failed\n";
  out.flush();
  return failure_count == 0 ? 0 : 1;
}

}  // namespace firmware
