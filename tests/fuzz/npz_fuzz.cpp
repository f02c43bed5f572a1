// SPDX-License-Identifier: Apache-2.0
// Fuzz target of tsq::io::parse_npz: any byte string gives an archive or an error Status, never
// a crash, an out-of-bounds access or undefined behaviour. An accepted archive must have unique
// names, each found by find() and get() at its own position.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "tsq/io/npz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const tsq::Result<tsq::io::NpzFile> file = tsq::io::parse_npz(data, size);
  if (!file.is_ok()) {
    tsq_fuzz::check_error(file.status());
    return 0;
  }
  const auto& members = file->members();
  TSQ_FUZZ_CHECK(file->size() == members.size());
  const std::vector<std::string> names = file->names();
  TSQ_FUZZ_CHECK(names.size() == members.size());
  for (std::size_t i = 0; i < members.size(); ++i) {
    TSQ_FUZZ_CHECK(names[i] == members[i].first);
    TSQ_FUZZ_CHECK(file->find(names[i]) == &members[i].second);
    const tsq::Result<const tsq::io::NpyArray*> got = file->get(names[i]);
    TSQ_FUZZ_CHECK(got.is_ok() && got.value() == &members[i].second);
    tsq_fuzz::check_array(members[i].second, size);
  }
  return 0;
}
