#pragma once
// Spectral recursive bisection. Each bisection orders the nodes by the Fiedler vector of
// the normalised Laplacian L = I - D^-1/2 A D^-1/2 (the relaxed minimum normalised cut),
// splits at the weighted median (weights = row cost), then improves the cut with
// Fiduccia–Mattheyses passes under a balance limit. P parts of any count: a set meant
// for k parts is split into floor(k/2) and ceil(k/2) parts with weights in proportion.
//
// Eigenvector: the largest eigenpair of M = 2I - L = I + D^-1/2 A D^-1/2 restricted to
// the complement of its known top eigenvector D^1/2·1 (eigenvalue 2), computed by
// Spectra's implicitly restarted Lanczos from a seeded start vector (a dense
// eigensolver below `dense_below` nodes). Deterministic for a given seed.
//
// Disconnected graphs: each bisection first packs whole connected components (largest
// first) into the first side while they fit its target weight; only the remaining
// deficit, if larger than the balance tolerance, is cut out of the largest component
// left over, by its own Fiedler vector. Isolated nodes thus fill gaps for free, and a
// graph whose components can be packed is split with no cut edge at all.
//
// Balance: each bisection keeps each side at most (1 + imbalance/L) times its target,
// L = ceil(log2 P) levels, or its weighted-median weight if that is higher (by less than
// one row). So every part's row cost stays within about exp(imbalance) · W/P plus one
// row cost per level.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <queue>
#include <span>
#include <string_view>
#include <tuple>
#include <vector>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <Spectra/SymEigsSolver.h>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/partition/common.hpp"
#include "mixgcn/partition/concept.hpp"
#include "mixgcn/partition/detail/undirected.hpp"

namespace mixgcn::partition {

namespace detail {

// x -> P (I + D^-1/2 A D^-1/2) P x with P the projector off u = D^1/2·1 / |D^1/2·1|.
template <class Index>
class shifted_laplacian_op {
public:
    using Scalar = double;
    shifted_laplacian_op(const undirected<Index>& g, const std::vector<double>& inv_sqrt_deg,
                         const std::vector<double>& u)
        : g_(g), isd_(inv_sqrt_deg), u_(u), tmp_(u.size()) {}
    Eigen::Index rows() const noexcept { return static_cast<Eigen::Index>(u_.size()); }
    Eigen::Index cols() const noexcept { return rows(); }

    void perform_op(const double* x, double* y) const {
        const std::size_t n = u_.size();
        const double ux = dot(u_.data(), x);
        for (std::size_t i = 0; i < n; ++i) tmp_[i] = (x[i] - ux * u_[i]) * isd_[i];
        for (std::size_t i = 0; i < n; ++i) {
            double s = 0;
            for (Index j : g_.neighbours(static_cast<Index>(i))) s += tmp_[static_cast<std::size_t>(j)];
            y[i] = x[i] - ux * u_[i] + isd_[i] * s;
        }
        const double uy = dot(u_.data(), y);
        for (std::size_t i = 0; i < n; ++i) y[i] -= uy * u_[i];
    }

private:
    double dot(const double* a, const double* b) const noexcept {
        double s = 0;
        for (std::size_t i = 0; i < u_.size(); ++i) s += a[i] * b[i];
        return s;
    }
    const undirected<Index>& g_;
    const std::vector<double>& isd_;
    const std::vector<double>& u_;
    mutable std::vector<double> tmp_;
};

}  // namespace detail

struct spectral {
    std::uint64_t seed = 0;
    double imbalance = 0.03;   // allowed relative excess of a part's row cost over W/P
    int refine_passes = 10;    // FM passes per bisection; 0 = plain weighted-median split
    int dense_below = 200;     // components smaller than this use a dense eigensolver
    double tolerance = 1e-6;   // Lanczos residual tolerance relative to the eigenvalue (Spectra); the
                               // ordering needs little precision and FM refinement repairs the rest
    int max_iterations = 5000; // Lanczos restarts before giving up
    int lanczos_vectors = 40;  // Krylov basis size (retried at 3x on non-convergence)

    static constexpr std::string_view name() noexcept { return "spectral"; }

    template <class Index, class Value, class Offset>
    std::vector<int> partition(const storage::csr<Index, Value, Offset>& adjacency, int parts) const {
        check_parts(adjacency, parts, "partition::spectral");
        require(imbalance >= 0 && refine_passes >= 0, "partition::spectral: imbalance ", imbalance,
                " and refine_passes ", refine_passes, " must be non-negative");
        std::vector<int> owner(static_cast<std::size_t>(adjacency.rows), 0);
        if (parts == 1) return owner;
        int levels = 0;
        while ((1 << levels) < parts) ++levels;
        const double delta = imbalance / levels;
        bisect(detail::symmetrize(adjacency), parts, 0, delta, 1, owner);
        return owner;
    }

