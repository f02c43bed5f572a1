#!/usr/bin/env bash
# Prints the integer LSTM's figures on real weights (TFLite-Micro's 2x3x2 case, mnist_lstm,
# DeepConvLSTM): builds the LSTM tests (optimized) in build/report and runs the [real] cases.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake -S . -B build/report -G Ninja -DCMAKE_BUILD_TYPE=Release -DTSQ_BUILD_BENCHMARKS=OFF \
  -DTSQ_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/report --target tsq_lstm_test
exec build/report/tests/lstm/tsq_lstm_test "[real]" "$@"
