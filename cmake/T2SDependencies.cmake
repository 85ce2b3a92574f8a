# Third-party dependencies, exposed as t2s::cares, t2s::mbedtls (mbedtls +
# mbedx509 + mbedcrypto), t2s::uv, t2s::yaml, t2s::curl, t2s::pcre2, t2s::idn2, t2s::zstd, t2s::maxminddb, t2s::protobuf_c and t2s::psl; for lwIP it sets
# T2S_LWIP_DIR (the lwIP 2.2.1 source tree) for lwip-port/CMakeLists.txt,
# which builds t2s::lwip with the project's options.
#
# Where each comes from, first match wins:
#   lwIP          T2S_LWIP_SOURCE_DIR, the deps file, FetchContent (git).
#                 Never the system's liblwip: our lwipopts.h must apply.
#   c-ares        T2S_CARES_SOURCE_DIR, the deps file, system (pkg-config
#                 libcares >= 1.28 < 2), FetchContent (git).
#   mbedTLS       T2S_MBEDTLS_SOURCE_DIR, the deps file, system (pkg-config
#                 mbedtls >= 3.6 < 3.7), FetchContent (git).
#   libuv, libyaml, libcurl, PCRE2, libpsl  system (pkg-config, else find_library).
# The deps file (T2S_DEPS_FILE) is written by scripts/deps.sh; on Debian it
# points at pinned upstream tarballs unpacked from Debian source packages.
# Sources are added with EXCLUDE_FROM_ALL: only what we link gets built.

include(FetchContent)
find_package(PkgConfig QUIET)
find_package(Threads REQUIRED)

set(T2S_DEPS_FILE "${PROJECT_SOURCE_DIR}/build/deps/deps.cmake" CACHE FILEPATH
    "File written by scripts/deps.sh naming pinned dependency source trees")
set(T2S_LWIP_SOURCE_DIR "" CACHE PATH "lwIP 2.2.1 source tree (overrides the deps file)")
set(T2S_CARES_SOURCE_DIR "" CACHE PATH "c-ares source tree (overrides the deps file and the system)")
set(T2S_MBEDTLS_SOURCE_DIR "" CACHE PATH "mbedTLS 3.6 source tree (overrides the deps file and the system)")
# Used only when nothing above provides a dependency (e.g. macOS without
# Homebrew's c-ares/mbedtls): upstream git, pinned tags.
set(T2S_LWIP_GIT_REPOSITORY "https://git.savannah.nongnu.org/git/lwip.git" CACHE STRING "")
set(T2S_LWIP_GIT_TAG "STABLE-2_2_1_RELEASE" CACHE STRING "")
set(T2S_CARES_GIT_REPOSITORY "https://github.com/c-ares/c-ares.git" CACHE STRING "")
set(T2S_CARES_GIT_TAG "v1.34.8" CACHE STRING "")
set(T2S_MBEDTLS_GIT_REPOSITORY "https://github.com/Mbed-TLS/mbedtls.git" CACHE STRING "")
set(T2S_MBEDTLS_GIT_TAG "v3.6.7" CACHE STRING "")

set(T2S_DEPS_LWIP_SOURCE_DIR "")
set(T2S_DEPS_CARES_SOURCE_DIR "")
set(T2S_DEPS_MBEDTLS_SOURCE_DIR "")
if(T2S_DEPS_FILE AND EXISTS "${T2S_DEPS_FILE}")
  include("${T2S_DEPS_FILE}")
endif()

set(T2S_DEPENDENCY_SUMMARY "")
macro(t2s_dep_summary name how)
  list(APPEND T2S_DEPENDENCY_SUMMARY "${name}: ${how}")
endmacro()

# --- helpers -----------------------------------------------------------------

# Chooses the source tree for a dependency: the cache variable, else the deps
# file; sets <out> (empty when neither names one).
function(t2s_pick_source out cache_var deps_var)
  set(dir "")
  if(${cache_var})
    set(dir "${${cache_var}}")
  elseif(${deps_var})
    set(dir "${${deps_var}}")
  endif()
  if(dir AND NOT IS_DIRECTORY "${dir}")
    message(FATAL_ERROR "${cache_var}: ${dir} is not a directory (re-run scripts/deps.sh)")
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()

