# Fails when a layer below the actors includes a CAF header, or when any
# layer includes the headers of a layer it may not use. The include paths
# already reject most wrong llmmr includes at compile time; CAF lives in a
# system directory every target sees, so only this check catches it.
#
# usage: cmake -DSOURCE_DIR=<repo> -P check_layers.cmake
cmake_minimum_required(VERSION 3.25)
set(allowed_messages messages)
set(allowed_core messages core)
set(allowed_config messages core config)
set(allowed_backends messages core backends)
set(allowed_actors messages core config backends actors)
set(allowed_sim messages core sim)
set(no_caf messages core config backends sim)

set(problems "")
foreach(layer messages core config backends actors sim)
  file(GLOB_RECURSE files "${SOURCE_DIR}/${layer}/*.hpp" "${SOURCE_DIR}/${layer}/*.cpp")
  foreach(file IN LISTS files)
    file(STRINGS "${file}" includes REGEX "^[ \t]*#[ \t]*include")
    file(RELATIVE_PATH rel "${SOURCE_DIR}" "${file}")
    foreach(line IN LISTS includes)
      if(line MATCHES "<caf/" AND layer IN_LIST no_caf)
        string(APPEND problems "  ${rel}: ${line} (only actors/ may use CAF)\n")
      endif()
      if(line MATCHES "\"llmmr/([a-z_]+)/")
        set(target_layer "${CMAKE_MATCH_1}")
        if(NOT target_layer IN_LIST allowed_${layer})
          string(APPEND problems
                 "  ${rel}: ${line} (${layer} may not use ${target_layer})\n")
        endif()
      endif()
    endforeach()
  endforeach()
endforeach()
if(problems)
  message(FATAL_ERROR "layering violations:\n${problems}")
endif()
message(STATUS "layering: no violations")
