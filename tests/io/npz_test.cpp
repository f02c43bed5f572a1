// SPDX-License-Identifier: Apache-2.0
#include "tsq/io/npz.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io_test_util.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::io::NpyArray;
using tsq::io::NpzFile;
using tsq::io::parse_npz;
using namespace tsq_io_test;

namespace {

const char* const kDeepConvLstm = "deepconvlstm-ucihar/ordonez2016_deepconvlstm.npz";

tsq::Result<NpzFile> parse(const Bytes& bytes) { return parse_npz(bytes.data(), bytes.size()); }

void check_error(const tsq::Status& status, ErrorCode code, const std::string& fragment) {
  INFO("message: " << status.message());
  REQUIRE_FALSE(status.is_ok());
  CHECK(tsq::error_code_name(status.code()) == std::string(tsq::error_code_name(code)));
  CHECK_THAT(status.message(), Catch::Contains(fragment));
}

ZipMember member(const std::string& name, const Bytes& data) {
  ZipMember m;
  m.name = name;
  m.data = data;
  return m;
}

// Two small arrays, as np.savez("x.npz", weights=..., labels=...) would hold them.
const Bytes kWeightsNpy =
    make_npy(npy_dict("<f4", "(2, 2)"), le_bytes(std::vector<float>{0.5f, -1.0f, 2.0f, 8.25f}));
const Bytes kLabelsNpy = make_npy(npy_dict("|u1", "(3,)"), Bytes{7, 8, 9});

std::vector<ZipMember> two_members() {
  return {member("weights.npy", kWeightsNpy), member("labels.npy", kLabelsNpy)};
}

void check_two_members(const NpzFile& file) {
  REQUIRE(file.size() == 2);
  CHECK(file.names() == std::vector<std::string>{"weights", "labels"});
  const NpyArray* weights = file.find("weights");
  REQUIRE(weights != nullptr);
  CHECK(weights->dtype() == DataType::float32);
  CHECK(weights->shape() == std::vector<std::size_t>{2, 2});
  CHECK(weights->data<float>()[3] == 8.25f);
  const NpyArray* labels = file.find("labels");
  REQUIRE(labels != nullptr);
  CHECK(labels->dtype() == DataType::uint8);
  CHECK(labels->data<std::uint8_t>()[2] == 9);
}

// Offsets in the real archive: numpy writes member 0 first, then the central directory,
// then a 22-byte end record without comment.
std::size_t real_central_offset(const Bytes& file) {
  const std::size_t end_record = file.size() - 22;
  REQUIRE(tsq::io::detail::load_u32le(file.data() + end_record) == 0x06054b50u);
  return tsq::io::detail::load_u32le(file.data() + end_record + 16);
}

}  // namespace

TEST_CASE("npz: CRC-32", "[io][npz]") {
  const std::string check = "123456789";
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(check.data());
  CHECK(tsq::io::detail::crc32(bytes, check.size()) == 0xCBF43926u);  // the standard check value
  CHECK(tsq::io::detail::crc32(bytes, 0) == 0u);
  // Continuing over a split gives the same result.
  CHECK(tsq::io::detail::crc32(bytes + 4, 5, tsq::io::detail::crc32(bytes, 4)) == 0xCBF43926u);
}

