// Round trips for every reader/writer pair, one case per malformed input (each must
// raise io_error naming file, line or byte offset, and the offending text), and the
// shipped Cora folder checked against the counts in its own stats.json.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>

#include "io_error_checks.hpp"
#include "thread_counts.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/io.hpp"
#include "mixgcn/parallel/detail/edge_buckets.hpp"
#include "mixgcn/parallel/partitioned_load.hpp"

using namespace mixgcn;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
    const fs::path dir = fs::path(MIXGCN_TEST_TMPDIR) / "io";
    fs::create_directories(dir);
    return dir / name;
}

fs::path write_text(const std::string& name, std::string_view content) {
    const auto p = scratch(name);
    std::ofstream(p, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
    return p;
}

using test_support::contains;
using test_support::io_error_of;

// The error names the file, the line (or byte offset) and quotes `offending` (when given).
#define CHECK_IO_ERROR(expr, path, where, is_off, offending)                       \
    do {                                                                           \
        CHECK_THROWS_AS(expr, io_error);                                           \
        const auto err = io_error_of([&] { expr; });                               \
        REQUIRE(err.has_value());                                                  \
        CHECK(err->file() == (path).string());                                     \
        CHECK(err->line() == (where));                                             \
        CHECK(err->is_offset() == (is_off));                                       \
        CHECK(contains(err->what(), (path).string()));                             \
        CHECK(contains(err->what(), std::string(offending)));                      \
        CHECK(contains(err->text(), std::string(offending)));                      \
    } while (0)

graph::edge_list<index_t> random_edges(std::uint64_t seed, index_t n, std::size_t m) {
    rng g(seed);
    graph::edge_list<index_t> e;
    e.num_nodes = n;
    for (std::size_t k = 0; k < m; ++k)
        e.edges.emplace_back(static_cast<index_t>(g.below(std::uint64_t(n))), static_cast<index_t>(g.below(std::uint64_t(n))));
    e.edges.emplace_back(n - 1, 0);  // so max id + 1 == n for readers that infer n
    return e;
}

template <class V>
dense_matrix<V> random_features(std::uint64_t seed, std::size_t rows, std::size_t cols, double density) {
    rng g(seed);
    dense_matrix<V> m(rows, cols);
    for (std::size_t i = 0; i < m.size(); ++i)
        if (g.uniform() < density) m.data()[i] = static_cast<V>(g.uniform(-1e3, 1e3) * std::pow(10.0, g.uniform(-20, 20)));
    return m;
}

template <class V>
bool bit_equal(const dense_matrix<V>& a, const dense_matrix<V>& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() && std::memcmp(a.data(), b.data(), a.size() * sizeof(V)) == 0;
}

// A minimal .npy header with an arbitrary dict (for malformed-header cases).
std::string npy_with_dict(std::string dict, char major = 1) {
    std::string out = "\x93NUMPY";
    out += major;
    out += '\0';
    dict += '\n';
    out += static_cast<char>(dict.size() & 0xff);
    out += static_cast<char>(dict.size() >> 8);
    return out + dict;
}

// Where the array data starts, from the file size alone (independent of the parser).
std::int64_t data_start(const fs::path& p, std::size_t data_bytes) {
    return static_cast<std::int64_t>(fs::file_size(p) - data_bytes);
}

long stats_value(const std::string& json, const std::string& key) {
    const auto at = json.find("\"" + key + "\"");
    REQUIRE(at != std::string::npos);
    auto p = json.find(':', at) + 1;
    while (json[p] == ' ') ++p;
    long v = 0;
    std::from_chars(json.data() + p, json.data() + json.size(), v);
    return v;
}

}  // namespace

// ---------------------------------------------------------------- round trips

TEST_CASE("edge list round trip: tsv, npy (int32 and int64) and Matrix Market") {
    const auto g = random_edges(1, 97, 400);
    for (const char* name : {"rt_edges.tsv", "rt_edges.txt", "rt_edges.npy", "rt_edges.mtx"}) {
        CAPTURE(name);
        const auto p = scratch(name);
        io::write_edge_list(p, g);
        const auto back = io::read_edge_list<index_t>(p);
        CHECK(back.num_nodes == g.num_nodes);
        CHECK(back.edges == g.edges);
    }
    graph::edge_list<std::int64_t> big;
    big.num_nodes = std::int64_t(1) << 33;
    big.edges = {{0, (std::int64_t(1) << 33) - 1}, {5, 7}};
    const auto p = scratch("rt_edges64.npy");
    io::write_edge_list(p, big);
    const auto back = io::read_edge_list<std::int64_t>(p);
    CHECK(back.edges == big.edges);
    CHECK(back.num_nodes == big.num_nodes);
}

