// SPDX-License-Identifier: Apache-2.0
// The packed int8 GEMM core shared by simd::fully_connected and simd::conv2d: the dispatch to
// the path's kernels (cpu.hpp) and the scratch rows the ops copy their activations into.
//
// An op works in blocks of rows (FullyConnected: batches; Conv2D: output pixels). For each block
// it writes the rows' activations as bytes x + kInputOffset into scratch (Conv2D: the im2col
// rows), rows padded to a multiple of 64 bytes, then runs the block against every tile of the
// packed weights. The scratch holds one block, so its size does not grow with the batch; any
// scratch that holds one row works, more rows make larger blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/simd/cpu.hpp"
#include "tsq/kernels/simd/gemm_avx2.hpp"
#include "tsq/kernels/simd/gemm_avx512_vnni.hpp"
#include "tsq/kernels/simd/gemm_neon_dot.hpp"
#include "tsq/kernels/simd/gemm_scalar.hpp"
#include "tsq/kernels/simd/packed_weights.hpp"

namespace tsq {
namespace simd {
namespace detail {

constexpr std::ptrdiff_t kRowAlignment = 64;

// Rows per block at most, and the block size aimed at (most of L1 and a little of L2 next to a
// 64-channel weight panel).
constexpr std::int32_t kMaxBlockRows = 96;
constexpr std::int32_t kMinBlockRows = 6;
constexpr std::ptrdiff_t kBlockBytes = 24 * 1024;

constexpr std::ptrdiff_t scratch_row_stride(std::int32_t padded_depth) {
  return (padded_depth + kRowAlignment - 1) / kRowAlignment * kRowAlignment;
}

// Bytes of scratch for blocks of `rows` rows (the start is aligned inside it).
constexpr std::size_t scratch_size_for_rows(std::int32_t padded_depth, std::int32_t rows) {
  return static_cast<std::size_t>(rows) *
             static_cast<std::size_t>(scratch_row_stride(padded_depth)) +
         static_cast<std::size_t>(kRowAlignment - 1);
}

// The block rows of the scratch size that the ops recommend, for `total_rows` rows in all.
constexpr std::int32_t recommended_block_rows(std::int32_t padded_depth, std::int32_t total_rows) {
  const std::ptrdiff_t fit = kBlockBytes / scratch_row_stride(padded_depth);
  std::int32_t rows = fit < kMinBlockRows   ? kMinBlockRows
                      : fit > kMaxBlockRows ? kMaxBlockRows
                                            : static_cast<std::int32_t>(fit);
  if (total_rows < rows) rows = total_rows;
  return rows < 1 ? 1 : rows;
}

// Aligned rows inside the caller's scratch.
struct ScratchRows {
  std::int8_t* data = nullptr;
  std::ptrdiff_t stride = 0;
  std::int32_t capacity = 0;  // rows
};

inline Result<ScratchRows> scratch_rows(const char* op, Span<std::int8_t> scratch,
                                        std::int32_t padded_depth) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(op, scratch));
  const std::ptrdiff_t stride = scratch_row_stride(padded_depth);
  const auto address = reinterpret_cast<std::uintptr_t>(scratch.data());
  const auto skip = static_cast<std::size_t>(
      (kRowAlignment - static_cast<std::ptrdiff_t>(address % kRowAlignment)) % kRowAlignment);
  const std::size_t rows =
      scratch.size() > skip ? (scratch.size() - skip) / static_cast<std::size_t>(stride) : 0;
  if (rows < 1) {
    return Status::error(ErrorCode::buffer_too_small, op)
        .append(" scratch holds ")
        .append(scratch.size())
        .append(" bytes, needs at least ")
        .append(scratch_size_for_rows(padded_depth, 1));
  }
  ScratchRows result;
  result.data = scratch.data() + skip;
  result.stride = stride;
  // A block of at most 2^30 bytes keeps row counts and segment sizes in int32.
  const std::size_t most_rows = (std::size_t{1} << 30) / static_cast<std::size_t>(stride);
  result.capacity = static_cast<std::int32_t>(rows < most_rows ? rows : most_rows);
  return result;
}

// Runs one block on `path` (which must be supported: active_path() guarantees it).
inline void run_gemm(Path path, const PackedWeights& weights, std::int32_t group,
                     const GemmBlock& block, const OutputStage& stage) {
  switch (path) {
#if TSQ_SIMD_X86
    case Path::avx512_vnni: avx512_vnni::gemm(weights, group, block, stage); return;
    case Path::avx2: avx2::gemm(weights, group, block, stage); return;
#endif
#if TSQ_SIMD_NEON_DOT
    case Path::neon_dot: neon_dot::gemm(weights, group, block, stage); return;
#endif
    default: scalar::gemm(weights, group, block, stage); return;
  }
}

inline void write_segments(Path path, std::int8_t* destination, const RowSegment* segments,
                           std::int32_t count, std::int8_t padding) {
  switch (path) {
#if TSQ_SIMD_X86
    case Path::avx512_vnni:
      avx512_vnni::write_segments(destination, segments, count, padding);
      return;
    case Path::avx2: avx2::write_segments(destination, segments, count, padding); return;
#endif
    default: scalar::write_segments(destination, segments, count, padding); return;
  }
}

inline void gather_rows(Path path, std::int8_t* destination, std::ptrdiff_t stride,
                        const std::int8_t* const* fields, std::int32_t count, const GatherRun* runs,
                        std::int32_t run_count, std::int32_t depth, std::int32_t padded_depth) {
  switch (path) {
#if TSQ_SIMD_X86
    case Path::avx512_vnni:
      avx512_vnni::gather_rows(destination, stride, fields, count, runs, run_count, depth,
                               padded_depth);
      return;
    case Path::avx2:
      avx2::gather_rows(destination, stride, fields, count, runs, run_count, depth, padded_depth);
      return;
#endif
    default:
      scalar::gather_rows(destination, stride, fields, count, runs, run_count, depth, padded_depth);
      return;
  }
}

// Writes a block of scratch rows as a list of segments (copies of activations, padding), one
// call into the path's vector code per kCapacity segments instead of one per piece. Neighbours
// merge: a copy that continues the previous copy's source (a 1 x 1 convolution's block, or the
// rows of a FullyConnected block, become one copy), a pad after a pad.
class SegmentWriter {
 public:
  // `padding` is the pad byte as the kernels read it (Z_in + kInputOffset for a convolution).
  SegmentWriter(Path path, std::int8_t* destination, std::int8_t padding)
      : path_(path), destination_(destination), padding_(padding) {}