    // Fiedler vector of a connected graph of at least two nodes, scaled by D^-1/2 (the
    // relaxed normalised-cut indicator), sign fixed so its largest |entry| is positive.
    template <class Index>
    std::vector<double> fiedler(const detail::undirected<Index>& g, std::uint64_t tag) const {
        const auto n = static_cast<std::size_t>(g.size());
        std::vector<double> isd(n), u(n), x(n);
        double norm = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const auto d = static_cast<double>(g.degree(static_cast<Index>(i)));
            require(d > 0, "partition::spectral: fiedler() needs a connected graph, node ", i, " is isolated");
            isd[i] = 1.0 / std::sqrt(d);
            u[i] = std::sqrt(d);
            norm += d;
        }
        for (auto& v : u) v /= std::sqrt(norm);
        if (n < static_cast<std::size_t>(std::max(dense_below, 3))) {
            Eigen::MatrixXd m = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n));
            for (std::size_t i = 0; i < n; ++i)
                for (Index j : g.neighbours(static_cast<Index>(i)))
                    m(static_cast<Eigen::Index>(i), j) = isd[i] * isd[static_cast<std::size_t>(j)];
            Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(m);
            if (es.info() != Eigen::Success) throw error("partition::spectral: dense eigensolver failed");
            // Ascending eigenvalues of D^-1/2 A D^-1/2: the last is 1 (u), the one before is 1 - λ2(L).
            const auto col = es.eigenvectors().col(static_cast<Eigen::Index>(n) - 2);
            for (std::size_t i = 0; i < n; ++i) x[i] = col(static_cast<Eigen::Index>(i));
        } else {
            detail::shifted_laplacian_op<Index> op(g, isd, u);
            rng gen = rng::derive(seed, tag);
            std::vector<double> start(n);
            for (auto& v : start) v = gen.uniform(-1.0, 1.0);
            // Tiny spectral gaps (long paths, large meshes) converge slowly with a short
            // Krylov basis: retry once with a three times longer one before giving up.
            bool converged = false;
            for (const Eigen::Index basis : {Eigen::Index{lanczos_vectors}, Eigen::Index{3} * lanczos_vectors}) {
                const Eigen::Index ncv = std::min<Eigen::Index>(static_cast<Eigen::Index>(n) - 1, basis);
                Spectra::SymEigsSolver<detail::shifted_laplacian_op<Index>> eigs(op, 1, ncv);
                eigs.init(start.data());
                eigs.compute(Spectra::SortRule::LargestAlge, max_iterations, tolerance);
                if (eigs.info() != Spectra::CompInfo::Successful) continue;
                const Eigen::VectorXd v = eigs.eigenvectors().col(0);
                for (std::size_t i = 0; i < n; ++i) x[i] = v(static_cast<Eigen::Index>(i));
                converged = true;
                break;
            }
            if (!converged)
                throw error(mixgcn::detail::concat("partition::spectral: Lanczos did not converge on a component of ",
                                                   n, " nodes within ", max_iterations,
                                                   " restarts (raise max_iterations or tolerance)"));
        }
        std::size_t big = 0;
        for (std::size_t i = 0; i < n; ++i) {
            x[i] *= isd[i];
            if (std::abs(x[i]) > std::abs(x[big]) * (1 + 1e-12)) big = i;
        }
        if (x[big] < 0)
            for (auto& v : x) v = -v;
        return x;
    }

