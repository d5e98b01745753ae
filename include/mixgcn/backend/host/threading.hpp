#pragma once
// How the host backend splits work over OpenMP threads. Everything here degrades to a
// plain serial call when the translation unit is compiled without OpenMP (CMake adds
// -fopenmp together with MIXGCN_HAS_OPENMP; `_OPENMP` is what the compiler sets).
#include <cstddef>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace mixgcn::backend::host_detail {

// Below this many element operations a parallel region costs more than it saves
// (a region start is a few microseconds; one core streams ~1e9 floats a second).
inline constexpr std::size_t parallel_min_work = std::size_t{1} << 15;

inline int max_threads() noexcept {
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    return 1;
#endif
}

// Calls f(begin, end, thread, threads) on an even split of [0, n), in parallel when the
// estimated `work` pays for it. f must not throw: shape checks happen before.
template <class F>
void parallel_blocks(std::size_t n, std::size_t work, F&& f) {
#ifdef _OPENMP
    const int nt = max_threads();
    if (nt > 1 && work >= parallel_min_work && n > 1) {
#pragma omp parallel num_threads(nt)
        {
            const auto t = static_cast<std::size_t>(omp_get_thread_num());
            const auto k = static_cast<std::size_t>(omp_get_num_threads());
            f(n * t / k, n * (t + 1) / k, t, k);
        }
        return;
    }
#else
    (void)work;
#endif
    f(std::size_t{0}, n, std::size_t{0}, std::size_t{1});
}

}  // namespace mixgcn::backend::host_detail
