#pragma once
// RAII for Kokkos' global state. Kokkos must be initialised before the first kernel or
// View and finalised after the last View is gone, and it cannot be initialised twice in
// one process. A scope initialises Kokkos only when nobody has yet (so a program that
// manages Kokkos itself may still create one) and finalises only what it initialised.
#if defined(MIXGCN_HAS_KOKKOS)
#include <Kokkos_Core.hpp>

namespace mixgcn::backend {

class kokkos_scope {
public:
    // Kokkos reads its --kokkos-* flags from argv and removes them; argc is updated.
    kokkos_scope(int& argc, char* argv[]) {
        if (!Kokkos::is_initialized()) {
            Kokkos::initialize(argc, argv);
            owner_ = true;
        }
    }
    kokkos_scope() {
        if (!Kokkos::is_initialized()) {
            int argc = 0;
            char* argv[] = {nullptr};
            Kokkos::initialize(argc, argv);
            owner_ = true;
        }
    }
    kokkos_scope(const kokkos_scope&) = delete;
    kokkos_scope& operator=(const kokkos_scope&) = delete;
    ~kokkos_scope() {
        if (owner_) Kokkos::finalize();
    }
    // True when this scope called Kokkos::initialize (and will call finalize).
    bool owns() const noexcept { return owner_; }

private:
    bool owner_ = false;
};

}  // namespace mixgcn::backend
#endif  // MIXGCN_HAS_KOKKOS
