// SPDX-License-Identifier: Apache-2.0
// Fuzz target of tsq::io::parse_npy: any byte string gives an array or an error Status, never a
// crash, an out-of-bounds access or undefined behaviour. An accepted array must hold exactly the
// bytes its header announces.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_check.hpp"
#include "tsq/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const tsq::Result<tsq::io::NpyArray> array = tsq::io::parse_npy(data, size);
  if (array.is_ok()) {
    tsq_fuzz::check_array(array.value(), size);
    // The elements are the bytes that end the file (trailing bytes are an error), copied as
    // they are on a little-endian host.
    const std::size_t bytes = array->byte_size();
    if (tsq::io::detail::host_is_little_endian() && bytes > 0) {
      TSQ_FUZZ_CHECK(std::memcmp(array->bytes(), data + (size - bytes), bytes) == 0);
    }
  } else {
    tsq_fuzz::check_error(array.status());
  }
  return 0;
}
