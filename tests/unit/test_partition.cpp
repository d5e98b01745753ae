// Partitioners checked against what is known independently of the code: optimal cuts of
// hand-built graphs, brute-force metric counts, stated balance bounds, and random
// partitions as the baseline on Cora.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/partition.hpp"

namespace mp = mixgcn::partition;
using mixgcn::index_t;
using csr = mixgcn::storage::csr<index_t, float>;

namespace {

csr from_edges(index_t n, const std::vector<std::pair<index_t, index_t>>& edges) {
    mixgcn::graph::edge_list<index_t> list{n, edges};
    return mixgcn::graph::build_adjacency<index_t, float>(list);
}

// `count` cliques of `size` nodes, consecutive ones joined by one edge when `bridged`.
csr cliques(int count, int size, bool bridged, int isolated = 0) {
    std::vector<std::pair<index_t, index_t>> e;
    for (int c = 0; c < count; ++c) {
        for (int i = 0; i < size; ++i)
            for (int j = i + 1; j < size; ++j) e.emplace_back(c * size + i, c * size + j);
        if (bridged && c + 1 < count) e.emplace_back(c * size + size - 1, (c + 1) * size);
    }
    return from_edges(count * size + isolated, e);
}

csr grid(int w, int h) {
    std::vector<std::pair<index_t, index_t>> e;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            if (x + 1 < w) e.emplace_back(y * w + x, y * w + x + 1);
            if (y + 1 < h) e.emplace_back(y * w + x, (y + 1) * w + x);
        }
    return from_edges(w * h, e);
}

// Stochastic block model with skewed degrees: 4 blocks, some heavy hubs.
csr skewed_sbm(index_t n, std::uint64_t seed) {
    mixgcn::rng g(seed);
    std::vector<std::pair<index_t, index_t>> e;
    for (index_t u = 0; u < n; ++u) {
        const int m = (u % 37 == 0) ? 40 : 3;
        for (int k = 0; k < m; ++k) {
            index_t v = static_cast<index_t>(g.below(static_cast<std::uint64_t>(n)));
            if (g.uniform() < 0.85) v = static_cast<index_t>((v / 4) * 4 + u % 4) % n;  // same block (id mod 4)
            e.emplace_back(u, v);
        }
    }
    return from_edges(n, e);
}

// Independent brute-force metrics from an explicit edge set.
struct brute {
    long cut = 0;
    std::vector<long> halo;
};
brute brute_force(const csr& a, const std::vector<int>& owner, int parts) {
    std::set<std::pair<index_t, index_t>> pairs;
    std::vector<std::set<index_t>> ghosts(static_cast<std::size_t>(parts));
    for (index_t r = 0; r < a.rows; ++r)
        for (auto k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) {
            const index_t c = a.col_idx[static_cast<std::size_t>(k)];
            if (owner[r] != owner[c]) {
                pairs.emplace(std::min(r, c), std::max(r, c));
                ghosts[static_cast<std::size_t>(owner[r])].insert(c);
            }
        }
    brute b;
    b.cut = static_cast<long>(pairs.size());
    for (auto& s : ghosts) b.halo.push_back(static_cast<long>(s.size()));
    return b;
}

double max_row_cost(const csr& a) {
    long m = 0;
    for (index_t r = 0; r < a.rows; ++r) m = std::max<long>(m, a.degree(r) + 1);
    return static_cast<double>(m);
}

int levels(int parts) {
    int l = 0;
    while ((1 << l) < parts) ++l;
    return l;
}

// Number of distinct owners per node group.
int owners_touched(const std::vector<int>& owner, index_t begin, index_t end) {
    std::set<int> s(owner.begin() + begin, owner.begin() + end);
    return static_cast<int>(s.size());
}

}  // namespace

TEST_CASE("every partitioner satisfies the concept") {
    static_assert(mp::partitioner<mp::block> && mp::partitioner<mp::random> && mp::partitioner<mp::spectral> &&
                  mp::partitioner<mp::metis> && mp::partitioner<mp::block, double>);
    CHECK(mp::spectral{}.name() == "spectral");
}

