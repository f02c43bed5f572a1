// SPDX-License-Identifier: Apache-2.0
// Memory planning of a model run: every tensor and every layer's scratch gets an offset in one
// caller-provided arena, and buffers whose lifetimes do not overlap share memory.
//
// Greedy by size (largest first), each buffer at the lowest offset that does not collide with a
// placed buffer alive at the same time: the strategy of TFLite-Micro's greedy planner. Not always
// optimal, but within a few percent on chains, and exact on its own terms: the arena size it
// reports is the one the run needs, and a run refuses a smaller arena.
#pragma once

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

namespace tsq {
namespace nn {

// Offsets are multiples of this, and the arena itself must start at such an address (what
// malloc and std::vector give on the hosts tsq runs on): enough for every element type.
constexpr std::size_t kArenaAlignment = 16;

struct ArenaItem {
  std::size_t bytes = 0;
  int first_step = 0;  // alive from the step that writes it...
  int last_step = 0;   // ...to the last step that reads it (inclusive)
};

struct ArenaPlan {
  std::vector<std::size_t> offsets;  // one per item
  std::size_t total_bytes = 0;
};

constexpr std::size_t align_arena(std::size_t bytes) {
  return (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

inline ArenaPlan plan_arena(const std::vector<ArenaItem>& items) {
  ArenaPlan plan;
  plan.offsets.assign(items.size(), 0);
  std::vector<std::size_t> order(items.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return items[a].bytes > items[b].bytes; });
  std::vector<std::size_t> placed;
  for (const std::size_t index : order) {
    const ArenaItem& item = items[index];
    const std::size_t size = align_arena(item.bytes);
    if (size == 0) continue;
    // Candidate offsets: 0 and the end of every placed buffer alive at the same time.
    std::vector<std::size_t> candidates = {0};
    std::vector<std::size_t> overlapping;
    for (const std::size_t other : placed) {
      const ArenaItem& o = items[other];
      if (o.last_step < item.first_step || item.last_step < o.first_step) continue;
      overlapping.push_back(other);
      candidates.push_back(plan.offsets[other] + align_arena(o.bytes));
    }
    std::sort(candidates.begin(), candidates.end());
    for (const std::size_t offset : candidates) {
      bool fits = true;
      for (const std::size_t other : overlapping) {
        const std::size_t begin = plan.offsets[other];
        const std::size_t end = begin + align_arena(items[other].bytes);
        if (offset < end && begin < offset + size) {
          fits = false;
          break;
        }
      }
      if (fits) {
        plan.offsets[index] = offset;
        break;
      }
    }
    plan.total_bytes = std::max(plan.total_bytes, plan.offsets[index] + size);
    placed.push_back(index);
  }
  return plan;
}

}  // namespace nn
}  // namespace tsq
