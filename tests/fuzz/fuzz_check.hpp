// SPDX-License-Identifier: Apache-2.0
// Checks shared by the fuzz targets. A failed check aborts, which libFuzzer records as a crash
// (with the input) and which fails the corpus test in ordinary builds, where assert() may be off.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "tsq/core/data_type.hpp"
#include "tsq/io/npy.hpp"

#define TSQ_FUZZ_CHECK(condition)                                                        \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace tsq_fuzz {

// An error must carry a code and a message.
inline void check_error(const tsq::Status& status) {
  TSQ_FUZZ_CHECK(!status.is_ok());
  TSQ_FUZZ_CHECK(status.message()[0] != '\0');
}

// An accepted array must be what its header announced, no larger than the input it came from
// (`input_size` bytes) allows: float16 data is widened to float32, so a float32 array may take
// twice the input's bytes, any other at most the input's. Every element is read once more
// through to_float32, so that the sanitizers check the whole buffer.
inline void check_array(const tsq::io::NpyArray& array, std::size_t input_size) {
  TSQ_FUZZ_CHECK(array.byte_size() == array.element_count() * tsq::data_type_size(array.dtype()));
  const bool may_be_widened = array.dtype() == tsq::DataType::float32;
  TSQ_FUZZ_CHECK(array.byte_size() <= (may_be_widened ? 2 : 1) * input_size);
  TSQ_FUZZ_CHECK(array.bytes() != nullptr);
  const tsq::Result<std::vector<float>> floats = tsq::io::to_float32(array);
  TSQ_FUZZ_CHECK(floats.is_ok());
  TSQ_FUZZ_CHECK(floats->size() == array.element_count());
}

}  // namespace tsq_fuzz
