// SPDX-License-Identifier: Apache-2.0
// The SIMD path the int8 GEMM kernels of kernels/simd/ take. On x86-64 the CPU is asked once at
// run time (AVX2, AVX-512 VNNI), so that the library needs no -march flag: every vector function
// carries its own target attribute. On aarch64 the NEON dot-product path is chosen at compile time
// (-march=armv8.2-a+dotprod or later). The scalar path runs everywhere.
//
// Tests and benchmarks force a path with force_path() or ScopedPath; a path the CPU lacks is
// refused (the active path is left as it was), so no forcing can reach an illegal instruction.
#pragma once

#include <atomic>
#include <cstdint>

#include "tsq/core/status.hpp"

// Which vector code this compiler and target can contain at all.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TSQ_SIMD_X86 1
#else
#define TSQ_SIMD_X86 0
#endif
#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#define TSQ_SIMD_NEON_DOT 1
#else
#define TSQ_SIMD_NEON_DOT 0
#endif

namespace tsq {
namespace simd {

// Ordered from the most portable to the fastest.
enum class Path : std::uint8_t { scalar, avx2, avx512_vnni, neon_dot };

inline constexpr Path kAllPaths[] = {Path::scalar, Path::avx2, Path::avx512_vnni, Path::neon_dot};

constexpr const char* path_name(Path path) {
  switch (path) {
    case Path::scalar: return "scalar";
    case Path::avx2: return "avx2";
    case Path::avx512_vnni: return "avx512_vnni";
    case Path::neon_dot: return "neon_dot";
  }
  return "unknown";
}

namespace detail {

struct CpuSupport {
  bool avx2 = false;
  bool avx512_vnni = false;
};

// __builtin_cpu_supports also checks that the OS saves the AVX and AVX-512 register state
// (XGETBV), so a true answer means the instructions can run.
inline CpuSupport detect_cpu() {
  CpuSupport support;
#if TSQ_SIMD_X86
  __builtin_cpu_init();
  support.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  support.avx512_vnni = support.avx2 && __builtin_cpu_supports("avx512f") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512vnni");
#endif
  return support;
}

inline const CpuSupport& cpu_support() {
  static const CpuSupport support = detect_cpu();  // once; thread-safe initialization
  return support;
}

constexpr int kNoForcedPath = -1;

inline std::atomic<int>& forced_path_slot() {
  static std::atomic<int> forced{kNoForcedPath};
  return forced;
}

}  // namespace detail

// True when this build contains the path and the CPU can run it.
inline bool path_supported(Path path) {
  switch (path) {
    case Path::scalar: return true;
    case Path::avx2: return detail::cpu_support().avx2;
    case Path::avx512_vnni: return detail::cpu_support().avx512_vnni;
    case Path::neon_dot: return TSQ_SIMD_NEON_DOT != 0;
  }
  return false;
}

// The fastest supported path (detected once).
inline Path detected_path() {
  if (path_supported(Path::neon_dot)) return Path::neon_dot;
  if (path_supported(Path::avx512_vnni)) return Path::avx512_vnni;
  if (path_supported(Path::avx2)) return Path::avx2;
  return Path::scalar;
}

// The path the kernels take now: the forced one, else the detected one.
inline Path active_path() {
  const int forced = detail::forced_path_slot().load(std::memory_order_relaxed);
  return forced == detail::kNoForcedPath ? detected_path() : static_cast<Path>(forced);
}

// Makes every later kernel call take `path` (process-wide). Refuses a path the CPU or the build
// lacks with unsupported_type, leaving the active path unchanged.
inline Status force_path(Path path) {
  if (!path_supported(path)) {
    return Status::error(ErrorCode::unsupported_type, "SIMD path ")
        .append(path_name(path))
        .append(" is not supported by this CPU or build");
  }
  detail::forced_path_slot().store(static_cast<int>(path), std::memory_order_relaxed);
  return Status::ok();
}

// Back to the detected path.
inline void clear_forced_path() {
  detail::forced_path_slot().store(detail::kNoForcedPath, std::memory_order_relaxed);
}

// Forces a path for the lifetime of the object, then restores what was forced before (tests,
// benchmarks). status() says whether the path was taken; if not, nothing changed.
class ScopedPath {
 public:
  explicit ScopedPath(Path path)
      : previous_(detail::forced_path_slot().load(std::memory_order_relaxed)),
        status_(force_path(path)) {}
  ScopedPath(const ScopedPath&) = delete;
  ScopedPath& operator=(const ScopedPath&) = delete;
  ~ScopedPath() {
    if (status_.is_ok()) detail::forced_path_slot().store(previous_, std::memory_order_relaxed);
  }
  const Status& status() const { return status_; }

 private:
  int previous_;
  Status status_;
};

}  // namespace simd
}  // namespace tsq