TEST_CASE("tsv: comments, blank lines, CRLF and an explicit node count") {
    const auto p = write_text("commented.tsv", "# header\n\n0\t1\r\n  2 3   # trailing\n\t\n4\t0\n");
    const auto g = io::read_edge_list<index_t>(p);
    CHECK(g.num_nodes == 5);
    CHECK(g.edges == std::vector<std::pair<index_t, index_t>>{{0, 1}, {2, 3}, {4, 0}});
    CHECK(io::read_edge_list<index_t>(p, index_t(10)).num_nodes == 10);
}

TEST_CASE("Matrix Market symmetric pattern expands to both directions, 1-based to 0-based") {
    const auto p = write_text("sym.mtx", "%%MatrixMarket matrix coordinate pattern symmetric\n% c\n4 4 3\n2 1\n3 3\n4 2\n");
    const auto g = io::read_edge_list<index_t>(p);
    CHECK(g.num_nodes == 4);
    CHECK(g.edges == std::vector<std::pair<index_t, index_t>>{{1, 0}, {0, 1}, {2, 2}, {3, 1}, {1, 3}});
}

TEST_CASE("features round trip is bit-exact for float64 and float32 in npy and mtx") {
    const auto d = random_features<double>(2, 31, 17, 0.3);
    const auto f = random_features<float>(3, 29, 13, 0.3);
    for (const char* ext : {".npy", ".mtx"}) {
        CAPTURE(ext);
        const auto pd = scratch(std::string("rt_feat64") + ext), pf = scratch(std::string("rt_feat32") + ext);
        io::write_features(pd, d);
        io::write_features(pf, f);
        CHECK(bit_equal(io::read_features<double>(pd), d));
        CHECK(bit_equal(io::read_features<float>(pf), f));
        // float written, double read: exactly the widened values.
        CHECK(bit_equal(io::read_features<double>(pf), convert<double>(f)));
    }
}

TEST_CASE("sparse Matrix Market features: missing entries are zero, duplicates sum") {
    const auto p = write_text("bow.mtx", "%%MatrixMarket matrix coordinate real general\n2 3 3\n1 2 0.5\n2 3 -2e-3\n1 2 0.25\n");
    const auto m = io::read_features<double>(p);
    REQUIRE(m.rows() == 2);
    REQUIRE(m.cols() == 3);
    CHECK(m(0, 0) == 0.0);
    CHECK(m(0, 1) == 0.75);
    CHECK(m(1, 2) == -2e-3);
    CHECK(m(1, 0) == 0.0);
}

TEST_CASE("labels and split round trip in txt and npy") {
    rng g(4);
    std::vector<std::int32_t> labels(300);
    std::vector<split_role> split(300);
    for (auto& l : labels) l = static_cast<std::int32_t>(g.below(9)) - 1;
    for (auto& s : split) s = static_cast<split_role>(g.below(4));
    io::write_labels_text(scratch("rt_labels.txt"), labels);
    io::write_labels_npy(scratch("rt_labels.npy"), labels);
    io::write_split_text(scratch("rt_split.txt"), split);
    io::write_split_npy(scratch("rt_split.npy"), split);
    CHECK(io::read_labels(scratch("rt_labels.txt")) == labels);
    CHECK(io::read_labels(scratch("rt_labels.npy")) == labels);
    CHECK(io::read_split(scratch("rt_split.txt")) == split);
    CHECK(io::read_split(scratch("rt_split.npy")) == split);
}

TEST_CASE("npy written by mixgcn has the layout numpy documents") {
    const std::vector<double> v = {1.5, -2.0, 3.25};
    const std::uint64_t shape[1] = {3};
    io::write_npy<double>(scratch("layout.npy"), v, shape);
    const auto bytes = io::read_file(scratch("layout.npy"));
    REQUIRE(bytes.size() % 64 == 24);  // header padded to a multiple of 64 bytes, then 3 doubles
    const std::size_t h = bytes.size() - 24;
    CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
    CHECK(contains(bytes, "'descr': '<f8'"));
    CHECK(contains(bytes, "'shape': (3,)"));
    CHECK(bytes[h - 1] == '\n');
    CHECK(std::uint16_t(std::uint8_t(bytes[8]) | std::uint8_t(bytes[9]) << 8) == h - 10);
    double x;
    std::memcpy(&x, bytes.data() + h + 8, 8);
    CHECK(x == -2.0);
}

