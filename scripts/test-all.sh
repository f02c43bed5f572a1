#!/usr/bin/env bash
# shellcheck disable=SC2317  # stage_* functions are called indirectly
# The complete tsq check, as run by CI (.ci/run) and given in the README:
#
#   scripts/test-all.sh [stage...]
#
# Stages (all but `clang` by default, in this order):
#   deps     install missing Debian packages with apt-get (needs root, or sudo)
#   format   clang-format --dry-run --Werror over include/ tests/ bench/ examples/
#   gcc      configure (preset dev), build and ctest with g++, warnings as errors
#   asan     the same with clang++ -O1 + AddressSanitizer + UndefinedBehaviorSanitizer, warnings
#            as errors (preset asan), without the benchmarks, the packaging tests and the slow
#            `report` tests (compiler checks, not memory)
#   fuzz     libFuzzer on the .npy, .npz and .tflite readers (preset fuzz, clang++),
#            TSQ_FUZZ_SECONDS each, on a copy of tests/fuzz/corpus/; fails if an input crashes
#            (and says where it is)
#   firmware core/, quant/, tensor/, kernels/reference/ headers compiled for Cortex-M0; the
#            exported models built for mps2-an385 (Cortex-M3) and microbit (Cortex-M0) and run
#            under QEMU against the host's output bytes, their symbols and footprint checked; the
#            SIMD tests cross-compiled for aarch64 and run under qemu-aarch64 (label cross)
#   clang    (only when named) the gcc stage with clang++ without sanitizers (preset clang)
#
# A failing stage does not stop the later ones; the exit status is non-zero if any failed.
# Environment: TSQ_BUILD_ROOT  build trees go to $TSQ_BUILD_ROOT/<preset> (default build/ci)
#              TSQ_JOBS        parallel build and test jobs (default: nproc)
#              TSQ_SKIP_DEPS=1 skip the deps stage
#              TSQ_FUZZ_SECONDS time per fuzzer in the fuzz stage (default 30)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root_dir=$(pwd)
build_root=${TSQ_BUILD_ROOT:-build/ci}
[[ $build_root = /* ]] || build_root="$root_dir/$build_root"
jobs=${TSQ_JOBS:-$(nproc)}

# libclang-rt-dev: clang's sanitizer and libFuzzer runtimes (only recommended by clang).
packages=(cmake ninja-build g++ clang libclang-rt-dev clang-format catch2 libeigen3-dev
  libxsimd-dev libbenchmark-dev gcc-arm-none-eabi libnewlib-arm-none-eabi
  libstdc++-arm-none-eabi-newlib qemu-system-arm g++-aarch64-linux-gnu qemu-user python3-numpy)

stage_deps() {
  local missing=() package
  for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$package")
    fi
  done
  if ((${#missing[@]} == 0)); then
    echo "all ${#packages[@]} packages are installed"
    return 0
  fi
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

stage_format() {
  local dirs=() dir
  for dir in include tests bench examples; do [[ -d $dir ]] && dirs+=("$dir"); done
  local files=()
  mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.hpp' -o -name '*.cpp' \) | sort)
  echo "clang-format $(clang-format --version | grep -o '[0-9][0-9.]*' | head -1): ${#files[@]} files"
  ((${#files[@]} == 0)) || clang-format --dry-run --Werror "${files[@]}"
}

# configure + build + ctest one preset in $build_root/<preset>; extra arguments go to ctest.
build_and_test() {
  local preset=$1 dir="$build_root/$1"
  shift
  cmake --preset "$preset" -B "$dir"
  cmake --build "$dir" -j"$jobs"
  ctest --test-dir "$dir" -j"$jobs" --no-tests=error --output-on-failure "$@"
}

# The firmware and cross checks run once, in their own stage, not in every compiler's run.
stage_gcc() { build_and_test dev -LE '^(firmware|cross)$'; }
stage_clang() { build_and_test clang -LE '^(firmware|cross)$'; }
stage_asan() {
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    build_and_test asan -LE '^(firmware|cross|package|report)$'
}
# Each fuzzer runs on a fresh copy of its seed corpus (what it adds stays in the build tree) plus
# the regression inputs; -timeout (per input) and -rss_limit_mb (also the largest single
# allocation) turn hangs and runaway allocations into failures too.
stage_fuzz() {
  local dir="$build_root/fuzz" seconds=${TSQ_FUZZ_SECONDS:-30} format failed=0 max_len
  cmake --preset fuzz -B "$dir"
  cmake --build "$dir" -j"$jobs" --target tsq_fuzz_npy tsq_fuzz_npz tsq_fuzz_tflite
  for format in npy npz tflite; do
    local run="$dir/runs/$format"
    # Real .tflite seeds are tens of KB; the numpy seeds are small.
    if [[ $format == tflite ]]; then max_len=32768; else max_len=4096; fi
    rm -rf "$run"
    mkdir -p "$run/corpus" "$run/crashes"
    cp tests/fuzz/corpus/"$format"/* "$run/corpus/"
    echo "tsq_fuzz_$format: ${seconds}s (log: $run/fuzz.log)"
    if UBSAN_OPTIONS=print_stacktrace=1 "$dir/tests/fuzz/tsq_fuzz_$format" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
      -dict="tests/fuzz/$format.dict" -print_final_stats=1 -artifact_prefix="$run/crashes/" \
      "$run/corpus" "tests/fuzz/regressions/$format" >"$run/fuzz.log" 2>&1; then
      grep -E '^#[0-9]+[[:space:]]+DONE' "$run/fuzz.log" | tail -n 1 || true
      grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$run/fuzz.log" || true
    else
      failed=1
      # The report, without the shadow-byte legend of AddressSanitizer; the log has it all.
      awk '/ERROR|runtime error|check failed|deadly signal/ && !n { n = 1 } n && n++ <= 30' \
        "$run/fuzz.log"
      echo "tsq_fuzz_$format FAILED; the input that did it:" >&2
      find "$run/crashes" -type f -printf '  %p\n' >&2
      echo "Replay it with $dir/tests/fuzz/tsq_fuzz_$format <file>; once the parser is fixed," \
        "move it into tests/fuzz/regressions/$format/ (the fuzz_$format test replays it)." >&2
    fi
  done
  return "$failed"
}
stage_firmware() {
  local dir="$build_root/dev"
  [[ -f $dir/CTestTestfile.cmake ]] || cmake --preset dev -B "$dir"
  ctest --test-dir "$dir" -L '^(firmware|cross)$' -j"$jobs" --no-tests=error --output-on-failure
}

all_stages=(deps format gcc asan fuzz firmware clang)
if (($# > 0)); then
  stages=("$@")
else
  stages=(deps format gcc asan fuzz firmware)
  [[ ${TSQ_SKIP_DEPS:-0} = 1 ]] && stages=("${stages[@]:1}")
fi
for stage in "${stages[@]}"; do
  [[ " ${all_stages[*]} " = *" $stage "* ]] || {
    echo "unknown stage '$stage' (stages: ${all_stages[*]})" >&2
    exit 2
  }
done

summary=()
failed=0
total_start=$SECONDS
for stage in "${stages[@]}"; do
  echo
  echo "=== [$stage] ==="
  start=$SECONDS
  # A subshell with its own errexit: the first failing command ends the stage, not the script.
  set +e
  (
    set -euo pipefail
    "stage_$stage"
  )
  status=$?
  set -e
  elapsed=$((SECONDS - start))
  if ((status == 0)); then
    summary+=("$(printf '  %-9s ok      %4ds' "$stage" "$elapsed")")
  else
    summary+=("$(printf '  %-9s FAILED  %4ds  (exit %d)' "$stage" "$elapsed" "$status")")
    failed=1
    if [[ $stage = deps ]]; then
      echo "dependencies could not be installed; stopping" >&2
      break
    fi
  fi
done

echo
echo "=== summary ($((SECONDS - total_start))s, build trees in $build_root) ==="
printf '%s\n' "${summary[@]}"
exit "$failed"
