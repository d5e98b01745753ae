// Partitioned loading with real processes (mpirun 1-4 ranks, Gloo 2-4): every rank reads
// only its share of a .npy dataset folder and ends with exactly the rows the full load
// would give it (features bit for bit, labels, split, adjacency rows after the loader's
// cleaning), for contiguous, scattered and streamed owners; it reads no more bytes than
// its share plus each file's header; the graph strategy built from those rows equals the
// one cut from the global operator (fused and edge weights), and training on it equals
// `single` (double, dropout on, 1e-9).
#include "session.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/io/dataset.hpp"
#include "mixgcn/parallel/full_graph.hpp"
#include "mixgcn/parallel/partitioned_load.hpp"
#include "mixgcn/partition.hpp"
#ifdef _OPENMP
#include <omp.h>
#endif

using namespace mixgcn;
using test_session::with_comm;

namespace {

// Writes (rank 0) a dataset folder whose edge list has what a loader must clean:
// both directions of some edges, repeated edges and self-loops. Every rank returns the
// folder and the dataset as written.
template <class Comm>
std::filesystem::path write_messy_dataset(Comm& comm, dataset<double>& ds, index_t nodes = 420, double degree = 6) {
    ds = graph::generate_sbm<double>(test_session::sbm(nodes, degree, 10, 4, 5));
    const auto m = ds.edges.edges.size();
    for (std::size_t k = 0; k < m; k += 7) ds.edges.edges.push_back({ds.edges.edges[k].second, ds.edges.edges[k].first});
    for (std::size_t k = 0; k < m; k += 11) ds.edges.edges.push_back(ds.edges.edges[k]);
    for (index_t v = 0; v < nodes; v += 37) ds.edges.edges.push_back({v, v});
    const auto dir = std::filesystem::temp_directory_path() /
                     ("mixgcn-partitioned-" + std::string(Comm::name()) + "-np" + std::to_string(comm.size()));
    comm.barrier();  // no rank still reads the previous case's files
    if (comm.rank() == 0) io::save_dataset(dir, ds);
    comm.barrier();
    return dir;
}

template <class Comm>
std::vector<int> owners_named(Comm& comm, const std::string& how, const storage::csr<index_t, double>& adjacency) {
    if (how == "range") return {};
    if (how == "random") return test_session::owners(comm, partition::random{3}, adjacency);
    return test_session::owners(comm, partition::fennel{}, adjacency);
}

}  // namespace