TEST_CASE("two cliques joined by one edge: spectral and METIS cut exactly that edge") {
    const auto a = cliques(2, 20, true);
    const auto s = mp::spectral{}.partition(a, 2);
    CHECK(mp::evaluate(a, s, 2).edge_cut == 1);
    CHECK(owners_touched(s, 0, 20) == 1);
    CHECK(owners_touched(s, 20, 40) == 1);
    if (mp::metis::available()) {
        const auto m = mp::metis{}.partition(a, 2);
        CHECK(mp::evaluate(a, m, 2).edge_cut == 1);
    } else {
        MESSAGE("METIS not built in: metis part skipped");
        CHECK_THROWS_AS(mp::metis{}.partition(a, 2), mixgcn::error);
    }
    // Four cliques in a chain, P = 4: three bridges cut, each clique one part.
    const auto c4 = cliques(4, 12, true);
    CHECK(mp::evaluate(c4, mp::spectral{}.partition(c4, 4), 4).edge_cut == 3);
}

TEST_CASE("METIS schemes and weighting options") {
    if (!mp::metis::available()) {
        MESSAGE("METIS not built in: skipped");
        return;
    }
    const auto a = cliques(2, 20, true);
    using scheme = mp::metis::scheme;
    for (auto s : {scheme::kway, scheme::recursive, scheme::automatic})
        for (bool by_cost : {true, false}) {
            const auto o = mp::metis{.weight_by_cost = by_cost, .method = s}.partition(a, 2);
            CHECK(mp::evaluate(a, o, 2).edge_cut == 1);
        }
    // Node-count weighting balances nodes; on the star + isolated graph that leaves the
    // hub's part with most of the non-zeros, which cost weighting avoids.
    std::vector<std::pair<index_t, index_t>> e;
    for (index_t v = 1; v <= 400; ++v) e.emplace_back(0, v);
    const auto star = from_edges(1000, e);
    const auto by_nodes = mp::evaluate(star, mp::metis{.weight_by_cost = false}.partition(star, 2), 2);
    const auto by_cost = mp::evaluate(star, mp::metis{}.partition(star, 2), 2);
    CHECK(by_nodes.node_balance <= 1.031);
    CHECK(by_cost.cost_balance <= 1.031 + 401.0 / 900.0);
    CHECK(by_cost.cost_balance < by_nodes.cost_balance);
    MESSAGE("star: metis by nodes cost balance " << by_nodes.cost_balance << ", by cost " << by_cost.cost_balance);
}

TEST_CASE("grid 30x20: spectral cut close to the optimal straight cut") {
    const auto a = grid(30, 20);
    const auto q2 = mp::evaluate(a, mp::spectral{}.partition(a, 2), 2);
    MESSAGE("grid 30x20, P=2: spectral cut " << q2.edge_cut << " (optimal 20)");
    CHECK(q2.edge_cut >= 20);  // 20 is the minimum bisection of this grid
    CHECK(q2.edge_cut <= 30);
    const auto q4 = mp::evaluate(a, mp::spectral{}.partition(a, 4), 4);
    MESSAGE("grid 30x20, P=4: spectral cut " << q4.edge_cut << " (a 2x2 split cuts 50)");
    CHECK(q4.edge_cut <= 75);
    // Block on a grid is a set of row strips: 3 strip boundaries of 30 edges for P=4.
    const auto b4 = mp::evaluate(a, mp::block{}.partition(a, 4), 4);
    CHECK(b4.edge_cut <= 3 * 31);
    CHECK(mp::evaluate(a, mp::random{}.partition(a, 4), 4).edge_cut > 3 * q4.edge_cut);
}

