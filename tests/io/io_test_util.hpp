// SPDX-License-Identifier: Apache-2.0
// Helpers for the npy/npz tests: real-data paths, and writers that assemble .npy and .zip
// bytes in memory so that every variant and corruption is built by the test itself.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tsq/io/npz.hpp"

namespace tsq_io_test {

using Bytes = std::vector<std::uint8_t>;

inline std::string data_path(const std::string& relative) {
  return std::string(TSQ_DATA_DIR) + "/" + relative;
}

// The real data is always present in CI: a missing file fails the test, it never skips it.
inline Bytes read_real_file(const std::string& relative) {
  const std::string path = data_path(relative);
  Bytes bytes;
  const tsq::Status status = tsq::io::detail::read_file(path, bytes);
  INFO("real data file " << path << " must exist (TSQ_DATA_DIR=" << TSQ_DATA_DIR
                         << "): " << status.message());
  REQUIRE(status.is_ok());
  return bytes;
}

inline std::uint32_t float_bits(float value) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

inline void put_u16(Bytes& out, std::uint32_t value) {
  out.push_back(static_cast<std::uint8_t>(value));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}
inline void put_u32(Bytes& out, std::uint32_t value) {
  put_u16(out, value & 0xFFFFu);
  put_u16(out, value >> 16);
}
inline void put_u64(Bytes& out, std::uint64_t value) {
  put_u32(out, static_cast<std::uint32_t>(value));
  put_u32(out, static_cast<std::uint32_t>(value >> 32));
}
inline void patch_u16(Bytes& out, std::size_t at, std::uint32_t value) {
  out[at] = static_cast<std::uint8_t>(value);
  out[at + 1] = static_cast<std::uint8_t>(value >> 8);
}
inline void patch_u32(Bytes& out, std::size_t at, std::uint32_t value) {
  patch_u16(out, at, value & 0xFFFFu);
  patch_u16(out, at + 2, value >> 16);
}

// A .npy file with the given header dict text, padded as numpy pads it (spaces, then '\n',
// to a multiple of 64 bytes). major 1 uses a 2-byte header length, 2 and 3 a 4-byte one.
inline Bytes make_npy(const std::string& dict, const Bytes& data, int major = 1, int minor = 0) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  Bytes out = {0x93,
               'N',
               'U',
               'M',
               'P',
               'Y',
               static_cast<std::uint8_t>(major),
               static_cast<std::uint8_t>(minor)};
  if (major == 1) {
    put_u16(out, static_cast<std::uint32_t>(header.size()));
  } else {
    put_u32(out, static_cast<std::uint32_t>(header.size()));
  }
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// The header numpy writes for a C-order array.
inline std::string npy_dict(const std::string& descr, const std::string& shape) {
  return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
}

// Little-endian bytes of a sequence of values.
template <typename T>
Bytes le_bytes(const std::vector<T>& values) {
  Bytes out;
  for (const T& value : values) {
    std::uint8_t raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));  // the test hosts are little-endian (checked below)
    out.insert(out.end(), raw, raw + sizeof(T));
  }
  return out;
}

// One member of a zip built by make_zip().
struct ZipMember {
  std::string name;
  Bytes data;
  std::uint16_t method = 0;
  std::uint16_t flags = 0;
  bool data_descriptor = false;  // flag bit 3: zero CRC/sizes locally, descriptor after data
  bool local_zip64 = true;       // ZIP64 extra field in the local header, as numpy writes
  bool central_zip64 = false;    // saturated sizes/offset in the central header + ZIP64 extra
  bool bad_crc = false;          // store a wrong CRC-32
};

struct ZipOptions {
  std::string comment;
  bool zip64_end_record = false;  // ZIP64 end record + locator, saturated classic record
};

// Where make_zip() put things, for targeted corruption.
struct ZipLayout {
  Bytes bytes;
  std::vector<std::size_t> local_offsets;
  std::vector<std::size_t> data_offsets;
  std::vector<std::size_t> central_offsets;
  std::size_t central_offset = 0;
  std::size_t end_record_offset = 0;
};