TEST_CASE("partitioned loading: each rank holds exactly its rows of the full load and read only its share") {
    with_comm([](auto& comm) {
        dataset<double> written;
        const auto dir = write_messy_dataset(comm, written);
        const auto full = io::load_dataset<double>(dir);
        const auto adjacency = graph::build_adjacency<index_t, double>(full.edges);
        const int me = comm.rank(), P = comm.size();
        for (const std::string how : {"range", "random", "fennel"}) {
            CAPTURE(how);
            parallel::partitioned_load_options o;
            o.owner = owners_named(comm, how, adjacency);
            o.edge_slice = 97;  // many slices
            const auto owner = o.owner.empty() ? parallel::range_owners(full.features.rows(), P) : o.owner;
            const auto part = parallel::load_partitioned<double>(comm, dir, o);
            REQUIRE(part.nodes == full.num_nodes());
            CHECK(part.num_classes == full.num_classes);
            CHECK(part.edge_rows == full.edges.edges.size());
            CHECK(part.owner == owner);
            std::vector<index_t> mine;
            for (index_t v = 0; v < part.nodes; ++v)
                if (owner[std::size_t(v)] == me) mine.push_back(v);
            REQUIRE(part.owned == mine);
            REQUIRE(part.features.rows() == mine.size());
            REQUIRE(part.features.cols() == full.features.cols());
            std::size_t bad_rows = 0, bad_adjacency = 0;
            for (std::size_t k = 0; k < mine.size(); ++k) {
                const auto v = static_cast<std::size_t>(mine[k]);
                for (std::size_t c = 0; c < full.features.cols(); ++c)
                    bad_rows += part.features(k, c) != full.features(v, c);  // bit for bit
                bad_rows += part.labels[k] != full.labels[v];
                bad_rows += part.split[k] != full.split[v];
                const auto want = adjacency.row_cols(index_t(v));
                const auto got = part.rows.row_cols(index_t(k));
                bad_adjacency += !std::equal(want.begin(), want.end(), got.begin(), got.end());
            }
            CHECK(bad_rows == 0);
            CHECK(bad_adjacency == 0);
            std::size_t nnz = part.rows.nnz();
            std::vector<std::uint64_t> total{nnz};
            comm.all_reduce(std::span<std::uint64_t>(total));
            CHECK(total[0] == adjacency.nnz());

            // Bytes read: each file's header once, plus this rank's row range.
            const auto [lo, hi] = parallel::read_range(full.features.rows(), me, P);
            const auto [elo, ehi] = parallel::read_range(part.edge_rows, me, P);
            auto header = [&](const char* f) {
                io::input_file in(dir / f);
                return io::read_npy_header(in).data_offset;
            };
            const auto& r = part.report;
            CHECK(r.features_bytes_read == header("features.npy") + (hi - lo) * full.features.cols() * sizeof(double));
            CHECK(r.labels_bytes_read == header("labels.npy") + (hi - lo) * sizeof(std::int32_t));
            CHECK(r.split_bytes_read == header("split.npy") + (hi - lo));
            CHECK(r.edges_bytes_read == header("edges.npy") + (ehi - elo) * 2 * sizeof(std::int32_t));
            if (me == 0)
                MESSAGE(how, " owners, ", P, " ranks: rank 0 read ", r.bytes_read(), " bytes, sent ", r.bytes_sent,
                        ", holds ", part.bytes(), " bytes");
        }
    });
}

TEST_CASE("partitioned loading: the graph strategy from local rows equals the one from the global operator") {
    with_comm([](auto& comm) {
        using Comm = std::remove_reference_t<decltype(comm)>;
        dataset<double> written;
        const auto dir = write_messy_dataset(comm, written);
        const auto full = io::load_dataset<double>(dir);
        const auto adjacency = graph::build_adjacency<index_t, double>(full.edges);
        parallel::partitioned_load_options o;
        o.owner = test_session::owners(comm, partition::random{9}, adjacency);
        const auto part = parallel::load_partitioned<double>(comm, dir, o);
        for (const auto mode : {graph::normalization_mode::fused, graph::normalization_mode::edge_weights}) {
            CAPTURE(int(mode));
            parallel::graph<backend::host, double, Comm> whole(comm, graph::gcn_normalize<double>(adjacency, mode),
                                                               std::span<const int>(o.owner));
            auto local = parallel::make_graph<backend::host, double>(comm, part, mode);
            REQUIRE(local.global_ids() == whole.global_ids());
            // One forward and one backward on the same rows: equal bit for bit.
            dense_matrix<double> x(std::size_t(local.rows()), 5), y1(x.rows(), 5), y2(x.rows(), 5), g1(x.rows(), 5),
                g2(x.rows(), 5);
            for (std::size_t i = 0; i < x.rows(); ++i)
                for (std::size_t c = 0; c < 5; ++c)
                    x(i, c) = std::sin(double(local.global_ids()[i]) * 0.7 + double(c));
            whole.forward(x.cview(), y1.view());
            local.forward(x.cview(), y2.view());
            whole.backward(x.cview(), g1.view());
            local.backward(x.cview(), g2.view());
            const auto same = [](const dense_matrix<double>& a, const dense_matrix<double>& b) {
                return std::equal(a.values().begin(), a.values().end(), b.values().begin(), b.values().end());
            };
            CHECK(same(y1, y2));
            CHECK(same(g1, g2));
        }
    });
}