# Populates <name> from git without adding its CMakeLists.txt (we add it
# ourselves, EXCLUDE_FROM_ALL, or not at all for lwIP); sets <out>.
function(t2s_fetch out name repository tag)
  message(STATUS "Fetching ${name} ${tag} from ${repository}")
  FetchContent_Declare(${name}
    GIT_REPOSITORY "${repository}"
    GIT_TAG "${tag}"
    GIT_SHALLOW TRUE
    SOURCE_SUBDIR t2s-populate-only)
  FetchContent_MakeAvailable(${name})
  string(TOLOWER "${name}" lname)
  set(${out} "${${lname}_SOURCE_DIR}" PARENT_SCOPE)
endfunction()

# Reads "#define NAME value" from a header; sets <out> to the value without
# quotes (empty if missing).
function(t2s_read_define out header name)
  set(value "")
  if(EXISTS "${header}")
    file(STRINGS "${header}" line REGEX "^#[ \t]*define[ \t]+${name}[ \t]+" LIMIT_COUNT 1)
    string(REGEX REPLACE "^#[ \t]*define[ \t]+${name}[ \t]+\"?([^\" \t]*)\"?.*$" "\\1" value "${line}")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# Fails unless min <= version < max_excl.
function(t2s_require_version what version min max_excl where)
  if(NOT version OR version VERSION_LESS min OR NOT version VERSION_LESS max_excl)
    message(FATAL_ERROR "${what} '${version}' in ${where} is outside the supported "
                        "range [${min}, ${max_excl})")
  endif()
endfunction()

# A system library through pkg-config, else find_path/find_library; links it
# into the INTERFACE target <target>. Fatal if not found.
function(t2s_system_lib target module header lib hint)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(T2S_PC_${target} QUIET IMPORTED_TARGET GLOBAL ${module})
    if(T2S_PC_${target}_FOUND)
      target_link_libraries(${target} INTERFACE PkgConfig::T2S_PC_${target})
      set(T2S_SYSTEM_LIB_VERSION "${T2S_PC_${target}_VERSION}" PARENT_SCOPE)
      return()
    endif()
  endif()
  find_path(T2S_${target}_INCLUDE_DIR ${header})
  find_library(T2S_${target}_LIBRARY ${lib})
  if(NOT T2S_${target}_INCLUDE_DIR OR NOT T2S_${target}_LIBRARY)
    message(FATAL_ERROR "${module} not found (${hint}); scripts/deps.sh installs it")
  endif()
  target_include_directories(${target} SYSTEM INTERFACE "${T2S_${target}_INCLUDE_DIR}")
  target_link_libraries(${target} INTERFACE "${T2S_${target}_LIBRARY}")
  set(T2S_SYSTEM_LIB_VERSION "unknown version, ${T2S_${target}_LIBRARY}" PARENT_SCOPE)
endfunction()

# --- lwIP (source only) ------------------------------------------------------

t2s_pick_source(T2S_LWIP_DIR T2S_LWIP_SOURCE_DIR T2S_DEPS_LWIP_SOURCE_DIR)
set(_t2s_how "source")
if(NOT T2S_LWIP_DIR)
  t2s_fetch(T2S_LWIP_DIR t2s_lwip_src "${T2S_LWIP_GIT_REPOSITORY}" "${T2S_LWIP_GIT_TAG}")
  set(_t2s_how "git ${T2S_LWIP_GIT_TAG}")
endif()
foreach(_p IN ITEMS MAJOR MINOR REVISION)
  t2s_read_define(_t2s_lwip_${_p} "${T2S_LWIP_DIR}/src/include/lwip/init.h" "LWIP_VERSION_${_p}")
endforeach()
set(T2S_LWIP_VERSION "${_t2s_lwip_MAJOR}.${_t2s_lwip_MINOR}.${_t2s_lwip_REVISION}")
if(NOT T2S_LWIP_VERSION VERSION_EQUAL "2.2.1")
  message(FATAL_ERROR "lwIP in ${T2S_LWIP_DIR} is '${T2S_LWIP_VERSION}', need exactly 2.2.1")
