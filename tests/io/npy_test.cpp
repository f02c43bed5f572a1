// SPDX-License-Identifier: Apache-2.0
#include "tsq/io/npy.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <ios>
#include <limits>
#include <string>
#include <vector>

#include "io_test_util.hpp"
#include "tsq/quant/float16.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::io::NpyArray;
using tsq::io::parse_npy;
using namespace tsq_io_test;

namespace {

tsq::Result<NpyArray> parse(const Bytes& bytes) { return parse_npy(bytes.data(), bytes.size()); }

// Asserts the exact error code, and that the message mentions `fragment`.
void check_error(const tsq::Status& status, ErrorCode code, const std::string& fragment) {
  INFO("message: " << status.message());
  REQUIRE_FALSE(status.is_ok());
  CHECK(tsq::error_code_name(status.code()) == std::string(tsq::error_code_name(code)));
  CHECK_THAT(status.message(), Catch::Contains(fragment));
}

const std::vector<float> kFloats = {1.5f, -2.25f, 0.0f, 3.0e38f, -1.0e-30f, 7.0f};
const Bytes kFloatData = le_bytes(kFloats);
const Bytes kSmallFile = make_npy(npy_dict("<f4", "(2, 3)"), kFloatData);

}  // namespace

TEST_CASE("npy: test host is little-endian", "[io][npy]") {
  // le_bytes() writes host order; everything else in these tests assumes little-endian.
  REQUIRE(tsq::io::detail::host_is_little_endian());
}

TEST_CASE("npy: real ECG beats (float16, widened to float32)", "[io][npy][real]") {
  // data/ecg-mitbih/beats.npy stores the beats as '<f2' (tools/derive_data.py); the reader
  // gives float32 values, each exactly the stored half.
  const auto result = tsq::io::load_npy(data_path("ecg-mitbih/beats.npy"));
  INFO(result.status().message());
  REQUIRE(result.is_ok());
  const NpyArray& beats = result.value();
  CHECK(beats.dtype() == DataType::float32);
  CHECK(beats.shape() == std::vector<std::size_t>{18282, 260});
  CHECK(beats.element_count() == 18282u * 260u);
  CHECK(beats.byte_size() == 18282u * 260u * 4u);
  const float* values = beats.data<float>();
  REQUIRE(values != nullptr);
  CHECK(beats.data<double>() == nullptr);
  CHECK(beats.data<std::uint8_t>() == nullptr);
  // Exact bits from numpy (astype(float32) of the halves): beats[0,0], beats[123,45],
  // beats[9000,130], beats[-1,-1].
  CHECK(float_bits(values[0]) == 0x3e6c0000u);
  CHECK(float_bits(values[123 * 260 + 45]) == 0x3e866000u);
  CHECK(float_bits(values[9000 * 260 + 130]) == 0xbeb44000u);
  CHECK(float_bits(values[beats.element_count() - 1]) == 0xbebe4000u);
  std::size_t not_half = 0;
  for (std::size_t i = 0; i < beats.element_count(); ++i) {
    not_half += tsq::half_to_float(tsq::float_to_half(values[i])) != values[i];
  }
  CHECK(not_half == 0);

  const auto floats = tsq::io::to_float32(beats);
  REQUIRE(floats.is_ok());
  REQUIRE(floats->size() == beats.element_count());
  CHECK(float_bits((*floats)[123 * 260 + 45]) == 0x3e866000u);
}