TEST_CASE("balance within the stated tolerance for every method and P in {2,3,4,7}") {
    const std::vector<std::pair<std::string, csr>> graphs = {
        {"grid", grid(30, 20)}, {"skewed sbm", skewed_sbm(1500, 7)}, {"cliques+isolated", cliques(3, 15, false, 12)}};
    for (const auto& g : graphs) {
        // Named references, not a structured binding: CAPTURE's lambda cannot capture a
        // binding before clang 16, and the sanitizer builds use clang 14.
        const std::string& gname = g.first;
        const csr& a = g.second;
        const double rowmax = max_row_cost(a);
        for (int parts : {2, 3, 4, 7}) {
            CAPTURE(gname);
            CAPTURE(parts);
            double total = 0;
            for (index_t r = 0; r < a.rows; ++r) total += a.degree(r) + 1;
            const double ideal = total / parts;

            const auto b = mp::evaluate(a, mp::block{}.partition(a, parts), parts);
            for (auto c : b.owned_cost) CHECK(std::abs(double(c) - ideal) <= rowmax);

            const auto r = mp::evaluate(a, mp::random{}.partition(a, parts), parts);
            const auto [mn, mx] = std::minmax_element(r.owned_nodes.begin(), r.owned_nodes.end());
            CHECK(*mx - *mn <= 1);

            const mp::spectral sp;
            const auto s = mp::evaluate(a, sp.partition(a, parts), parts);
            for (auto c : s.owned_cost) {
                CHECK(double(c) <= std::exp(sp.imbalance) * ideal + levels(parts) * rowmax);
                CHECK(c > 0);
            }
            MESSAGE(gname << " P=" << parts << ": cost balance block " << b.cost_balance << ", spectral "
                          << s.cost_balance << ", random nodes " << r.node_balance);

            if (mp::metis::available()) {
                const auto m = mp::evaluate(a, mp::metis{}.partition(a, parts), parts);
                MESSAGE(gname << " P=" << parts << ": metis cost balance " << m.cost_balance << " cut " << m.edge_cut
                              << ", spectral cut " << s.edge_cut);
                // METIS targets 1 + ufactor/1000 and overshoots by about a row; on a few heavy
                // cliques that must be cut it does not promise that much (stated in the docs).
                const double rows_over = gname == "cliques+isolated" ? 3 : 1;
                CHECK(m.cost_balance <= 1.03 + rows_over * rowmax / ideal + 1e-9);
            }
        }
    }
}

TEST_CASE("block balances non-zeros, not node counts") {
    // A star (hub 0, leaves 1..400) then 599 isolated nodes: total cost 401 + 800 + 599 =
    // 1800, so the half-way point 900 falls after node 249, not at node 500.
    std::vector<std::pair<index_t, index_t>> e;
    for (index_t v = 1; v <= 400; ++v) e.emplace_back(0, v);
    const auto a = from_edges(1000, e);
    const auto owner = mp::block{}.partition(a, 2);
    for (std::size_t i = 1; i < owner.size(); ++i) CHECK(owner[i] >= owner[i - 1]);  // contiguous
    const auto q = mp::evaluate(a, owner, 2);
    CHECK(q.cost_balance < 1.01);
    CHECK(q.owned_nodes[0] >= 250);  // prefix costs 899 and 901: either is nearest
    CHECK(q.owned_nodes[0] <= 251);
}

TEST_CASE("metrics agree with a brute-force count") {
    // Directed, with self loops and one-way edges: both directions of a pair count once.
    mixgcn::rng g(42);
    std::vector<std::pair<index_t, index_t>> e;
    for (int k = 0; k < 900; ++k)
        e.emplace_back(static_cast<index_t>(g.below(150)), static_cast<index_t>(g.below(150)));
    mixgcn::graph::edge_list<index_t> list{150, e};
    const auto a = mixgcn::graph::build_adjacency<index_t, float>(
        list, {.symmetrize = false, .loops = mixgcn::graph::self_loops::keep});
    for (int parts : {1, 2, 5}) {
        std::vector<int> owner(150);
        for (auto& o : owner) o = static_cast<int>(g.below(static_cast<std::uint64_t>(parts)));
        const auto q = mp::evaluate(a, owner, parts);
        const auto bf = brute_force(a, owner, parts);
        CAPTURE(parts);
        CHECK(q.edge_cut == bf.cut);
        long total = 0, mx = 0, nodes = 0, nnz = 0;
        for (int p = 0; p < parts; ++p) {
            CHECK(q.halo[p] == bf.halo[p]);
            total += bf.halo[p];
            mx = std::max(mx, bf.halo[p]);
            nodes += q.owned_nodes[p];
            nnz += q.owned_nonzeros[p];
            CHECK(q.owned_cost[p] == q.owned_nonzeros[p] + q.owned_nodes[p]);
            CHECK(q.owned_nodes[p] == std::count(owner.begin(), owner.end(), p));
        }
        CHECK(q.total_halo == total);
        CHECK(q.max_halo == mx);
        CHECK(nodes == 150);
        CHECK(nnz == static_cast<long>(a.nnz()));
        const long maxn = *std::max_element(q.owned_nodes.begin(), q.owned_nodes.end());
        CHECK(q.node_balance == doctest::Approx(double(maxn) * parts / 150.0));
    }
}

