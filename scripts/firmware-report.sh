#!/usr/bin/env bash
# Footprint and cost of a model on the emulated Cortex-M boards (examples/firmware):
#
#   scripts/firmware-report.sh [--model NAME] [--header-dir DIR] [--build-root DIR]
#                              [--validate-count] [BUILD_DIR...]
#
# With BUILD_DIRs (built examples/firmware folders, as the firmware tests leave them), reports
# those. Without, first configures and builds the model for mps2-an385 (Cortex-M3) and
# microbit (Cortex-M0) in BUILD_ROOT/<model>-<board> (default build/fw-report; default model
# tiny_fc, the stand-in in examples/firmware/stand_in). Per build it prints:
#
#  - the sizes of .text, .rodata, the model's weights (.tsq_weights), .data and .bss, each
#    split by origin from the linker map: the model (its namespace and tsq's kernels, with the
#    strings of their Status messages), its weights, its test data, the harness and platform
#    (startup, semihosting, checks, measurements), libc and libgcc;
#  - the arena and the stack the model uses, measured on the target (painted memory);
#  - the instructions of one inference (window 0), counted under QEMU: the program brackets the
#    call with firmware_trace_begin/firmware_trace_end, QEMU logs every translation block it
#    translates (-d in_asm: the instructions in each) and every block it executes (-d exec,
#    with nochain so that no execution escapes the log), and the count is the sum of the sizes
#    of the blocks executed inside the bracket, less that of an empty bracket. The same run
#    counts a loop of known length: spin(2000) must count exactly 2000 instructions more than
#    spin(1000), or the report fails. --validate-count repeats the count with one instruction
#    per block (each logged execution is one instruction) and requires the same numbers.
#
# Instructions are not cycles: loads and taken branches take 2 or 3 cycles on a Cortex-M0 or
# M3, a multiply 1 or 32 on a Cortex-M0 (the chip's choice), and QEMU models no flash wait
# states.
# Tools: arm-none-eabi-size, qemu-system-arm (Debian: qemu-system-arm), awk; for building,
# cmake, arm-none-eabi-g++ and Ninja or make.
set -euo pipefail

root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=tiny_fc
header_dir=$root_dir/examples/firmware/stand_in
build_root=$root_dir/build/fw-report
validate=0
build_dirs=()
while (($# > 0)); do
  case $1 in
    --model) model=$2; shift 2 ;;
    --header-dir) header_dir=$2; shift 2 ;;
    --build-root) build_root=$2; shift 2 ;;
    --validate-count) validate=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) build_dirs+=("$1"); shift ;;
  esac
done

qemu=${QEMU:-qemu-system-arm}
size_tool=${ARM_NONE_EABI_SIZE:-arm-none-eabi-size}
for tool in "$qemu" "$size_tool" awk; do
  command -v "$tool" >/dev/null || {
    echo "firmware-report: $tool not found (Debian: qemu-system-arm gcc-arm-none-eabi)" >&2
    exit 2
  }
done

declare -A board_cpu=([mps2-an385]=cortex-m3 [microbit]=cortex-m0)