TEST_CASE("npy: real ECG labels and records (uint8, int16)", "[io][npy][real]") {
  const auto labels = tsq::io::load_npy(data_path("ecg-mitbih/labels.npy"));
  INFO(labels.status().message());
  REQUIRE(labels.is_ok());
  CHECK(labels->dtype() == DataType::uint8);
  CHECK(labels->shape() == std::vector<std::size_t>{18282});
  const std::uint8_t* label = labels->data<std::uint8_t>();
  REQUIRE(label != nullptr);
  std::array<int, 5> counts = {0, 0, 0, 0, 0};
  for (std::size_t i = 0; i < labels->element_count(); ++i) {
    REQUIRE(label[i] < 5);
    ++counts[label[i]];
  }
  CHECK(counts == std::array<int, 5>{10000, 2106, 2579, 17, 3580});

  const auto records = tsq::io::load_npy(data_path("ecg-mitbih/records.npy"));
  INFO(records.status().message());
  REQUIRE(records.is_ok());
  CHECK(records->dtype() == DataType::int16);
  CHECK(records->shape() == std::vector<std::size_t>{18282});
  const std::int16_t* record = records->data<std::int16_t>();
  REQUIRE(record != nullptr);
  CHECK(record[0] == 100);
  CHECK(record[18281] == 232);
  std::int16_t lowest = record[0], highest = record[0];
  for (std::size_t i = 0; i < records->element_count(); ++i) {
    lowest = std::min(lowest, record[i]);
    highest = std::max(highest, record[i]);
  }
  CHECK(lowest == 100);
  CHECK(highest == 232);
}

TEST_CASE("npy: real MNIST samples (uint8 3-D)", "[io][npy][real]") {
  const auto samples = tsq::io::load_npy(data_path("mnist-lstm/samples.npy"));
  INFO(samples.status().message());
  REQUIRE(samples.is_ok());
  CHECK(samples->dtype() == DataType::uint8);
  CHECK(samples->shape() == std::vector<std::size_t>{10, 28, 28});
  CHECK(samples->rank() == 3);
  const std::uint8_t* pixels = samples->data<std::uint8_t>();
  REQUIRE(pixels != nullptr);
  // Per-image pixel sums from numpy.
  const std::array<long, 10> expected = {37014, 9871,  28850, 35433, 19237,
                                         26559, 27735, 18454, 32081, 21062};
  for (std::size_t image = 0; image < 10; ++image) {
    long sum = 0;
    for (std::size_t i = 0; i < 28 * 28; ++i) sum += pixels[image * 28 * 28 + i];
    CHECK(sum == expected[image]);
  }

  const auto labels = tsq::io::load_npy(data_path("mnist-lstm/sample_labels.npy"));
  REQUIRE(labels.is_ok());
  CHECK(labels->shape() == std::vector<std::size_t>{10});
  for (std::size_t i = 0; i < 10; ++i) CHECK(labels->data<std::uint8_t>()[i] == i);
}

