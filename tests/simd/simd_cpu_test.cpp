// SPDX-License-Identifier: Apache-2.0
// The SIMD path selection: detection, forcing, and that no forcing reaches a path the CPU lacks.
#include <catch2/catch.hpp>

#include "simd_test_util.hpp"
#include "tsq/kernels/simd/cpu.hpp"

using tsq::simd::Path;

TEST_CASE("simd paths: the detected one is supported, scalar always is", "[simd][cpu]") {
  REQUIRE(tsq::simd::path_supported(Path::scalar));
  REQUIRE(tsq::simd::path_supported(tsq::simd::detected_path()));
  REQUIRE(tsq::simd::active_path() == tsq::simd::detected_path());
#if TSQ_SIMD_X86
  REQUIRE_FALSE(tsq::simd::path_supported(Path::neon_dot));
  // AVX-512 VNNI implies AVX2 here (the VNNI path's checks include it).
  if (tsq::simd::path_supported(Path::avx512_vnni)) {
    REQUIRE(tsq::simd::path_supported(Path::avx2));
  }
#else
  REQUIRE_FALSE(tsq::simd::path_supported(Path::avx2));
  REQUIRE_FALSE(tsq::simd::path_supported(Path::avx512_vnni));
#endif
  std::string paths;
  for (const Path path : tsq_simd_test::supported_paths()) {
    paths += std::string(" ") + tsq::simd::path_name(path);
  }
  // Always shown: which paths the other tests compare with the reference on this machine.
  WARN("SIMD paths supported:" << paths << "; detected: "
                               << tsq::simd::path_name(tsq::simd::detected_path()));
}

TEST_CASE("simd paths: forcing takes supported paths and refuses the others", "[simd][cpu]") {
  for (const Path path : tsq::simd::kAllPaths) {
    if (tsq::simd::path_supported(path)) {
      {
        const tsq::simd::ScopedPath forced(path);
        REQUIRE(forced.status().is_ok());
        REQUIRE(tsq::simd::active_path() == path);
        {
          const tsq::simd::ScopedPath inner(Path::scalar);
          REQUIRE(tsq::simd::active_path() == Path::scalar);
        }
        REQUIRE(tsq::simd::active_path() == path);  // the inner scope restored the outer one
      }
      REQUIRE(tsq::simd::active_path() == tsq::simd::detected_path());
    } else {
      REQUIRE(tsq::simd::force_path(Path::scalar).is_ok());
      const tsq::Status refused = tsq::simd::force_path(path);
      REQUIRE(refused.code() == tsq::ErrorCode::unsupported_type);
      REQUIRE(tsq::simd::active_path() == Path::scalar);  // unchanged
      const tsq::simd::ScopedPath forced(path);
      REQUIRE_FALSE(forced.status().is_ok());
      REQUIRE(tsq::simd::active_path() == Path::scalar);
      tsq::simd::clear_forced_path();
    }
  }
  REQUIRE(tsq::simd::active_path() == tsq::simd::detected_path());
}
