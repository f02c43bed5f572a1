// SPDX-License-Identifier: Apache-2.0
// The machine's peaks, to read the int8_simd rows against (no tsq kernel runs here):
//   peak/vnni        int8 MAC/s of vpdpbusd on zmm registers: 12 independent accumulator
//                    chains, more than latency x throughput, so the unit is never idle
//                    (items = MACs, 64 per instruction)
//   peak/fma         fp32 FMA/s of vfmadd231ps on ymm registers, 12 chains (items = FMAs)
//   peak/stream_8mb  bytes/s reading an 8 MB buffer, the size of fc_big's int8 weights (which
//                    stays in a large L3, as fc_big's weights do between calls)
// Target attributes, no -march flag; a row whose instructions the CPU lacks is not registered.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bench_util.hpp"
#include "tsq/kernels/simd/cpu.hpp"

#if TSQ_SIMD_X86
#include <immintrin.h>
#endif

namespace tsq_bench {
namespace {

constexpr int kChains = 12;
constexpr std::int64_t kSteps = 1 << 14;  // per timed call
constexpr std::size_t kStreamBytes = 8u << 20;

#if TSQ_SIMD_X86

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) std::int32_t vnni_chains(
    std::int32_t seed) {
  __m512i accumulators[kChains];
  for (int j = 0; j < kChains; ++j) accumulators[j] = _mm512_set1_epi32(seed + j);
  const __m512i activations = _mm512_set1_epi32(seed | 0x01010101);
  const __m512i weights = _mm512_set1_epi32(seed ^ 0x02020202);
  for (std::int64_t step = 0; step < kSteps; ++step) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains; ++j) {
      accumulators[j] = _mm512_dpbusd_epi32(accumulators[j], activations, weights);
    }
  }
  __m512i sum = accumulators[0];
  for (int j = 1; j < kChains; ++j) sum = _mm512_add_epi32(sum, accumulators[j]);
  alignas(64) std::int32_t lanes[16];
  _mm512_store_si512(lanes, sum);
  return lanes[0] ^ lanes[15];
}

__attribute__((target("avx2,fma"))) float fma_chains(float seed) {
  __m256 accumulators[kChains];
  for (int j = 0; j < kChains; ++j) accumulators[j] = _mm256_set1_ps(seed + static_cast<float>(j));
  // x -> 0.999 x + 0.001 stays finite for ever.
  const __m256 scale = _mm256_set1_ps(0.999f);
  const __m256 offset = _mm256_set1_ps(0.001f);
  for (std::int64_t step = 0; step < kSteps; ++step) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains; ++j) {
      accumulators[j] = _mm256_fmadd_ps(accumulators[j], scale, offset);
    }
  }
  __m256 sum = accumulators[0];
  for (int j = 1; j < kChains; ++j) sum = _mm256_add_ps(sum, accumulators[j]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  return lanes[0] + lanes[7];
}

// Sums the buffer as 64-bit lanes with 4 independent accumulators, 64-byte loads.
__attribute__((target("avx512f"))) std::int64_t stream_avx512(const std::int8_t* data,
                                                              std::size_t bytes) {
  __m512i sums[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                     _mm512_setzero_si512()};
  for (std::size_t i = 0; i < bytes; i += 256) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      sums[j] = _mm512_add_epi64(sums[j], _mm512_load_si512(data + i + 64 * j));
    }
  }
  const __m512i sum =
      _mm512_add_epi64(_mm512_add_epi64(sums[0], sums[1]), _mm512_add_epi64(sums[2], sums[3]));
  alignas(64) std::int64_t lanes[8];
  _mm512_store_si512(lanes, sum);
  return lanes[0] ^ lanes[7];
}

// The same with 32-byte loads, for CPUs without AVX-512.
__attribute__((target("avx2"))) std::int64_t stream_avx2(const std::int8_t* data,
                                                         std::size_t bytes) {
  __m256i sums[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                     _mm256_setzero_si256()};
  for (std::size_t i = 0; i < bytes; i += 128) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      sums[j] = _mm256_add_epi64(
          sums[j], _mm256_load_si256(reinterpret_cast<const __m256i*>(data + i + 32 * j)));
    }
  }
  const __m256i sum =
      _mm256_add_epi64(_mm256_add_epi64(sums[0], sums[1]), _mm256_add_epi64(sums[2], sums[3]));
  alignas(32) std::int64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sum);
  return lanes[0] ^ lanes[3];
}

// 8 MB, 64-byte aligned, every page touched.
const std::int8_t* stream_buffer() {
  static std::vector<std::int8_t> storage(kStreamBytes + 64);
  static const std::int8_t* aligned = [] {
    const auto address = reinterpret_cast<std::uintptr_t>(storage.data());
    std::int8_t* start = storage.data() + (64 - address % 64) % 64;
    for (std::size_t i = 0; i < kStreamBytes; ++i) start[i] = static_cast<std::int8_t>(i * 31);
    return start;
  }();
  return aligned;
}

// Not a compile-time constant: keeps the chains from being folded.
std::int32_t runtime_seed() {
  static volatile std::int32_t seed = 3;
  return seed;
}

template <typename Body>
void register_peak_row(const char* name, Body body) {
  benchmark::RegisterBenchmark(name, body)->Unit(benchmark::kMicrosecond);
}

#endif  // TSQ_SIMD_X86

}  // namespace

void register_peak() {
#if TSQ_SIMD_X86
  if (tsq::simd::path_supported(tsq::simd::Path::avx512_vnni)) {
    register_peak_row("peak/vnni", [](benchmark::State& state) {
      const double macs = static_cast<double>(kSteps) * kChains * 64;
      for (auto _ : state) benchmark::DoNotOptimize(vnni_chains(runtime_seed()));
      state.counters["MACs"] = macs;
      state.SetItemsProcessed(static_cast<std::int64_t>(macs) * state.iterations());
    });
  }
  if (tsq::simd::path_supported(tsq::simd::Path::avx2)) {
    register_peak_row("peak/fma", [](benchmark::State& state) {
      const double fmas = static_cast<double>(kSteps) * kChains * 8;
      for (auto _ : state) {
        benchmark::DoNotOptimize(fma_chains(static_cast<float>(runtime_seed())));
      }
      state.counters["FMAs"] = fmas;
      state.SetItemsProcessed(static_cast<std::int64_t>(fmas) * state.iterations());
    });
    register_peak_row("peak/stream_8mb", [](benchmark::State& state) {
      const std::int8_t* data = stream_buffer();
      const bool wide = __builtin_cpu_supports("avx512f");
      for (auto _ : state) {
        benchmark::DoNotOptimize(wide ? stream_avx512(data, kStreamBytes)
                                      : stream_avx2(data, kStreamBytes));
      }
      state.SetBytesProcessed(static_cast<std::int64_t>(kStreamBytes) * state.iterations());
    });
  }
#endif  // no vector peaks on other architectures
}

}  // namespace tsq_bench