TEST_CASE("npy: every supported dtype", "[io][npy]") {
  SECTION("<f2, widened to float32") {
    // 1, -2, the largest half, the smallest subnormal, -0, +inf, NaN, 0x3555 (0.33325195...).
    const std::vector<std::uint16_t> halves = {0x3c00, 0xc000, 0x7bff, 0x0001,
                                               0x8000, 0x7c00, 0x7e00, 0x3555};
    const std::vector<std::uint32_t> expected = {0x3f800000u, 0xc0000000u, 0x477fe000u,
                                                 0x33800000u, 0x80000000u, 0x7f800000u,
                                                 0x7fc00000u, 0x3eaaa000u};
    const auto a = parse(make_npy(npy_dict("<f2", "(2, 4)"), le_bytes(halves)));
    INFO(a.status().message());
    REQUIRE(a.is_ok());
    CHECK(a->dtype() == DataType::float32);
    CHECK(a->shape() == std::vector<std::size_t>{2, 4});
    CHECK(a->byte_size() == 8 * sizeof(float));
    REQUIRE(a->data<float>() != nullptr);
    for (std::size_t i = 0; i < halves.size(); ++i) {
      INFO("half 0x" << std::hex << halves[i]);
      CHECK(float_bits(a->data<float>()[i]) == expected[i]);
    }
    const auto floats = tsq::io::to_float32(a.value());
    REQUIRE(floats.is_ok());
    CHECK((*floats)[0] == 1.0f);
    // Empty and scalar halves.
    const auto empty = parse(make_npy(npy_dict("<f2", "(0, 3)"), Bytes{}));
    REQUIRE(empty.is_ok());
    CHECK(empty->element_count() == 0);
    CHECK(empty->data<float>() != nullptr);
    const auto scalar = parse(make_npy(npy_dict("<f2", "()"), Bytes{0x00, 0xbc}));
    REQUIRE(scalar.is_ok());
    CHECK(scalar->data<float>()[0] == -1.0f);
  }
  SECTION("<f4") {
    const auto a = parse(kSmallFile);
    REQUIRE(a.is_ok());
    CHECK(a->dtype() == DataType::float32);
    CHECK(a->shape() == std::vector<std::size_t>{2, 3});
    for (std::size_t i = 0; i < kFloats.size(); ++i) CHECK(a->data<float>()[i] == kFloats[i]);
    CHECK(a->data<std::int32_t>() == nullptr);
  }
  SECTION("<f8") {
    const std::vector<double> values = {0.1, -1e300, 3.0, -0.0};
    const auto a = parse(make_npy(npy_dict("<f8", "(4,)"), le_bytes(values)));
    REQUIRE(a.is_ok());
    CHECK(a->dtype() == DataType::float64);
    for (std::size_t i = 0; i < values.size(); ++i) CHECK(a->data<double>()[i] == values[i]);
    CHECK(a->data<float>() == nullptr);
  }
  SECTION("|i1 and <i1") {
    const std::vector<std::int8_t> values = {-128, -1, 0, 1, 127};
    for (const char* descr : {"|i1", "<i1"}) {
      const auto a = parse(make_npy(npy_dict(descr, "(5,)"), le_bytes(values)));
      INFO(descr << ": " << a.status().message());
      REQUIRE(a.is_ok());
      CHECK(a->dtype() == DataType::int8);
      for (std::size_t i = 0; i < values.size(); ++i) CHECK(a->data<std::int8_t>()[i] == values[i]);
      CHECK(a->data<std::uint8_t>() == nullptr);
    }
  }
  SECTION("|u1 and <u1") {
    const std::vector<std::uint8_t> values = {0, 1, 128, 255};
    for (const char* descr : {"|u1", "<u1"}) {
      const auto a = parse(make_npy(npy_dict(descr, "(2, 2)"), values));
      INFO(descr << ": " << a.status().message());
      REQUIRE(a.is_ok());
      CHECK(a->dtype() == DataType::uint8);
      for (std::size_t i = 0; i < values.size(); ++i) {
        CHECK(a->data<std::uint8_t>()[i] == values[i]);
      }
    }
  }
  SECTION("<i2") {
    const std::vector<std::int16_t> values = {-32768, -2, 0, 300, 32767};
    const auto a = parse(make_npy(npy_dict("<i2", "(5,)"), le_bytes(values)));
    REQUIRE(a.is_ok());
    CHECK(a->dtype() == DataType::int16);
    for (std::size_t i = 0; i < values.size(); ++i) CHECK(a->data<std::int16_t>()[i] == values[i]);
  }
  SECTION("<i4") {
    const std::vector<std::int32_t> values = {std::numeric_limits<std::int32_t>::min(), -70000, 0,
                                              70000, std::numeric_limits<std::int32_t>::max()};
    const auto a = parse(make_npy(npy_dict("<i4", "(1, 5)"), le_bytes(values)));
    REQUIRE(a.is_ok());
    CHECK(a->dtype() == DataType::int32);
    for (std::size_t i = 0; i < values.size(); ++i) CHECK(a->data<std::int32_t>()[i] == values[i]);
  }
}

TEST_CASE("npy: data is little-endian on disk", "[io][npy]") {
  // 0x1234 and 0x01020304 written byte by byte, independent of the host.
  const auto i16 = parse(make_npy(npy_dict("<i2", "(1,)"), Bytes{0x34, 0x12}));
  REQUIRE(i16.is_ok());
  CHECK(i16->data<std::int16_t>()[0] == 0x1234);
  const auto i32 = parse(make_npy(npy_dict("<i4", "(1,)"), Bytes{0x04, 0x03, 0x02, 0x01}));
  REQUIRE(i32.is_ok());
  CHECK(i32->data<std::int32_t>()[0] == 0x01020304);
  CHECK(i32->bytes()[0] == 0x04);
}

TEST_CASE("npy: format versions 1.0, 2.0, 3.0", "[io][npy]") {
  for (int major : {1, 2, 3}) {
    const auto a = parse(make_npy(npy_dict("<f4", "(2, 3)"), kFloatData, major));
    INFO("version " << major << ".0: " << a.status().message());
    REQUIRE(a.is_ok());
    CHECK(a->shape() == std::vector<std::size_t>{2, 3});
    CHECK(a->data<float>()[5] == 7.0f);
  }
}