TEST_CASE("npz: real DeepConvLSTM weights", "[io][npz][real]") {
  const auto result = tsq::io::load_npz(data_path(kDeepConvLstm));
  INFO(result.status().message());
  REQUIRE(result.is_ok());
  const NpzFile& file = result.value();

  const std::vector<std::pair<std::string, std::vector<std::size_t>>> expected = {
      {"conv1_bias", {64}},
      {"conv1_kernel", {5, 1, 1, 64}},
      {"conv2_bias", {64}},
      {"conv2_kernel", {5, 1, 64, 64}},
      {"conv3_bias", {64}},
      {"conv3_kernel", {5, 1, 64, 64}},
      {"conv4_bias", {64}},
      {"conv4_kernel", {5, 1, 64, 64}},
      {"lstm1_bias", {512}},
      {"lstm1_kernel", {384, 512}},
      {"lstm1_recurrent_kernel", {128, 512}},
      {"lstm2_bias", {512}},
      {"lstm2_kernel", {128, 512}},
      {"lstm2_recurrent_kernel", {128, 512}},
      {"dense_bias", {6}},
      {"dense_kernel", {128, 6}},
  };
  REQUIRE(file.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO(expected[i].first);
    CHECK(file.members()[i].first == expected[i].first);  // file order
    const NpyArray* array = file.find(expected[i].first);
    REQUIRE(array != nullptr);
    CHECK(array->dtype() == DataType::float32);
    CHECK(array->shape() == expected[i].second);
  }
  // Exact bits from numpy.
  CHECK(float_bits(file.find("conv1_kernel")->data<float>()[0]) == 0xbb09b403u);
  CHECK(float_bits(file.find("conv1_kernel")->data<float>()[319]) == 0x3e86a303u);
  CHECK(float_bits(file.find("lstm1_kernel")->data<float>()[100 * 512 + 200]) == 0xbdc5cbffu);
  CHECK(float_bits(file.find("lstm2_recurrent_kernel")->data<float>()[0]) == 0x3d2bd5afu);
  CHECK(float_bits(file.find("dense_bias")->data<float>()[5]) == 0x3e6de3b3u);

  // The same archive parsed from memory.
  const Bytes bytes = read_real_file(kDeepConvLstm);
  const auto from_memory = parse(bytes);
  REQUIRE(from_memory.is_ok());
  CHECK(from_memory->names() == file.names());
  CHECK(from_memory->find("dense_kernel")->data<float>()[767] ==
        file.find("dense_kernel")->data<float>()[767]);
}

TEST_CASE("npz: lookup by name", "[io][npz]") {
  const auto file = parse(make_zip(two_members()).bytes);
  REQUIRE(file.is_ok());
  check_two_members(file.value());
  const auto found = file->get("labels");
  REQUIRE(found.is_ok());
  CHECK(found.value() == file->find("labels"));
  // Names are the np.savez keys: the ".npy" suffix is not part of them.
  CHECK(file->find("labels.npy") == nullptr);
  CHECK(file->find("") == nullptr);
  CHECK(file->find("conv1_kernel") == nullptr);
  check_error(file->get("conv1_kernel").status(), ErrorCode::not_found, "'conv1_kernel'");
}

TEST_CASE("npz: zip variants that numpy and other writers produce", "[io][npz]") {
  std::vector<ZipMember> members = two_members();
  ZipOptions options;
  SECTION("no extra fields") {
    for (auto& m : members) m.local_zip64 = false;
  }
  SECTION("ZIP64 extra field in local headers (numpy)") {}
  SECTION("data descriptors (sizes only in the central directory)") {
    for (auto& m : members) m.data_descriptor = true;
  }
  SECTION("ZIP64 sizes and offset in the central directory") {
    for (auto& m : members) m.central_zip64 = true;
  }
  SECTION("ZIP64 end of central directory record") { options.zip64_end_record = true; }
  SECTION("archive comment") { options.comment = "saved by a test"; }
  SECTION("comment that contains an end record signature") {
    options.comment = std::string("PK\x05\x06", 4) + std::string(30, 'x');
  }
  SECTION("everything at once") {
    for (auto& m : members) {
      m.data_descriptor = true;
      m.central_zip64 = true;
    }
    options.zip64_end_record = true;
    options.comment = "comment";
  }
  const auto file = parse(make_zip(members, options).bytes);
  INFO(file.status().message());
  REQUIRE(file.is_ok());
  check_two_members(file.value());
}

