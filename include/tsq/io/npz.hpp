// SPDX-License-Identifier: Apache-2.0
// Reader for numpy's .npz archives as written by np.savez (host only: allocates, reads files).
//
// An .npz file is a zip archive with one stored (uncompressed) .npy member per array. The
// reader walks the central directory, checks every offset and size against the buffer and the
// CRC-32 of every member, and parses each member with parse_npy. It handles ZIP64 records and
// extra fields (numpy writes a ZIP64 extra field into every local header), archive comments and
// data descriptors (sizes are always taken from the central directory).
// Errors, besides those of parse_npy for a member:
//   malformed_file      truncated archive, bad signature or offset, CRC mismatch, duplicate names
//   unsupported_format  deflate-compressed members (np.savez_compressed), other compression
//                       methods, encryption, multi-disk archives, members that are not .npy
//   io_error            the file cannot be opened or read
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tsq/core/status.hpp"
#include "tsq/io/npy.hpp"

namespace tsq {
namespace io {

class NpzFile;
inline Result<NpzFile> parse_npz(const std::uint8_t* bytes, std::size_t size);

// The arrays of an .npz file, in the order of its central directory (np.savez's order).
class NpzFile {
 public:
  // (name without the ".npy" suffix, array) pairs in file order.
  const std::vector<std::pair<std::string, NpyArray>>& members() const { return members_; }
  std::size_t size() const { return members_.size(); }

  // Member names without the ".npy" suffix, in file order.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(members_.size());
    for (const auto& member : members_) out.push_back(member.first);
    return out;
  }

  // The array saved under `name` (as given to np.savez, without ".npy"), or nullptr.
  const NpyArray* find(std::string_view name) const {
    const auto at = index_.find(name);
    return at == index_.end() ? nullptr : &members_[at->second].second;
  }

  // Like find(), but a missing member is a not_found Status that names it.
  Result<const NpyArray*> get(std::string_view name) const {
    const NpyArray* array = find(name);
    if (array != nullptr) return array;
    return Status::error(ErrorCode::not_found, "npz: no member '")
        .append(std::string(name).c_str())
        .append("'");
  }

 private:
  friend Result<NpzFile> parse_npz(const std::uint8_t* bytes, std::size_t size);

  std::vector<std::pair<std::string, NpyArray>> members_;
  // Name -> position in members_. An ordered map: O(log n) per lookup even for names chosen to
  // collide (archives may be hostile), and std::less<> finds a string_view without a copy.
  // Positions rather than pointers, so that copies of an NpzFile stay valid.
  std::map<std::string, std::size_t, std::less<>> index_;
};

namespace detail {

// CRC-32 as used by zip (reflected polynomial 0xEDB88320), one table lookup per byte.
struct Crc32Table {
  std::uint32_t entries[256] = {};
  constexpr Crc32Table() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int bit = 0; bit < 8; ++bit) c = (c & 1u) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      entries[i] = c;
    }
  }
};
inline constexpr Crc32Table kCrc32Table{};

// CRC-32 of data[0, size); pass a previous result as `crc` to continue over more data.
inline std::uint32_t crc32(const std::uint8_t* data, std::size_t size, std::uint32_t crc = 0) {
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) {
    crc = kCrc32Table.entries[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  }
  return ~crc;
}

constexpr std::uint32_t kLocalHeaderSignature = 0x04034b50;           // "PK\3\4"
constexpr std::uint32_t kCentralHeaderSignature = 0x02014b50;         // "PK\1\2"
constexpr std::uint32_t kEndOfCentralDirSignature = 0x06054b50;       // "PK\5\6"
constexpr std::uint32_t kZip64EndOfCentralDirSignature = 0x06064b50;  // "PK\6\6"
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;          // "PK\6\7"
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kEndOfCentralDirSize = 22;
constexpr std::size_t kZip64EndOfCentralDirSize = 56;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::uint16_t kZip64ExtraId = 0x0001;