TEST_CASE("npy: unsupported versions", "[io][npy][error]") {
  const int versions[][2] = {{0, 0}, {1, 1}, {2, 1}, {4, 0}, {255, 0}};
  for (const auto& version : versions) {
    Bytes file = kSmallFile;
    file[6] = static_cast<std::uint8_t>(version[0]);
    file[7] = static_cast<std::uint8_t>(version[1]);
    INFO("version " << version[0] << "." << version[1]);
    check_error(parse(file).status(), ErrorCode::unsupported_format, "version");
  }
}

TEST_CASE("npy: scalar and zero-sized shapes", "[io][npy]") {
  SECTION("scalar ()") {
    const auto a = parse(make_npy(npy_dict("<f8", "()"), le_bytes(std::vector<double>{2.5})));
    REQUIRE(a.is_ok());
    CHECK(a->rank() == 0);
    CHECK(a->shape().empty());
    CHECK(a->element_count() == 1);
    CHECK(a->data<double>()[0] == 2.5);
    // A scalar still needs its one element.
    check_error(parse(make_npy(npy_dict("<f8", "()"), Bytes{})).status(), ErrorCode::malformed_file,
                "truncated");
  }
  SECTION("zero-sized dimensions") {
    for (const char* shape : {"(0,)", "(3, 0, 2)", "(0, 0)", "(0, 1000000000000)"}) {
      const auto a = parse(make_npy(npy_dict("<i4", shape), Bytes{}));
      INFO(shape << ": " << a.status().message());
      REQUIRE(a.is_ok());
      CHECK(a->element_count() == 0);
      CHECK(a->byte_size() == 0);
      CHECK(a->data<std::int32_t>() != nullptr);  // never null for the right type
      const auto floats = tsq::io::to_float32(a.value());
      REQUIRE(floats.is_ok());
      CHECK(floats->empty());
    }
    CHECK(parse(make_npy(npy_dict("<i4", "(3, 0, 2)"), Bytes{})).value().shape() ==
          std::vector<std::size_t>{3, 0, 2});
  }
}

TEST_CASE("npy: header dict written in other ways", "[io][npy]") {
  const std::vector<std::string> dicts = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",        // numpy's own
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",          // other order
      "{'fortran_order': False, 'descr': '<f4', 'shape': (2, 3,)}",         // trailing tuple comma
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",  // double quotes
      "{'descr':'<f4','fortran_order':False,'shape':(2,3)}",                // no spaces
      "  {  'descr' :\t'<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , 3 ) , }  ",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",  // Python 2 longs
  };
  for (const std::string& dict : dicts) {
    const auto a = parse(make_npy(dict, kFloatData));
    INFO(dict << " -> " << a.status().message());
    REQUIRE(a.is_ok());
    CHECK(a->dtype() == DataType::float32);
    CHECK(a->shape() == std::vector<std::size_t>{2, 3});
    CHECK(a->data<float>()[1] == -2.25f);
  }
}

TEST_CASE("npy: malformed header dicts", "[io][npy][error]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not a dict"},
      {"['descr', '<f4']", "not a dict"},
      {"{'descr': '<f4', 'fortran_order': False}", "lacks"},
      {"{'descr': '<f4', 'shape': (6,)}", "lacks"},
      {"{'fortran_order': False, 'shape': (6,)}", "lacks"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", "duplicate"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", "unexpected"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", "expected"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}", "expected"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x", "after"},
      {"{'descr: '<f4', 'fortran_order': False, 'shape': (6,)}", ""},
      {"{'descr': <f4, 'fortran_order': False, 'shape': (6,)}", "quoted"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", "True or False"},
      {"{'descr': '<f4', 'fortran_order': false, 'shape': (6,)}", "True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': 6}", "not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", "not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [6]}", "not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", "negative"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6.0,)}", "expected"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3)}", "non-integer"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}", "expected"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,}", "non-integer"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}", "fit"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,),,}", "quoted"},
      {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (6,)}", "character"},
  };
  for (const auto& c : cases) {
    INFO("header: " << c.first);
    check_error(parse(make_npy(c.first, kFloatData)).status(), ErrorCode::malformed_file, c.second);
  }
}

