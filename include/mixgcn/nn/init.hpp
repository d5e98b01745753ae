#pragma once
// Glorot/Xavier uniform initialisation (Glorot & Bengio 2010), as Kipf & Welling use:
// U(-r, r) with r = sqrt(6 / (fan_in + fan_out)), drawn from the project's seeded RNG.
#include <cmath>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/rng.hpp"

namespace mixgcn::nn {

template <class V>
void glorot_uniform(matrix_view<V> w, rng& g) {
    const double r = std::sqrt(6.0 / double(w.rows() + w.cols()));
    for (std::size_t i = 0; i < w.rows(); ++i)
        for (std::size_t j = 0; j < w.cols(); ++j) w(i, j) = static_cast<V>(g.uniform(-r, r));
}

}  // namespace mixgcn::nn