TEST_CASE("npy format version 2.0 headers are read") {
    std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }";
    std::string f = "\x93NUMPY";
    f += '\x02';
    f += '\0';
    const std::uint32_t len = static_cast<std::uint32_t>(dict.size());
    f.append(reinterpret_cast<const char*>(&len), 4);
    f += dict;
    const std::int64_t ids[4] = {0, 3, 2, 1};
    f.append(reinterpret_cast<const char*>(ids), sizeof ids);
    const auto p = write_text("v2.npy", f);
    const auto g = io::read_edge_list<index_t>(p);
    CHECK(g.num_nodes == 4);
    CHECK(g.edges == std::vector<std::pair<index_t, index_t>>{{0, 3}, {2, 1}});
}

TEST_CASE("dataset save then load reproduces every part") {
    dataset<double> ds;
    ds.edges = random_edges(5, 50, 120);
    ds.features = random_features<double>(6, 50, 8, 0.5);
    rng g(7);
    ds.labels.resize(50);
    ds.split.resize(50);
    for (std::size_t i = 0; i < 50; ++i) {
        ds.labels[i] = static_cast<std::int32_t>(g.below(4));
        ds.split[i] = static_cast<split_role>(g.below(4));
    }
    ds.labels[3] = -1;
    ds.split[3] = split_role::none;
    const auto dir = scratch("saved_ds");
    fs::remove_all(dir);
    io::save_dataset(dir, ds);
    const auto back = io::load_dataset<double>(dir);
    CHECK(back.name == "saved_ds");
    CHECK(back.num_nodes() == 50);
    CHECK(back.edges.edges == ds.edges.edges);
    CHECK(bit_equal(back.features, ds.features));
    CHECK(back.labels == ds.labels);
    CHECK(back.split == ds.split);
    CHECK(back.num_classes == 1 + *std::max_element(ds.labels.begin(), ds.labels.end()));
    back.validate();
}

// ---------------------------------------------------------------- malformed input

TEST_CASE("malformed: bad token in an edge list") {
    const auto p = write_text("bad_token.tsv", "0\t1\n# c\n2\tx7\n");
    CHECK_IO_ERROR(io::read_edge_list<index_t>(p), p, 3, false, "x7");
}

TEST_CASE("malformed: wrong column count") {
    const auto p = write_text("columns.tsv", "0 1\n1 2 3\n");
    CHECK_IO_ERROR(io::read_edge_list<index_t>(p), p, 2, false, "1 2 3");
    const auto q = write_text("columns.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 2\n1 2 1.0\n2 3\n");
    CHECK_IO_ERROR(io::read_features<float>(q), q, 4, false, "2 3");
}

TEST_CASE("malformed: id out of range (tsv with a node count, mtx, npy)") {
    const auto p = write_text("range.tsv", "0 1\n1 12\n");
    CHECK_IO_ERROR(io::read_edge_list<index_t>(p, index_t(12)), p, 2, false, "12");
    const auto q = write_text("range.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 2\n1 2\n4 1\n");
    CHECK_IO_ERROR(io::read_edge_list<index_t>(q), q, 4, false, "4");
    graph::edge_list<index_t> g{3, {{0, 1}, {2, 9}}};
    const auto r = scratch("range.npy");
    io::write_edge_list(r, g);
    CHECK_IO_ERROR(io::read_edge_list<index_t>(r, index_t(3)), r, data_start(r, 16) + 3 * 4, true, "9");
    // An id past int32 is out of range for the 32-bit index type.
    const auto s = write_text("range32.tsv", "0 3000000000\n");
    CHECK_IO_ERROR(io::read_edge_list<index_t>(s), s, 1, false, "3000000000");
}

TEST_CASE("malformed: negative id") {
    const auto p = write_text("negative.tsv", "0 1\n\n-3 1\n");
    CHECK_IO_ERROR(io::read_edge_list<index_t>(p), p, 3, false, "-3");
    graph::edge_list<index_t> g{3, {{0, -1}}};
    const auto r = scratch("negative.npy");
    io::write_edge_list(r, g);
    CHECK_IO_ERROR(io::read_edge_list<index_t>(r), r, data_start(r, 8) + 4, true, "-1");
}