TEST_CASE("npy: shape whose byte size overflows", "[io][npy][error]") {
  for (const char* shape : {"(4611686018427387904,)", "(4294967296, 4294967296)",
                            "(3, 6148914691236517206)", "(1, 2, 0, 3, 18446744073709551615, 2)"}) {
    INFO(shape);
    // A zero dimension does not excuse the others: their product must still fit.
    check_error(parse(make_npy(npy_dict("<f4", shape), kFloatData)).status(),
                ErrorCode::malformed_file, "too large");
  }
}

TEST_CASE("npy: bad magic", "[io][npy][error]") {
  for (std::size_t i = 0; i < 6; ++i) {
    Bytes file = kSmallFile;
    file[i] ^= 0x20;
    INFO("byte " << i);
    check_error(parse(file).status(), ErrorCode::malformed_file, "magic");
  }
  const Bytes zip = {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0};
  check_error(parse(zip).status(), ErrorCode::malformed_file, "magic");
}

TEST_CASE("npy: big-endian data", "[io][npy][error]") {
  for (const char* descr : {">f2", ">f4", ">f8", ">i2", ">i4"}) {
    INFO(descr);
    check_error(parse(make_npy(npy_dict(descr, "(2, 3)"), kFloatData)).status(),
                ErrorCode::unsupported_format, "big-endian");
  }
  // Byte order is meaningless for one byte: numpy itself normalises '>i1' to '|i1'.
  CHECK(parse(make_npy(npy_dict(">i1", "(3,)"), Bytes{1, 2, 3})).is_ok());
  // Multi-byte types must say they are little-endian.
  for (const char* descr : {"|f2", "|f4", "=f4", "|i2"}) {
    INFO(descr);
    check_error(parse(make_npy(npy_dict(descr, "(2, 3)"), kFloatData)).status(),
                ErrorCode::unsupported_format, "little-endian");
  }
}

TEST_CASE("npy: fortran order", "[io][npy][error]") {
  const std::string dict = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
  check_error(parse(make_npy(dict, kFloatData)).status(), ErrorCode::unsupported_format,
              "fortran_order");
}

TEST_CASE("npy: unsupported dtypes", "[io][npy][error]") {
  for (const char* descr : {"<c8", "<c16", "|b1", "<u2", "<u4", "<i8", "<u8", "<e", "|O", "<U5",
                            "|S3", "|V8", "<M8[ns]", "<m8[s]", "f4", "", "<f16", "<F4"}) {
    INFO("descr '" << descr << "'");
    check_error(parse(make_npy(npy_dict(descr, "(2, 3)"), kFloatData)).status(),
                ErrorCode::unsupported_type, "unsupported dtype");
  }
  const std::string structured =
      "{'descr': [('x', '<f4'), ('y', '<f4')], 'fortran_order': False, 'shape': (3,), }";
  check_error(parse(make_npy(structured, kFloatData)).status(), ErrorCode::unsupported_type,
              "structured");
}

TEST_CASE("npy: every prefix of a small file is truncated", "[io][npy][error]") {
  for (int major : {1, 2}) {
    const Bytes file = make_npy(npy_dict("<f4", "(2, 3)"), kFloatData, major);
    for (std::size_t cut = 0; cut < file.size(); ++cut) {
      INFO("version " << major << ", " << cut << " of " << file.size() << " bytes");
      // A copy of exactly `cut` bytes, so that ASan sees any read past the end.
      const Bytes prefix(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(cut));
      check_error(parse_npy(prefix.data(), prefix.size()).status(), ErrorCode::malformed_file,
                  "truncated");
    }
    REQUIRE(parse(file).is_ok());
  }
  check_error(parse_npy(nullptr, 0).status(), ErrorCode::malformed_file, "truncated");
}