TEST_CASE("npz: empty archive", "[io][npz]") {
  const auto file = parse(make_zip({}).bytes);  // np.savez with no arrays
  REQUIRE(file.is_ok());
  CHECK(file->size() == 0);
  CHECK(file->names().empty());
}

TEST_CASE("npz: compressed members are refused clearly", "[io][npz][error]") {
  SECTION("real archive with its first member marked deflate") {
    Bytes file = read_real_file(kDeepConvLstm);
    const std::size_t central = real_central_offset(file);
    REQUIRE(tsq::io::detail::load_u32le(file.data()) == 0x04034b50u);
    REQUIRE(tsq::io::detail::load_u32le(file.data() + central) == 0x02014b50u);
    patch_u16(file, 8, 8);             // local header method
    patch_u16(file, central + 10, 8);  // central header method
    const auto status = parse(file).status();
    check_error(status, ErrorCode::unsupported_format, "np.savez_compressed");
    CHECK_THAT(status.message(), Catch::Contains("save with np.savez"));
    CHECK_THAT(status.message(), Catch::Contains("conv1_bias.npy"));
  }
  SECTION("built archive, deflate and other methods") {
    for (std::uint16_t method : {8, 12, 14, 93, 99}) {
      std::vector<ZipMember> members = two_members();
      members[1].method = method;
      INFO("method " << method);
      const auto status = parse(make_zip(members).bytes).status();
      check_error(status, ErrorCode::unsupported_format, "np.savez");
      if (method != 8) CHECK_THAT(status.message(), Catch::Contains(std::to_string(method)));
    }
  }
}

TEST_CASE("npz: encrypted members", "[io][npz][error]") {
  std::vector<ZipMember> members = two_members();
  members[0].flags = 1;
  check_error(parse(make_zip(members).bytes).status(), ErrorCode::unsupported_format, "encrypted");
}

TEST_CASE("npz: CRC-32 mismatch", "[io][npz][error]") {
  SECTION("a flipped data byte in the real archive") {
    const Bytes original = read_real_file(kDeepConvLstm);
    // conv1_bias.npy: 30-byte local header, 14-byte name, 20-byte ZIP64 extra, 128-byte
    // .npy header, then 64 floats. Flip one bit in a float, and one in the .npy header.
    for (std::size_t at : {64u + 128u + 100u, 64u + 20u}) {
      Bytes file = original;
      file[at] ^= 0x01;
      INFO("byte " << at);
      check_error(parse(file).status(), ErrorCode::malformed_file, "CRC-32 mismatch");
    }
  }
  SECTION("a wrong stored CRC") {
    std::vector<ZipMember> members = two_members();
    members[1].bad_crc = true;
    const auto status = parse(make_zip(members).bytes).status();
    check_error(status, ErrorCode::malformed_file, "CRC-32 mismatch");
    CHECK_THAT(status.message(), Catch::Contains("labels.npy"));
  }
}

TEST_CASE("npz: every prefix of a small archive is an error", "[io][npz][error]") {
  for (bool zip64 : {false, true}) {
    std::vector<ZipMember> members = two_members();
    ZipOptions options;
    options.zip64_end_record = zip64;
    options.comment = "c";
    const Bytes file = make_zip(members, options).bytes;
    for (std::size_t cut = 0; cut < file.size(); ++cut) {
      INFO("zip64 " << zip64 << ", " << cut << " of " << file.size() << " bytes");
      const Bytes prefix(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(cut));
      check_error(parse_npz(prefix.data(), prefix.size()).status(), ErrorCode::malformed_file,
                  "npz");
    }
    REQUIRE(parse(file).is_ok());
  }
  check_error(parse_npz(nullptr, 0).status(), ErrorCode::malformed_file, "end of central");
}