inline Status zip_error(const char* what) {
  return Status::error(ErrorCode::malformed_file, "npz: ").append(what);
}

// Where the central directory is, from the (ZIP64) end of central directory record.
struct CentralDirectory {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint64_t entries = 0;
  std::uint64_t end_limit = 0;  // the directory must end before the record(s) that describe it
};

inline Status find_central_directory(const std::uint8_t* bytes, std::size_t size,
                                     CentralDirectory& out) {
  if (size < kEndOfCentralDirSize) {
    return zip_error("no end of central directory record (file truncated or not a zip)");
  }
  // The record sits at the end, followed only by a comment of up to 65535 bytes. Searching
  // backwards and requiring the comment length to reach exactly the end skips "PK\5\6"
  // sequences that happen to appear inside a comment or member data.
  const std::size_t last = size - kEndOfCentralDirSize;
  const std::size_t first = last > 0xFFFF ? last - 0xFFFF : 0;
  std::size_t eocd = 0;
  bool found = false;
  for (std::size_t pos = last + 1; pos-- > first;) {
    if (load_u32le(bytes + pos) == kEndOfCentralDirSignature &&
        static_cast<std::size_t>(load_u16le(bytes + pos + 20)) == last - pos) {
      eocd = pos;
      found = true;
      break;
    }
  }
  if (!found) return zip_error("no end of central directory record (file truncated or not a zip)");

  std::uint32_t disk = load_u16le(bytes + eocd + 4);
  std::uint32_t directory_disk = load_u16le(bytes + eocd + 6);
  std::uint64_t disk_entries = load_u16le(bytes + eocd + 8);
  out.entries = load_u16le(bytes + eocd + 10);
  out.size = load_u32le(bytes + eocd + 12);
  out.offset = load_u32le(bytes + eocd + 16);
  out.end_limit = eocd;

  // A ZIP64 locator right before the record points to the ZIP64 record, whose 64-bit values
  // replace the saturated 16/32-bit ones.
  if (eocd >= kZip64LocatorSize &&
      load_u32le(bytes + eocd - kZip64LocatorSize) == kZip64LocatorSignature) {
    const std::uint8_t* locator = bytes + eocd - kZip64LocatorSize;
    const std::uint64_t record = load_u64le(locator + 8);
    const std::uint32_t total_disks = load_u32le(locator + 16);
    const std::size_t locator_offset = eocd - kZip64LocatorSize;
    if (record > locator_offset || locator_offset - record < kZip64EndOfCentralDirSize) {
      return zip_error("ZIP64 end of central directory offset out of bounds");
    }
    const std::uint8_t* z64 = bytes + record;
    if (load_u32le(z64) != kZip64EndOfCentralDirSignature) {
      return zip_error("bad ZIP64 end of central directory signature");
    }
    if (total_disks > 1) {
      return Status::error(ErrorCode::unsupported_format, "npz: multi-disk zip not supported");
    }
    disk = load_u32le(z64 + 16);
    directory_disk = load_u32le(z64 + 20);
    disk_entries = load_u64le(z64 + 24);
    out.entries = load_u64le(z64 + 32);
    out.size = load_u64le(z64 + 40);
    out.offset = load_u64le(z64 + 48);
    out.end_limit = record;
  }
  if (disk != 0 || directory_disk != 0 || disk_entries != out.entries) {
    return Status::error(ErrorCode::unsupported_format, "npz: multi-disk zip not supported");
  }
  if (out.offset > out.end_limit || out.size > out.end_limit - out.offset) {
    return zip_error("central directory lies outside the file");
  }
  if (out.entries > out.size / kCentralHeaderSize) {
    return zip_error("central directory too small for its entry count");
  }
  return Status::ok();
}

// One central directory entry, with ZIP64 values already substituted.
struct CentralEntry {
  std::string name;
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_offset = 0;
};

