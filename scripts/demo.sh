#!/usr/bin/env bash
# The main job, as the README gives it: installs what is missing (Debian packages), builds the
# demo in build/demo (Release) and runs it: tsq quantizes the float MIT-BIH heartbeat CNN itself
# (calibration, int8 weights and activations, int32 biases), runs the integer kernels on all
# 18,282 real beats and prints the model summary, the per-layer error and the classification.
# Arguments go to the demo (--data DIR, --model FILE; see --help). The small first example is
# build/demo/examples/tsq_quickstart (`cmake --build build/demo --target tsq_quickstart`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TSQ_SKIP_DEPS=${TSQ_SKIP_DEPS:-0}
if [[ $TSQ_SKIP_DEPS != 1 ]]; then scripts/test-all.sh deps; fi
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DTSQ_BUILD_TESTS=OFF \
  -DTSQ_BUILD_BENCHMARKS=OFF -DTSQ_BUILD_EXAMPLES=ON >/dev/null
cmake --build build/demo --target tsq_ecg_demo
exec build/demo/examples/tsq_ecg_demo "$@"