  void copy(const std::int8_t* source, std::int32_t bytes) {
    if (bytes <= 0) return;
    if (count_ > 0 && segments_[count_ - 1].source != nullptr &&
        segments_[count_ - 1].source + segments_[count_ - 1].bytes == source) {
      segments_[count_ - 1].bytes += bytes;
      return;
    }
    push(RowSegment{source, bytes});
  }
  void pad(std::int32_t bytes) {
    if (bytes <= 0) return;
    if (count_ > 0 && segments_[count_ - 1].source == nullptr) {
      segments_[count_ - 1].bytes += bytes;
      return;
    }
    push(RowSegment{nullptr, bytes});
  }
  // Writes what is pending and continues at `destination`.
  void move_to(std::int8_t* destination) {
    flush();
    destination_ = destination;
  }
  // Writes what is pending; call once at the end of the block.
  void flush() {
    write_segments(path_, destination_, segments_, count_, padding_);
    for (std::int32_t i = 0; i < count_; ++i) destination_ += segments_[i].bytes;
    count_ = 0;
  }

 private:
  static constexpr std::int32_t kCapacity = 64;

  void push(const RowSegment& segment) {
    if (count_ == kCapacity) flush();
    segments_[count_++] = segment;
  }

  Path path_;
  std::int8_t* destination_;
  std::int8_t padding_;
  std::int32_t count_ = 0;
  RowSegment segments_[kCapacity];
};

}  // namespace detail
}  // namespace simd
}  // namespace tsq