private:
    template <class Index>
    void bisect(const detail::undirected<Index>& g, int k, int first, double delta, std::uint64_t tag,
                std::vector<int>& owner) const {
        if (k == 1) {
            for (Index gid : g.global) owner[static_cast<std::size_t>(gid)] = first;
            return;
        }
        const int k0 = k / 2, k1 = k - k0;
        const double total = static_cast<double>(g.total_weight());
        const double target0 = total * k0 / k;
        std::vector<std::uint8_t> side = split(g, target0, k0, k1, tag);
        refine(g, side, {target0, total - target0}, delta, {k0, k1});
        std::vector<Index> nodes[2];
        for (Index v = 0; v < g.size(); ++v) nodes[side[static_cast<std::size_t>(v)]].push_back(v);
        std::vector<Index> map(static_cast<std::size_t>(g.size()), -1);
        for (int s = 0; s < 2; ++s) {
            const auto sub = detail::induced(g, std::span<const Index>(nodes[s]), map);
            bisect(sub, s == 0 ? k0 : k1, s == 0 ? first : first + k0, delta, 2 * tag + static_cast<std::uint64_t>(s),
                   owner);
        }
    }

    // Initial bisection: component packing, then a weighted-median Fiedler split.
    template <class Index>
    std::vector<std::uint8_t> split(const detail::undirected<Index>& g, double target0, int k0, int k1,
                                    std::uint64_t tag) const {
        const auto n = static_cast<std::size_t>(g.size());
        Index ncomp = 0;
        const auto comp = detail::components(g, ncomp);
        std::vector<std::uint8_t> side(n, 1);
        std::vector<std::int64_t> cw(static_cast<std::size_t>(ncomp), 0);
        for (std::size_t v = 0; v < n; ++v) cw[static_cast<std::size_t>(comp[v])] += g.weight[v];
        std::vector<Index> order(static_cast<std::size_t>(ncomp));
        for (Index c = 0; c < ncomp; ++c) order[static_cast<std::size_t>(c)] = c;
        std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) {
            return cw[static_cast<std::size_t>(a)] > cw[static_cast<std::size_t>(b)];
        });
        std::vector<std::uint8_t> comp_side(static_cast<std::size_t>(ncomp), 1);
        double acc = 0;
        Index cut_comp = -1;  // largest component that did not fit
        for (Index c : order) {
            const auto w = static_cast<double>(cw[static_cast<std::size_t>(c)]);
            if (acc + w <= target0) {
                comp_side[static_cast<std::size_t>(c)] = 0;
                acc += w;
            } else if (cut_comp < 0) {
                cut_comp = c;
            }
        }
        for (std::size_t v = 0; v < n; ++v) side[v] = comp_side[static_cast<std::size_t>(comp[v])];
        const double deficit = target0 - acc;
        if (cut_comp >= 0 && deficit > delta_floor(target0)) {
            std::vector<Index> members;
            for (std::size_t v = 0; v < n; ++v)
                if (comp[v] == cut_comp) members.push_back(static_cast<Index>(v));
            std::vector<Index> map(n, -1);
            const auto sub = detail::induced(g, std::span<const Index>(members), map);
            const bool whole = members.size() == n;
            const auto chosen = median_split(sub, deficit, whole ? k0 : 0, whole ? k1 : 0, tag);
            for (std::size_t i = 0; i < members.size(); ++i)
                side[static_cast<std::size_t>(members[i])] = chosen[i];
        }
        // Each side must keep at least as many nodes as parts it will be split into.
        std::int64_t count0 = 0;
        for (auto s : side) count0 += (s == 0);
        const int need[2] = {k0, k1};
        for (int s = 0; s < 2; ++s) {
            std::int64_t have = s == 0 ? count0 : static_cast<std::int64_t>(n) - count0;
            while (have < need[s]) {  // move the lightest node across
                std::size_t best = n;
                for (std::size_t v = 0; v < n; ++v)
                    if (side[v] != s && (best == n || g.weight[v] < g.weight[best])) best = v;
                side[best] = static_cast<std::uint8_t>(s);
                ++have;
            }
        }
        return side;
    }

    // Below this deficit a component is not worth cutting: the refinement's tolerance.
    static double delta_floor(double target) noexcept { return 1e-9 * target; }

    // Sorts a connected graph by its Fiedler vector and puts the prefix of weight nearest
    // `target` on side 0; tries both ends of the order and keeps the smaller cut.
    template <class Index>
    std::vector<std::uint8_t> median_split(const detail::undirected<Index>& g, double target, int min0, int min1,
                                           std::uint64_t tag) const {
        const auto n = static_cast<std::size_t>(g.size());
        std::vector<std::uint8_t> best(n, 1);
        if (n < 2) {
            if (n == 1 && static_cast<double>(g.weight[0]) <= 2 * target) best[0] = 0;
            return best;
        }
        const auto x = fiedler(g, tag);
        std::vector<Index> order(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<Index>(i);
        std::stable_sort(order.begin(), order.end(),
                         [&](Index a, Index b) { return x[static_cast<std::size_t>(a)] < x[static_cast<std::size_t>(b)]; });
        std::int64_t best_cut = -1;
        for (int dir = 0; dir < 2; ++dir) {
            if (dir == 1) std::reverse(order.begin(), order.end());
            // Prefix length j in [min0, n - min1] with cumulative weight nearest target.
            double acc = 0, best_gap = -1;
            std::size_t take = 0;
            for (std::size_t j = 0; j <= n; ++j) {
                if (j >= static_cast<std::size_t>(min0) && j + static_cast<std::size_t>(min1) <= n) {
                    const double gap = std::abs(acc - target);
                    if (best_gap < 0 || gap < best_gap) {
                        best_gap = gap;
                        take = j;
                    }
                }
                if (j < n) acc += static_cast<double>(g.weight[static_cast<std::size_t>(order[j])]);
            }
            std::vector<std::uint8_t> side(n, 1);
            for (std::size_t j = 0; j < take; ++j) side[static_cast<std::size_t>(order[j])] = 0;
            const auto c = cut(g, side);
            if (best_cut < 0 || c < best_cut) {
                best_cut = c;
                best = std::move(side);
            }
        }
        return best;
    }

    template <class Index>
    static std::int64_t cut(const detail::undirected<Index>& g, const std::vector<std::uint8_t>& side) {
        std::int64_t c = 0;
        for (Index v = 0; v < g.size(); ++v)
            for (Index u : g.neighbours(v)) c += (u > v && side[static_cast<std::size_t>(u)] != side[static_cast<std::size_t>(v)]);
        return c;
    }

    // Fiduccia–Mattheyses: repeatedly move the unlocked node of highest gain (cut edges
    // removed minus created) whose move keeps the destination under its weight limit and
    // the source above its node minimum, even when the gain is negative; then roll back
    // to the best prefix of moves (smaller cut, then closer to target). Stops when a pass
    // finds nothing better.
    template <class Index>
    void refine(const detail::undirected<Index>& g, std::vector<std::uint8_t>& side, std::array<double, 2> target,
                double delta, std::array<int, 2> min_count) const {
        const auto n = static_cast<std::size_t>(g.size());
        std::array<double, 2> weight{0, 0};
        std::array<std::int64_t, 2> count{0, 0};
        for (std::size_t v = 0; v < n; ++v) {
            weight[side[v]] += static_cast<double>(g.weight[v]);
            ++count[side[v]];
        }
        const std::array<double, 2> limit{std::max(target[0] * (1 + delta), weight[0]),
                                          std::max(target[1] * (1 + delta), weight[1])};
        std::vector<std::int64_t> gain(n, 0);
        auto compute_gains = [&] {
            for (std::size_t v = 0; v < n; ++v) {
                std::int64_t gv = 0;
                for (Index u : g.neighbours(static_cast<Index>(v))) gv += side[static_cast<std::size_t>(u)] != side[v] ? 1 : -1;
                gain[v] = gv;
            }
        };
        auto move = [&](std::size_t v) {
            const int s = side[v], t = 1 - s;
            side[v] = static_cast<std::uint8_t>(t);
            weight[static_cast<std::size_t>(s)] -= static_cast<double>(g.weight[v]);
            weight[static_cast<std::size_t>(t)] += static_cast<double>(g.weight[v]);
            --count[static_cast<std::size_t>(s)];
            ++count[static_cast<std::size_t>(t)];
            gain[v] = -gain[v];
            for (Index u : g.neighbours(static_cast<Index>(v)))
                gain[static_cast<std::size_t>(u)] += side[static_cast<std::size_t>(u)] == t ? -2 : 2;
        };
        const std::size_t patience = std::max<std::size_t>(64, n / 50);
        std::vector<std::uint8_t> locked(n);
        std::vector<std::size_t> moves;
        for (int pass = 0; pass < refine_passes; ++pass) {
            compute_gains();
            std::fill(locked.begin(), locked.end(), std::uint8_t{0});
            moves.clear();
            using entry = std::tuple<std::int64_t, std::int64_t, std::size_t>;  // gain, -id, id
            std::priority_queue<entry> queue;
            for (std::size_t v = 0; v < n; ++v)
                for (Index u : g.neighbours(static_cast<Index>(v)))
                    if (side[static_cast<std::size_t>(u)] != side[v]) {
                        queue.emplace(gain[v], -static_cast<std::int64_t>(v), v);
                        break;
                    }
            auto deviation = [&] { return std::abs(weight[0] - target[0]); };
            std::int64_t total = 0, best = 0;
            double best_dev = deviation();
            std::size_t best_len = 0, since_best = 0;
            while (!queue.empty() && since_best < patience) {
                const auto [gv, neg_id, v] = queue.top();
                queue.pop();
                if (locked[v] || gv != gain[v]) continue;
                const int s = side[v], t = 1 - s;
                if (weight[static_cast<std::size_t>(t)] + static_cast<double>(g.weight[v]) > limit[static_cast<std::size_t>(t)] ||
                    count[static_cast<std::size_t>(s)] - 1 < min_count[static_cast<std::size_t>(s)])
                    continue;
                total += gain[v];
                move(v);
                locked[v] = 1;
                moves.push_back(v);
                for (Index u : g.neighbours(static_cast<Index>(v)))
                    if (!locked[static_cast<std::size_t>(u)])
                        queue.emplace(gain[static_cast<std::size_t>(u)], -static_cast<std::int64_t>(u),
                                      static_cast<std::size_t>(u));
                const double dev = deviation();
                if (total > best || (total == best && dev < best_dev)) {
                    best = total;
                    best_dev = dev;
                    best_len = moves.size();
                    since_best = 0;
                } else {
                    ++since_best;
                }
            }
            while (moves.size() > best_len) {
                move(moves.back());
                moves.pop_back();
            }
            if (best_len == 0) break;
        }
    }
};
static_assert(partitioner<spectral>, "partition::spectral must satisfy the partitioner concept.");

}  // namespace mixgcn::partition
