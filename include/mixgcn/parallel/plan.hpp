#pragma once
// The planner: per-rank memory by purpose and bytes per epoch of every strategy, from a
// graph's statistics alone, and a recommendation. Bytes come from parallel/cost.hpp (the
// strategies move exactly those); memory mirrors what each strategy and the model
// allocate (the same rules as their reports), so the planner can be checked against
// measured runs at the sizes that fit and trusted, with its assumptions, beyond them.
//
// Assumptions written out (docs/scaling.md):
//  * rows are split in equal blocks (the block partitioner; balanced partitioners are
//    within a few percent of it), non-zeros in proportion;
//  * the graph strategy's halo is taken from partition statistics when given, else
//    from a random partition's expectation: a node outside p with degree d̄ is a ghost of
//    p with probability 1 - (1 - 1/P)^d̄ (an upper bound for any sensible partitioner);
//  * values are `value_bytes` wide (4: float), node ids 4 bytes, offsets 8 bytes;
//  * the fused normalisation (pattern + D^-1/2), dropout on, the first layer's eval cache
//    on, Adam (two moments per parameter);
//  * the data strategy holds the whole graph on every rank and a batch of
//    N·q/clusters nodes; it trains a different (mini-batch) model, so it is listed but
//    recommended only when no full-graph strategy fits.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "mixgcn/parallel/cost.hpp"

