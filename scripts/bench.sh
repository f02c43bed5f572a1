#!/usr/bin/env bash
# Runs the whole benchmark suite once (Release, in build/bench) and prints the ratio table of that
# one run: float time / integer time per op and shape. Extra arguments go to tsq_bench.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DTSQ_BUILD_TESTS=OFF \
  -DTSQ_BUILD_EXAMPLES=OFF -DTSQ_BUILD_BENCHMARKS=ON >/dev/null
cmake --build build/bench --target tsq_bench
build/bench/bench/tsq_bench --benchmark_format=json --benchmark_out=build/bench/bench.json "$@" >/dev/null
bench/ratio_table.py build/bench/bench.json