TEST_CASE("malformed: NaN and infinite features") {
    const auto p = write_text("nan.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 0.5\n2 1 nan\n");
    CHECK_IO_ERROR(io::read_features<float>(p), p, 4, false, "nan");
    dense_matrix<double> m(2, 3);
    m(1, 2) = std::numeric_limits<double>::infinity();
    const auto q = scratch("inf.npy");
    io::write_features(q, m);
    CHECK_IO_ERROR(io::read_features<double>(q), q, data_start(q, 48) + 5 * 8, true, "inf");
    // A float32 file read as float64: its infinity is caught too (the fast path's bound
    // is float32's largest value, not float64's).
    dense_matrix<float> f(2, 2);
    f(0, 1) = -std::numeric_limits<float>::infinity();
    const auto r = scratch("inf32.npy");
    io::write_features(r, f);
    CHECK_IO_ERROR(io::read_features<double>(r), r, data_start(r, 16) + 4, true, "-inf");
    f(0, 1) = std::numeric_limits<float>::quiet_NaN();
    io::write_features(r, f);
    CHECK_IO_ERROR(io::read_features<float>(r), r, data_start(r, 16) + 4, true, "nan");
    // Finite in float64 but too large for float32.
    dense_matrix<double> big(1, 1);
    big(0, 0) = 1e300;
    io::write_features(scratch("big.npy"), big);
    CHECK_IO_ERROR(io::read_features<float>(scratch("big.npy")), scratch("big.npy"), data_start(scratch("big.npy"), 8), true, "1e+300");
}

TEST_CASE("malformed: truncated .npy") {
    dense_matrix<float> m(4, 4);
    const auto p = scratch("trunc.npy");
    io::write_features(p, m);
    auto bytes = io::read_file(p);
    bytes.resize(bytes.size() - 5);
    write_text("trunc.npy", bytes);
    CHECK_IO_ERROR(io::read_features<float>(p), p, std::int64_t(bytes.size()), true, "");
    CHECK(contains(io_error_of([&] { io::read_features<float>(p); })->what(), "truncated"));
    // Cut inside the header too.
    write_text("trunc_header.npy", bytes.substr(0, 30));
    CHECK_IO_ERROR(io::read_features<float>(scratch("trunc_header.npy")), scratch("trunc_header.npy"), 30, true, "");
}

TEST_CASE("malformed: wrong npy dtype and shape (Fortran order and big endian load)") {
    const std::vector<double> v(6, 1.0);
    const std::uint64_t shape2[2] = {3, 2}, shape3[2] = {2, 3}, shape1[1] = {6};
    io::write_npy<double>(scratch("float_edges.npy"), v, shape2);
    CHECK_IO_ERROR(io::read_edge_list<index_t>(scratch("float_edges.npy")), scratch("float_edges.npy"), 10, true, "<f8");
    const std::vector<std::int32_t> ids(6, 1);
    io::write_npy<std::int32_t>(scratch("three_cols.npy"), ids, shape3);
    CHECK_IO_ERROR(io::read_edge_list<index_t>(scratch("three_cols.npy")), scratch("three_cols.npy"), 10, true, "3");
    io::write_npy<std::int32_t>(scratch("flat_edges.npy"), ids, shape1);
    CHECK_IO_ERROR(io::read_edge_list<index_t>(scratch("flat_edges.npy")), scratch("flat_edges.npy"), 10, true, "(6,)");
    io::write_npy<std::int32_t>(scratch("int_split.npy"), ids, shape1);
    CHECK_IO_ERROR(io::read_split(scratch("int_split.npy")), scratch("int_split.npy"), 10, true, "<i4");
    io::write_npy<std::int32_t>(scratch("int_feat.npy"), ids, shape2);
    CHECK_IO_ERROR(io::read_features<float>(scratch("int_feat.npy")), scratch("int_feat.npy"), 10, true, "<i4");

    // Fortran order and big-endian data load since issue 16 (tests/unit/test_io_formats.cpp
    // checks their values); a wrong dtype in a big-endian file is still refused.
    auto fortran = npy_with_dict("{'descr': '<i4', 'fortran_order': True, 'shape': (3, 2), }");
    fortran.append(24, '\0');
    const auto pf = write_text("fortran.npy", fortran);
    CHECK(io::read_edge_list<index_t>(pf).edges.size() == 3);
    auto big_endian = npy_with_dict("{'descr': '>f4', 'fortran_order': False, 'shape': (3, 2), }");
    big_endian.append(24, '\0');
    const auto pb = write_text("bigendian.npy", big_endian);
    CHECK_IO_ERROR(io::read_edge_list<index_t>(pb), pb, 10, true, ">f4");
}