TEST_CASE("invalid inputs give the stated errors") {
    const auto a = grid(3, 3);
    auto message_of = [](auto&& f) {
        try {
            f();
        } catch (const mixgcn::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no invalid_argument thrown");
    };
    CHECK(message_of([&] { (void)mp::block{}.partition(a, 0); }).find("got 0") != std::string::npos);
    CHECK(message_of([&] { (void)mp::random{}.partition(a, 10); }).find("10 parts requested for a graph of 9 nodes") !=
          std::string::npos);
    CHECK(message_of([&] { (void)mp::spectral{}.partition(a, -1); }).find("-1") != std::string::npos);
    CHECK(message_of([&] { (void)mp::metis{}.partition(a, 10); }).find("9 nodes") != std::string::npos);
    CHECK(message_of([&] { (void)mp::feature_columns(5, 6); }).find("6 parts requested for 5 feature columns") !=
          std::string::npos);
    CHECK_THROWS_AS(mp::evaluate(a, std::vector<int>(9, 3), 3), mixgcn::invalid_argument);
    CHECK_THROWS_AS(mp::evaluate(a, std::vector<int>(8, 0), 3), mixgcn::invalid_argument);
    // P == nodes is allowed: every node its own part.
    for (auto o : {mp::spectral{}.partition(a, 9), mp::block{}.partition(a, 9), mp::random{}.partition(a, 9)}) {
        std::vector<int> sorted = o;
        std::sort(sorted.begin(), sorted.end());
        for (int i = 0; i < 9; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
    }
}

TEST_CASE("partition files round-trip and report bad lines") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(MIXGCN_TEST_TMPDIR) / "partition";
    fs::create_directories(dir);
    const std::vector<int> owner = {0, 2, 1, 1, 0, 2};
    const std::string good = (dir / "good.txt").string();
    mp::write_partition_file(good, owner, 3, "test");
    CHECK(mp::read_partition_file(good, 6, 3) == owner);
    CHECK(mp::read_partition_file(good, 6) == owner);

    auto write = [&](const std::string& name, const std::string& text) {
        const std::string p = (dir / name).string();
        std::ofstream(p) << text;
        return p;
    };
    auto io_failure = [](const std::string& path, std::int64_t nodes, int parts) {
        try {
            (void)mp::read_partition_file(path, nodes, parts);
        } catch (const mixgcn::io_error& e) {
            return std::make_pair(e.line(), std::string(e.what()));
        }
        return std::make_pair(std::int64_t{-1}, std::string());
    };
    const auto short_file = write("short.txt", "# header\n0\n1\n");
    auto [l1, m1] = io_failure(short_file, 3, 2);
    CHECK(l1 == 4);
    CHECK(m1.find(short_file) != std::string::npos);
    CHECK(m1.find("2 owners") != std::string::npos);
    const auto long_file = write("long.txt", "0\n1\n0\n1\n");
    CHECK(io_failure(long_file, 3, 2).first == 4);
    const auto range_file = write("range.txt", "0\n1\n5\n");
    auto [l3, m3] = io_failure(range_file, 3, 2);
    CHECK(l3 == 3);
    CHECK(m3.find("'5'") != std::string::npos);
    CHECK(io_failure(write("neg.txt", "0\n-1\n0\n"), 3, 0).first == 2);
    CHECK(io_failure(write("junk.txt", "0\n1x\n0\n"), 3, 2).first == 2);
    CHECK(io_failure((dir / "missing.txt").string(), 3, 2).second.find("cannot open") != std::string::npos);
}

TEST_CASE("spectral on disconnected graphs packs components and cuts at most one") {
    // Three equal cliques, no edges between: P = 3 gives one clique per part, no cut.
    const auto a = cliques(3, 10, false);
    const auto o3 = mp::spectral{}.partition(a, 3);
    CHECK(mp::evaluate(a, o3, 3).edge_cut == 0);
    for (int c = 0; c < 3; ++c) CHECK(owners_touched(o3, c * 10, c * 10 + 10) == 1);
    // P = 2: 1.5 cliques per side, so exactly one clique is split (by its own Fiedler vector).
    const auto o2 = mp::spectral{}.partition(a, 2);
    const auto q2 = mp::evaluate(a, o2, 2);
    int split = 0;
    for (int c = 0; c < 3; ++c) split += owners_touched(o2, c * 10, c * 10 + 10) > 1;
    CHECK(split == 1);
    CHECK(q2.edge_cut == 25);  // a 10-clique cut 5|5
    CHECK(q2.cost_balance == doctest::Approx(1.0));
    // Two 15-cliques (cost 225 each) plus 30 isolated nodes, P = 2: each side one clique and
    // 15 isolated nodes, cost 240 each, nothing cut.
    const auto b = cliques(2, 15, false, 30);
    const auto qb = mp::evaluate(b, mp::spectral{}.partition(b, 2), 2);
    CHECK(qb.edge_cut == 0);
    CHECK(qb.owned_cost[0] == 240);
    CHECK(qb.owned_cost[1] == 240);
    // P = 3 (target 160 per part) must cut a clique; only one of the two may be cut in the
    // first bisection, the rest is recursive bisection of what is left.
    const auto o = mp::spectral{}.partition(b, 3);
    CHECK(mp::evaluate(b, o, 3).cost_balance <= std::exp(0.03) + 2 * 16.0 / 160.0);
}

TEST_CASE("partitions are deterministic by seed") {
    const auto a = skewed_sbm(800, 3);
    for (int parts : {2, 5}) {
        CHECK(mp::spectral{.seed = 9}.partition(a, parts) == mp::spectral{.seed = 9}.partition(a, parts));
        CHECK(mp::random{.seed = 9}.partition(a, parts) == mp::random{.seed = 9}.partition(a, parts));
        CHECK(mp::random{.seed = 9}.partition(a, parts) != mp::random{.seed = 10}.partition(a, parts));
        if (mp::metis::available())
            CHECK(mp::metis{.seed = 9}.partition(a, parts) == mp::metis{.seed = 9}.partition(a, parts));
    }
    // Spectral's result must not hinge on Lanczos' start: another seed finds the same cut
    // on a graph with a unique minimum bisection.
    const auto c = cliques(2, 20, true);
    CHECK(mp::evaluate(c, mp::spectral{.seed = 1}.partition(c, 2), 2).edge_cut ==
          mp::evaluate(c, mp::spectral{.seed = 2}.partition(c, 2), 2).edge_cut);
}

TEST_CASE("spectral's Lanczos path agrees with its dense eigensolver") {
    const auto a = grid(25, 12);  // 300 nodes: above the default dense threshold
    const auto g = mp::detail::symmetrize(a);
    const auto lanczos = mp::spectral{}.fiedler(g, 1);
    const auto dense = mp::spectral{.dense_below = 1000}.fiedler(g, 1);
    double dot = 0, n1 = 0, n2 = 0;
    for (std::size_t i = 0; i < dense.size(); ++i) {
        dot += lanczos[i] * dense[i];
        n1 += lanczos[i] * lanczos[i];
        n2 += dense[i] * dense[i];
    }
    CHECK(std::abs(dot) / std::sqrt(n1 * n2) > 0.999);
}

TEST_CASE("feature columns are contiguous and balanced") {
    for (auto [width, parts] : std::vector<std::pair<int, int>>{{1433, 4}, {16, 16}, {10, 3}, {7, 1}}) {
        const auto r = mp::feature_columns(width, parts);
        REQUIRE(r.size() == static_cast<std::size_t>(parts));
        CHECK(r.front().begin == 0);
        CHECK(r.back().end == width);
        long mn = width, mx = 0;
        for (std::size_t p = 0; p < r.size(); ++p) {
            if (p) CHECK(r[p].begin == r[p - 1].end);
            mn = std::min<long>(mn, r[p].size());
            mx = std::max<long>(mx, r[p].size());
        }
        CHECK(mx - mn <= 1);
        CHECK(mn >= 1);
    }
}

TEST_CASE("Cora: METIS and spectral cut far fewer edges than random for P=4") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(MIXGCN_DATASETS_DIR) / "cora";
    if (!fs::exists(dir / "edges.tsv") || !fs::exists(dir / "labels.txt")) {
        MESSAGE("Cora not found under " << dir.string() << ": test skipped");
        return;
    }
    // Read the dataset independently of mixgcn's loaders: N = label lines, edges from the TSV.
    index_t n = 0;
    {
        std::ifstream in(dir / "labels.txt");
        std::string line;
        while (std::getline(in, line))
            if (!line.empty()) ++n;
    }
    std::vector<std::pair<index_t, index_t>> e;
    {
        std::ifstream in(dir / "edges.tsv");
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty() || line[0] == '#') continue;
            std::istringstream ls(line);
            index_t u = 0, v = 0;
            if (ls >> u >> v) e.emplace_back(u, v);
        }
    }
    const auto a = from_edges(n, e);
    const auto rnd = mp::evaluate(a, mp::random{}.partition(a, 4), 4);
    const auto spec = mp::evaluate(a, mp::spectral{}.partition(a, 4), 4);
    MESSAGE("Cora P=4 edge cut: random " << rnd.edge_cut << ", spectral " << spec.edge_cut);
    CHECK(spec.edge_cut * 3 < rnd.edge_cut);
    CHECK(spec.cost_balance <= std::exp(0.03) + 2 * max_row_cost(a) / (double(a.nnz() + a.rows) / 4));
    if (mp::metis::available()) {
        const auto met = mp::evaluate(a, mp::metis{}.partition(a, 4), 4);
        MESSAGE("Cora P=4 edge cut: metis " << met.edge_cut);
        CHECK(met.edge_cut * 3 < rnd.edge_cut);
    }
}

