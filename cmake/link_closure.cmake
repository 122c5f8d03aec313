# sluice_check_link_closure(<target> FORBID <prefix>...): fails the
# configure step when anything <target> links, directly or through the
# targets it links, starts with one of the prefixes. For libraries that
# promise a small footprint (client/CMakeLists.txt).
#
# Only the libraries named in this project are followed; an imported
# target (RocksDB::, PkgConfig::) is a leaf. The check runs at the end of
# the configure step, when every target exists.
function(sluice_check_link_closure target)
  cmake_parse_arguments(ARG "" "" "FORBID" ${ARGN})
  set_property(GLOBAL APPEND PROPERTY SLUICE_LINK_CHECKS "${target}")
  set_property(GLOBAL PROPERTY SLUICE_LINK_FORBID_${target} "${ARG_FORBID}")
  # A deferred call expands its arguments when it runs: EVAL fixes them now.
  cmake_language(EVAL CODE "cmake_language(DEFER DIRECTORY [[${PROJECT_SOURCE_DIR}]] CALL _sluice_run_link_check [[${target}]])")
endfunction()

function(_sluice_link_closure target out)
  set(seen "")
  set(todo ${target})
  while(todo)
    list(POP_FRONT todo t)
    if(t IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${t})
    if(NOT TARGET ${t})
      continue()
    endif()
    get_target_property(imported ${t} IMPORTED)
    if(imported)
      continue()
    endif()
    get_target_property(libs ${t} LINK_LIBRARIES)
    get_target_property(ilibs ${t} INTERFACE_LINK_LIBRARIES)
    foreach(l IN LISTS libs ilibs)
      if(NOT l OR l MATCHES "-NOTFOUND$")
        continue()
      endif()
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" l "${l}")
      list(APPEND todo "${l}")
    endforeach()
  endwhile()
  set(${out} "${seen}" PARENT_SCOPE)
endfunction()

function(_sluice_run_link_check target)
  get_property(forbid GLOBAL PROPERTY SLUICE_LINK_FORBID_${target})
  _sluice_link_closure(${target} closure)
  foreach(lib IN LISTS closure)
    foreach(prefix IN LISTS forbid)
      string(FIND "${lib}" "${prefix}" at)
      if(at EQUAL 0)
        message(FATAL_ERROR "${target} must not link ${lib} (it links: ${closure})")
      endif()
    endforeach()
  endforeach()
endfunction()