TEST_CASE("malformed: bad npy magic and header") {
    const auto p = write_text("magic.npy", "PK\x03\x04 this is a zip archive, not an array");
    CHECK_IO_ERROR(io::read_labels(p), p, 0, true, "PK");
    const std::string bad_shape = "{'descr': '<i4', 'fortran_order': False, 'shape': 3, }";
    const auto q = write_text("header.npy", npy_with_dict(bad_shape));
    CHECK_IO_ERROR(io::read_labels(q), q, std::int64_t(10 + bad_shape.find("3,")), true, "3");
    const std::string extra_key = "{'descr': '<i4', 'fortran_order': False, 'shape': (0,), 'x': 1}";
    const auto r = write_text("header_key.npy", npy_with_dict(extra_key));
    CHECK_IO_ERROR(io::read_labels(r), r, std::int64_t(10 + extra_key.find("'x'")), true, "x");
    const auto s = write_text("version.npy", npy_with_dict("{}", 9));
    CHECK_IO_ERROR(io::read_labels(s), s, 6, true, "9");
}

TEST_CASE("malformed: mismatched node counts in a dataset folder") {
    const auto dir = scratch("mismatch_ds");
    fs::remove_all(dir);
    fs::create_directories(dir);
    dense_matrix<float> f(4, 2);
    io::write_features(dir / "features.npy", f);
    io::write_edge_list(dir / "edges.tsv", graph::edge_list<index_t>{4, {{0, 1}, {2, 3}}});
    const std::vector<std::int32_t> labels = {0, 1, 0};
    io::write_labels_text(dir / "labels.txt", labels);
    io::write_split_text(dir / "split.txt", std::vector<split_role>(4, split_role::none));
    const auto lp = dir / "labels.txt";
    CHECK_THROWS_AS(io::load_dataset<float>(dir), io_error);
    const auto e = io_error_of([&] { io::load_dataset<float>(dir); });
    REQUIRE(e);
    CHECK(e->file() == lp.string());
    CHECK(contains(e->what(), "3 labels"));
    CHECK(contains(e->what(), "4 rows"));
    // An N x N mtx graph whose N differs from the feature rows.
    io::write_labels_text(dir / "labels.txt", std::vector<std::int32_t>{0, 1, 0, 1});
    fs::remove(dir / "edges.tsv");
    io::write_edge_list(dir / "edges.mtx", graph::edge_list<index_t>{5, {{0, 4}}});
    const auto em = io_error_of([&] { io::load_dataset<float>(dir); });
    REQUIRE(em);
    CHECK(em->file() == (dir / "edges.mtx").string());
    CHECK(em->line() == 3);
    CHECK(contains(em->what(), "5 nodes"));
    CHECK(contains(em->what(), "4 were expected"));
}

TEST_CASE("malformed: empty file") {
    const auto p = write_text("empty.tsv", "");
    CHECK_IO_ERROR(io::read_edge_list<index_t>(p), p, 0, false, "");
    CHECK(contains(io_error_of([&] { io::read_edge_list<index_t>(p); })->what(), "empty"));
    const auto c = write_text("comments_only.txt", "# nothing\n\n");
    CHECK_THROWS_AS(io::read_labels(c), io_error);
    const auto n = write_text("empty.npy", "");
    CHECK_IO_ERROR(io::read_labels(n), n, 0, true, "");
    const auto m = write_text("empty.mtx", "");
    CHECK_IO_ERROR(io::read_features<float>(m), m, 0, false, "");
}

TEST_CASE("malformed: missing file") {
    const auto p = scratch("does_not_exist.tsv");
    fs::remove(p);
    CHECK_IO_ERROR(io::read_edge_list<index_t>(p), p, 0, false, "");
    CHECK(contains(io_error_of([&] { io::read_edge_list<index_t>(p); })->what(), "cannot open"));
    const auto dir = scratch("no_such_dataset");
    CHECK_THROWS_AS(io::load_dataset<float>(dir), io_error);
}

TEST_CASE("malformed: unknown split word") {
    const auto p = write_text("split_word.txt", "train\nval\ntset\n");
    CHECK_IO_ERROR(io::read_split(p), p, 3, false, "tset");
    const std::vector<std::int8_t> codes = {0, 1, 7};
    const std::uint64_t shape[1] = {3};
    io::write_npy<std::int8_t>(scratch("split_code.npy"), codes, shape);
    CHECK_IO_ERROR(io::read_split(scratch("split_code.npy")), scratch("split_code.npy"), data_start(scratch("split_code.npy"), 3) + 2, true, "7");
}

