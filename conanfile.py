# Conan 2 recipe for mixgcn, a header-only library.
#
#   conan create . -s compiler.cppstd=20                    # default options: offline
#   conan create . -s compiler.cppstd=20 -o "mixgcn/*:kokkos=True"
#
# Dependencies come from Conan where Conan Center has them and from the system where it
# does not (see docs/conan.md):
#   eigen   "system" (default): the consumer's CMake finds Eigen3 (apt install
#           libeigen3-dev); "conan": requires eigen/3.4.0 from a remote.
#   openmp  compiler feature (default on): FindOpenMP in the consumer.
#   mpi     requires openmpi/4.1.6 (Conan Center).
#   metis   requires metis/5.2.1 (Conan Center).
#   gloo    system (libgloo-dev or Gloo_ROOT): not on Conan Center.
#   kokkos  system (Debian's libtrilinos-kokkos-dev, or Kokkos_ROOT for your own Kokkos 4).
#   cuda    system CUDA toolkit (FindCUDAToolkit).
#   zlib    "system" (default): the consumer's CMake finds zlib (apt install zlib1g-dev);
#           "conan": requires zlib/1.3.1 from a remote; "off": .gz input is refused.
# The system parts are found by small CMake build modules this package ships; CMakeDeps
# includes the ones the options select, so `find_package(mixgcn)` +
# `target_link_libraries(app PRIVATE mixgcn::mixgcn)` look the same as with an install.
import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load, save

# One build module per system dependency; each attaches what it finds to mixgcn::mixgcn.
_MODULES = {
    "eigen": """find_package(Eigen3 3.3 REQUIRED NO_MODULE)
set_property(TARGET mixgcn::mixgcn APPEND PROPERTY INTERFACE_LINK_LIBRARIES Eigen3::Eigen)
""",
    "openmp": """find_package(OpenMP REQUIRED COMPONENTS CXX)
set_property(TARGET mixgcn::mixgcn APPEND PROPERTY INTERFACE_LINK_LIBRARIES OpenMP::OpenMP_CXX)
""",
    "gloo": """list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")
find_package(Gloo MODULE REQUIRED)
set_property(TARGET mixgcn::mixgcn APPEND PROPERTY INTERFACE_LINK_LIBRARIES Gloo::gloo)
""",
    "kokkos": """list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")
find_package(MixgcnKokkos MODULE REQUIRED)
set_property(TARGET mixgcn::mixgcn APPEND PROPERTY INTERFACE_LINK_LIBRARIES mixgcn::kokkos)
""",
    "zlib": """find_package(ZLIB REQUIRED)
set_property(TARGET mixgcn::mixgcn APPEND PROPERTY INTERFACE_LINK_LIBRARIES ZLIB::ZLIB)
""",
    "cuda": """find_package(CUDAToolkit REQUIRED)
set_property(TARGET mixgcn::mixgcn APPEND PROPERTY INTERFACE_LINK_LIBRARIES CUDA::cudart)
""",
}
_CMAKE_DIR = os.path.join("lib", "cmake", "mixgcn")


class MixgcnConan(ConanFile):
    name = "mixgcn"
    description = "Header-only C++20 library for training Graph Convolutional Networks with mixed parallelism"
    license = "MIT"
    topics = ("gnn", "gcn", "hpc", "header-only", "mpi", "kokkos")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "eigen": ["system", "conan"],
        "openmp": [True, False],
        "mpi": [True, False],
        "gloo": [True, False],
        "metis": [True, False],
        "kokkos": [True, False],
        "cuda": [True, False],
        "zlib": ["system", "conan", "off"],
    }
    default_options = {
        "eigen": "system",
        "openmp": True,
        "mpi": False,
        "gloo": False,
        "metis": False,
        "kokkos": False,
        "cuda": False,
        "zlib": "system",
    }
    exports_sources = "include/*", "cmake/*", "CMakeLists.txt", "LICENSE"
    no_copy_source = True

    def set_version(self):
        # The version lives in one place: project(mixgcn VERSION ...) in CMakeLists.txt.
        if self.version:
            return
        text = load(self, os.path.join(self.recipe_folder, "CMakeLists.txt"))
        match = re.search(r"project\(\s*mixgcn\s+VERSION\s+([0-9.]+)", text)
        if not match:
            raise ConanInvalidConfiguration("mixgcn: no 'project(mixgcn VERSION x.y.z' in CMakeLists.txt")
        self.version = match.group(1)

    def requirements(self):
        if self.options.eigen == "conan":
            self.requires("eigen/3.4.0")
        if self.options.mpi:
            self.requires("openmpi/4.1.6")
        if self.options.metis:
            self.requires("metis/5.2.1")
        if self.options.zlib == "conan":
            self.requires("zlib/1.3.1")

    def validate(self):
        if self.settings.get_safe("compiler.cppstd"):
            check_min_cppstd(self, 20)

    def package_id(self):
        # Headers only: one package serves every configuration and option set (the
        # options change package_info, not the files).
        self.info.clear()

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        copy(self, "*.hpp", os.path.join(self.source_folder, "include"), os.path.join(self.package_folder, "include"))
        copy(self, "Find*.cmake", os.path.join(self.source_folder, "cmake"),
             os.path.join(self.package_folder, _CMAKE_DIR))
        for part, text in _MODULES.items():
            save(self, os.path.join(self.package_folder, _CMAKE_DIR, f"mixgcn-conan-{part}.cmake"),
                 f"# Attaches the system's {part} to mixgcn::mixgcn (included by CMakeDeps).\n{text}")

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "mixgcn")
        self.cpp_info.set_property("cmake_target_name", "mixgcn::mixgcn")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.builddirs = [_CMAKE_DIR]
        modules, defines, requires = [], [], []
        if self.options.eigen == "system":
            modules.append("eigen")
        else:
            requires.append("eigen::eigen")
        if self.options.openmp:
            modules.append("openmp")
            defines.append("MIXGCN_HAS_OPENMP=1")
        if self.options.mpi:
            requires.append("openmpi::openmpi")
            defines.append("MIXGCN_HAS_MPI=1")
        if self.options.metis:
            requires.append("metis::metis")
            defines.append("MIXGCN_HAS_METIS=1")
        if self.options.zlib == "system":
            modules.append("zlib")
        elif self.options.zlib == "conan":
            requires.append("zlib::zlib")
        if self.options.zlib != "off":
            defines.append("MIXGCN_HAS_ZLIB=1")
        for part in ("gloo", "kokkos"):
            if self.options.get_safe(part):
                modules.append(part)
                defines.append(f"MIXGCN_HAS_{part.upper()}=1")
        if self.options.cuda:
            # The toolkit only: CUDA kernels are compiled in the consumer's .cu targets,
            # as with the CMake package.
            modules.append("cuda")
        self.cpp_info.defines = defines
        self.cpp_info.requires = requires
        self.cpp_info.set_property("cmake_build_modules",
                                   [os.path.join(_CMAKE_DIR, f"mixgcn-conan-{m}.cmake") for m in modules])
