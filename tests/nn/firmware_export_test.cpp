// SPDX-License-Identifier: Apache-2.0
// The firmware export (export/firmware_model.hpp) on small models: what the header declares,
// that no float reaches it, where the arena ends up smaller than the host's, and the clear errors
// for models a device cannot run. The generated headers of the real models are compiled and run
// against their QuantizedModel by the firmware_host_* tests (examples/firmware/host_check.cpp).
#include <catch2/catch.hpp>

#include <random>
#include <regex>
#include <string>
#include <vector>

#include "npz_builder.hpp"
#include "tsq/export/firmware_model.hpp"
#include "tsq/nn/layers/conv.hpp"
#include "tsq/nn/layers/dense.hpp"
#include "tsq/nn/layers/lstm.hpp"
#include "tsq/nn/layers/reshape.hpp"
#include "tsq/nn/layers/softmax.hpp"

namespace {

using tsq::ErrorCode;
using tsq::Shape;
namespace nn = tsq::nn;

struct Fixture {
  nn::Model model;
  std::vector<float> windows;  // 40 windows of [12, 2]
};

std::vector<float> normal_values(std::mt19937& rng, std::size_t n, float sigma) {
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// Conv1D -> Flatten -> Dense -> Softmax, or Conv1D -> LSTM -> Dense -> Softmax.
Fixture make_fixture(bool lstm) {
  std::mt19937 rng(11);
  Fixture f;
  auto x = f.model.input("window", Shape{12, 2});
  x = f.model.add(nn::Conv1D("conv", 4, 3).relu(), x);
  if (lstm) {
    x = f.model.add(nn::LSTM("lstm", 5), x);
  } else {
    x = f.model.add(nn::Flatten("flatten"), x);
  }
  x = f.model.add(nn::Dense("dense", 3), x);
  f.model.add(nn::Softmax("softmax"), x);
  REQUIRE(f.model.build().is_ok());
  std::vector<tsq_test::NpzMember> members = {
      {"conv.kernel", {3, 2, 4}, normal_values(rng, 24, 0.5f)},
      {"conv.bias", {4}, normal_values(rng, 4, 0.1f)},
      {"dense.kernel", {lstm ? 5u : 40u, 3}, normal_values(rng, lstm ? 15 : 120, 0.4f)},
      {"dense.bias", {3}, normal_values(rng, 3, 0.1f)}};
  if (lstm) {
    members.push_back({"lstm.kernel", {4, 20}, normal_values(rng, 80, 0.4f)});
    members.push_back({"lstm.recurrent_kernel", {5, 20}, normal_values(rng, 100, 0.4f)});
    members.push_back({"lstm.bias", {20}, normal_values(rng, 20, 0.1f)});
  }
  const auto npz = tsq_test::make_npz(members);
  REQUIRE(npz.is_ok());
  REQUIRE(f.model.load_weights(npz.value()).is_ok());
  f.windows = normal_values(rng, 40 * 24, 1.0f);
  return f;
}

// The statements of run() and the constants, without the comments.
std::string code_of(const std::string& text) {
  return std::regex_replace(text, std::regex("//[^\n]*"), "");
}

}  // namespace

TEST_CASE("An exported model declares its sizes and holds integers only", "[export]") {
  for (const bool lstm : {false, true}) {
    const Fixture f = make_fixture(lstm);
    auto q = tsq::quantize(f.model, f.windows, tsq::Scheme::fiq_int8());
    REQUIRE(q.is_ok());
    auto exported = tsq::codegen::export_firmware_model(q.value(), {"tiny", "a test model"});
    REQUIRE(exported.is_ok());
    const std::string& text = exported->text;
    CHECK(exported->input_size == 24);
    CHECK(exported->output_size == 3);
    CHECK(text.find("namespace tiny {") != std::string::npos);
    CHECK(text.find("kArenaBytes = " + std::to_string(exported->arena_bytes) + ";") !=
          std::string::npos);
    CHECK(text.find("using Input = std::int8_t;") != std::string::npos);
    CHECK(text.find("tsq::Status run(const Input* input, Output* output, unsigned char* arena)") !=
          std::string::npos);
    // The kernels' loops for the exported rounding mode (the host checked every shape).
    CHECK(text.find("tsq::mcu::conv2d_int8<tsq::RoundingMode::double_rounding>(") !=
          std::string::npos);
    CHECK(text.find("tsq::detail::fully_connected_int8<tsq::RoundingMode::double_rounding>(") !=
          std::string::npos);
    CHECK(text.find("single_rounding") == std::string::npos);
    if (lstm) CHECK(text.find("tsq::reference::lstm<") != std::string::npos);
    // No float type, literal or header: every scale became a multiplier and shift on the host.
    const std::string code = code_of(text);
    CHECK_FALSE(std::regex_search(code, std::regex("\\b(float|double)\\b")));
    CHECK_FALSE(std::regex_search(code, std::regex("[0-9]\\.[0-9]")));
    CHECK(code.find("kernels/float") == std::string::npos);
    // Flatten moves no data: it is a pointer, and the arena holds neither input nor output.
    if (!lstm) CHECK(text.find("// flatten") == std::string::npos);
    CHECK(exported->arena_bytes <= q->arena_bytes());
    // No scratch for the host's SIMD rows: the device runs the plain loops.
    if (!lstm) CHECK(exported->arena_bytes <= 16 * ((12 * 4 + 15) / 16) + 16 * ((40 + 15) / 16));
    CHECK(exported->arena_bytes % 16 == 0);
  }
}

TEST_CASE("The test data header holds the host's outputs for the quantized inputs", "[export]") {
  const Fixture f = make_fixture(false);
  auto q = tsq::quantize(f.model, f.windows, tsq::Scheme::fiq_int8());
  REQUIRE(q.is_ok());
  auto data = tsq::codegen::export_test_data(q.value(), "tiny",
                                             tsq::Span<const float>(f.windows.data(), 3 * 24));
  REQUIRE(data.is_ok());
  CHECK(data->find("inline constexpr std::size_t kWindows = 3;") != std::string::npos);
  CHECK(data->find("kInputs[kWindows][24]") != std::string::npos);
  CHECK(data->find("kExpected[kWindows][3]") != std::string::npos);
  // The first expected row is what the QuantizedModel gives for the first quantized window.
  std::vector<std::int8_t> in(24), out(3);
  REQUIRE(tsq::quantize(tsq::Span<const float>(f.windows.data(), 24), tsq::Span<std::int8_t>(in),
                        q->input_quantization().params)
              .is_ok());
  std::vector<std::byte> arena(q->arena_bytes());
  REQUIRE(q->run(tsq::Span<const std::int8_t>(in), tsq::Span<std::int8_t>(out), arena).is_ok());
  std::string row;
  for (std::size_t i = 0; i < out.size(); ++i) row += (i ? " " : "") + std::to_string(out[i]) + ",";
  const std::size_t expected = data->find("kExpected");
  REQUIRE(expected != std::string::npos);
  CHECK(data->find(row, expected) != std::string::npos);

  CHECK(tsq::codegen::export_test_data(q.value(), "tiny",
                                       tsq::Span<const float>(f.windows.data(), 25))
            .status()
            .code() == ErrorCode::shape_mismatch);
}

TEST_CASE("Models a device cannot run are refused with the reason", "[export]") {
  const Fixture f = make_fixture(false);
  SECTION("float input and output") {
    auto q = tsq::quantize(f.model, f.windows, tsq::Scheme::fiq_float32());
    REQUIRE(q.is_ok());
    const auto status = tsq::codegen::export_firmware_model(q.value(), {"tiny", ""}).status();
    CHECK(status.code() == ErrorCode::unsupported_format);
    CHECK(std::string(status.message()).find("int8 or uint8") != std::string::npos);
  }
  SECTION("a layer kept in float") {
    auto q = tsq::quantize(f.model, f.windows, tsq::Scheme::fiq_int8().keep_float("dense"));
    REQUIRE(q.is_ok());
    const auto status = tsq::codegen::export_firmware_model(q.value(), {"tiny", ""}).status();
    CHECK(status.code() == ErrorCode::unsupported_format);
    CHECK(std::string(status.message()).find("'dense'") != std::string::npos);
  }
  SECTION("a name that is no C++ identifier") {
    auto q = tsq::quantize(f.model, f.windows, tsq::Scheme::fiq_int8());
    REQUIRE(q.is_ok());
    for (const char* name : {"", "3d", "my-model"}) {
      CHECK(tsq::codegen::export_firmware_model(q.value(), {name, ""}).status().code() ==
            ErrorCode::invalid_argument);
    }
  }
  SECTION("uint8 input and output are converted inside the model") {
    auto q = tsq::quantize(f.model, f.windows, tsq::Scheme::fiq_uint8());
    REQUIRE(q.is_ok());
    auto exported = tsq::codegen::export_firmware_model(q.value(), {"tiny_u8", ""});
    REQUIRE(exported.is_ok());
    CHECK(exported->text.find("using Input = std::uint8_t;") != std::string::npos);
    CHECK(exported->text.find("tsq::reference::requantize(") != std::string::npos);
  }
}
