#pragma once
// mixgcn::backend::kokkos<ExecutionSpace>: the execution-backend surface (see
// core/concepts.hpp) written once with Kokkos Views and Team/Range/MDRange policies, so
// it builds for Serial, OpenMP, Threads, CUDA or HIP. Every pointer and view handed to
// it must live in ExecutionSpace's memory; `matrix<V>` allocates there.
//
// Kokkos must be initialised (see kokkos_scope in scope.hpp) before any call. Every
// operation fences before it returns, so results are ready for the caller.
//
// Speed notes: aggregation is the tuned kernel (aggregate.hpp). gemm is a plain tiled
// kernel (one thread per output row tile, i-k-j order so B's rows stream), far from a
// vendor BLAS; column_sum reduces per column. Both are small next to aggregation for
// GCN shapes (thin W), and the host backend uses Eigen/BLAS when that matters.
#if defined(MIXGCN_HAS_KOKKOS)
#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "mixgcn/backend/common.hpp"
#include "mixgcn/backend/kokkos/aggregate.hpp"
#include "mixgcn/backend/kokkos/scope.hpp"
#include "mixgcn/backend/kokkos/views.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/rng.hpp"

namespace mixgcn::backend::kokkos_detail {

// Kokkos 3 keeps the math functions in Experimental, Kokkos 4 in Kokkos.
template <class T>
KOKKOS_INLINE_FUNCTION T exp_of(T v) {
#if KOKKOS_VERSION >= 40000
    return Kokkos::exp(v);
#else
    return Kokkos::Experimental::exp(v);
#endif
}
template <class T>
KOKKOS_INLINE_FUNCTION T log_of(T v) {
#if KOKKOS_VERSION >= 40000
    return Kokkos::log(v);
#else
    return Kokkos::Experimental::log(v);
#endif
}

inline constexpr int gemm_tile = 32;

}  // namespace mixgcn::backend::kokkos_detail

namespace mixgcn::backend {

template <class ExecutionSpace = Kokkos::DefaultExecutionSpace>
struct kokkos {
    using execution_space = ExecutionSpace;
    using memory_space = typename ExecutionSpace::memory_space;
    static_assert(Kokkos::is_execution_space<ExecutionSpace>::value,
                  "mixgcn::backend::kokkos needs a Kokkos execution space, e.g. Kokkos::Serial, "
                  "Kokkos::OpenMP or Kokkos::Cuda.");

    // Host spaces share the host backends' matrix type, so data moves between them
    // without copies; device spaces own a Kokkos View in their memory.
    template <class V>
    using matrix = std::conditional_t<kokkos_detail::host_accessible<memory_space>, dense_matrix<V>,
                                      kokkos_matrix<V, memory_space>>;

    static constexpr const char* name() { return "kokkos"; }
    // Device spaces: nn and train need array<T>, upload/download and the optimizer steps
    // of backend/memory.hpp, which this backend does not provide yet, so training on a
    // device space stops at compile time instead of passing host pointers to kernels.
    static constexpr bool host_accessible = kokkos_detail::host_accessible<memory_space>;

    // ---- aggregation ---------------------------------------------------------------
    static constexpr auto instantiated_widths = kokkos_detail::instantiated_widths;
    static constexpr bool has_instance(std::size_t width) noexcept {
        for (int w : instantiated_widths)
            if (std::size_t(w) == width) return true;
        return false;
    }

    // The instance for one width; x and y must have exactly Width columns.
    template <int Width, class I, class V, class O>
    static void aggregate_width(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y,
                                I first, I last) {
        static_assert(Width > 0, "aggregate_width needs a positive Width.");
        kokkos_detail::run_aggregate<ExecutionSpace, Width, true>(a, x, y, first, last);
    }
    // Any width, in chunks of generic_chunk columns.
    template <class I, class V, class O>
    static void aggregate_generic(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y,
                                  I first, I last) {
        kokkos_detail::run_aggregate<ExecutionSpace, kokkos_detail::generic_chunk, false>(a, x, y, first, last);
    }
    // Rows [first, last) of Y = A · X; run-time width dispatched to its instance.
    template <class I, class V, class O>
    static void aggregate_rows(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y,
                               I first, I last) {
        switch (x.cols()) {
            case 16: return aggregate_width<16>(a, x, y, first, last);
            case 32: return aggregate_width<32>(a, x, y, first, last);
            case 64: return aggregate_width<64>(a, x, y, first, last);
            case 128: return aggregate_width<128>(a, x, y, first, last);
            case 256: return aggregate_width<256>(a, x, y, first, last);
            default: return aggregate_generic(a, x, y, first, last);
        }
    }
    // Y = A · X. For Aᵀ · X pass the transposed operator's view (gcn_operator::backward()).
    template <class I, class V, class O>
    static void aggregate(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y) {
        aggregate_rows(a, x, y, I{0}, a.rows);
    }

