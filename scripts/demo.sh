#!/usr/bin/env bash
# The main job, as the README gives it: installs what is missing (Debian packages), builds the
# HAR example in build/demo (Release) and runs it end to end: three activity models on the
# repository's har-st recordings (data/har-st), each calibrated on 200 training frames and
# quantized with every scheme of the study plus automatic mixed precision, with the table of
# accuracy, precision, recall, F1, balanced accuracy, kappa and size per scheme and the
# debugger's per-layer table (CSV and SVG files go to build/demo/report/). Arguments go to the
# example (--json PATH, --quick, --data DIR; see --help); TSQ_DATA_DIR may name another data
# folder. The ECG example is build/demo/examples/tsq_ecg_example (`cmake --build build/demo
# --target tsq_ecg_example`).
# TSQ_SKIP_DEPS=1 skips the package check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Only what this build needs: no tests or benchmarks (Catch2, Google Benchmark), and Eigen and
# xsimd are optional. scripts/test-all.sh deps installs the whole CI toolchain.
packages=(cmake ninja-build g++)
install_missing() {
  local missing=() package
  for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$package")
    fi
  done
  ((${#missing[@]} > 0)) || return 0
  echo "installing: ${missing[*]}"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || {
      echo "not root and no sudo: install ${missing[*]}" >&2
      return 1
    }
    sudo=(sudo)
  fi
  # Wait for the dpkg lock (up to 10 minutes) instead of failing while another apt runs. `env`
  # passes DEBIAN_FRONTEND through sudo, which resets the environment.
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
  "${sudo[@]}" "${apt[@]}" update
  "${sudo[@]}" "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
}
if [[ ${TSQ_SKIP_DEPS:-0} != 1 ]]; then install_missing; fi
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DTSQ_BUILD_TESTS=OFF \
  -DTSQ_BUILD_BENCHMARKS=OFF -DTSQ_BUILD_EXAMPLES=ON >/dev/null
cmake --build build/demo --target tsq_har_example
mkdir -p build/demo/report
exec build/demo/examples/tsq_har_example --out build/demo/report "$@"