TEST_CASE("partitioned loading: training the graph strategy on it equals single (double, dropout on)") {
    with_comm([](auto& comm) {
        dataset<double> written;
        const auto dir = write_messy_dataset(comm, written);
        const auto full = io::load_dataset<double>(dir);
        const auto adjacency = graph::build_adjacency<index_t, double>(full.edges);
        nn::model_options mo;
        mo.in = full.features.cols();
        mo.classes = std::size_t(full.num_classes);
        mo.layers = 2;
        mo.hidden = 16;
        mo.dropout = 0.5;
        train::trainer_options to;
        to.epochs = 8;
        to.seed = 11;
        comm::local self;
        nn::gcn_model<backend::host, double> m(mo);
        m.initialize(to.seed);
        nn::optimizer<backend::host, double> opt(nn::optimizer_options{});
        const std::vector<int> all_mine(full.features.rows(), 0);
        const auto ref = parallel::train_full_graph<backend::host, double>(
            self, full, graph::gcn_normalize<double>(adjacency), all_mine, {parallel::strategy_kind::single, 1}, m,
            opt, to);
        for (const std::string how : {"range", "random"}) {
            CAPTURE(how);
            parallel::partitioned_load_options o;
            o.owner = owners_named(comm, how, adjacency);
            parallel::partitioned_load_report load;
            const auto got = parallel::train_graph_partitioned<backend::host, double>(comm, dir, o, mo,
                                                                                      nn::optimizer_options{}, to,
                                                                                      nullptr, &load);
            REQUIRE(got.history.size() == ref.history.size());
            double worst = 0;
            for (std::size_t e = 0; e < ref.history.size(); ++e)
                worst = std::max(worst, std::abs(got.history[e].loss - ref.history[e].loss) / std::abs(ref.history[e].loss));
            CHECK(worst < 1e-9);
            CHECK(load.bytes_read() > 0);
            if (comm.rank() == 0) MESSAGE(how, " owners, ", comm.size(), " ranks: loss vs single ", worst);
        }
    });
}

TEST_CASE("partitioned loading from a text edge list (tsv, csv): the full load's rows, each rank its byte range") {
    with_comm([](auto& comm) {
        dataset<double> written;
        const auto dir = write_messy_dataset(comm, written);
        const int me = comm.rank(), P = comm.size();
        for (const std::string kind : {"tsv", "csv"}) {
            CAPTURE(kind);
            const auto text = std::filesystem::path(dir.string() + "-edges-" + kind);
            const char sep = kind == "csv" ? ',' : '\t';
            if (me == 0) {  // the npy parts, and the edges as text with comments and blank lines
                std::filesystem::remove_all(text);
                std::filesystem::create_directories(text);
                for (const char* f : {"features.npy", "labels.npy", "split.npy"})
                    std::filesystem::copy_file(dir / f, text / f);
                std::ofstream out(text / ("edges." + kind));
                out << "# edges of the messy dataset\n\n";
                for (std::size_t k = 0; k < written.edges.edges.size(); ++k) {
                    out << written.edges.edges[k].first << sep << written.edges.edges[k].second << "\n";
                    if (k % 50 == 0) out << "# a comment inside\n";
                    if (k % 77 == 0) out << "\n";
                }
            }
            comm.barrier();
            const auto full = io::load_dataset<double>(text);
            const auto adjacency = graph::build_adjacency<index_t, double>(full.edges);
            REQUIRE(full.edges.edges.size() == written.edges.edges.size());
            for (const std::uint64_t chunk : {std::uint64_t(3), std::uint64_t(1) << 16}) {  // tiny chunks, and one
                parallel::partitioned_load_options o;
                o.edge_slice = chunk;
                const auto part = parallel::load_partitioned<double>(comm, text, o);
                CHECK(part.edge_rows == written.edges.edges.size());
                std::size_t bad = 0;
                for (std::size_t k = 0; k < part.owned.size(); ++k) {
                    const auto want = adjacency.row_cols(part.owned[k]);
                    const auto got = part.rows.row_cols(index_t(k));
                    bad += !std::equal(want.begin(), want.end(), got.begin(), got.end());
                }
                CHECK(bad == 0);
                std::vector<std::uint64_t> total{part.rows.nnz()};
                comm.all_reduce(std::span<std::uint64_t>(total));
                CHECK(total[0] == adjacency.nnz());
                // Bytes read: this rank's byte range, and at most one 256-byte block beyond
                // each end to find the line starts (the lines here are under 32 bytes).
                const auto size = std::filesystem::file_size(text / ("edges." + kind));
                const auto [lo, hi] = parallel::read_range(size, me, P);
                CHECK(part.report.edges_bytes_read <= (hi - lo) + 2 * 256 + 64);
                CHECK(part.report.edges_bytes_read + 64 >= hi - lo);
            }
            // A bad line is named by file and byte offset.
            comm.barrier();
            if (me == 0) {
                std::ofstream out(text / ("edges." + kind), std::ios::app);
                out << "12" << sep << "oops\n";
            }
            comm.barrier();
            CHECK_THROWS_WITH_AS(parallel::load_partitioned<double>(comm, text),
                                 doctest::Contains(("edges." + kind).c_str()), io_error);
        }
    });
}

