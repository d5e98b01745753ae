#pragma once
// f(t) with OpenMP set to t = 1, 2, 3 threads (1 only without OpenMP), then the thread
// count as before: for code whose result must not depend on the thread count.
#ifdef _OPENMP
#include <omp.h>
#endif

template <class F>
void on_thread_counts(F&& f) {
#ifdef _OPENMP
    const int saved = omp_get_max_threads();
    for (const int t : {1, 2, 3}) {
        omp_set_num_threads(t);
        f(t);
    }
    omp_set_num_threads(saved);
#else
    f(1);
#endif
}
