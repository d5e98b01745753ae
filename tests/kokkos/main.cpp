// doctest main with Kokkos initialised around the whole run.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "mixgcn/backend/kokkos/scope.hpp"

int main(int argc, char** argv) {
    mixgcn::backend::kokkos_scope kokkos(argc, argv);
    doctest::Context context(argc, argv);
    return context.run();
}
