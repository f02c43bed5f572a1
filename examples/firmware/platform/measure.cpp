// SPDX-License-Identifier: Apache-2.0
#include "measure.hpp"

extern "C" {
// From the linker script.
extern std::uint32_t __stack_limit[];
extern std::uint32_t __stack_top[];
}

namespace firmware {

namespace {
// Not a repeated byte, so that the compiler cannot turn the paint loop into a memset call,
// whose own frame would lie in the region being painted.
constexpr std::uint32_t kStackPaint = 0x5AC3E1F0u;
}  // namespace

void paint_stack() {
  // Leaf code without a frame: the words below sp belong to nobody until the next call.
  volatile std::uint32_t* const end = reinterpret_cast<std::uint32_t*>(stack_pointer());
  for (volatile std::uint32_t* word = __stack_limit; word < end; ++word) *word = kStackPaint;
}

std::size_t stack_used_below(std::uintptr_t sp) {
  const volatile std::uint32_t* word = __stack_limit;
  const auto* const end = reinterpret_cast<const std::uint32_t*>(sp);
  while (word < end && *word == kStackPaint) ++word;
  return static_cast<std::size_t>(sp - reinterpret_cast<std::uintptr_t>(word));
}

std::size_t stack_available(std::uintptr_t sp) {
  return static_cast<std::size_t>(sp - reinterpret_cast<std::uintptr_t>(__stack_limit));
}

std::size_t stack_reserved() {
  return static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(__stack_top) -
                                  reinterpret_cast<std::uintptr_t>(__stack_limit));
}

void paint(unsigned char* buffer, std::size_t size, unsigned char value) {
  for (std::size_t i = 0; i < size; ++i) buffer[i] = value;
}

std::size_t high_water(const unsigned char* buffer, std::size_t size, unsigned char value) {
  while (size > 0 && buffer[size - 1] == value) --size;
  return size;
}

void spin(std::uint32_t iterations) {
  asm volatile(
      "1: subs %0, %0, #1\n"
      "   bne 1b\n"
      : "+l"(iterations)
      :
      : "cc");
}

}  // namespace firmware

// noipa: neither inlined nor merged with each other (both are empty), so that each keeps its
// own address and name for the log.
extern "C" __attribute__((noipa)) void firmware_trace_begin() { asm volatile("" ::: "memory"); }
extern "C" __attribute__((noipa)) void firmware_trace_end() { asm volatile("" ::: "memory"); }