TEST_CASE("partitioned loading refuses what it cannot read by ranges, naming the file") {
    with_comm([](auto& comm) {
        dataset<double> written;
        const auto dir = write_messy_dataset(comm, written);
        const auto text = std::filesystem::path(dir.string() + "-text");
        if (comm.rank() == 0) {
            std::filesystem::create_directories(text);
            for (const char* f : {"features.npy", "edges.npy", "labels.npy"})
                std::filesystem::copy_file(dir / f, text / f, std::filesystem::copy_options::overwrite_existing);
            io::write_split_text(text / "split.txt", written.split);
        }
        comm.barrier();
        CHECK_THROWS_WITH_AS(parallel::load_partitioned<double>(comm, text), doctest::Contains("split.txt"), io_error);
        std::vector<int> short_owner(10, 0);
        parallel::partitioned_load_options o;
        o.owner = short_owner;
        CHECK_THROWS_WITH_AS(parallel::load_partitioned<double>(comm, dir, o),
                             doctest::Contains("owner vector has 10 entries for 420 nodes"), invalid_argument);
    });
}

#ifdef _OPENMP
TEST_CASE("partitioned loading: the rows do not depend on the thread count") {
    with_comm([](auto& comm) {
        dataset<double> written;  // degree 40: enough keys per row that the row sort runs on 3 threads
        const auto dir = write_messy_dataset(comm, written, 3000, 40);
        const auto adjacency = graph::build_adjacency<index_t, double>(written.edges);
        for (const std::string how : {"range", "random"}) {
            CAPTURE(how);
            parallel::partitioned_load_options o;
            o.owner = owners_named(comm, how, adjacency);
            const int before = omp_get_max_threads();
            omp_set_num_threads(1);
            const auto one = parallel::load_partitioned<double>(comm, dir, o);
            omp_set_num_threads(3);
            const auto three = parallel::load_partitioned<double>(comm, dir, o);
            omp_set_num_threads(before);
            CHECK(one.owned == three.owned);
            CHECK(one.rows.row_ptr == three.rows.row_ptr);
            CHECK(one.rows.col_idx == three.rows.col_idx);
            // and they are the whole adjacency's rows
            bool same = true;
            for (std::size_t k = 0; k < three.owned.size(); ++k) {
                const auto want = adjacency.row_cols(three.owned[k]);
                const auto have = three.rows.row_cols(index_t(k));
                same = same && std::equal(want.begin(), want.end(), have.begin(), have.end());
            }
            CHECK(same);
        }
    });
}
#endif

int main(int argc, char** argv) { return test_session::main(argc, argv); }