namespace mixgcn::parallel::plan {

struct problem {
    std::uint64_t nodes = 0, edges = 0;  // edges: non-zeros of A (both directions), no self-loops
    std::size_t features = 0, hidden = 16, classes = 0;
    int layers = 2;
    int ranks = 1;
    std::size_t value_bytes = 4;
    double dropout = 0.5;
    bool eval_cache = true;
    int chunks = 1;                            // mixture
    int clusters = 40, clusters_per_batch = 10;  // data
    // Graph strategy: halo rows received / sent per rank, when known (else estimated).
    std::vector<std::uint64_t> halo_recv, halo_send, rows;
    std::uint64_t device_memory = 0;  // bytes per device; 0 = no limit
};

struct memory {
    double graph = 0, features = 0, activations = 0, buffers = 0, parameters = 0;
    double total() const noexcept { return graph + features + activations + buffers + parameters; }
};

struct estimate {
    std::string strategy;
    memory mem;              // of the rank that holds the most
    double bytes_per_epoch = 0;  // sent by the busiest rank, steady state (epoch >= 2)
    double total_bytes_per_epoch = 0;  // sent by all ranks together
    bool fits = true;
    bool full_graph = true;
    std::string note;
};

struct plan_result {
    std::vector<estimate> strategies;
    std::string recommended;
    std::string reason;
};

namespace detail {

inline double csr_bytes(double rows, double nnz) { return nnz * 4.0 + (rows + 1) * 8.0; }

// The most activation bytes the model holds at once for a block of n rows whose width-w
// slice is cols(w): nn::gcn_layer's and nn::gcn_model's buffers replayed through one
// training step and one evaluation pass, twice (the second step starts with what the
// first left held), each allocated and freed where the layer code does it. No dropout
// mask is kept (backward draws it again); the dropped input is held during an
// aggregate-first layer's forward, and until backward only by a transform-first layer
// under a strategy with its own dense update (`own_dense`: feature); other
// transform-first layers keep a block of a few MB that backward redraws rows into.
// dlogits has loss_rows rows (the row layout).
template <class Cols>
double activations(const cost::model_shape& m, double n, double loss_rows, Cols&& cols, const problem& p,
                   bool own_dense = false) {
    const double V = double(p.value_bytes);
    const std::size_t L = m.layers();
    struct meter {
        double held = 0, peak = 0;
        void take(double& slot, double bytes) {  // slot: what a buffer holds now
            held += bytes - slot;
            slot = bytes;
            peak = std::max(peak, held);
        }
        void give(double& slot) {
            held -= slot;
            slot = 0;
        }
    } t;
    std::vector<double> out(L, 0), mid(L, 0), redraw(L, 0), input(L, 0), dh(L, 0);
    double eval_cache = 0, scratch = 0, grad_mid = 0, dlogits = 0;
    const bool dropped = p.dropout > 0;
    const auto forward = [&](bool training) {
        for (std::size_t l = 0; l < L; ++l) {
            const double in = double(cols(m.in(l))), o = double(cols(m.out(l)));
            const bool tf = m.transform_first[l], drop = training && dropped;
            const bool blocked = drop && tf && !own_dense;
            if (drop && !blocked) t.take(input[l], n * in * V);
            t.take(out[l], n * o * V);
            if (tf) {
                if (blocked)  // ~4 MiB of rows, at least 256
                    t.take(redraw[l], std::min(n, std::max(256.0, std::floor(4194304.0 / (V * std::max(in, 1.0))))) * in * V);
                t.take(scratch, n * o * V);  // T = H·W, freed once aggregated
                t.give(scratch);
            } else if (!training && l == 0 && m.eval_cache) {
                t.take(eval_cache, n * in * V);
            } else {
                t.take(mid[l], n * in * V);
            }
            if (drop && !(tf && own_dense)) t.give(input[l]);
        }
    };
    const auto step = [&] {
        forward(true);
        t.take(dlogits, loss_rows * double(m.widths.back()) * V);
        t.give(out[L - 1]);  // the last layer has no ReLU: backward does not read its output
        for (std::size_t l = L; l-- > 0;) {
            const double in = double(cols(m.in(l))), o = double(cols(m.out(l)));
            double& dz = l + 1 == L ? dlogits : dh[l + 1];
            if (m.transform_first[l]) {
                t.take(grad_mid, n * o * V);
                t.give(dz);
                if (l > 0) t.take(dh[l], n * in * V);
            } else {
                if (l > 0) t.take(grad_mid, n * in * V);
                t.give(dz);
                if (l > 0) t.take(dh[l], n * in * V);
            }
            t.give(grad_mid);
            if (m.transform_first[l] && own_dense) t.give(input[l]);
        }
        t.give(dh[0]);
        forward(false);
    };
    step();
    step();
    return t.peak;
}

inline std::size_t max_sparse_width(const cost::model_shape& m) {
    std::size_t s = 0;
    for (std::size_t l = 0; l < m.layers(); ++l) s = std::max(s, m.sparse_width(l));
    return s;
}

}  // namespace detail

// Partition statistics for the planner, as `mixgcn-partition --stats FILE` writes them:
//   ranks P
//   rows r_0 ... r_{P-1}
//   halo_recv h_0 ...      (ghost rows each rank receives per sparse product)
//   halo_send s_0 ...      (own rows each rank sends per sparse product)
// Lines starting with '#' are comments.
inline void write_partition_stats(const std::filesystem::path& path, const cost::layout& L, const std::string& what) {
    std::ofstream os(path);
    if (!os) throw io_error(path.string(), 0, "", "cannot open for writing");
    os << "# mixgcn partition statistics: " << what << "\nranks " << L.ranks << "\n";
    auto line = [&](const char* key, const std::vector<std::size_t>& v) {
        os << key;
        for (auto x : v) os << ' ' << x;
        os << '\n';
    };
    line("rows", L.rows);
    line("halo_recv", L.halo_recv);
    line("halo_send", L.halo_send);
    if (!os) throw io_error(path.string(), 0, "", "write failed");
}

inline void read_partition_stats(const std::filesystem::path& path, problem& p) {
    std::ifstream is(path);
    if (!is) throw io_error(path.string(), 0, "", "cannot open partition statistics");
    std::string text;
    int ranks = -1;
    std::size_t line_no = 0;
    while (std::getline(is, text)) {
        ++line_no;
        if (text.empty() || text[0] == '#') continue;
        std::istringstream ls(text);
        std::string key;
        ls >> key;
        if (key == "ranks") {
            if (!(ls >> ranks) || ranks < 1) throw io_error(path.string(), line_no, text, "expected 'ranks P' with P >= 1");
            continue;
        }
        std::vector<std::uint64_t>* v = key == "rows" ? &p.rows : key == "halo_recv" ? &p.halo_recv
                                      : key == "halo_send" ? &p.halo_send : nullptr;
        if (!v) throw io_error(path.string(), line_no, key, "unknown key (ranks, rows, halo_recv, halo_send)");
        v->clear();
        std::uint64_t x;
        while (ls >> x) v->push_back(x);
        if (!ls.eof()) throw io_error(path.string(), line_no, text, "expected non-negative integers");
    }
    if (ranks < 1) throw io_error(path.string(), line_no, "", "no 'ranks' line");
    for (const auto* v : {&p.rows, &p.halo_recv, &p.halo_send})
        if (v->size() != std::size_t(ranks))
            throw io_error(path.string(), line_no, "", "every line must list " + std::to_string(ranks) + " ranks");
    if (p.ranks != ranks)
        throw io_error(path.string(), 0, std::to_string(ranks), "statistics are for " + std::to_string(ranks) +
                                                                    " ranks, the plan asks for " + std::to_string(p.ranks));
}

// The problem of a run: the graph's sizes, the model, the rank count and, when given,
// the exact layout of the owners the run will use.
inline problem problem_for(std::uint64_t nodes, std::uint64_t edges, const nn::model_options& mo, int ranks,
                           std::size_t value_bytes, int chunks = 1, const cost::layout* layout = nullptr) {
    problem pp;
    pp.nodes = nodes;
    pp.edges = edges;
    pp.features = mo.in;
    pp.hidden = mo.hidden;
    pp.classes = mo.classes;
    pp.layers = mo.layers;
    pp.ranks = ranks;
    pp.value_bytes = value_bytes;
    pp.dropout = mo.dropout;
    pp.eval_cache = mo.cache_input_aggregation;
    pp.chunks = chunks;
    if (layout) {
        pp.rows.assign(layout->rows.begin(), layout->rows.end());
        pp.halo_recv.assign(layout->halo_recv.begin(), layout->halo_recv.end());
        pp.halo_send.assign(layout->halo_send.begin(), layout->halo_send.end());
    }
    return pp;
}

// `traffic`: also predict bytes per epoch (O(P²) work; memory alone is O(P)).
inline plan_result make_plan(const problem& p, bool traffic = true) {
    require(p.nodes > 0 && p.features > 0 && p.classes >= 2 && p.layers >= 1 && p.ranks >= 1,
            "plan: need nodes, features, classes >= 2, layers >= 1 and ranks >= 1 (got ", p.nodes, ", ", p.features,
            ", ", p.classes, ", ", p.layers, ", ", p.ranks, ")");
    const int P = p.ranks;
    const double N = double(p.nodes), E = double(p.edges), V = double(p.value_bytes);
    const double nnz = E + N;  // A + I
    nn::model_options mo;
    mo.in = p.features;
    mo.hidden = p.hidden;
    mo.classes = p.classes;
    mo.layers = p.layers;
    mo.cache_input_aggregation = p.eval_cache;
    const auto m = cost::model_shape::of(mo);
    const double params = double(m.parameters()) * V * 4;

    // Layout: equal row blocks unless given; halo from statistics or the random estimate.
    cost::layout L;
    L.ranks = P;
    L.rows.resize(std::size_t(P));
    for (int q = 0; q < P; ++q) L.rows[std::size_t(q)] = std::size_t(p.nodes / std::uint64_t(P) + (std::uint64_t(q) < p.nodes % std::uint64_t(P) ? 1 : 0));
    if (!p.rows.empty()) {
        require(p.rows.size() == std::size_t(P), "plan: partition statistics list ", p.rows.size(), " ranks, not ", P);
        for (int q = 0; q < P; ++q) L.rows[std::size_t(q)] = std::size_t(p.rows[std::size_t(q)]);
    }
    std::string halo_note;
    if (!p.halo_recv.empty()) {
        require(p.halo_recv.size() == std::size_t(P) && p.halo_send.size() == std::size_t(P),
                "plan: partition statistics hold ", p.halo_recv.size(), " halo entries for ", P, " ranks");
        L.halo_recv.assign(p.halo_recv.begin(), p.halo_recv.end());
        L.halo_send.assign(p.halo_send.begin(), p.halo_send.end());
        halo_note = "halo from partition statistics";
    } else {
        const double dbar = N > 0 ? E / N : 0;
        L.halo_recv.resize(std::size_t(P));
        for (int q = 0; q < P; ++q) {
            const double outside = N - double(L.rows[std::size_t(q)]);
            L.halo_recv[std::size_t(q)] = P > 1 ? std::size_t(std::llround(outside * (1 - std::pow(1 - 1.0 / P, dbar)))) : 0;
        }
        L.halo_send = L.halo_recv;  // symmetric in expectation
        halo_note = "halo estimated for a random partition";
    }

    auto bytes_of = [&](strategy_kind k, int chunks, estimate& e) {
        if (!traffic) return;
        double worst = 0, all = 0;
        for (int q = 0; q < P; ++q) {
            const auto a = cost::predict({k, chunks}, m, L, q, 2, p.value_bytes);
            const auto b = cost::predict({k, chunks}, m, L, q, 1, p.value_bytes);
            const double per_epoch = double(a.total().sent) - double(b.total().sent);  // steady state
            worst = std::max(worst, per_epoch);
            all += per_epoch;
        }
        e.bytes_per_epoch = worst;
        e.total_bytes_per_epoch = all;
    };

    plan_result out;
    const std::size_t smax = detail::max_sparse_width(m);
    auto full_width = [](std::size_t w) { return w; };
    auto sliced = [P](std::size_t w) { return parallel::detail::column_slices(w, P)[0].count; };  // rank 0: widest
    const double n0 = double(L.rows[0]);

    if (P == 1) {
        estimate e;
        e.strategy = "single";
        e.mem.graph = detail::csr_bytes(N, nnz) + 2 * N * V;
        e.mem.features = N * double(p.features) * V + N * 4;
        e.mem.activations = detail::activations(m, N, N, full_width, p);
        e.mem.parameters = params;
        bytes_of(strategy_kind::single, 1, e);
        out.strategies.push_back(e);
    }
    if (P > 1) {
        // graph: own rows and their halo.
        estimate g;
        g.strategy = "graph";
        std::size_t worst = 0;
        for (int q = 1; q < P; ++q)
            if (L.rows[std::size_t(q)] + L.halo_recv[std::size_t(q)] > L.rows[worst] + L.halo_recv[worst]) worst = std::size_t(q);
        const double n = double(L.rows[worst]), h = double(L.halo_recv[worst]), s = double(L.halo_send[worst]);
        const double local_nnz = nnz * n / N;
        g.mem.graph = detail::csr_bytes(n, local_nnz) + detail::csr_bytes(n + h, local_nnz) + (n + h) * V +
                      (n + h + s + 2 * n) * 4;
        g.mem.features = n * double(p.features) * V + n * 4;
        g.mem.activations = detail::activations(m, n, n, full_width, p);
        g.mem.buffers = ((n + h) + 2 * s) * double(smax) * V;
        g.mem.parameters = params;
        g.note = halo_note;
        bytes_of(strategy_kind::graph, 1, g);
        out.strategies.push_back(g);

        // feature: whole Â, column slices of every row.
        estimate f;
        f.strategy = "feature";
        f.mem.graph = detail::csr_bytes(N, nnz) + 2 * N * V + N * 4;
        f.mem.features = N * double(sliced(p.features)) * V + n0 * 4;
        f.mem.activations = detail::activations(m, N, n0, sliced, p, true);
        std::size_t omax = 0;
        for (std::size_t l = 0; l < m.layers(); ++l) omax = std::max(omax, m.out(l));
        // Partial product and its packed copy (widest layer), logits in rows and their
        // receive/send blocks, the loss gradient's column block.
        f.mem.buffers = (2 * N * double(omax) + 3 * n0 * double(p.classes) + N * double(sliced(p.classes))) * V;
        f.mem.parameters = params;
        f.note = "Â replicated on every rank";
        bytes_of(strategy_kind::feature, 1, f);
        out.strategies.push_back(f);

        // mixture: whole Â, row-layout activations, column blocks per switch.
        estimate x;
        x.strategy = "mixture";
        x.mem.graph = f.mem.graph;
        x.mem.features = n0 * double(p.features) * V + n0 * 4;
        x.mem.activations = detail::activations(m, n0, n0, full_width, p);
        x.mem.buffers = (2 * N * double(sliced(smax)) + 2 * n0 * double(smax)) * V;
        x.mem.parameters = params;
        x.note = "Â replicated on every rank";
        bytes_of(strategy_kind::mixture, p.chunks, x);
        out.strategies.push_back(x);
    }
    // data: the whole graph (and its normalised copy) on every rank, one batch in flight.
    {
        estimate d;
        d.strategy = "data";
        d.full_graph = false;
        const double q = double(std::max(1, p.clusters_per_batch)), c = double(std::max(1, p.clusters));
        const double bn = N * q / c, bnnz = nnz * (q / c) * (q / c) + bn;  // edges inside the batch's clusters, at least
        d.mem.graph = 2 * detail::csr_bytes(N, nnz) + 2 * N * V + detail::csr_bytes(bn, bnnz) + 2 * bn * V;
        d.mem.features = N * double(p.features) * V + bn * double(p.features) * V + N * 4;
        // Upper bound: the whole-graph evaluation's buffers at N rows (no dropout copies).
        problem eval = p;
        eval.dropout = 0;
        d.mem.activations = std::max(detail::activations(m, bn, bn, full_width, p),
                                     detail::activations(m, N, N, full_width, eval));
        d.mem.parameters = params;
        const int groups = (p.clusters + p.clusters_per_batch - 1) / std::max(1, p.clusters_per_batch);
        const int steps = (groups + P - 1) / P;
        const auto g = comm::volume::all_reduce(0, P, m.parameters(), p.value_bytes);
        const auto c1 = comm::volume::all_reduce(0, P, 1, sizeof(double));
        d.bytes_per_epoch = double(steps) * double(g.sent + 2 * c1.sent);
        d.total_bytes_per_epoch = d.bytes_per_epoch * P;
        d.note = "mini-batch (Cluster-GCN): a different model; evaluation on the whole graph";
        out.strategies.push_back(d);
    }
    for (auto& e : out.strategies) e.fits = p.device_memory == 0 || e.mem.total() <= double(p.device_memory);

    // Recommendation: the full-graph strategy that fits and moves the fewest bytes on its
    // busiest rank; ties go to the smaller memory. Data only when nothing else fits.
    const estimate* best = nullptr;
    for (const auto& e : out.strategies) {
        if (!e.full_graph || !e.fits) continue;
        if (!best || e.bytes_per_epoch < best->bytes_per_epoch * 0.999 ||
            (e.bytes_per_epoch <= best->bytes_per_epoch * 1.001 && e.mem.total() < best->mem.total()))
            best = &e;
    }
    if (best) {
        out.recommended = best->strategy;
        out.reason = "fits and moves the fewest bytes per epoch on its busiest rank";
    } else {
        for (const auto& e : out.strategies)
            if (!e.full_graph && e.fits) best = &e;
        out.recommended = best ? best->strategy : "none";
        out.reason = best ? "no full-graph strategy fits the device memory; mini-batches do"
                          : "nothing fits the device memory at this rank count";
    }
    return out;
}

// "512M", "8G", "1.5G", "123456": bytes (K, M, G, T are powers of 1024). `what` names
// the source in the error.
inline std::uint64_t parse_bytes(std::string_view text, std::string_view what) {
    std::size_t end = 0;
    double v = 0;
    try {
        v = std::stod(std::string(text), &end);
    } catch (const std::exception&) {
        end = 0;
    }
    std::string_view unit = text.substr(std::min(end, text.size()));
    if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.remove_suffix(1);
    if (!unit.empty() && (unit.back() == 'i')) unit.remove_suffix(1);
    double scale = 1;
    if (unit.size() == 1) {
        const char u = char(std::toupper(static_cast<unsigned char>(unit[0])));
        scale = u == 'K' ? 0x1p10 : u == 'M' ? 0x1p20 : u == 'G' ? 0x1p30 : u == 'T' ? 0x1p40 : 0;
    } else if (!unit.empty()) {
        scale = 0;
    }
    if (end == 0 || scale == 0 || !(v > 0) || v * scale > 0x1p63)
        throw invalid_argument(::mixgcn::detail::concat(what, ": '", text, "' is not a size (e.g. 512M, 8G, 123456)"));
    return static_cast<std::uint64_t>(v * scale);
}

inline std::string format_bytes(double b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (b >= 1024 && u < 5) {
        b /= 1024;
        ++u;
    }
    std::ostringstream os;
    os.setf(std::ios::fixed);
    os.precision(u == 0 ? 0 : 2);
    os << b << ' ' << units[u];
    return os.str();
}

inline std::string describe_per_rank(const memory& m) {
    return ::mixgcn::detail::concat(format_bytes(m.total()), " per rank (graph ", format_bytes(m.graph), ", features ",
                                    format_bytes(m.features), ", activations ", format_bytes(m.activations),
                                    ", buffers ", format_bytes(m.buffers), ", parameters and optimizer ",
                                    format_bytes(m.parameters), ")");
}

// The check a run makes before its large allocations: the planner's prediction for
// `strategy` on the rank that holds the most, against `limit` bytes per rank (`source`
// says where the limit comes from). `borrowed` bytes of the prediction are already held
// (single trains on the loaded features in place). Throws memory_error with the
// prediction by purpose and what would fit: other strategies at this rank count, and the
// fewest ranks (a power of two up to 4096) at which each distributed strategy fits.
inline void require_fits(const problem& p, const std::string& strategy, double limit, const std::string& source,
                         double borrowed = 0) {
    const auto here = make_plan(p, false);
    const estimate* mine = nullptr;
    for (const auto& e : here.strategies)
        if (e.strategy == strategy) mine = &e;
    // On one rank a distributed strategy holds the whole graph and features, as single.
    if (!mine && p.ranks == 1 && (strategy == "graph" || strategy == "mixture" || strategy == "feature"))
        for (const auto& e : here.strategies)
            if (e.strategy == "single") mine = &e;
    require(mine != nullptr, "plan: no estimate for strategy '", strategy, "' at ", p.ranks, " rank(s)");
    const double need = mine->mem.total() - borrowed;
    if (need <= limit) return;
    std::string fits;
    auto add = [&](const std::string& s) { fits += (fits.empty() ? "" : "; ") + s; };
    for (const auto& e : here.strategies)
        if (e.strategy != strategy && e.mem.total() <= limit)
            add(::mixgcn::detail::concat("--strategy ", e.strategy, " (", format_bytes(e.mem.total()), ")"));
    for (const char* s : {"graph", "mixture", "feature"}) {
        problem q = p;
        q.rows.clear();  // partition statistics are for this rank count only
        q.halo_recv.clear();
        q.halo_send.clear();
        for (q.ranks = std::max(2, p.ranks * 2); q.ranks <= 4096; q.ranks *= 2) {
            const auto at = make_plan(q, false);
            const auto it = std::find_if(at.strategies.begin(), at.strategies.end(),
                                         [&](const estimate& e) { return e.strategy == s; });
            if (it != at.strategies.end() && it->mem.total() <= limit) {
                add(::mixgcn::detail::concat("--strategy ", s, " on ", q.ranks, " ranks (", format_bytes(it->mem.total()),
                                             " per rank, halo estimated)"));
                break;
            }
        }
    }
    throw memory_error(::mixgcn::detail::concat(
        "strategy ", strategy, " on ", p.ranks, " rank(s) needs ", describe_per_rank(mine->mem),
        borrowed > 0 ? ::mixgcn::detail::concat(", of which ", format_bytes(borrowed), " is loaded already") : std::string(),
        ", but ", format_bytes(limit), " is available (", source, "); would fit: ",
        fits.empty() ? std::string("nothing up to 4096 ranks at these sizes") : fits));
}

}  // namespace mixgcn::parallel::plan