namespace {

// 4000-node power-law SBM, 8 classes in random id order, 90 % of edges inside a class.
csr fennel_sbm() {
    mixgcn::graph::sbm_options o;
    o.nodes = 4000;
    o.classes = 8;
    o.homophily = 0.9;
    o.features = 4;
    const auto ds = mixgcn::graph::generate_sbm<float>(o);
    return mixgcn::graph::build_adjacency<index_t, float>(ds.edges);
}

}  // namespace

TEST_CASE("fennel: valid, non-empty, balanced parts on an SBM") {
    const auto a = fennel_sbm();
    static_assert(mp::partitioner<mp::fennel>);
    CHECK(mp::fennel{}.name() == "fennel");
    const double rowmax = max_row_cost(a);
    const double total = double(a.nnz() + static_cast<std::size_t>(a.rows));
    for (double cap : {1.1, 1.02}) {
        for (int parts = 1; parts <= 8; ++parts) {
            CAPTURE(cap);
            CAPTURE(parts);
            const auto owner = mp::fennel{.capacity = cap}.partition(a, parts);
            REQUIRE(owner.size() == static_cast<std::size_t>(a.rows));
            for (int o : owner) REQUIRE((o >= 0 && o < parts));
            const auto q = mp::evaluate(a, owner, parts);
            for (int p = 0; p < parts; ++p) {
                CHECK(q.owned_nodes[p] > 0);
                CHECK(double(q.owned_cost[p]) <= cap * total / parts + rowmax);
            }
            if (parts == 1) CHECK(q.edge_cut == 0);
        }
    }
    // Shuffled and restreamed runs obey the same rules.
    for (auto f : {mp::fennel{.seed = 5, .shuffle = true}, mp::fennel{.passes = 3}}) {
        const auto q = mp::evaluate(a, f.partition(a, 8), 8);
        for (int p = 0; p < 8; ++p) {
            CHECK(q.owned_nodes[p] > 0);
            CHECK(double(q.owned_cost[p]) <= f.capacity * total / 8 + rowmax);
        }
    }
}

