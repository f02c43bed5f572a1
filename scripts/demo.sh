#!/usr/bin/env bash
# The main job, as the README gives it: installs what is missing (Debian packages), builds the
# demo in build/demo (Release) and runs it: tsq quantizes the float MIT-BIH heartbeat CNN itself
# (calibration, int8 weights and activations, int32 biases), runs the integer kernels on all
# 18,282 real beats and prints the model summary, the per-layer error and the classification.
# The beats are the repository's copy in data/ecg-mitbih; arguments go to the demo (--data DIR,
# --model FILE; see --help), and TSQ_DATA_DIR may name another data folder. The small first
# example is build/demo/examples/tsq_quickstart (`cmake --build build/demo --target
# tsq_quickstart`).
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
cmake --build build/demo --target tsq_ecg_demo
exec build/demo/examples/tsq_ecg_demo "$@"