TEST_CASE("npz: prefixes of the real archive are errors", "[io][npz][error][real]") {
  const Bytes file = read_real_file(kDeepConvLstm);
  std::vector<std::size_t> cuts = {
      0, 1, 4, 21, 22, 64, 1000, file.size() - 23, file.size() - 22, file.size() - 1};
  for (std::size_t cut = 4096; cut < file.size(); cut += 37 * 1024) cuts.push_back(cut);
  for (std::size_t cut : cuts) {
    INFO("cut at " << cut << " of " << file.size());
    const Bytes prefix(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(cut));
    check_error(parse(prefix).status(), ErrorCode::malformed_file, "end of central directory");
  }
}

TEST_CASE("npz: bogus offsets and sizes in the directory", "[io][npz][error]") {
  const ZipLayout zip = make_zip(two_members());
  const std::size_t end_record = zip.end_record_offset;
  const std::size_t entry1 = zip.central_offsets[1];
  struct Case {
    const char* what;
    std::size_t at;
    int width;  // 2 or 4 bytes
    std::uint32_t value;
    const char* fragment;
    std::size_t also_at = 0;  // a second field set to the same value, when non-zero
  };
  const std::vector<Case> cases = {
      {"directory offset past the end", end_record + 16, 4, 0x7FFFFFF0u, "outside the file"},
      {"directory offset into the end record", end_record + 16, 4,
       static_cast<std::uint32_t>(end_record - 10), "outside the file"},
      {"directory size too large", end_record + 12, 4, 0x10000u, "outside the file"},
      {"directory offset one byte late", end_record + 16, 4,
       static_cast<std::uint32_t>(zip.central_offset + 1), "outside the file"},
      {"entry count too large", end_record + 10, 2, 200, "entry count", end_record + 8},
      {"local header offset past the end", entry1 + 42, 4, 0xFFFFFFF0u, "out of bounds"},
      {"local header offset into the directory", entry1 + 42, 4,
       static_cast<std::uint32_t>(zip.central_offset - 10), "out of bounds"},
      {"local header offset not at a header", entry1 + 42, 4, 3, "local header signature"},
      {"local header offset at the other member", entry1 + 42, 4, 0, "different name"},
      {"one size past the directory", entry1 + 20, 4, 0x00100000u, "sizes differ"},
      {"both sizes past the directory", entry1 + 20, 4, 0x00100000u, "member data truncated",
       entry1 + 24},
      {"name length past the directory", entry1 + 28, 2, 0xFFFF, "entry truncated"},
      {"extra length past the directory", entry1 + 30, 2, 0x0100, "entry truncated"},
      {"comment length past the directory", entry1 + 32, 2, 0x0100, "entry truncated"},
      {"central signature", entry1, 4, 0x02014b51u, "central directory entry signature"},
      {"local name length", zip.local_offsets[1] + 26, 2, 3, "different name"},
      {"local extra length past the data area", zip.local_offsets[1] + 28, 2, 0xFFFF,
       "exceeds the data area"},
      {"local method", zip.local_offsets[1] + 8, 2, 8, "methods differ"},
  };
  for (const Case& c : cases) {
    Bytes file = zip.bytes;
    for (std::size_t at : {c.at, c.also_at}) {
      if (at == 0) continue;
      if (c.width == 2) {
        patch_u16(file, at, c.value);
      } else {
        patch_u32(file, at, c.value);
      }
    }
    INFO(c.what);
    check_error(parse(file).status(), ErrorCode::malformed_file, c.fragment);
  }
}

