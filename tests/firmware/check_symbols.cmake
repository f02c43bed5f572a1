# The integer-only and no-heap promises, read from a firmware ELF's symbol table: fails if it
# contains a soft-float helper of libgcc (__aeabi_fmul, __aeabi_d2iz, __aeabi_i2f, __addsf3,
# ...), a libm function, or an allocation function. On a core without an FPU every float
# operation the compiler could not fold away becomes such a call.
#
#   cmake -DNM=arm-none-eabi-nm -DELF=<program.elf> [-DMAP=<linker map with --cref>]
#         [-DBUILD_DIR=<dir> -DTARGET=<target>] -P tests/firmware/check_symbols.cmake
#
# With MAP, each symbol found is listed with the objects that reference it (the map's cross
# reference table). With BUILD_DIR and TARGET, builds the program first.
cmake_minimum_required(VERSION 3.16)

if(NOT NM OR NOT ELF)
  message(FATAL_ERROR "check_symbols: -DNM and -DELF are required")
endif()
if(BUILD_DIR AND TARGET)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
    RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "check_symbols: building ${TARGET} in ${BUILD_DIR} failed")
  endif()
endif()

execute_process(COMMAND ${NM} ${ELF} RESULT_VARIABLE result OUTPUT_VARIABLE symbols
  ERROR_VARIABLE error)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "check_symbols: ${NM} ${ELF} failed: ${error}")
endif()

set(float_helpers
  "^__aeabi_[fd]"                      # __aeabi_fadd, __aeabi_dmul, __aeabi_f2d, __aeabi_d2iz
  "^__aeabi_c[fd]"                     # __aeabi_cfcmple, __aeabi_cdrcmple
  "^__aeabi_[a-z0-9]*2[fd]$"           # __aeabi_i2f, __aeabi_ul2d
  "^__[a-z]+(sf|df|tf|xf)[0-9]$"       # __addsf3, __eqdf2, __extendsfdf2, __powisf2
  "^__(fix|float)[a-z]*$"              # __fixdfsi, __fixunssfsi, __floatsisf
  "^__(mul|div)[sdtx]c3$")             # complex float
set(libm_functions
  "^(sqrt|cbrt|hypot|exp|exp2|expm1|log|log2|log10|log1p|pow|erf|erfc|lgamma|tgamma)[fl]?$"
  "^(sin|cos|tan|asin|acos|atan|atan2|sinh|cosh|tanh|asinh|acosh|atanh)[fl]?$"
  "^(ceil|floor|trunc|round|lround|llround|rint|lrint|llrint|nearbyint)[fl]?$"
  "^(fabs|fmod|remainder|remquo|fmin|fmax|fdim|fma|frexp|ldexp|modf|scalbn|scalbln)[fl]?$"
  "^(ilogb|logb|copysign|nan|nextafter|nexttoward)[fl]?$"
  "^__(ieee754|kernel|math)_" "^__fpclassify" "^__is(inf|nan)")
set(allocation_functions
  "^(malloc|free|calloc|realloc|memalign|aligned_alloc|posix_memalign|valloc|pvalloc)$"
  "^_(malloc|free|calloc|realloc|memalign)_r$" "^_sbrk(_r)?$"
  "^_Zn[wa]j")                         # operator new, new[] (all overloads)

string(REPLACE "\n" ";" lines "${symbols}")
set(found "")
foreach(line IN LISTS lines)
  # "<address> <type> <name>", or "<type> <name>" for an undefined symbol.
  if(NOT line MATCHES "([A-Za-z]) ([^ ]+)$")
    continue()
  endif()
  set(name ${CMAKE_MATCH_2})
  foreach(kind float_helpers libm_functions allocation_functions)
    foreach(pattern IN LISTS ${kind})
      if(name MATCHES "${pattern}")
        list(APPEND found "${name}")
        string(REPLACE "_" " " what "${kind}")
        list(APPEND found_${name} "${what}")
      endif()
    endforeach()
  endforeach()
endforeach()
list(REMOVE_DUPLICATES found)

if(NOT found)
  message(STATUS "check_symbols: ${ELF}: no soft-float helper, libm function or allocation")
  return()
endif()

set(report "")
if(MAP AND EXISTS ${MAP})
  file(READ ${MAP} map_text)
  string(FIND "${map_text}" "Cross Reference Table" cref_start)
  if(cref_start GREATER -1)
    string(SUBSTRING "${map_text}" ${cref_start} -1 cref)
    string(REPLACE "\n" ";" cref_lines "${cref}")
  endif()
endif()
foreach(name IN LISTS found)
  list(REMOVE_DUPLICATES found_${name})
  string(APPEND report "\n  ${name} (${found_${name}})")
  # The cross reference table: "<symbol> <defining object>", then one indented line per
  # object that references it.
  set(in_entry OFF)
  foreach(line IN LISTS cref_lines)
    if(in_entry)
      if(line MATCHES "^[ \t]+([^ \t].*)$")
        string(APPEND report "\n      referenced by ${CMAKE_MATCH_1}")
        continue()
      endif()
      break()
    endif()
    if(line MATCHES "^([^ \t]+)[ \t]+(.*)$" AND CMAKE_MATCH_1 STREQUAL name)
      string(APPEND report "\n      defined in ${CMAKE_MATCH_2}")
      set(in_entry ON)
    endif()
  endforeach()
endforeach()
list(LENGTH found count)
message(FATAL_ERROR "check_symbols: ${ELF} contains ${count} symbols of float arithmetic, libm "
                    "or a heap; an integer-only model must not need them:${report}")
