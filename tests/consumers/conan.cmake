# Included by tests/consumers/CMakeLists.txt: `conan create` on this tree, then a
# consumer built against the package (default options, and kokkos=True when this build
# found Kokkos). Skipped (exit 77) when conan is not installed.
find_program(MIXGCN_BASH bash)
if(MIXGCN_BASH)
  set(_mixgcn_conan_kokkos 0)
  if(MIXGCN_WITH_KOKKOS)
    set(_mixgcn_conan_kokkos 1)
  endif()
  add_test(NAME consumer_conan
           COMMAND ${MIXGCN_BASH} ${CMAKE_CURRENT_LIST_DIR}/conan/run.sh ${PROJECT_SOURCE_DIR}
                   ${CMAKE_CURRENT_BINARY_DIR}/conan ${_mixgcn_conan_kokkos} ${CMAKE_GENERATOR})
  set_tests_properties(consumer_conan PROPERTIES LABELS consumer SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()
