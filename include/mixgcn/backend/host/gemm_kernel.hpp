#pragma once
// Dense C = alpha·op(A)·op(B) + beta·C for GCN's shapes: one long dimension (the rows of
// H·W and dT·Wᵀ, or the reduction over rows in dW = Hᵀ·dT) and short others (feature
// widths of 8 to a few hundred). Eigen's general GEMM reaches 55-67 GFLOP/s on 2 AVX2 cores
// at width 128 but 13-44 on dT·Wᵀ at widths 8-47 (the last layer's shapes); this kernel
// runs 0.96-1.14x Eigen at width 128 and 1.35-1.65x on those (docs/kernels.md).
//
// The micro-kernel keeps an R × (NV vectors) tile of C in registers and, per step of the
// inner dimension, broadcasts R values of op(A) and loads NV vectors of op(B) (BLIS's
// shape: R·NV fused multiply-adds per R + NV loads). op(A) is read in place through its
// two strides: row-major A (H·W) or a transposed one (Hᵀ·dT, whose R values of a step
// are contiguous). op(B) is read in place when its rows are contiguous; otherwise (Wᵀ)
// and for the last, partial panel it is packed once, zero padded. The inner dimension is
// walked in blocks so a block of op(B) stays in L1/L2 across a thread's tiles.
//
// Tiles of C are split among the OpenMP threads; each element of C is summed by one
// thread in one order, so the result does not depend on the thread count.
#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "mixgcn/backend/host/threading.hpp"

namespace mixgcn::backend::host_detail::gemm_kernel {

#if defined(__AVX512F__)
inline constexpr int vector_bytes = 64, vector_registers = 32;
#elif defined(__AVX__)
inline constexpr int vector_bytes = 32, vector_registers = 16;
#else
inline constexpr int vector_bytes = 16, vector_registers = 16;
#endif

// GCC/Clang vector types: the compiler emits the ISA's loads, broadcasts and FMAs.
template <class V>
struct simd {
    typedef V vector __attribute__((vector_size(vector_bytes)));
    typedef V unaligned __attribute__((vector_size(vector_bytes), aligned(alignof(V)), may_alias));
};
template <class V>
using vec = typename simd<V>::vector;
template <class V>
inline constexpr int lanes = vector_bytes / int(sizeof(V));

template <class V>
inline vec<V> load(const V* p) noexcept {
    return *reinterpret_cast<const typename simd<V>::unaligned*>(p);
}
template <class V>
inline void store(V* p, vec<V> v) noexcept {
    *reinterpret_cast<typename simd<V>::unaligned*>(p) = v;
}

// Rows of a register tile: two vectors per row leave 2 + 1 registers for op(B) and the
// broadcast (6 rows on AVX2's 16 registers, 14 on AVX-512's 32); one vector per row
// (narrow outputs) takes 12 or 16 rows.
template <int NV>
inline constexpr int tile_rows = NV == 2 ? (vector_registers - 4) / 2 : (vector_registers == 16 ? 12 : 16);

// The inner dimension per block: 256 steps of a two-vector panel of op(B) are 16 KB of
// floats on AVX2, in L1.
inline constexpr std::size_t inner_block = 256;

// c[0, R) x [0, ncols) (row stride ldc) = alpha · Σ_p a(r, p)·b(p, ·) + (load_c ? beta·c : 0),
// a(r, p) = a[r·rsa + p·csa], row p of the panel at b + p·ldb (NV·lanes contiguous values).
template <int R, int NV, class V>
inline void tile(std::size_t kc, const V* a, std::size_t rsa, std::size_t csa, const V* b, std::size_t ldb, V* c,
                 std::size_t ldc, std::size_t ncols, V alpha, V beta, bool load_c) noexcept {
    vec<V> acc[R][NV];
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) acc[r][v] = vec<V>{};
    for (std::size_t p = 0; p < kc; ++p) {
        vec<V> bv[NV];
        for (int v = 0; v < NV; ++v) bv[v] = load(b + p * ldb + std::size_t(v * lanes<V>));
        const V* ap = a + p * csa;
        for (int r = 0; r < R; ++r) {
            const V x = ap[std::size_t(r) * rsa];
            for (int v = 0; v < NV; ++v) acc[r][v] += bv[v] * x;
        }
    }
    constexpr std::size_t width = std::size_t(NV * lanes<V>);
    for (int r = 0; r < R; ++r) {
        V* cr = c + std::size_t(r) * ldc;
        if (ncols == width) {
            for (int v = 0; v < NV; ++v) {
                vec<V> o = alpha * acc[r][v];
                if (load_c) o += beta * load(cr + std::size_t(v * lanes<V>));
                store(cr + std::size_t(v * lanes<V>), o);
            }
        } else {  // the last panel: only ncols columns of C exist
            alignas(vector_bytes) V t[width];
            for (int v = 0; v < NV; ++v) store(t + std::size_t(v * lanes<V>), alpha * acc[r][v]);
            for (std::size_t j = 0; j < ncols; ++j) cr[j] = load_c ? t[j] + beta * cr[j] : t[j];
        }
    }
}