TEST_CASE("fennel: cut well below random, restreaming helps, METIS for reference") {
    const auto a = fennel_sbm();
    for (int parts : {2, 4, 8}) {
        CAPTURE(parts);
        const auto rnd = mp::evaluate(a, mp::random{}.partition(a, parts), parts);
        const auto f1 = mp::evaluate(a, mp::fennel{}.partition(a, parts), parts);
        const auto f3 = mp::evaluate(a, mp::fennel{.passes = 3}.partition(a, parts), parts);
        const auto fs = mp::evaluate(a, mp::fennel{.shuffle = true}.partition(a, parts), parts);
        MESSAGE("sbm 4000 P=" << parts << ": cut random " << rnd.edge_cut << ", fennel " << f1.edge_cut
                              << " (ratio " << double(f1.edge_cut) / double(rnd.edge_cut) << "), passes=3 "
                              << f3.edge_cut << ", shuffled " << fs.edge_cut << "; cost balance fennel "
                              << f1.cost_balance << ", passes=3 " << f3.cost_balance);
        // Measured ratios 0.46 (P=2, 4) and 0.52 (P=8); a random assignment is near 1.
        if (parts >= 4) CHECK(double(f1.edge_cut) <= 0.6 * double(rnd.edge_cut));
        CHECK(f3.edge_cut <= f1.edge_cut);
        if (mp::metis::available()) {
            const auto m = mp::evaluate(a, mp::metis{}.partition(a, parts), parts);
            MESSAGE("sbm 4000 P=" << parts << ": metis cut " << m.edge_cut << ", fennel/metis "
                                  << double(f1.edge_cut) / double(m.edge_cut) << ", fennel passes=3/metis "
                                  << double(f3.edge_cut) / double(m.edge_cut));
        }
    }
}