TEST_CASE("npz: bogus ZIP64 records", "[io][npz][error]") {
  ZipOptions options;
  options.zip64_end_record = true;
  const ZipLayout zip = make_zip(two_members(), options);
  const std::size_t locator = zip.end_record_offset - 20;
  const std::size_t record = locator - 56;
  SECTION("locator points past itself") {
    Bytes file = zip.bytes;
    patch_u32(file, locator + 8, static_cast<std::uint32_t>(locator));
    check_error(parse(file).status(), ErrorCode::malformed_file, "ZIP64");
  }
  SECTION("locator points to garbage") {
    Bytes file = zip.bytes;
    patch_u32(file, locator + 8, 5);
    check_error(parse(file).status(), ErrorCode::malformed_file, "ZIP64");
  }
  SECTION("huge 64-bit directory offset") {
    Bytes file = zip.bytes;
    patch_u32(file, record + 52, 0x80000000u);  // high half of the directory offset
    check_error(parse(file).status(), ErrorCode::malformed_file, "outside the file");
  }
  SECTION("huge 64-bit entry count") {
    Bytes file = zip.bytes;
    patch_u32(file, record + 28, 1);  // high half of this disk's entry count
    patch_u32(file, record + 36, 1);  // high half of the total entry count
    check_error(parse(file).status(), ErrorCode::malformed_file, "entry count");
  }
  SECTION("ZIP64 extra field too short for its saturated fields") {
    std::vector<ZipMember> members = two_members();
    members[0].central_zip64 = true;
    ZipLayout z = make_zip(members);
    // Claim a 16-byte field (two values) while three fields are saturated.
    const std::size_t extra = z.central_offsets[0] + 46 + members[0].name.size();
    patch_u16(z.bytes, extra + 2, 16);
    const auto status = parse(z.bytes).status();
    REQUIRE_FALSE(status.is_ok());
    CHECK(status.code() == ErrorCode::malformed_file);
  }
  SECTION("multi-disk") {
    Bytes file = zip.bytes;
    patch_u32(file, locator + 16, 2);
    check_error(parse(file).status(), ErrorCode::unsupported_format, "multi-disk");
    Bytes classic = make_zip(two_members()).bytes;
    patch_u16(classic, classic.size() - 22 + 4, 1);
    check_error(parse(classic).status(), ErrorCode::unsupported_format, "multi-disk");
  }
}

TEST_CASE("npz: single-byte corruptions never read out of bounds", "[io][npz][error]") {
  std::vector<ZipMember> members = two_members();
  members[0].central_zip64 = true;
  ZipOptions options;
  options.zip64_end_record = true;
  const Bytes file = make_zip(members, options).bytes;
  const std::uint8_t replacements[] = {0x00, 0x01, 0x08, 0x7F, 0x80, 0xFF};
  for (std::size_t at = 0; at < file.size(); ++at) {
    for (std::uint8_t value : replacements) {
      if (file[at] == value) continue;
      Bytes bad = file;
      bad[at] = value;
      const auto result = parse(bad);
      if (result.is_ok()) continue;  // e.g. a changed date or attribute
      INFO("byte " << at << " = " << int(value) << ": " << result.status().message());
      const ErrorCode code = result.status().code();
      CHECK((code == ErrorCode::malformed_file || code == ErrorCode::unsupported_format ||
             code == ErrorCode::unsupported_type));
    }
  }
}

TEST_CASE("npz: members that are not valid .npy arrays", "[io][npz][error]") {
  SECTION("not a .npy member") {
    std::vector<ZipMember> members = two_members();
    members.push_back(member("readme.txt", Bytes{'h', 'i'}));
    check_error(parse(make_zip(members).bytes).status(), ErrorCode::unsupported_format,
                "readme.txt");
  }
  SECTION("duplicate name") {
    std::vector<ZipMember> members = two_members();
    members.push_back(member("weights.npy", kLabelsNpy));
    check_error(parse(make_zip(members).bytes).status(), ErrorCode::malformed_file, "duplicate");
  }
  SECTION("the member's own error, naming the member") {
    std::vector<ZipMember> members = two_members();
    members.push_back(member("big.npy", make_npy(npy_dict(">f4", "(1,)"), Bytes{0, 0, 0, 0})));
    const auto status = parse(make_zip(members).bytes).status();
    check_error(status, ErrorCode::unsupported_format, "big-endian");
    CHECK_THAT(status.message(), Catch::Contains("big.npy"));

    members.back() = member("short.npy", make_npy(npy_dict("<f4", "(2,)"), Bytes{0, 0, 0, 0}));
    check_error(parse(make_zip(members).bytes).status(), ErrorCode::malformed_file, "truncated");

    members.back() = member("odd.npy", make_npy(npy_dict("<c8", "(1,)"), Bytes(8, 0)));
    check_error(parse(make_zip(members).bytes).status(), ErrorCode::unsupported_type, "<c8");
  }
}

