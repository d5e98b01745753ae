// Builds a GCN operator on a small graph with a hub and isolated nodes, aggregates with
// the reference backend (and the Kokkos backend when the package was created with
// kokkos=True) and checks against a brute-force dense product. Exit 0 on success.
#include <cmath>
#include <cstdio>
#include <vector>

#include "mixgcn/backend/reference/backend.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/storage/convert.hpp"
#if defined(MIXGCN_HAS_KOKKOS)
#include "mixgcn/backend/kokkos/backend.hpp"
#endif

namespace {

double max_error(const mixgcn::dense_matrix<float>& got, const std::vector<double>& want) {
    double err = 0;
    for (std::size_t i = 0; i < got.size(); ++i) err = std::fmax(err, std::fabs(double(got.data()[i]) - want[i]));
    return err;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace mixgcn;
    const index_t n = 50;
    storage::coo<index_t, float> e;
    e.rows = e.cols = n;
    for (index_t i = 0; i + 1 < 40; ++i) {  // a path, nodes 40..49 isolated
        e.row.push_back(i);
        e.col.push_back(i + 1);
        e.row.push_back(i + 1);
        e.col.push_back(i);
    }
    for (index_t i = 2; i < 40; i += 3) {  // node 0 is a hub
        e.row.push_back(0);
        e.col.push_back(i);
        e.row.push_back(i);
        e.col.push_back(0);
    }
    const auto op = graph::gcn_normalize<float>(storage::to_csr(e));
    const auto a = op.forward();

    const std::size_t width = 16;
    dense_matrix<float> x(std::size_t(n), width);
    for (std::size_t r = 0; r < x.rows(); ++r)
        for (std::size_t c = 0; c < width; ++c) x(r, c) = float(std::sin(double(r * width + c)));

    // Brute force: dense Â, then Â · X in double.
    std::vector<double> dense(std::size_t(n) * std::size_t(n), 0.0), want(std::size_t(n) * width, 0.0);
    for (index_t r = 0; r < n; ++r)
        for (auto k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k)
            dense[std::size_t(r) * std::size_t(n) + std::size_t(a.col_idx[k])] = double(a.weight(r, k));
    for (std::size_t r = 0; r < std::size_t(n); ++r)
        for (std::size_t l = 0; l < std::size_t(n); ++l)
            for (std::size_t c = 0; c < width; ++c) want[r * width + c] += dense[r * std::size_t(n) + l] * x(l, c);

    int failures = 0;
    dense_matrix<float> y(std::size_t(n), width);
    backend::reference::aggregate(a, x.cview(), y.view());
    const double ref_err = max_error(y, want);
    std::printf("reference backend: max |error| = %.3g\n", ref_err);
    failures += !(ref_err < 1e-5);
#if defined(MIXGCN_HAS_KOKKOS)
    {
        backend::kokkos_scope scope(argc, argv);
        dense_matrix<float> yk(std::size_t(n), width);
        backend::kokkos<Kokkos::DefaultHostExecutionSpace>::aggregate(a, x.cview(), yk.view());
        const double kk_err = max_error(yk, want);
        std::printf("kokkos backend (%s): max |error| = %.3g\n", Kokkos::DefaultHostExecutionSpace::name(), kk_err);
        failures += !(kk_err < 1e-5);
    }
#else
    (void)argc;
    (void)argv;
    std::printf("kokkos backend: not enabled in this package (-o mixgcn/*:kokkos=True)\n");
#endif
    std::printf("%s\n", failures == 0 ? "OK" : "FAILED");
    return failures == 0 ? 0 : 1;
}