// Reads the entry at bytes[pos, end) and advances pos past it.
inline Status read_central_entry(const std::uint8_t* bytes, std::size_t& pos, std::size_t end,
                                 CentralEntry& out) {
  if (end - pos < kCentralHeaderSize) return zip_error("central directory entry truncated");
  const std::uint8_t* h = bytes + pos;
  if (load_u32le(h) != kCentralHeaderSignature) {
    return zip_error("bad central directory entry signature");
  }
  out.flags = load_u16le(h + 8);
  out.method = load_u16le(h + 10);
  out.crc = load_u32le(h + 16);
  out.compressed_size = load_u32le(h + 20);
  out.uncompressed_size = load_u32le(h + 24);
  const std::size_t name_length = load_u16le(h + 28);
  const std::size_t extra_length = load_u16le(h + 30);
  const std::size_t comment_length = load_u16le(h + 32);
  const std::uint32_t disk_start = load_u16le(h + 34);
  out.local_offset = load_u32le(h + 42);
  if (end - pos - kCentralHeaderSize < name_length + extra_length + comment_length) {
    return zip_error("central directory entry truncated");
  }
  const std::uint8_t* name = h + kCentralHeaderSize;
  out.name.assign(reinterpret_cast<const char*>(name), name_length);
  pos += kCentralHeaderSize + name_length + extra_length + comment_length;

  // The ZIP64 extra field holds, in this order, the 64-bit values of exactly those fields
  // that are saturated in the fixed header.
  const std::uint8_t* extra = name + name_length;
  std::size_t at = 0;
  while (extra_length - at >= 4) {
    const std::uint16_t id = load_u16le(extra + at);
    const std::size_t length = load_u16le(extra + at + 2);
    at += 4;
    if (length > extra_length - at) return zip_error("extra field exceeds its entry");
    if (id == kZip64ExtraId) {
      const std::uint8_t* field = extra + at;
      std::size_t left = length;
      std::uint64_t* targets[3] = {&out.uncompressed_size, &out.compressed_size, &out.local_offset};
      for (std::uint64_t* target : targets) {
        if (*target != 0xFFFFFFFFu) continue;
        if (left < 8) return zip_error("ZIP64 extra field too short");
        *target = load_u64le(field);
        field += 8;
        left -= 8;
      }
      if (disk_start == 0xFFFFu) {
        if (left < 4) return zip_error("ZIP64 extra field too short");
        if (load_u32le(field) != 0) {
          return Status::error(ErrorCode::unsupported_format, "npz: multi-disk zip not supported");
        }
      }
    }
    at += length;
  }
  if (disk_start != 0 && disk_start != 0xFFFFu) {
    return Status::error(ErrorCode::unsupported_format, "npz: multi-disk zip not supported");
  }
  return Status::ok();
}

inline Status member_error(ErrorCode code, const std::string& name, const char* what) {
  return Status::error(code, "npz member '").append(name.c_str()).append("': ").append(what);
}

}  // namespace detail

