// SPDX-License-Identifier: Apache-2.0
// Builds .npz bytes in memory (stored zip of float32 .npy members, as np.savez writes them), so
// that the model tests exercise the real weight-loading path without fixture files.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tsq/io/npz.hpp"

namespace tsq_test {

struct NpzMember {
  std::string name;
  std::vector<std::size_t> shape;
  std::vector<float> values;
};

inline void put16(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xFFu));
  out.push_back(static_cast<std::uint8_t>((v >> 8) & 0xFFu));
}
inline void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put16(out, v & 0xFFFFu);
  put16(out, v >> 16);
}

inline std::vector<std::uint8_t> npy_bytes(const NpzMember& member) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < member.shape.size(); ++i) {
    header += std::to_string(member.shape[i]) +
              (member.shape.size() == 1 ? "," : (i + 1 < member.shape.size() ? ", " : ""));
  }
  header += "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  put16(out, static_cast<std::uint32_t>(header.size()));
  out.insert(out.end(), header.begin(), header.end());
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(member.values.data());
  out.insert(out.end(), bytes, bytes + member.values.size() * sizeof(float));
  return out;
}

inline std::vector<std::uint8_t> npz_bytes(const std::vector<NpzMember>& members) {
  std::vector<std::uint8_t> out, directory;
  for (const NpzMember& member : members) {
    const std::vector<std::uint8_t> data = npy_bytes(member);
    const std::string name = member.name + ".npy";
    const std::uint32_t crc = tsq::io::detail::crc32(data.data(), data.size());
    const auto offset = static_cast<std::uint32_t>(out.size());
    put32(out, 0x04034b50u);
    put16(out, 20);
    put16(out, 0);
    put16(out, 0);  // stored
    put16(out, 0);
    put16(out, 0);
    put32(out, crc);
    put32(out, static_cast<std::uint32_t>(data.size()));
    put32(out, static_cast<std::uint32_t>(data.size()));
    put16(out, static_cast<std::uint32_t>(name.size()));
    put16(out, 0);
    out.insert(out.end(), name.begin(), name.end());
    out.insert(out.end(), data.begin(), data.end());
    put32(directory, 0x02014b50u);
    put16(directory, 20);
    put16(directory, 20);
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0);
    put32(directory, crc);
    put32(directory, static_cast<std::uint32_t>(data.size()));
    put32(directory, static_cast<std::uint32_t>(data.size()));
    put16(directory, static_cast<std::uint32_t>(name.size()));
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0);
    put32(directory, 0);
    put32(directory, offset);
    directory.insert(directory.end(), name.begin(), name.end());
  }
  const auto directory_offset = static_cast<std::uint32_t>(out.size());
  out.insert(out.end(), directory.begin(), directory.end());
  put32(out, 0x06054b50u);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<std::uint32_t>(members.size()));
  put16(out, static_cast<std::uint32_t>(members.size()));
  put32(out, static_cast<std::uint32_t>(directory.size()));
  put32(out, directory_offset);
  put16(out, 0);
  return out;
}

inline tsq::Result<tsq::io::NpzFile> make_npz(const std::vector<NpzMember>& members) {
  const std::vector<std::uint8_t> bytes = npz_bytes(members);
  return tsq::io::parse_npz(bytes.data(), bytes.size());
}

}  // namespace tsq_test
