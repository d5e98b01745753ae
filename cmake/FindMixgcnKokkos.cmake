# Finds Kokkos for mixgcn and defines mixgcn::kokkos.
# 1. A working Kokkos installation of the user's (Kokkos_ROOT / CMAKE_PREFIX_PATH):
#    find_package(Kokkos CONFIG) providing Kokkos::kokkos.
# 2. Debian's libtrilinos-kokkos-dev, whose KokkosConfig.cmake is broken (its target
#    points at a missing include directory): headers in <include>/trilinos, library
#    trilinos_kokkoscore. Its headers warn under C++20, so they are SYSTEM includes.
set(MIXGCN_KOKKOS_USE_TRILINOS OFF CACHE BOOL "Use Debian's Trilinos-bundled Kokkos even when a Kokkos CMake package is found")
if(NOT MIXGCN_KOKKOS_USE_TRILINOS)
  find_package(Kokkos CONFIG QUIET NO_SYSTEM_ENVIRONMENT_PATH NO_CMAKE_SYSTEM_PATH)
endif()
if(TARGET Kokkos::kokkos)
  if(NOT TARGET mixgcn::kokkos)
    add_library(mixgcn::kokkos INTERFACE IMPORTED)
    set_target_properties(mixgcn::kokkos PROPERTIES INTERFACE_LINK_LIBRARIES Kokkos::kokkos)
  endif()
  set(MixgcnKokkos_FOUND TRUE)
  if(NOT MixgcnKokkos_FIND_QUIETLY)
    message(STATUS "Found MixgcnKokkos: Kokkos ${Kokkos_VERSION} package in ${Kokkos_DIR}")
  endif()
  return()
endif()
find_path(MixgcnKokkos_INCLUDE_DIR Kokkos_Core.hpp PATH_SUFFIXES trilinos)
find_library(MixgcnKokkos_CORE_LIBRARY NAMES trilinos_kokkoscore kokkoscore)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(MixgcnKokkos REQUIRED_VARS MixgcnKokkos_CORE_LIBRARY MixgcnKokkos_INCLUDE_DIR)
if(MixgcnKokkos_FOUND AND NOT TARGET mixgcn::kokkos)
  find_package(Threads REQUIRED)
  add_library(mixgcn::kokkos UNKNOWN IMPORTED)
  set_target_properties(mixgcn::kokkos PROPERTIES IMPORTED_LOCATION "${MixgcnKokkos_CORE_LIBRARY}"
                        INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${MixgcnKokkos_INCLUDE_DIR}"
                        INTERFACE_INCLUDE_DIRECTORIES "${MixgcnKokkos_INCLUDE_DIR}"
                        INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS}")
endif()
mark_as_advanced(MixgcnKokkos_INCLUDE_DIR MixgcnKokkos_CORE_LIBRARY)