endif()
t2s_dep_summary("lwIP" "${T2S_LWIP_VERSION} (${_t2s_how}: ${T2S_LWIP_DIR})")

# --- c-ares ------------------------------------------------------------------

function(t2s_add_cares_source dir)
  t2s_read_define(version "${dir}/include/ares_version.h" ARES_VERSION_STR)
  t2s_require_version("c-ares" "${version}" 1.28 2 "${dir}")
  # option() must honour these plain variables (c-ares sets policies <= 3.10).
  set(CMAKE_POLICY_DEFAULT_CMP0077 NEW)
  set(CMAKE_WARN_DEPRECATED OFF)
  set(CARES_STATIC ON)
  set(CARES_SHARED OFF)
  set(CARES_STATIC_PIC ON)
  set(CARES_BUILD_TOOLS OFF)
  set(CARES_BUILD_TESTS OFF)
  set(CARES_BUILD_CONTAINER_TESTS OFF)
  set(CARES_INSTALL OFF)
  add_subdirectory("${dir}" "${CMAKE_BINARY_DIR}/third_party/c-ares" EXCLUDE_FROM_ALL)
  # c-ares turns on its own warnings (e.g. -Wconversion, noisy with GCC's
  # sanitizer builds): not ours to fix, keep the build log for our code.
  get_target_property(real c-ares::cares_static ALIASED_TARGET)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${real} PRIVATE -w)
  endif()
  target_link_libraries(t2s_dep_cares INTERFACE c-ares::cares_static)
  set(T2S_CARES_VERSION "${version}" PARENT_SCOPE)
endfunction()

add_library(t2s_dep_cares INTERFACE)
t2s_pick_source(_t2s_dir T2S_CARES_SOURCE_DIR T2S_DEPS_CARES_SOURCE_DIR)
set(_t2s_how "source")
if(NOT _t2s_dir AND PKG_CONFIG_FOUND)
  pkg_check_modules(T2S_PC_CARES QUIET IMPORTED_TARGET GLOBAL "libcares>=1.28")
  if(T2S_PC_CARES_FOUND AND T2S_PC_CARES_VERSION VERSION_LESS 2)
    target_link_libraries(t2s_dep_cares INTERFACE PkgConfig::T2S_PC_CARES)
    t2s_dep_summary("c-ares" "${T2S_PC_CARES_VERSION} (system)")
    set(_t2s_how "system")
  endif()
endif()
if(NOT _t2s_how STREQUAL "system")
  if(NOT _t2s_dir)
    t2s_fetch(_t2s_dir t2s_cares_src "${T2S_CARES_GIT_REPOSITORY}" "${T2S_CARES_GIT_TAG}")
    set(_t2s_how "git ${T2S_CARES_GIT_TAG}")
  endif()
  t2s_add_cares_source("${_t2s_dir}")
  t2s_dep_summary("c-ares" "${T2S_CARES_VERSION} (${_t2s_how}: ${_t2s_dir})")
endif()
add_library(t2s::cares ALIAS t2s_dep_cares)

# --- mbedTLS -----------------------------------------------------------------

function(t2s_add_mbedtls_source dir)
  t2s_read_define(version "${dir}/include/mbedtls/build_info.h" MBEDTLS_VERSION_STRING)
  t2s_require_version("mbedTLS" "${version}" 3.6 3.7 "${dir}")
  set(CMAKE_POLICY_DEFAULT_CMP0077 NEW)
  set(CMAKE_WARN_DEPRECATED OFF)
  set(ENABLE_PROGRAMS OFF)
  set(ENABLE_TESTING OFF)
  set(USE_STATIC_MBEDTLS_LIBRARY ON)
  set(USE_SHARED_MBEDTLS_LIBRARY OFF)
  # Release tarballs and release tags carry the generated files: no python.
  set(GEN_FILES OFF)
  set(MBEDTLS_FATAL_WARNINGS OFF)
  set(DISABLE_PACKAGE_CONFIG_AND_INSTALL ON)
  set(INSTALL_MBEDTLS_HEADERS OFF)
  add_subdirectory("${dir}" "${CMAKE_BINARY_DIR}/third_party/mbedtls" EXCLUDE_FROM_ALL)
  # mbedtls -> mbedx509 -> mbedcrypto: the targets carry the link order.
  target_link_libraries(t2s_dep_mbedtls INTERFACE MbedTLS::mbedtls MbedTLS::mbedx509
                                                  MbedTLS::mbedcrypto)
  set(T2S_MBEDTLS_VERSION "${version}" PARENT_SCOPE)
