# t2s_collect_sources(<out> <dir>...)
#
# Every .c under the given directories (recursively, re-globbed at build time
# so new files need no CMake edit), with platform files picked by suffix:
# <name>_linux.c only on Linux, <name>_darwin.c only on Apple; files without
# such a suffix are portable and always included.
function(t2s_collect_sources out)
  set(globs "")
  foreach(dir IN LISTS ARGN)
    list(APPEND globs "${PROJECT_SOURCE_DIR}/${dir}/*.c")
  endforeach()
  file(GLOB_RECURSE files CONFIGURE_DEPENDS LIST_DIRECTORIES false ${globs})

  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    set(this_os linux)
  elseif(APPLE)
    set(this_os darwin)
  else()
    set(this_os "")
  endif()
  set(result "")
  foreach(f IN LISTS files)
    get_filename_component(name "${f}" NAME)
    if(name MATCHES "_(linux|darwin)\\.c$" AND NOT CMAKE_MATCH_1 STREQUAL this_os)
      continue()
    endif()
    list(APPEND result "${f}")
  endforeach()
  list(SORT result)
  set(${out} "${result}" PARENT_SCOPE)
endfunction()
