// SPDX-License-Identifier: Apache-2.0
// Fuzz target of tsq::io::parse_npy: any byte string gives an array or an error Status, never a
// crash, an out-of-bounds access or undefined behaviour. An accepted array must hold exactly the
// bytes its header announces (for '<f2', the halves it announces, widened to float32).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_check.hpp"
#include "tsq/io/npy.hpp"
#include "tsq/quant/float16.hpp"

namespace {

// True if the array's elements are, bit for bit, the float16 values that end the input, widened.
bool holds_widened_halves(const tsq::io::NpyArray& array, const std::uint8_t* data,
                          std::size_t size) {
  if (array.dtype() != tsq::DataType::float32) return false;
  const std::size_t count = array.element_count();
  if (count > size / 2) return false;
  const std::uint8_t* halves = data + (size - 2 * count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto half = static_cast<std::uint16_t>(halves[2 * i] | (halves[2 * i + 1] << 8));
    const float widened = tsq::half_to_float(half);
    if (std::memcmp(&widened, array.data<float>() + i, sizeof(float)) != 0) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const tsq::Result<tsq::io::NpyArray> array = tsq::io::parse_npy(data, size);
  if (array.is_ok()) {
    tsq_fuzz::check_array(array.value(), size);
    // The elements are the bytes that end the file (trailing bytes are an error), copied as
    // they are on a little-endian host, or the halves that end it, widened.
    const std::size_t bytes = array->byte_size();
    if (tsq::io::detail::host_is_little_endian() && bytes > 0) {
      const bool copied =
          bytes <= size && std::memcmp(array->bytes(), data + (size - bytes), bytes) == 0;
      TSQ_FUZZ_CHECK(copied || holds_widened_halves(array.value(), data, size));
    }
  } else {
    tsq_fuzz::check_error(array.status());
  }
  return 0;
}
