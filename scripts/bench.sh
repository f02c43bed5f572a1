#!/usr/bin/env bash
# Runs the whole benchmark suite once (Release, in build/bench) and prints two tables of that one
# run: the speed table (bench/speed_table.py: int8_simd against peak/vnni, Eigen and the integer
# reference; whole models float against int8) and the ratio table (bench/ratio_table.py: float
# time / integer time per op and shape for the reference kernels). Extra arguments go to
# tsq_bench, e.g. --benchmark_filter='int8_simd|eigen|peak|/int8/|model/'.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DTSQ_BUILD_TESTS=OFF \
  -DTSQ_BUILD_EXAMPLES=OFF -DTSQ_BUILD_BENCHMARKS=ON >/dev/null
cmake --build build/bench --target tsq_bench
build/bench/bench/tsq_bench --benchmark_format=json --benchmark_out=build/bench/bench.json "$@" >/dev/null
bench/speed_table.py build/bench/bench.json
echo
bench/ratio_table.py build/bench/bench.json