    // ---- dense update: c = alpha · op(a) · op(b) + beta · c --------------------------
    template <class V>
    static void gemm(transpose ta, transpose tb, V alpha, const_matrix_view<V> a, const_matrix_view<V> b, V beta,
                     matrix_view<V> c) {
        const bool at = ta == transpose::yes, bt = tb == transpose::yes;
        const std::size_t m = at ? a.cols() : a.rows(), k = at ? a.rows() : a.cols();
        const std::size_t kb = bt ? b.cols() : b.rows(), n = bt ? b.rows() : b.cols();
        check_gemm_shapes(m, k, kb, n, c);
        if (m == 0 || n == 0) return;
        constexpr int tile = kokkos_detail::gemm_tile;
        const auto av = kokkos_detail::wrap<memory_space>(a);
        const auto bv = kokkos_detail::wrap<memory_space>(b);
        const auto cv = kokkos_detail::wrap<memory_space>(c);
        const auto tiles = static_cast<std::int64_t>((n + tile - 1) / tile);
        using policy = Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>, Kokkos::IndexType<std::int64_t>>;
        Kokkos::parallel_for(
            "mixgcn::kokkos::gemm", policy({0, 0}, {static_cast<std::int64_t>(m), tiles}),
            KOKKOS_LAMBDA(const std::int64_t i64, const std::int64_t t) {
                const auto i = static_cast<std::size_t>(i64);
                const std::size_t j0 = static_cast<std::size_t>(t) * tile;
                const std::size_t w = n - j0 < std::size_t(tile) ? n - j0 : std::size_t(tile);
                V acc[tile] = {};
                for (std::size_t l = 0; l < k; ++l) {
                    const V ail = at ? av(l, i) : av(i, l);
                    for (std::size_t jj = 0; jj < w; ++jj) acc[jj] += ail * (bt ? bv(j0 + jj, l) : bv(l, j0 + jj));
                }
                for (std::size_t jj = 0; jj < w; ++jj)
                    cv(i, j0 + jj) = alpha * acc[jj] + (beta == V(0) ? V(0) : beta * cv(i, j0 + jj));
            });
        ExecutionSpace().fence();
    }

