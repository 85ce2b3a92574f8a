# Compiler flags.
#
# - t2s_warnings: an INTERFACE target carrying the project's warnings; link it
#   PRIVATE into project targets only, so third-party code keeps its own.
# - T2S_SANITIZE / T2S_FUZZ: sanitizer flags applied to every target created
#   after this file is included (third-party code and tests too), which is
#   why the top CMakeLists.txt includes it before adding any dependency.
#   T2S_FUZZ_FLAGS is the extra coverage instrumentation for the code worth
#   fuzzing (project code and lwIP); fuzz targets link with -fsanitize=fuzzer.

add_library(t2s_warnings INTERFACE)
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(t2s_warnings INTERFACE -Wall -Wextra)
  if(T2S_WERROR)
    target_compile_options(t2s_warnings INTERFACE -Werror)
  endif()
elseif(MSVC)
  target_compile_options(t2s_warnings INTERFACE /W4)
endif()

set(T2S_FUZZ_FLAGS "")
if(T2S_FUZZ OR T2S_SANITIZE)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "T2S_SANITIZE/T2S_FUZZ need GCC or Clang")
  endif()
  set(_t2s_san -fsanitize=address,undefined -fno-omit-frame-pointer
               -fno-sanitize-recover=undefined)
  add_compile_options(${_t2s_san})
  add_link_options(-fsanitize=address,undefined)
  unset(_t2s_san)
endif()
if(T2S_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR
      "T2S_FUZZ needs clang (libFuzzer): configure a fresh build dir with "
      "CC=clang, or use scripts/build.sh --fuzz")
  endif()
  set(T2S_FUZZ_FLAGS -fsanitize=fuzzer-no-link)
endif()

# RelWithDebInfo is the default build type and means "-O2 -g": keep assert()
# live in project code and tests. Call after adding third-party directories,
# which keep CMake's -DNDEBUG (each directory uses the value its scope ends
# with).
macro(t2s_keep_asserts_in_relwithdebinfo)
  string(REPLACE "-DNDEBUG" "" CMAKE_C_FLAGS_RELWITHDEBINFO
                 "${CMAKE_C_FLAGS_RELWITHDEBINFO}")
  string(STRIP "${CMAKE_C_FLAGS_RELWITHDEBINFO}" CMAKE_C_FLAGS_RELWITHDEBINFO)
endmacro()
