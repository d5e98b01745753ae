# Runs as `cmake -P`: installs mixgcn into a temporary prefix (find_package mode) or
# points FetchContent at the source tree, then configures, builds and runs the consumer.
# Variables: MODE, SOURCE, WORK, GENERATOR.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
set(common -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release -DMIXGCN_WITH_CUDA=OFF)
if(MODE STREQUAL "find_package")
  # The project's defaults for what installs (tools, Python module) and nothing built: the
  # install must still succeed, with the headers and the package, and no tool. (Tests,
  # benches and examples install nothing; off to keep the configuration short.)
  step(${CMAKE_COMMAND} -S ${SOURCE} -B ${WORK}/mixgcn-build ${common} -DMIXGCN_BUILD_TESTS=OFF
       -DMIXGCN_BUILD_BENCH=OFF -DMIXGCN_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX=${WORK}/prefix)
  step(${CMAKE_COMMAND} --install ${WORK}/mixgcn-build)
  foreach(f include/mixgcn/mixgcn.hpp share/cmake/mixgcn/mixgcnConfig.cmake)
    if(NOT EXISTS ${WORK}/prefix/${f})
      message(FATAL_ERROR "install of an unbuilt tree: ${f} is missing")
    endif()
  endforeach()
  if(EXISTS ${WORK}/prefix/bin/mixgcn-train)
    message(FATAL_ERROR "install of an unbuilt tree installed a tool it did not build")
  endif()
  step(${CMAKE_COMMAND} -S ${SOURCE}/tests/consumers/app -B ${WORK}/app ${common} -DCONSUME_VIA=find_package
       -DCMAKE_PREFIX_PATH=${WORK}/prefix)
else()
  step(${CMAKE_COMMAND} -S ${SOURCE}/tests/consumers/app -B ${WORK}/app ${common} -DCONSUME_VIA=fetchcontent
       -DMIXGCN_SOURCE=${SOURCE})
endif()
step(${CMAKE_COMMAND} --build ${WORK}/app)
step(${WORK}/app/consumer)
message(STATUS "consumer (${MODE}) built and ran")