    // ---- fused epilogue and element-wise ops ---------------------------------------
    // z = act(z + bias); bias may be null.
    template <class V>
    static void bias_act(matrix_view<V> z, const V* bias, bool relu) {
        const auto zv = kokkos_detail::wrap<memory_space>(z);
        const auto bv = kokkos_detail::wrap<memory_space>(bias, bias ? z.cols() : 0);
        for_each_element(z.rows(), z.cols(), KOKKOS_LAMBDA(const std::int64_t r, const std::int64_t c) {
            const V v = zv(r, c) + (bv.extent(0) ? bv(c) : V(0));
            zv(r, c) = relu ? (v > V(0) ? v : V(0)) : v;
        });
    }
    template <class V>
    static void relu_backward(const_matrix_view<V> activated, matrix_view<V> grad) {
        require(activated.rows() == grad.rows() && activated.cols() == grad.cols(), "relu_backward: activation is ",
                activated.rows(), "x", activated.cols(), " but the gradient is ", grad.rows(), "x", grad.cols());
        const auto av = kokkos_detail::wrap<memory_space>(activated);
        const auto gv = kokkos_detail::wrap<memory_space>(grad);
        for_each_element(grad.rows(), grad.cols(), KOKKOS_LAMBDA(const std::int64_t r, const std::int64_t c) {
            if (!(av(r, c) > V(0))) gv(r, c) = V(0);
        });
    }
    // out[c] = sum over rows of x(r, c), accumulated in double.
    template <class V>
    static void column_sum(const_matrix_view<V> x, V* out) {
        if (x.cols() == 0) return;
        const auto xv = kokkos_detail::wrap<memory_space>(x);
        const auto ov = kokkos_detail::wrap<memory_space>(out, x.cols());
        const auto rows = static_cast<std::int64_t>(x.rows());
        using team_policy = Kokkos::TeamPolicy<ExecutionSpace>;
        Kokkos::parallel_for(
            "mixgcn::kokkos::column_sum", team_policy(static_cast<int>(x.cols()), Kokkos::AUTO),
            KOKKOS_LAMBDA(const typename team_policy::member_type& team) {
                const auto c = team.league_rank();
                double sum = 0;
                Kokkos::parallel_reduce(
                    Kokkos::TeamThreadRange(team, rows),
                    [&](const std::int64_t r, double& s) { s += double(xv(r, c)); }, sum);
                Kokkos::single(Kokkos::PerTeam(team), [&]() { ov(c) = static_cast<V>(sum); });
            });
        ExecutionSpace().fence();
    }
    // y = mask ⊙ x / (1 - p); the mask (row-major, x.rows() x x.cols() bytes) is a pure
    // function of (seed, global row, global column) and equals every other backend's.
    // `at.row_ids`, when given, lives in the execution space's memory.
    template <class V>
    static void dropout(const_matrix_view<V> x, matrix_view<V> y, std::uint8_t* mask, V p, std::uint64_t seed,
                        dropout_index at) {
        require(x.rows() == y.rows() && x.cols() == y.cols(), "dropout: input is ", x.rows(), "x", x.cols(),
                " but output is ", y.rows(), "x", y.cols());
        require(p >= V(0) && p <= V(1), "dropout: probability ", p, " is outside [0, 1]");
        const V scale = p < V(1) ? V(1) / (V(1) - p) : V(0);
        const auto xv = kokkos_detail::wrap<memory_space>(x);
        const auto yv = kokkos_detail::wrap<memory_space>(y);
        const auto mv = kokkos_detail::wrap<memory_space>(mask, mask ? x.size() : 0);
        const bool store = mask != nullptr;
        const auto width = static_cast<std::uint64_t>(x.cols());
        const double pd = double(p);
        for_each_element(x.rows(), x.cols(), KOKKOS_LAMBDA(const std::int64_t r, const std::int64_t c) {
            const bool k = backend::dropout_keep(seed, at.row(std::size_t(r)), at.col_offset + std::uint64_t(c), pd);
            if (store) mv(std::uint64_t(r) * width + std::uint64_t(c)) = k;
            yv(r, c) = k ? xv(r, c) * scale : V(0);
        });
    }
    template <class V>
    static void dropout_backward(matrix_view<V> grad, const std::uint8_t* mask, V p) {
        const V scale = p < V(1) ? V(1) / (V(1) - p) : V(0);
        const auto gv = kokkos_detail::wrap<memory_space>(grad);
        const auto mv = kokkos_detail::wrap<memory_space>(mask, grad.size());
        const auto width = static_cast<std::int64_t>(grad.cols());
        for_each_element(grad.rows(), grad.cols(), KOKKOS_LAMBDA(const std::int64_t r, const std::int64_t c) {
            gv(r, c) = mv(r * width + c) ? gv(r, c) * scale : V(0);
        });
    }
    // The same without a stored mask: drawn again from (seed, global row, column).
    template <class V>
    static void dropout_backward(matrix_view<V> grad, V p, std::uint64_t seed, dropout_index at) {
        const V scale = p < V(1) ? V(1) / (V(1) - p) : V(0);
        const auto gv = kokkos_detail::wrap<memory_space>(grad);
        const double pd = double(p);
        for_each_element(grad.rows(), grad.cols(), KOKKOS_LAMBDA(const std::int64_t r, const std::int64_t c) {
            const bool k = backend::dropout_keep(seed, at.row(std::size_t(r)), at.col_offset + std::uint64_t(c), pd);
            gv(r, c) = k ? gv(r, c) * scale : V(0);
        });
    }