// Assembles a zip archive of stored members (whatever `method` says, data is written as is).
inline ZipLayout make_zip(const std::vector<ZipMember>& members, const ZipOptions& options = {}) {
  ZipLayout zip;
  Bytes& out = zip.bytes;
  for (const ZipMember& m : members) {
    const std::uint32_t crc =
        tsq::io::detail::crc32(m.data.data(), m.data.size()) ^ (m.bad_crc ? 1u : 0u);
    const std::uint16_t flags = static_cast<std::uint16_t>(m.flags | (m.data_descriptor ? 8 : 0));
    const auto size = static_cast<std::uint32_t>(m.data.size());
    zip.local_offsets.push_back(out.size());
    put_u32(out, 0x04034b50);
    put_u16(out, 45);  // version needed: 4.5 (ZIP64)
    put_u16(out, flags);
    put_u16(out, m.method);
    put_u16(out, 0);     // time
    put_u16(out, 0x21);  // date
    put_u32(out, m.data_descriptor ? 0 : crc);
    put_u32(out, m.data_descriptor ? 0 : size);
    put_u32(out, m.data_descriptor ? 0 : size);
    put_u16(out, static_cast<std::uint32_t>(m.name.size()));
    put_u16(out, m.local_zip64 ? 20 : 0);
    out.insert(out.end(), m.name.begin(), m.name.end());
    if (m.local_zip64) {
      put_u16(out, 0x0001);
      put_u16(out, 16);
      put_u64(out, m.data_descriptor ? 0 : size);
      put_u64(out, m.data_descriptor ? 0 : size);
    }
    zip.data_offsets.push_back(out.size());
    out.insert(out.end(), m.data.begin(), m.data.end());
    if (m.data_descriptor) {
      put_u32(out, 0x08074b50);
      put_u32(out, crc);
      put_u64(out, size);  // ZIP64 descriptor: 8-byte sizes
      put_u64(out, size);
    }
  }
  zip.central_offset = out.size();
  for (std::size_t i = 0; i < members.size(); ++i) {
    const ZipMember& m = members[i];
    const std::uint32_t crc =
        tsq::io::detail::crc32(m.data.data(), m.data.size()) ^ (m.bad_crc ? 1u : 0u);
    const std::uint16_t flags = static_cast<std::uint16_t>(m.flags | (m.data_descriptor ? 8 : 0));
    const auto size = static_cast<std::uint32_t>(m.data.size());
    zip.central_offsets.push_back(out.size());
    put_u32(out, 0x02014b50);
    put_u16(out, 0x031E);  // made by: unix, 3.0
    put_u16(out, 45);
    put_u16(out, flags);
    put_u16(out, m.method);
    put_u16(out, 0);
    put_u16(out, 0x21);
    put_u32(out, crc);
    put_u32(out, m.central_zip64 ? 0xFFFFFFFFu : size);
    put_u32(out, m.central_zip64 ? 0xFFFFFFFFu : size);
    put_u16(out, static_cast<std::uint32_t>(m.name.size()));
    put_u16(out, m.central_zip64 ? 28 : 0);
    put_u16(out, 0);  // comment
    put_u16(out, 0);  // disk
    put_u16(out, 0);  // internal attributes
    put_u32(out, 0);  // external attributes
    put_u32(out, m.central_zip64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(zip.local_offsets[i]));
    out.insert(out.end(), m.name.begin(), m.name.end());
    if (m.central_zip64) {
      put_u16(out, 0x0001);
      put_u16(out, 24);
      put_u64(out, size);  // uncompressed, compressed, local header offset
      put_u64(out, size);
      put_u64(out, zip.local_offsets[i]);
    }
  }
  const std::size_t central_size = out.size() - zip.central_offset;
  const auto count = static_cast<std::uint32_t>(members.size());
  if (options.zip64_end_record) {
    const std::size_t record = out.size();
    put_u32(out, 0x06064b50);
    put_u64(out, 44);  // size of the rest of the record
    put_u16(out, 0x031E);
    put_u16(out, 45);
    put_u32(out, 0);
    put_u32(out, 0);
    put_u64(out, count);
    put_u64(out, count);
    put_u64(out, central_size);
    put_u64(out, zip.central_offset);
    put_u32(out, 0x07064b50);  // locator
    put_u32(out, 0);
    put_u64(out, record);
    put_u32(out, 1);
  }
  zip.end_record_offset = out.size();
  put_u32(out, 0x06054b50);
  put_u16(out, 0);
  put_u16(out, 0);
  put_u16(out, options.zip64_end_record ? 0xFFFFu : count);
  put_u16(out, options.zip64_end_record ? 0xFFFFu : count);
  put_u32(out, options.zip64_end_record ? 0xFFFFFFFFu : static_cast<std::uint32_t>(central_size));
  put_u32(out,
          options.zip64_end_record ? 0xFFFFFFFFu : static_cast<std::uint32_t>(zip.central_offset));
  put_u16(out, static_cast<std::uint32_t>(options.comment.size()));
  out.insert(out.end(), options.comment.begin(), options.comment.end());
  return zip;
}

}  // namespace tsq_io_test
