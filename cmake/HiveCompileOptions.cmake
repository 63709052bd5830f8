# Warnings and sanitizers for every hive target, through one interface target.
add_library(hive_compile_options INTERFACE)
target_compile_options(hive_compile_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Wimplicit-fallthrough -Werror=return-type>)

# Math flags PyTorch builds with too: math functions need not set errno and floating-point ops
# need not preserve trap flags, which lets GCC vectorize loops with sqrt, min/max and selects.
# NaN and infinity semantics are unchanged (no -ffast-math).
target_compile_options(hive_compile_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-fno-math-errno -fno-trapping-math>)

# The instruction set for hive's own loops. x86-64-v3 (AVX2 + FMA; every x86 server since 2013)
# by default; "native" for this machine only, or "" for the compiler's baseline. One value for
# the whole project: mixing would let the linker pick an AVX2 copy of an inline function for
# baseline code. Floating-point contraction stays off (ISO C++ mode), so results do not depend
# on this choice except for the order of vectorized sums.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(HIVE_CPU_ARCH "x86-64-v3" CACHE STRING "-march for hive's code (x86-64-v3, native, or empty)")
else()
  set(HIVE_CPU_ARCH "" CACHE STRING "-march for hive's code (empty: compiler default)")
endif()
if(HIVE_CPU_ARCH)
  target_compile_options(hive_compile_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=${HIVE_CPU_ARCH}>)
endif()

if(HIVE_SANITIZE AND HIVE_SANITIZE_THREAD)
  message(FATAL_ERROR "HIVE_SANITIZE (ASan+UBSan) and HIVE_SANITIZE_THREAD (TSan) exclude each other")
endif()
if(HIVE_SANITIZE)
  target_compile_options(hive_compile_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(hive_compile_options INTERFACE -fsanitize=address,undefined)
endif()
if(HIVE_SANITIZE_THREAD)
  target_compile_options(hive_compile_options INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(hive_compile_options INTERFACE -fsanitize=thread)
endif()