TEST_CASE("npz: many members, and duplicates among them", "[io][npz]") {
  // arr_<i>.npy as np.savez(*arrays) names them; arr_1, arr_10, arr_100... share prefixes.
  constexpr int kCount = 3000;
  std::vector<ZipMember> members;
  for (int i = 0; i < kCount; ++i) {
    members.push_back(member("arr_" + std::to_string(i) + ".npy",
                             make_npy(npy_dict("<i4", "(1,)"), le_bytes(std::vector<int>{i}))));
  }

  SECTION("all unique: every member is found under its own name, in file order") {
    const auto file = parse(make_zip(members, ZipOptions{"", true}).bytes);
    INFO(file.status().message());
    REQUIRE(file.is_ok());
    REQUIRE(file->size() == static_cast<std::size_t>(kCount));
    const NpzFile copy = file.value();  // lookups must survive a copy
    for (int i = 0; i < kCount; ++i) {
      const std::string name = "arr_" + std::to_string(i);
      CHECK(file->members()[static_cast<std::size_t>(i)].first == name);
      const NpyArray* array = copy.find(name);
      REQUIRE(array != nullptr);
      CHECK(array->data<std::int32_t>()[0] == i);
    }
    // A view that is not null-terminated, and names that only share a prefix with members.
    const std::string text = "arr_2999x";
    CHECK(copy.find(std::string_view(text).substr(0, 8))->data<std::int32_t>()[0] == 2999);
    CHECK(copy.find(text) == nullptr);
    CHECK(copy.find("arr_") == nullptr);
    CHECK(copy.find("arr_3000") == nullptr);
  }
  SECTION("a duplicate far from the first occurrence is named, with the first's index") {
    members[2500] = member("arr_17.npy", members[2500].data);
    const auto status = parse(make_zip(members).bytes).status();
    check_error(status, ErrorCode::malformed_file, "'arr_17.npy': duplicate member name");
    CHECK_THAT(status.message(), Catch::Contains("first at index 17"));
  }
  SECTION("the first of several duplicates is the one reported") {
    members[1000] = member("arr_2999.npy", members[1000].data);
    members[2000] = member("arr_5.npy", members[2000].data);
    check_error(parse(make_zip(members).bytes).status(), ErrorCode::malformed_file,
                "'arr_5.npy': duplicate member name (first at index 5)");
  }
  SECTION("the last member repeats the first") {
    members.push_back(member("arr_0.npy", members[1].data));
    check_error(parse(make_zip(members).bytes).status(), ErrorCode::malformed_file,
                "'arr_0.npy': duplicate member name (first at index 0)");
  }
}

TEST_CASE("npz: not a zip at all", "[io][npz][error]") {
  check_error(parse(kWeightsNpy).status(), ErrorCode::malformed_file, "end of central directory");
  check_error(parse(Bytes(100, 0)).status(), ErrorCode::malformed_file, "end of central directory");
  // A .npy file loaded as an archive: the error names the file.
  const auto status = tsq::io::load_npz(data_path("mnist-lstm/samples.npy")).status();
  check_error(status, ErrorCode::malformed_file, "end of central directory");
}

TEST_CASE("npz: load_npz file errors", "[io][npz][error]") {
  const auto result = tsq::io::load_npz("/no/such/dir/weights.npz");
  check_error(result.status(), ErrorCode::io_error, "/no/such/dir/weights.npz");
}