// Parses a complete .npz archive held in memory (bytes[0, size)). The arrays are copied.
inline Result<NpzFile> parse_npz(const std::uint8_t* bytes, std::size_t size) {
  using namespace detail;
  if (bytes == nullptr && size != 0) {
    return Status::error(ErrorCode::invalid_argument, "npz: null buffer");
  }
  CentralDirectory directory;
  TSQ_RETURN_IF_ERROR(find_central_directory(bytes, size, directory));
  // Member data must lie before the central directory.
  const std::size_t data_limit = static_cast<std::size_t>(directory.offset);

  NpzFile file;
  file.members_.reserve(static_cast<std::size_t>(directory.entries));
  std::size_t pos = static_cast<std::size_t>(directory.offset);
  const std::size_t end = static_cast<std::size_t>(directory.offset + directory.size);
  for (std::uint64_t index = 0; index < directory.entries; ++index) {
    CentralEntry entry;
    TSQ_RETURN_IF_ERROR(read_central_entry(bytes, pos, end, entry));
    const std::string& name = entry.name;

    if ((entry.flags & 1u) != 0) {
      return member_error(ErrorCode::unsupported_format, name, "encrypted members not supported");
    }
    if (entry.method == 8) {
      return member_error(ErrorCode::unsupported_format, name,
                          "deflate-compressed (np.savez_compressed) not supported; "
                          "save with np.savez");
    }
    if (entry.method != 0) {
      return member_error(ErrorCode::unsupported_format, name, "compression method ")
          .append(static_cast<unsigned>(entry.method))
          .append(" not supported; save with np.savez");
    }
    if (entry.compressed_size != entry.uncompressed_size) {
      return member_error(ErrorCode::malformed_file, name, "stored member sizes differ");
    }

    // The local header repeats the name; its extra field (numpy puts ZIP64 sizes there) and
    // any data descriptor are skipped: the central directory's sizes are authoritative.
    if (entry.local_offset > data_limit || data_limit - entry.local_offset < kLocalHeaderSize) {
      return member_error(ErrorCode::malformed_file, name, "local header offset out of bounds");
    }
    const std::size_t local = static_cast<std::size_t>(entry.local_offset);
    if (load_u32le(bytes + local) != kLocalHeaderSignature) {
      return member_error(ErrorCode::malformed_file, name, "bad local header signature");
    }
    if (load_u16le(bytes + local + 8) != entry.method) {
      return member_error(ErrorCode::malformed_file, name,
                          "local and central compression methods differ");
    }
    const std::size_t local_name_length = load_u16le(bytes + local + 26);
    const std::size_t local_extra_length = load_u16le(bytes + local + 28);
    const std::size_t header_end =
        local + kLocalHeaderSize + local_name_length + local_extra_length;
    if (header_end > data_limit) {
      return member_error(ErrorCode::malformed_file, name, "local header exceeds the data area");
    }
    if (local_name_length != name.size() ||
        std::memcmp(bytes + local + kLocalHeaderSize, name.data(), name.size()) != 0) {
      return member_error(ErrorCode::malformed_file, name, "local header has a different name");
    }
    if (entry.uncompressed_size > data_limit - header_end) {
      return member_error(ErrorCode::malformed_file, name, "member data truncated");
    }
    const std::uint8_t* data = bytes + header_end;
    const std::size_t data_size = static_cast<std::size_t>(entry.uncompressed_size);
    if (crc32(data, data_size) != entry.crc) {
      return member_error(ErrorCode::malformed_file, name, "CRC-32 mismatch (corrupted data)");
    }

    static const char kSuffix[] = ".npy";
    const std::size_t suffix_length = sizeof(kSuffix) - 1;
    if (name.size() < suffix_length ||
        name.compare(name.size() - suffix_length, suffix_length, kSuffix) != 0) {
      return member_error(ErrorCode::unsupported_format, name, "not a .npy member");
    }
    std::string key = name.substr(0, name.size() - suffix_length);
    const auto slot = file.index_.emplace(key, file.members_.size());
    if (!slot.second) {
      return member_error(ErrorCode::malformed_file, name, "duplicate member name (first at index ")
          .append(slot.first->second)
          .append(")");
    }
    Result<NpyArray> array = parse_npy(data, data_size);
    if (!array.is_ok()) {
      return member_error(array.status().code(), name, array.status().message());
    }
    file.members_.emplace_back(std::move(key), std::move(array).value());
  }
  return file;
}

// Reads and parses an .npz file written by np.savez.
inline Result<NpzFile> load_npz(const std::string& path) {
  std::vector<std::uint8_t> bytes;
  TSQ_RETURN_IF_ERROR(detail::read_file(path, bytes));
  Result<NpzFile> result = parse_npz(bytes.data(), bytes.size());
  if (result.is_ok()) return result;
  return Status::error(result.status().code(), result.status().message())
      .append(" in ")
      .append(path.c_str());
}

}  // namespace io
}  // namespace tsq
