// SPDX-License-Identifier: Apache-2.0
// tsq_bench: every kernel, named `<op>/<flavour>/<shape>` (reference, float, hybrid, int8_simd,
// eigen flavours), the CPU's limits (peak/*), whole models (model/*) and load_npz on archives of
// many members. See bench/CMakeLists.txt for usage, bench/speed_table.py and
// bench/ratio_table.py for the tables of one run.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench_util.hpp"

int main(int argc, char** argv) {
  // A quarter second per benchmark instead of the library's half: the whole suite then takes
  // about a minute of CPU. A --benchmark_min_time on the command line comes later and wins.
  static char default_min_time[] = "--benchmark_min_time=0.25";
  std::vector<char*> arguments(argv, argv + argc);
  arguments.insert(arguments.empty() ? arguments.end() : arguments.begin() + 1, default_min_time);
  int count = static_cast<int>(arguments.size());
  arguments.push_back(nullptr);  // argv[argc] == nullptr, as for main's own
  benchmark::Initialize(&count, arguments.data());
  if (benchmark::ReportUnrecognizedArguments(count, arguments.data())) return 1;
  // Registered here, not by static initializers, so that the order is the same in every build.
  tsq_bench::register_conv2d();
  tsq_bench::register_depthwise_conv2d();
  tsq_bench::register_fully_connected();
  tsq_bench::register_hybrid();
  tsq_bench::register_lstm();
  tsq_bench::register_pooling();
  tsq_bench::register_add();
  tsq_bench::register_elementwise();
  tsq_bench::register_io();
  tsq_bench::register_peak();
  tsq_bench::register_models();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // A benchmark whose setup or eval failed was skipped with its message: fail the run (CTest).
  return tsq_bench::failure_count() == 0 ? 0 : 1;
}