// tile<rows, NV> for the rows (1..tile_rows) left at the bottom of C.
template <int NV, class V, std::size_t... R>
inline void tile_of_rows(std::size_t rows, std::size_t kc, const V* a, std::size_t rsa, std::size_t csa, const V* b,
                         std::size_t ldb, V* c, std::size_t ldc, std::size_t ncols, V alpha, V beta, bool load_c,
                         std::index_sequence<R...>) noexcept {
    (void)((rows == R + 1 ? (tile<int(R) + 1, NV>(kc, a, rsa, csa, b, ldb, c, ldc, ncols, alpha, beta, load_c), true)
                          : false) ||
           ...);
}

// C (m x n, row stride ldc) = alpha·op(A)·op(B) + beta·C with op(A)(i, p) = a[i·rsa + p·csa]
// and op(B)(p, j) = b[p·rsb + j·csb]; m, n, k > 0. beta == 0 never reads C.
template <int NV, class V>
void run(std::size_t m, std::size_t n, std::size_t k, V alpha, const V* a, std::size_t rsa, std::size_t csa,
         const V* b, std::size_t rsb, std::size_t csb, V beta, V* c, std::size_t ldc) {
    constexpr auto width = std::size_t(NV * lanes<V>);
    constexpr auto rows_per_tile = std::size_t(tile_rows<NV>);
    const std::size_t panels = (n + width - 1) / width;
    // Panels read in place: the full ones, when op(B)'s rows are contiguous.
    const std::size_t direct = csb == 1 ? n / width : 0;
    std::vector<V> packed((panels - direct) * k * width, V(0));  // [panel][p][width], zero padded
    for (std::size_t q = direct; q < panels; ++q) {
        V* out = packed.data() + (q - direct) * k * width;
        const std::size_t j0 = q * width, cols = std::min(width, n - j0);
        for (std::size_t p = 0; p < k; ++p)
            for (std::size_t j = 0; j < cols; ++j) out[p * width + j] = b[p * rsb + (j0 + j) * csb];
    }
    const std::size_t tiles = (m + rows_per_tile - 1) / rows_per_tile * panels;
    parallel_blocks(tiles, m * n * k, [&](std::size_t first, std::size_t last, std::size_t, std::size_t) {
        for (std::size_t p0 = 0; p0 < k; p0 += inner_block) {
            const std::size_t kc = std::min(inner_block, k - p0);
            // Later blocks add to what the earlier ones stored.
            const bool load_c = p0 > 0 || beta != V(0);
            const V block_beta = p0 > 0 ? V(1) : beta;
            for (std::size_t t = first; t < last; ++t) {
                const std::size_t i = t / panels * rows_per_tile, q = t % panels;
                const std::size_t j0 = q * width;
                const V* bp = q < direct ? b + p0 * rsb + j0 : packed.data() + ((q - direct) * k + p0) * width;
                const std::size_t ldb = q < direct ? rsb : width;
                tile_of_rows<NV>(std::min(rows_per_tile, m - i), kc, a + i * rsa + p0 * csa, rsa, csa, bp, ldb,
                                 c + i * ldc + j0, ldc, std::min(width, n - j0), alpha, block_beta, load_c,
                                 std::make_index_sequence<rows_per_tile>{});
            }
        }
    });
}

template <class V>
void gemm(std::size_t m, std::size_t n, std::size_t k, V alpha, const V* a, std::size_t rsa, std::size_t csa,
          const V* b, std::size_t rsb, std::size_t csb, V beta, V* c, std::size_t ldc) {
    if (n <= std::size_t(lanes<V>))
        run<1>(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc);
    else
        run<2>(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc);
}

}  // namespace mixgcn::backend::host_detail::gemm_kernel