if ((${#build_dirs[@]} == 0)); then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  for board in mps2-an385 microbit; do
    dir=$build_root/$model-$board
    [[ -f $dir/CMakeCache.txt ]] && generator=()  # an existing folder keeps its generator
    if ! log=$(cmake -S "$root_dir/examples/firmware" -B "$dir" "${generator[@]}" \
      -DCMAKE_TOOLCHAIN_FILE="$root_dir/cmake/toolchains/arm-none-eabi.cmake" \
      -DTSQ_FIRMWARE_BOARD="$board" -DTSQ_FIRMWARE_CPU="${board_cpu[$board]}" \
      -DTSQ_FIRMWARE_MODEL="$model" -DTSQ_FIRMWARE_MODEL_DIR="$header_dir" 2>&1 &&
      cmake --build "$dir" --target model_check --parallel 2 2>&1); then
      echo "$log" >&2
      echo "firmware-report: building $model for $board in $dir failed" >&2
      exit 1
    fi
    build_dirs+=("$dir")
  done
fi

# The logged run of one program: "trace" on the semihosting command line selects the brackets
# (given as args, not -append: the command line would start with the ELF's path, any length).
qemu_trace() { # board elf log [extra qemu args...]
  local board=$1 elf=$2 log=$3
  shift 3
  timeout 300 "$qemu" -M "$board" -nographic \
    -semihosting-config enable=on,target=native,arg=model_check,arg=trace \
    -kernel "$elf" -d in_asm,exec,nochain -D "$log" "$@" </dev/null 2>&1
}

# The instructions inside each bracket, one line per bracket. `single`: every logged
# execution is one instruction (a run with one instruction per block); otherwise each counts
# the instructions of its block, from the block's translation in the same log.
count_brackets() { # log single
  awk -v single="$2" '
    /^IN:/ { block = 1; first = ""; n = 0; next }
    block && /^0x[0-9a-fA-F]+:/ {
      if (first == "") first = tolower(substr($1, 3, length($1) - 3))
      ++n
      next
    }
    block { if (first != "") size[first] = n; block = 0 }
    /^Trace / {
      split($4, field, "/")
      pc = tolower(field[2])
      if ($5 == "firmware_trace_begin") { counting = 1; count = 0; next }
      if ($5 == "firmware_trace_end") { if (counting) print count; counting = 0; next }
      if (!counting) next
      if (single) { ++count; next }
      if (!(pc in size)) {
        print "no translation logged for the block at 0x" pc > "/dev/stderr"
        exit 2
      }
      count += size[pc]
    }' "$1"
}

# The options of a run with one instruction per translation block (renamed in QEMU 8.1).
single_step_args() {
  if "$qemu" -accel tcg,help 2>&1 | grep -q one-insn-per-tb; then
    echo "-accel tcg,one-insn-per-tb=on"
  else
    echo "-singlestep"
  fi
}

# Sizes by output section and origin from the linker map (-Wl,-Map): "<origin> <section> <bytes>".
map_sizes() { # map model
  awk -v model="$2" '
    function hex(text, i, value) {  # mawk has no strtonum
      text = tolower(text)
      sub(/^0x/, "", text)
      value = 0
      for (i = 1; i <= length(text); ++i) {
        value = value * 16 + index("0123456789abcdef", substr(text, i, 1)) - 1
      }
      return value
    }
    function origin(object, name) {
      if (object ~ /\.a(\(|$)/) return "libraries"
      if (object ~ /platform\//) return "harness"
      if (name ~ /^\.rodata\.tsq_weights/) return "weights"
      if (name ~ /^\.rodata\.str/) return "strings"
      if (name ~ ("_ZNK?" length(model "_testdata") model "_testdata")) return "testdata"
      if (name ~ ("_ZNK?" length(model) model "[0-9E]") || name ~ /_ZNK?3tsq/) return "model"
      if (name ~ /_GLOBAL__N_15arenaE/) return "arena"  # model_check.cpp: the arena buffer
      return "harness"
    }
    function add(object, name, bytes) {
      if (section == "") return
      total[origin(object, name) " " section] += hex(bytes)
    }
    /^Linker script and memory map/ { started = 1; next }
    !started { next }
    /^\.[^ ]/ {  # an output section; only the ones that take flash or RAM count
      section = ""
      if ($1 ~ /^\.(vectors|text|ARM\.extab|ARM\.exidx|init_array)$/) section = "text"
      else if ($1 == ".rodata" || $1 == ".tsq_weights") section = "rodata"
      else if ($1 == ".data") section = "data"
      else if ($1 == ".bss") section = "bss"
      pending = ""
      next
    }
    /^ \*fill\*/ { if (section != "") total["padding " section] += hex($3); next }
    /^ [.A-Za-z_]/ && $1 !~ /^\*/ {  # an input section, its address on this line or the next
      if (NF >= 4 && $2 ~ /^0x/ && $3 ~ /^0x/) add($4, $1, $3)
      else if (NF == 1) pending = $1
      next
    }
    pending != "" && /^ +0x/ && $2 ~ /^0x/ { add($3, pending, $2); pending = ""; next }
    { pending = "" }
    END { for (key in total) print key, total[key] }
  ' "$1"
}

summary=()
failed=0
for dir in "${build_dirs[@]}"; do
  env_file=$dir/firmware_build.env
  if [[ ! -f $env_file ]]; then
    echo "$dir: no firmware_build.env (not an examples/firmware build)" >&2
    exit 2
  fi
  MODEL='' BOARD='' CPU='' ELF='' MAP=''
  # shellcheck disable=SC1090
  source "$env_file"
  [[ -f $ELF ]] || { echo "$ELF not built" >&2; exit 2; }

  echo "== $MODEL on $BOARD ($CPU): $ELF"
  declare -A section_bytes=()
  while read -r name bytes _; do
    section_bytes[$name]=$bytes
  done < <("$size_tool" -A -d "$ELF" | awk '$1 ~ /^\./ { print $1, $2 }')
  s() { echo "${section_bytes[$1]:-0}"; }
  text=$(($(s .vectors) + $(s .text) + $(s .ARM.exidx) + $(s .ARM.extab)))
  rodata=$(s .rodata)
  weights=$(s .tsq_weights)
  data=$(s .data)
  bss=$(s .bss)
  stack_reserved=$(s .stack)
  printf '  sections: .text %d (with vectors, exidx), .rodata %d, .tsq_weights %d, .data %d,' \
    "$text" "$rodata" "$weights" "$data"
  printf ' .bss %d, .stack %d\n' "$bss" "$stack_reserved"

  declare -A by_origin=()
  while read -r origin section bytes; do
    by_origin[$origin.$section]=$bytes
  done < <(map_sizes "$MAP" "$MODEL")
  o() { echo "${by_origin[$1.$2]:-0}"; }
  printf '  %-44s %7s %8s %7s %7s\n' "by origin (linker map)" .text .rodata .data .bss
  for origin in model weights testdata strings harness libraries arena padding; do
    case $origin in
      model) label="model: $MODEL:: and tsq:: code, constants" ;;
      weights) label="model weights (.rodata.tsq_weights)" ;;
      testdata) label="test data (${MODEL}_testdata)" ;;
      strings) label="strings shared by several functions" ;;
      harness) label="harness and platform" ;;
      libraries) label="libc, libgcc" ;;
      arena) label="arena (static, 16-byte aligned)" ;;
      padding) label="alignment" ;;
    esac
    printf '    %-42s %7d %8d %7d %7d\n' "$label" "$(o "$origin" text)" "$(o "$origin" rodata)" \
      "$(o "$origin" data)" "$(o "$origin" bss)"
  done

  log=$dir/trace.log
  if ! output=$(qemu_trace "$BOARD" "$ELF" "$log"); then
    printf '  | %s\n' "${output//$'\n'/$'\n'  | }"
    echo "  FAILED: the traced run did not pass its checks" >&2
    failed=1
    continue
  fi
  mapfile -t counts < <(count_brackets "$log" 0)
  if ((${#counts[@]} != 4)); then
    echo "  FAILED: expected 4 instruction-count brackets in $log, found ${#counts[@]}" >&2
    failed=1
    continue
  fi
  overhead=${counts[0]}
  calibration=$((counts[2] - counts[1]))
  inference=$((counts[3] - overhead))
  stack_used=$(sed -n 's/^stack used: \([0-9]*\) bytes.*/\1/p' <<<"$output")
  arena_line=$(sed -n 's/.*arena used: \([0-9]* of [0-9]*\) bytes.*/\1/p' <<<"$output")
  arena_bytes=${arena_line##* of }
  echo "  stack used by one inference: $stack_used bytes (of $stack_reserved reserved);" \
    "arena used: $arena_line bytes"
  echo "  instructions per inference: $inference (window 0; brackets $overhead, the" \
    "calibration loop counted $calibration of 2000)"
  if ((calibration != 2000)); then
    echo "  FAILED: the calibration loop of 2000 instructions was counted as $calibration" >&2
    failed=1
  fi
  if ((validate)); then
    single_log=$dir/trace-single.log
    # shellcheck disable=SC2046
    qemu_trace "$BOARD" "$ELF" "$single_log" $(single_step_args) >/dev/null
    mapfile -t single_counts < <(count_brackets "$single_log" 1)
    if [[ "${single_counts[*]}" == "${counts[*]}" ]]; then
      echo "  validated: one instruction per block counts the same (${counts[*]})"
    else
      echo "  FAILED: one instruction per block counts ${single_counts[*]}, blocks ${counts[*]}" >&2
      failed=1
    fi
    rm -f "$single_log"
  fi
  rm -f "$log"
  summary+=("$(printf '%-12s %-11s %7d %7d %8d %9d %7d %7d %12d' "$MODEL" "$BOARD" \
    "$(o model text)" "$(o model rodata)" "$weights" "$((data + bss))" \
    "$arena_bytes" "$stack_used" "$inference")")
  unset section_bytes by_origin
done

if ((${#summary[@]} > 0)); then
  echo
  printf '%-12s %-11s %7s %7s %8s %9s %7s %7s %12s\n' model board code consts weights \
    data+bss arena stack instructions
  printf '%s\n' "${summary[@]}"
  echo "code, consts: the model's .text and .rodata without weights; data+bss: the whole"
  echo "program's; arena: kArenaBytes; stack: bytes one inference uses"
fi
exit "$failed"
