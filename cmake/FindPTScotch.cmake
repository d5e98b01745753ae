# Finds PT-Scotch 7 (Debian: libptscotch-dev), preferring its 64-bit build
# (/usr/include/scotch-int64, <libdir>/scotch-int64: SCOTCH_Num = int64_t), and defines
# the imported target PTScotch::ptscotch (ptscotch, scotch and their error handlers).
# The header and the libraries come from the same build: mixing the 32- and 64-bit ones
# would pass int64 arrays to int32 code.
set(_pts_arch_lib "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}")
find_path(PTScotch_INCLUDE_DIR ptscotch.h PATHS /usr/include/scotch-int64 NO_DEFAULT_PATH)
if(PTScotch_INCLUDE_DIR)
  set(_pts_lib_hints "${_pts_arch_lib}/scotch-int64")
  set(_pts_no_default NO_DEFAULT_PATH)
else()
  find_path(PTScotch_INCLUDE_DIR ptscotch.h PATH_SUFFIXES scotch)
  set(_pts_lib_hints "")
  set(_pts_no_default "")
endif()
foreach(_lib ptscotch scotch ptscotcherr scotcherr)
  find_library(PTScotch_${_lib}_LIBRARY NAMES ${_lib} PATHS ${_pts_lib_hints} ${_pts_no_default})
  mark_as_advanced(PTScotch_${_lib}_LIBRARY)
endforeach()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(PTScotch REQUIRED_VARS PTScotch_ptscotch_LIBRARY PTScotch_scotch_LIBRARY
                                  PTScotch_ptscotcherr_LIBRARY PTScotch_scotcherr_LIBRARY PTScotch_INCLUDE_DIR)
if(PTScotch_FOUND AND NOT TARGET PTScotch::ptscotch)
  add_library(PTScotch::ptscotch INTERFACE IMPORTED)
  set_target_properties(PTScotch::ptscotch PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${PTScotch_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${PTScotch_ptscotch_LIBRARY};${PTScotch_scotch_LIBRARY};${PTScotch_ptscotcherr_LIBRARY};${PTScotch_scotcherr_LIBRARY}")
endif()
mark_as_advanced(PTScotch_INCLUDE_DIR)
