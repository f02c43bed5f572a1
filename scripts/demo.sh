#!/usr/bin/env bash
# The main job, as the README gives it: installs what is missing (Debian packages), builds the
# demo in build/demo and runs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TSQ_SKIP_DEPS=${TSQ_SKIP_DEPS:-0}
if [[ $TSQ_SKIP_DEPS != 1 ]]; then scripts/test-all.sh deps; fi
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DTSQ_BUILD_TESTS=OFF \
  -DTSQ_BUILD_BENCHMARKS=OFF -DTSQ_BUILD_EXAMPLES=ON >/dev/null
cmake --build build/demo --target tsq_quickstart
exec build/demo/examples/tsq_quickstart "$@"
