// SPDX-License-Identifier: Apache-2.0
// load_npz of archives with many tiny members: the per-member bookkeeping (name lookup,
// duplicate check) rather than the bytes. Rows `io/load_npz/members:<n>`; each archive is
// written once to a temporary file, which the timed loop reads and parses.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "bench_util.hpp"
#include "tsq/io/npz.hpp"

namespace tsq_bench {
namespace {

using Bytes = std::vector<std::uint8_t>;

void put_u16(Bytes& out, std::uint64_t value) {
  out.push_back(static_cast<std::uint8_t>(value));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}
void put_u32(Bytes& out, std::uint64_t value) {
  put_u16(out, value & 0xFFFFu);
  put_u16(out, (value >> 16) & 0xFFFFu);
}
void put_u64(Bytes& out, std::uint64_t value) {
  put_u32(out, value & 0xFFFFFFFFu);
  put_u32(out, value >> 32);
}

// A .npy v1.0 file of a float32 array of shape (2,), header padded as numpy pads it.
Bytes tiny_npy(float first) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  put_u16(out, header.size());
  out.insert(out.end(), header.begin(), header.end());
  const float values[2] = {first, -first};
  const auto* raw = reinterpret_cast<const std::uint8_t*>(values);
  out.insert(out.end(), raw, raw + sizeof(values));
  return out;
}

// A zip of stored members named arr_<i>.npy, laid out like np.savez(*arrays) writes it, with
// ZIP64 end records once the entry count exceeds the classic record's 16 bits.
Bytes many_member_npz(std::size_t count) {
  Bytes out;
  std::vector<std::string> names(count);
  std::vector<std::uint32_t> crcs(count);
  std::vector<std::size_t> sizes(count), offsets(count);
  for (std::size_t i = 0; i < count; ++i) {
    names[i] = "arr_" + std::to_string(i) + ".npy";
    const Bytes data = tiny_npy(static_cast<float>(i));
    crcs[i] = tsq::io::detail::crc32(data.data(), data.size());
    sizes[i] = data.size();
    offsets[i] = out.size();
    put_u32(out, 0x04034b50);
    put_u16(out, 20);  // version needed
    put_u16(out, 0);   // flags
    put_u16(out, 0);   // stored
    put_u32(out, 0);   // time, date
    put_u32(out, crcs[i]);
    put_u32(out, sizes[i]);
    put_u32(out, sizes[i]);
    put_u16(out, names[i].size());
    put_u16(out, 0);  // extra
    out.insert(out.end(), names[i].begin(), names[i].end());
    out.insert(out.end(), data.begin(), data.end());
  }
  const std::size_t central = out.size();
  for (std::size_t i = 0; i < count; ++i) {
    put_u32(out, 0x02014b50);
    put_u16(out, 20);  // made by
    put_u16(out, 20);  // needed
    put_u16(out, 0);
    put_u16(out, 0);
    put_u32(out, 0);
    put_u32(out, crcs[i]);
    put_u32(out, sizes[i]);
    put_u32(out, sizes[i]);
    put_u16(out, names[i].size());
    put_u16(out, 0);  // extra
    put_u16(out, 0);  // comment
    put_u16(out, 0);  // disk
    put_u16(out, 0);  // internal attributes
    put_u32(out, 0);  // external attributes
    put_u32(out, offsets[i]);
    out.insert(out.end(), names[i].begin(), names[i].end());
  }
  const std::size_t central_size = out.size() - central;
  const bool zip64 = count > 0xFFFF;
  if (zip64) {
    const std::size_t record = out.size();
    put_u32(out, 0x06064b50);
    put_u64(out, 44);  // size of the rest of the record
    put_u16(out, 45);
    put_u16(out, 45);
    put_u32(out, 0);  // disk
    put_u32(out, 0);  // directory disk
    put_u64(out, count);
    put_u64(out, count);
    put_u64(out, central_size);
    put_u64(out, central);
    put_u32(out, 0x07064b50);  // locator
    put_u32(out, 0);
    put_u64(out, record);
    put_u32(out, 1);
  }
  put_u32(out, 0x06054b50);
  put_u32(out, 0);  // disk, directory disk
  put_u16(out, zip64 ? 0xFFFF : count);
  put_u16(out, zip64 ? 0xFFFF : count);
  put_u32(out, central_size);
  put_u32(out, central);
  put_u16(out, 0);  // comment
  return out;
}

struct NpzShape {
  std::string name;
  std::size_t members;
};

struct NpzCase {
  explicit NpzCase(const NpzShape& shape) : members(shape.members) {
    const Bytes bytes = many_member_npz(members);
    file_bytes = bytes.size();
    // A random suffix: concurrent runs on one machine must not share the file.
    path =
        (std::filesystem::temp_directory_path() / ("tsq_bench_" + std::to_string(members) + "_" +
                                                   std::to_string(std::random_device{}()) + ".npz"))
            .string();
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) throw SetupError("cannot create " + path);
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
    if (std::fclose(file) != 0 || !written) throw SetupError("cannot write " + path);
  }
  ~NpzCase() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
  NpzCase(const NpzCase&) = delete;
  NpzCase& operator=(const NpzCase&) = delete;

  std::size_t members;
  std::size_t file_bytes = 0;
  std::string path;
};

void add_load_npz(const NpzShape& shape) {
  add("io", "load_npz", shape.name, [shape](benchmark::State& state) {
    NpzCase& c = cached<NpzCase>(shape);
    const Work work{0, static_cast<double>(c.members), static_cast<double>(c.file_bytes)};
    time_eval(state, work, [&c]() {
      const tsq::Result<tsq::io::NpzFile> file = tsq::io::load_npz(c.path);
      if (file.is_ok() && file->size() != c.members) {
        return tsq::Status::error(tsq::ErrorCode::malformed_file, "wrong member count");
      }
      return file.status();
    });
  });
}

}  // namespace

void register_io() {
  for (std::size_t members : {1000, 10000, 100000}) {
    add_load_npz(NpzShape{"members:" + std::to_string(members), members});
  }
}

}  // namespace tsq_bench