TEST_CASE("malformed: label below -1 and Matrix Market entry count") {
    const auto p = write_text("labels_bad.txt", "0\n-2\n");
    CHECK_IO_ERROR(io::read_labels(p), p, 2, false, "-2");
    const auto q = write_text("short.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 3\n1 2\n2 3\n");
    CHECK_THROWS_AS(io::read_edge_list<index_t>(q), io_error);
    CHECK(contains(io_error_of([&] { io::read_edge_list<index_t>(q); })->what(), "2 of the 3"));
    const auto r = write_text("long.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 1\n1 2\n2 3\n");
    CHECK_IO_ERROR(io::read_edge_list<index_t>(r), r, 4, false, "2 3");
    const auto s = write_text("banner.mtx", "3 3 1\n1 2\n");
    CHECK_IO_ERROR(io::read_edge_list<index_t>(s), s, 1, false, "3 3 1");
    const auto t = write_text("complex.mtx", "%%MatrixMarket matrix coordinate complex general\n1 1 0\n");
    CHECK_IO_ERROR(io::read_features<double>(t), t, 1, false, "complex");
}

// ---------------------------------------------------------------- shipped datasets

TEST_CASE("Cora loads with the counts of its stats.json") {
    const fs::path dir = fs::path(MIXGCN_DATASETS_DIR) / "cora";
    if (!fs::exists(dir / "stats.json")) {
        MESSAGE("skipped: " << dir << " is missing");
        return;
    }
    const std::string stats = io::read_file(dir / "stats.json");
    const auto t0 = std::chrono::steady_clock::now();
    const auto ds = io::load_dataset<float>(dir);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("Cora loaded in " << ms << " ms");
    CHECK(ds.name == "cora");
    CHECK(ds.num_nodes() == stats_value(stats, "nodes"));
    CHECK(long(ds.features.cols()) == stats_value(stats, "features"));
    CHECK(ds.num_classes == stats_value(stats, "classes"));
    CHECK(long(ds.nodes_with(split_role::train).size()) == stats_value(stats, "train"));
    CHECK(long(ds.nodes_with(split_role::val).size()) == stats_value(stats, "val"));
    CHECK(long(ds.nodes_with(split_role::test).size()) == stats_value(stats, "test"));
    CHECK(std::count(ds.labels.begin(), ds.labels.end(), -1) == stats_value(stats, "unlabelled"));
    long nz = 0;
    for (float v : ds.features.values()) nz += v != 0.0f;
    CHECK(nz == stats_value(stats, "feature_nonzeros"));
    graph::build_report rep;
    const auto a = graph::build_adjacency(ds.edges, {}, &rep);
    CHECK(long(a.col_idx.size()) == 2 * stats_value(stats, "undirected_edges"));
    CHECK(long(rep.self_loops_dropped) == stats_value(stats, "self_loops_dropped"));
    // The task's own figures for the Planetoid split, as a second, independent source.
    CHECK(ds.num_nodes() == 2708);
    CHECK(ds.features.cols() == 1433);
    CHECK(ds.num_classes == 7);
    ds.validate();
    CHECK(ms < 1000.0);  // loose: debug builds on a shared machine; Release is ~10 ms

    // Same dataset through the .npy path (save, reload) is identical.
    const auto out = scratch("cora_npy");
    fs::remove_all(out);
    io::save_dataset(out, ds);
    const auto back = io::load_dataset<float>(out);
    CHECK(back.edges.edges == ds.edges.edges);
    CHECK(bit_equal(back.features, ds.features));
    CHECK(back.labels == ds.labels);
    CHECK(back.split == ds.split);
}

TEST_CASE("Citeseer loads with the counts of its stats.json") {
    const fs::path dir = fs::path(MIXGCN_DATASETS_DIR) / "citeseer";
    if (!fs::exists(dir / "stats.json")) {
        MESSAGE("skipped: " << dir << " is missing");
        return;
    }
    const std::string stats = io::read_file(dir / "stats.json");
    const auto ds = io::load_dataset<double>(dir);
    CHECK(ds.num_nodes() == stats_value(stats, "nodes"));
    CHECK(long(ds.features.cols()) == stats_value(stats, "features"));
    CHECK(ds.num_classes == stats_value(stats, "classes"));
    CHECK(long(ds.nodes_with(split_role::train).size()) == stats_value(stats, "train"));
    CHECK(std::count(ds.labels.begin(), ds.labels.end(), -1) == stats_value(stats, "unlabelled"));
    ds.validate();
}