TEST_CASE("npy: prefixes of a real file are truncated", "[io][npy][error][real]") {
  const Bytes file = read_real_file("mnist-lstm/samples.npy");
  std::vector<std::size_t> cuts;
  for (std::size_t cut = 0; cut <= 140; ++cut) cuts.push_back(cut);  // magic, length, header
  for (std::size_t cut = 141; cut < file.size(); cut += 97) cuts.push_back(cut);
  cuts.push_back(file.size() - 1);
  for (std::size_t cut : cuts) {
    INFO("cut at " << cut << " of " << file.size());
    const Bytes prefix(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(cut));
    check_error(parse_npy(prefix.data(), prefix.size()).status(), ErrorCode::malformed_file,
                "truncated");
  }
  // The header length field itself promising more than the file holds.
  Bytes bad = file;
  patch_u16(bad, 8, 0xFFFF);
  check_error(parse(bad).status(), ErrorCode::malformed_file, "truncated header");
}

TEST_CASE("npy: trailing bytes after the data", "[io][npy][error]") {
  Bytes file = kSmallFile;
  file.push_back(0);
  check_error(parse(file).status(), ErrorCode::malformed_file, "trailing");
  // The header claims fewer elements than there are.
  check_error(parse(make_npy(npy_dict("<f4", "(5,)"), kFloatData)).status(),
              ErrorCode::malformed_file, "trailing");
  // Half data is counted in the file's 2-byte elements, not the widened 4-byte ones.
  const Bytes halves = {0x00, 0x3c, 0x00, 0xc0, 0x00, 0x00};
  check_error(parse(make_npy(npy_dict("<f2", "(2,)"), halves)).status(), ErrorCode::malformed_file,
              "2 unexpected trailing bytes");
  check_error(parse(make_npy(npy_dict("<f2", "(4,)"), halves)).status(), ErrorCode::malformed_file,
              "truncated data (8 bytes expected, 6 present)");
  CHECK(parse(make_npy(npy_dict("<f2", "(3,)"), halves)).is_ok());
}

TEST_CASE("npy: single-byte corruptions never read out of bounds", "[io][npy][error]") {
  // Every byte of the magic, length and header replaced by a few values: the parser must
  // either accept the result or report one of the documented errors (ASan checks the rest).
  const Bytes file =
      make_npy(npy_dict("<i2", "(3,)"), le_bytes(std::vector<std::int16_t>{1, 2, 3}));
  const std::uint8_t replacements[] = {0x00, 0x20, '\'', '(', ')', ',', '}', '9', 0xFF};
  for (std::size_t at = 0; at < file.size(); ++at) {
    for (std::uint8_t value : replacements) {
      Bytes bad = file;
      bad[at] = value;
      const auto result = parse(bad);
      if (result.is_ok()) continue;
      INFO("byte " << at << " = " << int(value) << ": " << result.status().message());
      const ErrorCode code = result.status().code();
      CHECK((code == ErrorCode::malformed_file || code == ErrorCode::unsupported_format ||
             code == ErrorCode::unsupported_type));
    }
  }
}

TEST_CASE("npy: elements are aligned whatever the source alignment", "[io][npy]") {
  const Bytes file = make_npy(npy_dict("<f8", "(3,)"), le_bytes(std::vector<double>{1, 2, 3}));
  for (std::size_t shift = 0; shift < 8; ++shift) {
    Bytes shifted(shift, 0);
    shifted.insert(shifted.end(), file.begin(), file.end());
    const auto a = parse_npy(shifted.data() + shift, file.size());
    REQUIRE(a.is_ok());
    const double* values = a->data<double>();
    CHECK(reinterpret_cast<std::uintptr_t>(values) % alignof(double) == 0);
    CHECK(values[2] == 3.0);
  }
}

TEST_CASE("npy: arrays copy and move", "[io][npy]") {
  auto result = parse(kSmallFile);
  REQUIRE(result.is_ok());
  const NpyArray copy = result.value();
  NpyArray moved = std::move(result).value();
  CHECK(copy.shape() == moved.shape());
  CHECK(copy.data<float>() != moved.data<float>());
  CHECK(copy.data<float>()[3] == 3.0e38f);
  moved.data<float>()[3] = 1.0f;  // writable view; the copy is independent
  CHECK(copy.data<float>()[3] == 3.0e38f);
  const NpyArray empty;  // default: an empty float32 array of shape (0,)
  CHECK(empty.shape() == std::vector<std::size_t>{0});
  CHECK(empty.element_count() == 0);
  CHECK(empty.byte_size() == 0);
  CHECK(empty.data<float>() != nullptr);
}