TEST_CASE("fennel: deterministic, and bad options throw naming the value") {
    const auto a = fennel_sbm();
    CHECK(mp::fennel{}.partition(a, 5) == mp::fennel{}.partition(a, 5));
    CHECK(mp::fennel{.seed = 3, .shuffle = true}.partition(a, 5) ==
          mp::fennel{.seed = 3, .shuffle = true}.partition(a, 5));
    CHECK(mp::fennel{.seed = 3, .shuffle = true}.partition(a, 5) !=
          mp::fennel{.seed = 4, .shuffle = true}.partition(a, 5));
    auto message_of = [&](mp::fennel f, int parts) {
        try {
            (void)f.partition(a, parts);
        } catch (const mixgcn::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no invalid_argument thrown");
    };
    CHECK(message_of({.capacity = 0.9}, 4).find("0.9") != std::string::npos);
    CHECK(message_of({.gamma = 1.0}, 4).find("gamma") != std::string::npos);
    CHECK(message_of({.alpha = -0.5}, 4).find("-0.5") != std::string::npos);
    CHECK(message_of({.passes = 0}, 4).find("got 0") != std::string::npos);
    CHECK(message_of({}, 0).find("got 0") != std::string::npos);
    CHECK(message_of({}, 4001).find("4001 parts") != std::string::npos);
    // P == nodes: every node its own part (the empty-part fix fills what streaming left).
    const auto g = grid(3, 3);
    std::vector<int> sorted = mp::fennel{}.partition(g, 9);
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < 9; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
}