TEST_CASE("npy row ranges: equal the slice of the whole load, read only header and rows, and say where a bad value is") {
    dense_matrix<double> m(9, 3);
    for (std::size_t r = 0; r < 9; ++r)
        for (std::size_t c = 0; c < 3; ++c) m(r, c) = std::ldexp(double(r * 3 + c) + 0.25, int(r) - 4);
    const auto p = scratch("rows.npy");
    io::write_features(p, m);
    io::input_file in(p);
    const auto h = io::read_npy_header(in);
    CHECK(in.bytes_read() == h.data_offset);
    const auto slice = io::features_from_npy<double>(io::load_npy_rows(in, h, 2, 7));
    REQUIRE(slice.rows() == 5);
    for (std::size_t r = 0; r < 5; ++r)
        for (std::size_t c = 0; c < 3; ++c) CHECK(slice(r, c) == m(r + 2, c));
    CHECK(in.bytes_read() == h.data_offset + 5 * 3 * sizeof(double));
    CHECK(io::features_from_npy<double>(io::load_npy_rows(in, h, 4, 4)).rows() == 0);
    CHECK_IO_ERROR(io::load_npy_rows(in, h, 3, 10), p, std::int64_t(h.header_offset), true, "3..10");

    // A NaN at file row 6 is reported at row 6 and its file offset, read from rows 5..8.
    m(6, 1) = std::numeric_limits<double>::quiet_NaN();
    io::write_features(p, m);
    io::input_file again(p);
    const auto what = io_error_of([&] { io::features_from_npy<double>(io::load_npy_rows(again, 5, 8)); });
    REQUIRE(what);
    CHECK(what->line() == std::int64_t(h.data_offset + (6 * 3 + 1) * sizeof(double)));
    CHECK(contains(what->what(), "row 6, column 1"));

    // Big-endian rows are swapped; Fortran-order files cannot be read by rows.
    auto big = npy_with_dict("{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }");
    big += std::string("\0\0\0\x05\0\0\0\x06\0\0\0\x07", 12);
    io::input_file bf(write_text("big_rows.npy", big));
    CHECK(io::labels_from_npy(io::load_npy_rows(bf, 1, 3)) == std::vector<std::int32_t>{6, 7});
    auto fortran = npy_with_dict("{'descr': '<i4', 'fortran_order': True, 'shape': (3, 2), }");
    fortran.append(24, '\0');
    const auto pf = write_text("fortran_rows.npy", fortran);
    io::input_file ff(pf);
    CHECK(contains(io_error_of([&] { io::load_npy_rows(ff, 0, 1); })->what(), "C-order"));
}

TEST_CASE("partitioned load's edge buckets: the keys, in the order one thread appends them, on any thread count") {
    // 200k edges with self-loops and repeats over 3 owners; the reference appends the two
    // directed keys of each edge to its rows' owners in edge order, one edge at a time.
    const std::size_t edges = 200000;
    const index_t nodes = 5000;
    const int P = 3;
    rng g(91);
    std::vector<std::int64_t> ids(2 * edges);
    for (std::size_t i = 0; i < edges; ++i) {
        ids[2 * i] = std::int64_t(g.below(std::uint64_t(nodes)));
        ids[2 * i + 1] = i % 101 == 0 ? ids[2 * i] : std::int64_t(g.below(std::uint64_t(nodes)));
    }
    std::vector<int> owner(static_cast<std::size_t>(nodes));
    for (auto& o : owner) o = int(g.below(P));
    std::vector<std::vector<std::uint64_t>> want(P);
    std::uint64_t loops = 0;
    for (std::size_t i = 0; i < edges; ++i) {
        const auto u = index_t(ids[2 * i]), v = index_t(ids[2 * i + 1]);
        if (u == v) {
            ++loops;
            continue;
        }
        want[std::size_t(owner[std::size_t(u)])].push_back(parallel::detail::edge_key(u, v));
        want[std::size_t(owner[std::size_t(v)])].push_back(parallel::detail::edge_key(v, u));
    }
    const auto id = [&](std::size_t k) { return ids[k]; };
    on_thread_counts([&](int t) {
        CAPTURE(t);
        std::vector<parallel::detail::key_vector> bucket(P);
        parallel::detail::edge_bucket_counts counts;
        // In two slices, the second appended after the first.
        REQUIRE(parallel::detail::bucket_edges(id, edges / 3, nodes, owner, bucket, counts));
        REQUIRE(parallel::detail::bucket_edges([&](std::size_t k) { return ids[2 * (edges / 3) + k]; },
                                               edges - edges / 3, nodes, owner, bucket, counts));
        CHECK(counts.self_loops == loops);
        CHECK(counts.directed == 2 * (edges - loops));
        for (int q = 0; q < P; ++q) CHECK(std::equal(bucket[q].begin(), bucket[q].end(), want[q].begin(), want[q].end()));
        // The concatenation of the buckets other than one, in bucket order.
        const auto sent = parallel::detail::concatenate_buckets(bucket, 1);
        std::vector<std::uint64_t> expect(want[0]);
        expect.insert(expect.end(), want[2].begin(), want[2].end());
        CHECK(std::equal(sent.begin(), sent.end(), expect.begin(), expect.end()));
        // An id outside [0, nodes), negative or too large, appends nothing.
        for (const std::int64_t bad : {std::int64_t(-1), std::int64_t(nodes), std::int64_t(1) << 40}) {
            auto before = bucket;
            auto ids_bad = ids;
            ids_bad[2 * 150000 + 1] = bad;
            CHECK_FALSE(parallel::detail::bucket_edges([&](std::size_t k) { return ids_bad[k]; }, edges, nodes, owner,
                                                       bucket, counts));
            for (int q = 0; q < P; ++q) CHECK(bucket[q] == before[q]);
        }
    });
}