TEST_CASE("npy: to_float32", "[io][npy]") {
  SECTION("integers") {
    const auto i8 = parse(make_npy(npy_dict("|i1", "(3,)"), Bytes{0x80, 0xFF, 0x7F}));
    REQUIRE(i8.is_ok());
    CHECK(tsq::io::to_float32(i8.value()).value() == std::vector<float>{-128.f, -1.f, 127.f});
    const auto u8 = parse(make_npy(npy_dict("|u1", "(3,)"), Bytes{0, 0x80, 0xFF}));
    REQUIRE(u8.is_ok());
    CHECK(tsq::io::to_float32(u8.value()).value() == std::vector<float>{0.f, 128.f, 255.f});
    const auto i16 =
        parse(make_npy(npy_dict("<i2", "(2,)"), le_bytes(std::vector<std::int16_t>{-32768, 1234})));
    REQUIRE(i16.is_ok());
    CHECK(tsq::io::to_float32(i16.value()).value() == std::vector<float>{-32768.f, 1234.f});
    const auto i32 = parse(make_npy(npy_dict("<i4", "(3,)"),
                                    le_bytes(std::vector<std::int32_t>{-16777216, 7, 16777217})));
    REQUIRE(i32.is_ok());
    // 2^24 + 1 is not a float: it rounds to nearest (even), 2^24.
    CHECK(tsq::io::to_float32(i32.value()).value() ==
          std::vector<float>{-16777216.f, 7.f, 16777216.f});
  }
  SECTION("float32 is copied bit for bit") {
    const auto f = tsq::io::to_float32(parse(kSmallFile).value());
    REQUIRE(f.is_ok());
    CHECK(f.value() == kFloats);
  }
  SECTION("float64 narrows with rounding and saturates to infinity") {
    const double flt_max = std::numeric_limits<float>::max();
    const double half_ulp = std::ldexp(1.0, 103);  // half the float spacing at FLT_MAX
    const std::vector<double> values = {0.1,
                                        -2.5,
                                        flt_max,
                                        flt_max + half_ulp / 2,  // still rounds to FLT_MAX
                                        flt_max + half_ulp,      // tie: rounds to infinity
                                        -1e300,
                                        std::numeric_limits<double>::infinity(),
                                        std::numeric_limits<double>::quiet_NaN(),
                                        1e-50};
    const auto a = parse(make_npy(npy_dict("<f8", "(9,)"), le_bytes(values)));
    REQUIRE(a.is_ok());
    const auto f = tsq::io::to_float32(a.value());
    REQUIRE(f.is_ok());
    const std::vector<float>& out = f.value();
    const float inf = std::numeric_limits<float>::infinity();
    CHECK(out[0] == 0.1f);
    CHECK(out[1] == -2.5f);
    CHECK(out[2] == std::numeric_limits<float>::max());
    CHECK(out[3] == std::numeric_limits<float>::max());
    CHECK(out[4] == inf);
    CHECK(out[5] == -inf);
    CHECK(out[6] == inf);
    CHECK(std::isnan(out[7]));
    CHECK(out[8] == 0.0f);
  }
}

TEST_CASE("npy: load_npy file errors", "[io][npy][error]") {
  const auto result = tsq::io::load_npy("/no/such/dir/beats.npy");
  check_error(result.status(), ErrorCode::io_error, "/no/such/dir/beats.npy");
  CHECK_THAT(result.status().message(), Catch::Contains("cannot open"));
  check_error(tsq::io::load_npy(data_path("ecg-mitbih/no_such_file.npy")).status(),
              ErrorCode::io_error, "cannot open");
  // A directory opens on POSIX but cannot be read.
  check_error(tsq::io::load_npy(TSQ_TEST_SOURCE_DIR).status(), ErrorCode::io_error, "");
  // A file that is not a .npy: the error names the file.
  const auto npz = tsq::io::load_npy(data_path("deepconvlstm-ucihar/ordonez2016_deepconvlstm.npz"));
  check_error(npz.status(), ErrorCode::malformed_file, "magic");
  CHECK_THAT(npz.status().message(), Catch::Contains(" in /"));
}
