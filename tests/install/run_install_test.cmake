# The `install` test: installs the build tree into a fresh prefix, then
# configures, builds and runs the consumer project in this directory against
# that prefix only.
#
# cmake -DBUILD_DIR=<llmmr build tree> -DSOURCE_DIR=<llmmr source tree>
#       -DWORK_DIR=<scratch dir> [-DLAUNCHER=<compiler launcher>]
#       -P run_install_test.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "run_install_test.cmake: ${var} is not set")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/consumer")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

message(STATUS "Installing ${BUILD_DIR} into ${prefix}")
execute_process(
  COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}"
  OUTPUT_QUIET
  COMMAND_ERROR_IS_FATAL ANY)

# Public headers are there under include/llmmr/<layer>/, internal ones not.
foreach(header actors/pipeline.hpp backends/client_factory.hpp
               config/settings.hpp core/approx_tokenizer.hpp
               core/hf_tokenizer.hpp core/tiktoken.hpp
               messages/job_result.hpp)
  if(NOT EXISTS "${prefix}/include/llmmr/${header}")
    message(FATAL_ERROR "not installed: include/llmmr/${header}")
  endif()
endforeach()
if(EXISTS "${prefix}/include/llmmr/config/settings_schema.hpp")
  message(FATAL_ERROR "an internal header was installed: settings_schema.hpp")
endif()
file(GLOB config_file "${prefix}/lib*/cmake/llmmr/llmmrConfig.cmake")
if(NOT config_file)
  message(FATAL_ERROR "no llmmrConfig.cmake under ${prefix}")
endif()

set(launcher_arg "")
if(LAUNCHER)
  set(launcher_arg "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}")
endif()
message(STATUS "Configuring the consumer against ${prefix}")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/install"
          -B "${consumer_build}" "-DCMAKE_PREFIX_PATH=${prefix}"
          -DCMAKE_BUILD_TYPE=Release -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
          ${launcher_arg}
  COMMAND_ERROR_IS_FATAL ANY)
message(STATUS "Building the consumer")
execute_process(
  COMMAND "${CMAKE_COMMAND}" --build "${consumer_build}"
  COMMAND_ERROR_IS_FATAL ANY)
message(STATUS "Running the consumer")
execute_process(
  COMMAND "${consumer_build}/consumer"
  COMMAND_ERROR_IS_FATAL ANY)
file(REMOVE_RECURSE "${WORK_DIR}")