TEST_CASE("partitioned load: a node's read-range owner by arithmetic equals the owner vector of the ranges") {
    for (const std::uint64_t n : {std::uint64_t(1), std::uint64_t(2), std::uint64_t(3), std::uint64_t(7),
                                  std::uint64_t(1000), std::uint64_t(2449029)})
        for (const int P : {1, 2, 3, 4, 5, 8, 13}) {
            CAPTURE(n);
            CAPTURE(P);
            const auto owner = parallel::range_owners(n, P);
            bool same = true;
            for (std::uint64_t v = 0; v < n; ++v) same = same && parallel::range_owner(v, n, P) == owner[v];
            CHECK(same);
        }
    // Counts near 2^31 nodes: the products of (v + 1) and P stay in 64 bits.
    const std::uint64_t big = (std::uint64_t(1) << 31) - 5;
    for (const int P : {3, 8, 1024})
        for (const std::uint64_t v : {std::uint64_t(0), big / 2, big - 1}) {
            const auto r = parallel::range_owner(v, big, P);
            const auto [b, e] = parallel::read_range(big, r, P);
            CHECK((b <= v && v < e));
        }
}

TEST_CASE("partitioned load's row build: every row's columns from keys in two arrays, blocked, on any thread count") {
    // 5000 local rows (global ids 7000..11999) of ~50 keys each: ten blocks of 512 rows, so
    // the in-place block pass and the per-block counting sort both run with several chunks.
    const std::size_t rows = 5000;
    const index_t base = 7000;
    rng g(17);
    std::vector<std::uint64_t> own0(180000), received0(70000);
    std::vector<std::vector<index_t>> want(rows);
    for (auto* keys : {&own0, &received0})
        for (auto& k : *keys) {
            const auto l = std::size_t(g.below(rows));
            const auto c = index_t(g.below(1u << 20));
            k = parallel::detail::edge_key(index_t(base + index_t(l)), c);
            want[l].push_back(c);
        }
    for (auto& w : want) std::sort(w.begin(), w.end());
    const auto local_of = [&](std::uint64_t key) {
        const auto r = std::int64_t(key >> 32) - base;
        return r >= 0 && r < std::int64_t(rows) ? std::size_t(r) : rows;
    };
    on_thread_counts([&](int t) {
        CAPTURE(t);
        auto own = own0, received = received0;
        const std::span<std::uint64_t> arrays[] = {own, received};
        std::vector<offset_t> start;
        std::vector<index_t> cols;
        std::uint64_t bad = 0;
        REQUIRE(parallel::detail::rows_from_keys(std::span<const std::span<std::uint64_t>>(arrays), rows, local_of,
                                                 start, cols, bad));
        REQUIRE(start.size() == rows + 1);
        CHECK(start[0] == 0);
        CHECK(std::size_t(start[rows]) == own0.size() + received0.size());
        REQUIRE(cols.size() == own0.size() + received0.size());
        std::size_t wrong = 0;
        for (std::size_t l = 0; l < rows; ++l) {
            std::vector<index_t> got(cols.begin() + start[l], cols.begin() + start[l + 1]);
            std::sort(got.begin(), got.end());
            wrong += got != want[l];
        }
        CHECK(wrong == 0);
        // A key of a row this rank does not hold: refused, and named (the first one).
        own = own0;
        received = received0;
        received[123] = parallel::detail::edge_key(index_t(base - 1), 5);
        received[4567] = parallel::detail::edge_key(index_t(base + index_t(rows)), 6);
        CHECK_FALSE(parallel::detail::rows_from_keys(std::span<const std::span<std::uint64_t>>(arrays), rows, local_of,
                                                     start, cols, bad));
        CHECK((bad >> 32) == std::uint64_t(base - 1));
    });
}