    // ---- loss and metrics -------------------------------------------------------------
    // Sum over the listed rows of -log softmax(logits)[label]; grad gets
    // scale · (softmax - onehot) on those rows and 0 elsewhere.
    template <class V>
    static double softmax_cross_entropy(const_matrix_view<V> logits, const std::int32_t* labels, const index_t* rows,
                                        std::size_t count, matrix_view<V> grad, V scale) {
        require(logits.rows() == grad.rows() && logits.cols() == grad.cols(), "softmax_cross_entropy: logits are ",
                logits.rows(), "x", logits.cols(), " but the gradient is ", grad.rows(), "x", grad.cols());
        const auto gv = kokkos_detail::wrap<memory_space>(grad);
        for_each_element(grad.rows(), grad.cols(),
                         KOKKOS_LAMBDA(const std::int64_t r, const std::int64_t c) { gv(r, c) = V(0); });
        if (count == 0) return 0.0;
        const auto lv = kokkos_detail::wrap<memory_space>(logits);
        const auto yv = kokkos_detail::wrap<memory_space>(labels, logits.rows());
        const auto rv = kokkos_detail::wrap<memory_space>(rows, count);
        const auto classes = static_cast<std::int64_t>(logits.cols());
        const double s = double(scale);
        double loss = 0;
        Kokkos::parallel_reduce(
            "mixgcn::kokkos::softmax_cross_entropy", Kokkos::RangePolicy<ExecutionSpace>(0, count),
            KOKKOS_LAMBDA(const std::size_t i, double& acc) {
                const auto r = rv(i);
                const auto y = yv(r);
                double mx = double(lv(r, 0));
                for (std::int64_t c = 1; c < classes; ++c) mx = double(lv(r, c)) > mx ? double(lv(r, c)) : mx;
                double sum = 0;
                for (std::int64_t c = 0; c < classes; ++c) sum += kokkos_detail::exp_of(double(lv(r, c)) - mx);
                acc += kokkos_detail::log_of(sum) + mx - double(lv(r, y));
                for (std::int64_t c = 0; c < classes; ++c) {
                    const double pc = kokkos_detail::exp_of(double(lv(r, c)) - mx) / sum;
                    gv(r, c) = static_cast<V>(s * (pc - (c == y ? 1.0 : 0.0)));
                }
            },
            loss);
        ExecutionSpace().fence();
        return loss;
    }
    // Listed rows whose argmax (first maximum wins) equals the label.
    template <class V>
    static std::size_t count_correct(const_matrix_view<V> logits, const std::int32_t* labels, const index_t* rows,
                                     std::size_t count) {
        if (count == 0) return 0;
        const auto lv = kokkos_detail::wrap<memory_space>(logits);
        const auto yv = kokkos_detail::wrap<memory_space>(labels, logits.rows());
        const auto rv = kokkos_detail::wrap<memory_space>(rows, count);
        const auto classes = static_cast<std::int64_t>(logits.cols());
        std::size_t ok = 0;
        Kokkos::parallel_reduce(
            "mixgcn::kokkos::count_correct", Kokkos::RangePolicy<ExecutionSpace>(0, count),
            KOKKOS_LAMBDA(const std::size_t i, std::size_t& acc) {
                const auto r = rv(i);
                std::int64_t best = 0;
                for (std::int64_t c = 1; c < classes; ++c)
                    if (lv(r, c) > lv(r, best)) best = c;
                acc += best == yv(r) ? 1 : 0;
            },
            ok);
        ExecutionSpace().fence();
        return ok;
    }
    // y += s · x
    template <class V>
    static void scale_add(std::size_t n, V s, const V* x, V* y) {
        const auto xv = kokkos_detail::wrap<memory_space>(x, n);
        const auto yv = kokkos_detail::wrap<memory_space>(y, n);
        Kokkos::parallel_for(
            "mixgcn::kokkos::scale_add", Kokkos::RangePolicy<ExecutionSpace>(0, n),
            KOKKOS_LAMBDA(const std::size_t i) { yv(i) += s * xv(i); });
        ExecutionSpace().fence();
    }

    // Runs f(r, c) for every element of a rows x cols matrix, then fences.
    template <class F>
    static void for_each_element(std::size_t rows, std::size_t cols, const F& f) {
        if (rows == 0 || cols == 0) return;
        using policy = Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>, Kokkos::IndexType<std::int64_t>>;
        Kokkos::parallel_for("mixgcn::kokkos::elementwise",
                             policy({0, 0}, {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)}), f);
        ExecutionSpace().fence();
    }
};

static_assert(execution_backend<kokkos<Kokkos::DefaultHostExecutionSpace>, float> &&
                  execution_backend<kokkos<Kokkos::DefaultHostExecutionSpace>, double>,
              "mixgcn::backend::kokkos must provide every operation of the execution_backend concept.");

}  // namespace mixgcn::backend
#endif  // MIXGCN_HAS_KOKKOS