endfunction()

add_library(t2s_dep_mbedtls INTERFACE)
t2s_pick_source(_t2s_dir T2S_MBEDTLS_SOURCE_DIR T2S_DEPS_MBEDTLS_SOURCE_DIR)
set(_t2s_how "source")
if(NOT _t2s_dir AND PKG_CONFIG_FOUND)
  # mbedTLS ships .pc files since 3.6; Debian 12's 2.28 has none.
  pkg_check_modules(T2S_PC_MBEDTLS QUIET IMPORTED_TARGET GLOBAL
                    "mbedtls>=3.6" mbedx509 mbedcrypto)
  if(T2S_PC_MBEDTLS_FOUND AND T2S_PC_MBEDTLS_mbedtls_VERSION VERSION_LESS 3.7)
    target_link_libraries(t2s_dep_mbedtls INTERFACE PkgConfig::T2S_PC_MBEDTLS)
    t2s_dep_summary("mbedTLS" "${T2S_PC_MBEDTLS_mbedtls_VERSION} (system)")
    set(_t2s_how "system")
  endif()
endif()
if(NOT _t2s_how STREQUAL "system")
  if(NOT _t2s_dir)
    t2s_fetch(_t2s_dir t2s_mbedtls_src "${T2S_MBEDTLS_GIT_REPOSITORY}" "${T2S_MBEDTLS_GIT_TAG}")
    set(_t2s_how "git ${T2S_MBEDTLS_GIT_TAG}")
  endif()
  t2s_add_mbedtls_source("${_t2s_dir}")
  t2s_dep_summary("mbedTLS" "${T2S_MBEDTLS_VERSION} (${_t2s_how}: ${_t2s_dir})")
endif()
add_library(t2s::mbedtls ALIAS t2s_dep_mbedtls)

# --- libuv, libyaml (system) --------------------------------------------------

add_library(t2s_dep_uv INTERFACE)
t2s_system_lib(t2s_dep_uv libuv uv.h uv "Debian: libuv1-dev, macOS: brew install libuv")
t2s_dep_summary("libuv" "${T2S_SYSTEM_LIB_VERSION} (system)")
add_library(t2s::uv ALIAS t2s_dep_uv)

add_library(t2s_dep_yaml INTERFACE)
t2s_system_lib(t2s_dep_yaml yaml-0.1 yaml.h yaml "Debian: libyaml-dev, macOS: brew install libyaml")
t2s_dep_summary("libyaml" "${T2S_SYSTEM_LIB_VERSION} (system)")
add_library(t2s::yaml ALIAS t2s_dep_yaml)

# The control API (tun2socks/api/, docs/design.md §20): libwebsockets
# (HTTP and WebSocket server on our libuv loop) and jansson (JSON).
add_library(t2s_dep_lws INTERFACE)
t2s_system_lib(t2s_dep_lws libwebsockets libwebsockets.h websockets
               "Debian: libwebsockets-dev, macOS: brew install libwebsockets")
t2s_dep_summary("libwebsockets" "${T2S_SYSTEM_LIB_VERSION} (system)")
add_library(t2s::lws ALIAS t2s_dep_lws)

add_library(t2s_dep_jansson INTERFACE)
t2s_system_lib(t2s_dep_jansson jansson jansson.h jansson
               "Debian: libjansson-dev, macOS: brew install jansson")
t2s_dep_summary("jansson" "${T2S_SYSTEM_LIB_VERSION} (system)")
add_library(t2s::jansson ALIAS t2s_dep_jansson)

# --- rule sets: PCRE2, libidn2, zstd (system) ---------------------------------
# Regex rules (config/rule_regex.c) and proxy-group filters (config/name_filter.c), IDN payloads to punycode
# (config/rules_parse.c), mihomo's binary rule sets (config/ruleset_mrs.c).

add_library(t2s_dep_pcre2 INTERFACE)
t2s_system_lib(t2s_dep_pcre2 libpcre2-8 pcre2.h pcre2-8 "Debian: libpcre2-dev, macOS: brew install pcre2")
t2s_dep_summary("PCRE2" "${T2S_SYSTEM_LIB_VERSION} (system)")
add_library(t2s::pcre2 ALIAS t2s_dep_pcre2)

add_library(t2s_dep_idn2 INTERFACE)
t2s_system_lib(t2s_dep_idn2 libidn2 idn2.h idn2 "Debian: libidn2-dev, macOS: brew install libidn2")
t2s_dep_summary("libidn2" "${T2S_SYSTEM_LIB_VERSION} (system)")
add_library(t2s::idn2 ALIAS t2s_dep_idn2)

add_library(t2s_dep_zstd INTERFACE)
t2s_system_lib(t2s_dep_zstd libzstd zstd.h zstd "Debian: libzstd-dev, macOS: brew install zstd")
t2s_dep_summary("zstd" "${T2S_SYSTEM_LIB_VERSION} (system)")
add_library(t2s::zstd ALIAS t2s_dep_zstd)

# GEOIP / IP-ASN (MaxMind DB files) and GEOSITE / geodata-mode GEOIP (v2ray
# protobuf, C generated by protoc-c at build time): tun2socks/route/geo.c.
add_library(t2s_dep_maxminddb INTERFACE)
t2s_system_lib(t2s_dep_maxminddb libmaxminddb maxminddb.h maxminddb "Debian: libmaxminddb-dev, macOS: brew install libmaxminddb")
t2s_dep_summary("libmaxminddb" "${T2S_SYSTEM_LIB_VERSION} (system)")
add_library(t2s::maxminddb ALIAS t2s_dep_maxminddb)

add_library(t2s_dep_protobuf_c INTERFACE)
t2s_system_lib(t2s_dep_protobuf_c libprotobuf-c protobuf-c/protobuf-c.h protobuf-c "Debian: libprotobuf-c-dev, macOS: brew install protobuf-c")
t2s_dep_summary("protobuf-c" "${T2S_SYSTEM_LIB_VERSION} (system)")
add_library(t2s::protobuf_c ALIAS t2s_dep_protobuf_c)
find_program(T2S_PROTOC_C protoc-c)
if(NOT T2S_PROTOC_C)
  message(FATAL_ERROR "protoc-c not found (Debian: protobuf-c-compiler, macOS: brew install protobuf-c); scripts/deps.sh installs it")
endif()

# libcurl: HTTP(S) downloads and health checks on the loop
# (tun2socks/upstream/http_client.c, docs/design.md §17).
add_library(t2s_dep_curl INTERFACE)
t2s_system_lib(t2s_dep_curl libcurl curl/curl.h curl
               "Debian: libcurl4-openssl-dev, macOS: brew install curl")
t2s_dep_summary("libcurl" "${T2S_SYSTEM_LIB_VERSION} (system)")
add_library(t2s::curl ALIAS t2s_dep_curl)

# libpsl: the public-suffix list, for load-balance groups' consistent
# hashing on a name's registrable domain (tun2socks/route/group.c).
add_library(t2s_dep_psl INTERFACE)
t2s_system_lib(t2s_dep_psl libpsl libpsl.h psl "Debian: libpsl-dev, macOS: brew install libpsl")
t2s_dep_summary("libpsl" "${T2S_SYSTEM_LIB_VERSION} (system)")
add_library(t2s::psl ALIAS t2s_dep_psl)

# --- libsystemd's sd-bus (system, Linux) ---------------------------------------
# systemd-resolved pointed at the TUN over D-Bus (tun2socks/system/
# resolved_linux.c, docs/design.md §13). Elsewhere t2s::systemd is empty.
add_library(t2s_dep_systemd INTERFACE)
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  t2s_system_lib(t2s_dep_systemd libsystemd systemd/sd-bus.h systemd
                 "Debian: libsystemd-dev")
  t2s_dep_summary("libsystemd" "${T2S_SYSTEM_LIB_VERSION} (system)")
endif()
add_library(t2s::systemd ALIAS t2s_dep_systemd)

unset(_t2s_dir)
unset(_t2s_how)
