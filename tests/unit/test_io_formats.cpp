// The formats users already have (issue 16): Fortran-order and big-endian .npy, gzip,
// SNAP edge lists, scipy.sparse .npz (a zip of .npy members) and OGB's raw layout. Every
// test writes its files itself (gzip and deflate through zlib, npy and zip bytes by hand)
// and compares against the plain-format load of the same data; then the hostile inputs,
// each an io_error naming the file and where. The last case lets numpy itself write the
// files when python3 with numpy is present.
#include <doctest/doctest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "io_error_checks.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/io.hpp"

using namespace mixgcn;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
    const fs::path dir = fs::path(MIXGCN_TEST_TMPDIR) / "io_formats";
    fs::create_directories(dir);
    return dir / name;
}

fs::path write_bytes(const fs::path& p, std::string_view content) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
    return p;
}

using test_support::contains;
using test_support::io_error_of;

// The call raises io_error for `path` whose message holds `needle`.
#define CHECK_IO_ERROR_MSG(expr, path, needle)                                         \
    do {                                                                               \
        const auto e_ = io_error_of([&] { (void)(expr); });                            \
        REQUIRE_MESSAGE(e_.has_value(), "no io_error from " #expr);                    \
        CHECK(e_->file() == std::string(path));                                        \
        CHECK_MESSAGE(contains(e_->what(), needle), e_->what());                       \
    } while (0)

template <class T>
void put_le(std::string& s, T v, int bytes = sizeof(T)) {
    for (int k = 0; k < bytes; ++k) s += static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * k)) & 0xffu);
}

// The bytes of `v`, each element in the given byte order.
template <class T>
std::string element_bytes(const std::vector<T>& v, bool big_endian) {
    std::string s;
    for (const T& x : v) {
        char b[sizeof(T)];
        std::memcpy(b, &x, sizeof(T));
        if (big_endian) std::reverse(b, b + sizeof(T));
        s.append(b, sizeof(T));
    }
    return s;
}

// A version 1.0 .npy image, header padded to 64 bytes like numpy's.
std::string npy_image(const std::string& descr, const std::string& shape, bool fortran, std::string_view data) {
    std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
    dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
    dict += '\n';
    std::string out = "\x93NUMPY\x01";
    out += '\0';
    put_le<std::uint16_t>(out, static_cast<std::uint16_t>(dict.size()));
    return out + dict + std::string(data);
}

// Row-major `v` (rows x cols) in column-major order.
template <class T>
std::vector<T> transposed(const std::vector<T>& v, std::size_t rows, std::size_t cols) {
    std::vector<T> t(v.size());
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) t[c * rows + r] = v[r * cols + c];
    return t;
}

dense_matrix<double> random_dense(std::uint64_t seed, std::size_t rows, std::size_t cols, double density = 1.0) {
    rng g(seed);
    dense_matrix<double> m(rows, cols);
    for (std::size_t i = 0; i < m.size(); ++i)
        if (g.uniform() < density) m.data()[i] = g.uniform(-10, 10);
    return m;
}

graph::edge_list<index_t> random_edges(std::uint64_t seed, index_t n, std::size_t m) {
    rng g(seed);
    graph::edge_list<index_t> e;
    e.num_nodes = n;
    for (std::size_t k = 0; k < m; ++k)
        e.edges.emplace_back(static_cast<index_t>(g.below(std::uint64_t(n))), static_cast<index_t>(g.below(std::uint64_t(n))));
    e.edges.emplace_back(n - 1, 0);
    return e;
}

bool bit_equal(const dense_matrix<double>& a, const dense_matrix<double>& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

// ---------------------------------------------------------------- .npy

TEST_CASE("npy: Fortran order and big-endian files load as their C-order little-endian twin") {
    const auto m = random_dense(1, 7, 5);
    const std::vector<double> c(m.data(), m.data() + m.size());
    const auto f = transposed(c, 7, 5);
    const auto plain = scratch("feat_c.npy");
    io::write_features(plain, m);
    const auto want = io::read_features<double>(plain);
    REQUIRE(bit_equal(want, m));
    struct variant {
        const char* name;
        const char* descr;
        bool fortran;
        std::string data;
    };
    for (const auto& v : {variant{"feat_f.npy", "<f8", true, element_bytes(f, false)},
                          variant{"feat_be.npy", ">f8", false, element_bytes(c, true)},
                          variant{"feat_fbe.npy", ">f8", true, element_bytes(f, true)}}) {
        CAPTURE(v.name);
        const auto p = write_bytes(scratch(v.name), npy_image(v.descr, "(7, 5)", v.fortran, v.data));
        CHECK(bit_equal(io::read_features<double>(p), want));
        const auto a = io::load_npy(p);
        CHECK(a.header.fortran_order == v.fortran);
        CHECK(a.header.big_endian == (v.descr[0] == '>'));
    }
    // float32 big-endian Fortran, read as float.
    std::vector<float> cf(c.begin(), c.end());
    const auto pf = write_bytes(scratch("feat_f4.npy"), npy_image(">f4", "(7, 5)", true, element_bytes(transposed(cf, 7, 5), true)));
    const auto got = io::read_features<float>(pf);
    for (std::size_t i = 0; i < cf.size(); ++i) CHECK(got.data()[i] == cf[i]);

    // Edges [E, 2] int64 Fortran + big-endian, labels >i4, split |i1 Fortran (1-D: no-op).
    const auto g = random_edges(2, 40, 60);
    std::vector<std::int64_t> flat;
    for (auto [u, v] : g.edges) {
        flat.push_back(u);
        flat.push_back(v);
    }
    const std::string shape = "(" + std::to_string(g.edges.size()) + ", 2)";
    const auto pe = write_bytes(scratch("edges_fbe.npy"),
                                npy_image(">i8", shape, true, element_bytes(transposed(flat, g.edges.size(), 2), true)));
    CHECK(io::read_edge_list<index_t>(pe).edges == g.edges);
    const std::vector<std::int32_t> labels{3, -1, 0, 70000, 2};
    const auto pl = write_bytes(scratch("labels_be.npy"), npy_image(">i4", "(5,)", false, element_bytes(labels, true)));
    CHECK(io::read_labels(pl) == labels);
    const std::vector<std::int8_t> split{1, 2, 3, 0, 1};
    const auto ps = write_bytes(scratch("split_f.npy"), npy_image("|i1", "(5,)", true, element_bytes(split, false)));
    CHECK(io::read_split(ps) == std::vector<split_role>{split_role::train, split_role::val, split_role::test,
                                                        split_role::none, split_role::train});
}

TEST_CASE("npy: any-rank Fortran transposition, strings, and error offsets in the file's order") {
    // (2, 3, 4) int16, Fortran order: element (i, j, k) is stored at i + 2 j + 6 k.
    std::vector<std::int16_t> fort(24);
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 4; ++k) fort[std::size_t(i + 2 * j + 6 * k)] = static_cast<std::int16_t>(100 * i + 10 * j + k);
    const auto p = write_bytes(scratch("cube.npy"), npy_image(">i2", "(2, 3, 4)", true, element_bytes(fort, true)));
    const auto a = io::load_npy(p);
    std::vector<std::int64_t> seen;
    io::npy_for_each(a, [&](std::uint64_t, auto v) { seen.push_back(static_cast<std::int64_t>(v)); });
    std::vector<std::int64_t> want;
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 4; ++k) want.push_back(100 * i + 10 * j + k);
    CHECK(seen == want);
    // Where C-order element (1, 2, 3) lies in the file.
    CHECK(a.offset_of(23) == a.header.data_offset + 2 * (1 + 2 * 2 + 6 * 3));

    // 'U3' big-endian and 'S3' strings (scipy's format.npy).
    std::string u;
    for (char ch : std::string("csr")) put_le<std::uint32_t>(u, std::uint32_t(ch) << 24);
    const auto pu = write_bytes(scratch("fmt_u.npy"), npy_image(">U3", "()", false, u));
    CHECK(io::npy_string(io::load_npy(pu), 0) == "csr");
    const auto pss = write_bytes(scratch("fmt_s.npy"), npy_image("|S3", "()", false, std::string("cs\0", 3)));
    CHECK(io::npy_string(io::load_npy(pss), 0) == "cs");

    // A NaN in a Fortran-order feature file: the offset is where the file holds it.
    std::vector<double> c(6, 1.0);
    c[1 * 3 + 2] = std::nan("");  // row 1, column 2 of a 2 x 3 matrix
    const auto pn = write_bytes(scratch("nan_f.npy"), npy_image("<f8", "(2, 3)", true, element_bytes(transposed(c, 2, 3), false)));
    const auto err = io_error_of([&] { (void)io::read_features<double>(pn); });
    REQUIRE(err.has_value());
    CHECK(err->is_offset());
    CHECK(err->line() == std::int64_t(io::load_npy(pn).header.data_offset + 8 * (1 + 2 * 2)));
    CHECK(contains(err->what(), "row 1, column 2"));
    // Still refused: a big-endian complex and a wrong dtype.
    const auto pc = write_bytes(scratch("complex_be.npy"), npy_image(">c16", "(1,)", false, std::string(16, '\0')));
    CHECK_IO_ERROR_MSG(io::load_npy(pc), pc.string(), "unsupported .npy dtype");
}

#ifdef MIXGCN_HAS_ZLIB
namespace {

std::string number(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

// gzip (windowBits 15 + 16) or raw deflate (-15) through zlib.
std::string compress(std::string_view in, int window_bits, int level = 6) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}
std::string gzip(std::string_view in, int level = 6) { return compress(in, 15 + 16, level); }

// A zip archive of `members` (name, bytes, deflated?), optionally in ZIP64 form (every size
// and offset in the extra field and a ZIP64 end record), as numpy's savez writes it.
struct zip_member {
    std::string name, data;
    bool deflate = true;
};
std::string make_zip(const std::vector<zip_member>& members, bool zip64 = false) {
    std::string out, dir;
    for (const auto& m : members) {
        const std::string body = m.deflate ? compress(m.data, -15) : m.data;
        const auto crc = static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(m.data.data()),
                                                          static_cast<uInt>(m.data.size())));
        const std::uint64_t offset = out.size();
        const std::uint32_t big = 0xffffffffu;
        // Local header.
        put_le<std::uint32_t>(out, 0x04034b50u);
        put_le<std::uint16_t>(out, zip64 ? 45 : 20);
        put_le<std::uint16_t>(out, 0);
        put_le<std::uint16_t>(out, m.deflate ? 8 : 0);
        put_le<std::uint32_t>(out, 0);  // time, date
        put_le<std::uint32_t>(out, crc);
        put_le<std::uint32_t>(out, zip64 ? big : static_cast<std::uint32_t>(body.size()));
        put_le<std::uint32_t>(out, zip64 ? big : static_cast<std::uint32_t>(m.data.size()));
        put_le<std::uint16_t>(out, static_cast<std::uint16_t>(m.name.size()));
        put_le<std::uint16_t>(out, zip64 ? 20 : 0);
        out += m.name;
        if (zip64) {
            put_le<std::uint16_t>(out, 1);
            put_le<std::uint16_t>(out, 16);
            put_le<std::uint64_t>(out, m.data.size());
            put_le<std::uint64_t>(out, body.size());
        }
        out += body;
        // Central directory record.
        put_le<std::uint32_t>(dir, 0x02014b50u);
        put_le<std::uint16_t>(dir, zip64 ? 45 : 20);
        put_le<std::uint16_t>(dir, zip64 ? 45 : 20);
        put_le<std::uint16_t>(dir, 0);
        put_le<std::uint16_t>(dir, m.deflate ? 8 : 0);
        put_le<std::uint32_t>(dir, 0);
        put_le<std::uint32_t>(dir, crc);
        put_le<std::uint32_t>(dir, zip64 ? big : static_cast<std::uint32_t>(body.size()));
        put_le<std::uint32_t>(dir, zip64 ? big : static_cast<std::uint32_t>(m.data.size()));
        put_le<std::uint16_t>(dir, static_cast<std::uint16_t>(m.name.size()));
        put_le<std::uint16_t>(dir, zip64 ? 28 : 0);
        put_le<std::uint16_t>(dir, 0);  // comment
        put_le<std::uint16_t>(dir, 0);  // disk
        put_le<std::uint16_t>(dir, 0);  // internal attributes
        put_le<std::uint32_t>(dir, 0);  // external attributes
        put_le<std::uint32_t>(dir, zip64 ? big : static_cast<std::uint32_t>(offset));
        dir += m.name;
        if (zip64) {
            put_le<std::uint16_t>(dir, 1);
            put_le<std::uint16_t>(dir, 24);
            put_le<std::uint64_t>(dir, m.data.size());
            put_le<std::uint64_t>(dir, body.size());
            put_le<std::uint64_t>(dir, offset);
        }
    }
    const std::uint64_t dir_at = out.size();
    out += dir;
    if (zip64) {
        const std::uint64_t z = out.size();
        put_le<std::uint32_t>(out, 0x06064b50u);
        put_le<std::uint64_t>(out, 44);
        put_le<std::uint16_t>(out, 45);
        put_le<std::uint16_t>(out, 45);
        put_le<std::uint32_t>(out, 0);
        put_le<std::uint32_t>(out, 0);
        put_le<std::uint64_t>(out, members.size());
        put_le<std::uint64_t>(out, members.size());
        put_le<std::uint64_t>(out, dir.size());
        put_le<std::uint64_t>(out, dir_at);
        put_le<std::uint32_t>(out, 0x07064b50u);
        put_le<std::uint32_t>(out, 0);
        put_le<std::uint64_t>(out, z);
        put_le<std::uint32_t>(out, 1);
    }
    put_le<std::uint32_t>(out, 0x06054b50u);
    put_le<std::uint32_t>(out, 0);  // disk numbers
    put_le<std::uint16_t>(out, zip64 ? 0xffff : static_cast<std::uint16_t>(members.size()));
    put_le<std::uint16_t>(out, zip64 ? 0xffff : static_cast<std::uint16_t>(members.size()));
    put_le<std::uint32_t>(out, zip64 ? 0xffffffffu : static_cast<std::uint32_t>(dir.size()));
    put_le<std::uint32_t>(out, zip64 ? 0xffffffffu : static_cast<std::uint32_t>(dir_at));
    put_le<std::uint16_t>(out, 0);
    return out;
}

// A CSR matrix as scipy.sparse.save_npz stores it.
struct csr_parts {
    std::uint64_t rows = 0, cols = 0;
    std::vector<std::int32_t> indptr, indices;
    std::vector<double> data;
};
csr_parts to_csr(const dense_matrix<double>& m) {
    csr_parts c;
    c.rows = m.rows();
    c.cols = m.cols();
    c.indptr.push_back(0);
    for (std::size_t i = 0; i < m.rows(); ++i) {
        for (std::size_t j = 0; j < m.cols(); ++j)
            if (m(i, j) != 0) {
                c.indices.push_back(static_cast<std::int32_t>(j));
                c.data.push_back(m(i, j));
            }
        c.indptr.push_back(static_cast<std::int32_t>(c.indices.size()));
    }
    return c;
}
csr_parts adjacency_csr(const graph::edge_list<index_t>& g) {
    // Row-sorted, duplicates kept (save_npz stores what the matrix holds).
    auto e = g.edges;
    std::stable_sort(e.begin(), e.end(), [](auto a, auto b) { return a.first < b.first; });
    csr_parts c;
    c.rows = c.cols = static_cast<std::uint64_t>(g.num_nodes);
    c.indptr.assign(c.rows + 1, 0);
    for (auto [u, v] : e) {
        ++c.indptr[static_cast<std::size_t>(u) + 1];
        c.indices.push_back(v);
        c.data.push_back(1.0);
    }
    for (std::size_t i = 0; i < c.rows; ++i) c.indptr[i + 1] += c.indptr[i];
    return c;
}
std::vector<zip_member> npz_members(const csr_parts& c, const std::string& format = "csr", bool deflate = true,
                                    bool unicode_format = false) {
    std::string fmt;
    if (unicode_format)
        for (char ch : format) put_le<std::uint32_t>(fmt, std::uint32_t(static_cast<unsigned char>(ch)));
    const std::vector<std::int64_t> shape{std::int64_t(c.rows), std::int64_t(c.cols)};
    const auto n = std::to_string(c.indices.size());
    return {{"indices.npy", npy_image("<i4", "(" + n + ",)", false, element_bytes(c.indices, false)), deflate},
            {"indptr.npy", npy_image("<i4", "(" + std::to_string(c.indptr.size()) + ",)", false, element_bytes(c.indptr, false)),
             deflate},
            {"format.npy",
             unicode_format ? npy_image("<U" + std::to_string(format.size()), "()", false, fmt)
                            : npy_image("|S" + std::to_string(format.size()), "()", false, format),
             deflate},
            {"shape.npy", npy_image("<i8", "(2,)", false, element_bytes(shape, false)), deflate},
            {"data.npy", npy_image("<f8", "(" + n + ",)", false, element_bytes(c.data, false)), deflate}};
}
std::vector<zip_member> without(std::vector<zip_member> ms, const std::string& name) {
    std::erase_if(ms, [&](const zip_member& m) { return m.name == name; });
    return ms;
}
std::vector<zip_member> replaced(std::vector<zip_member> ms, const std::string& name, std::string data) {
    for (auto& m : ms)
        if (m.name == name) m.data = std::move(data);
    return ms;
}

}  // namespace

// ---------------------------------------------------------------- gzip

TEST_CASE("gzip: .tsv.gz and .csv.gz edge lists, single and multi-member, load like the plain files") {
    const auto g = random_edges(3, 200, 3000);
    const auto plain = scratch("edges_plain.tsv");
    io::write_edge_list(plain, g);
    const auto text = io::read_file(plain);
    const auto want = io::read_edge_list<index_t>(plain);
    const auto gz = write_bytes(scratch("edges.tsv.gz"), gzip(text));
    CHECK(io::read_edge_list<index_t>(gz).edges == want.edges);
    CHECK(io::read_edge_list<index_t>(gz).num_nodes == want.num_nodes);
    // `cat a.gz b.gz`: two members, split mid-line on purpose.
    const auto cut = text.size() / 2;
    const auto multi = write_bytes(scratch("edges_multi.txt.gz"), gzip(text.substr(0, cut)) + gzip(text.substr(cut)));
    CHECK(io::read_edge_list<index_t>(multi).edges == want.edges);
    // Zero padding after the last member is accepted (tar/tape tools write it).
    const auto padded = write_bytes(scratch("edges_pad.tsv.gz"), gzip(text) + std::string(512, '\0'));
    CHECK(io::read_edge_list<index_t>(padded).edges == want.edges);
    // CSV: the same edges as "u,v".
    std::string csv;
    for (auto [u, v] : g.edges) csv += std::to_string(u) + "," + std::to_string(v) + "\n";
    CHECK(io::read_edge_list<index_t>(write_bytes(scratch("edges.csv"), csv)).edges == want.edges);
    CHECK(io::read_edge_list<index_t>(write_bytes(scratch("edges.csv.gz"), gzip(csv)), index_t(200)).edges == want.edges);
    // An empty payload inflates to an empty file, reported as such.
    const auto empty = write_bytes(scratch("empty.tsv.gz"), gzip(""));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(empty), empty.string(), "no edges");
    // Line numbers in errors count lines of the inflated text.
    const auto bad = write_bytes(scratch("bad_line.tsv.gz"), gzip("0 1\n1 2\n2 x\n"));
    const auto err = io_error_of([&] { (void)io::read_edge_list<index_t>(bad); });
    REQUIRE(err.has_value());
    CHECK(err->line() == 3);
    CHECK(err->text() == "x");
}

TEST_CASE("gzip hostile: not gzip, truncated, corrupt, trailing garbage, and a bomb over the limit") {
    const std::string text(100000, '7');
    const std::string z = gzip(text);
    const auto not_gz = write_bytes(scratch("plain_named.tsv.gz"), "0 1\n");
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(not_gz), not_gz.string(), "not a gzip file");
    const auto empty = write_bytes(scratch("zero.tsv.gz"), "");
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(empty), empty.string(), "empty");
    for (std::size_t keep : {std::size_t(3), std::size_t(12), z.size() / 2, z.size() - 1}) {
        CAPTURE(keep);
        const auto p = write_bytes(scratch("trunc.tsv.gz"), z.substr(0, keep));
        const auto err = io_error_of([&] { (void)io::read_file_or_gzip(p); });
        REQUIRE(err.has_value());
        CHECK(err->is_offset());
        CHECK(contains(err->what(), keep < 10 ? "gzip" : "truncated"));
    }
    std::string corrupt = z;
    corrupt[corrupt.size() / 2] ^= 0x55;
    corrupt[corrupt.size() / 2 + 1] ^= 0x55;
    const auto pc = write_bytes(scratch("corrupt.tsv.gz"), corrupt);
    CHECK_IO_ERROR_MSG(io::read_file_or_gzip(pc), pc.string(), "gzip");
    // A flipped CRC in the trailer.
    std::string bad_crc = z;
    bad_crc[bad_crc.size() - 6] ^= 1;
    const auto pcrc = write_bytes(scratch("crc.tsv.gz"), bad_crc);
    CHECK_IO_ERROR_MSG(io::read_file_or_gzip(pcrc), pcrc.string(), "corrupt gzip data");
    const auto pg = write_bytes(scratch("garbage.tsv.gz"), z + "trailing");
    CHECK_IO_ERROR_MSG(io::read_file_or_gzip(pg), pg.string(), "unexpected bytes after the last gzip member");

    // 64 MiB of zeros compress to ~64 KiB: over a 1 MiB limit it is an error, not an allocation.
    const std::string bomb = gzip(std::string(64u << 20, '\0'), /*level*/ 9);
    CHECK(bomb.size() < 200000);
    const auto pb = write_bytes(scratch("bomb.tsv.gz"), bomb);
    CHECK_IO_ERROR_MSG(io::read_file_or_gzip(pb, 1u << 20), pb.string(), "inflates past 1048576 bytes");
    // Exactly at the limit is fine; one byte over is not.
    const auto pe = write_bytes(scratch("exact.gz"), z);
    CHECK(io::read_file_or_gzip(pe, text.size()) == text);
    CHECK_IO_ERROR_MSG(io::read_file_or_gzip(pe, text.size() - 1), pe.string(), "inflates past");
    // And through the environment limit every reader honours.
    ::setenv("MIXGCN_MAX_DECLARED_BYTES", "1048576", 1);
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(pb), pb.string(), "MIXGCN_MAX_DECLARED_BYTES");
    ::unsetenv("MIXGCN_MAX_DECLARED_BYTES");
}

// ---------------------------------------------------------------- SNAP

TEST_CASE("SNAP: comments, tabs and spaces, sparse ids compacted in ascending order, .txt.gz") {
    const std::string text =
        "# Directed graph (each unordered pair of nodes is saved once): Example.txt\n"
        "# Nodes: 5 Edges: 6\n"
        "# FromNodeId\tToNodeId\n"
        "30\t1000\n"
        "1000\t7\n"
        "7 30\n"
        "  99   7  \r\n"
        "30\t30\n"
        "1000\t30\n";
    const auto p = write_bytes(scratch("snap.txt"), text);
    const auto s = io::read_edge_list_snap<index_t>(p);
    CHECK(s.ids == std::vector<std::int64_t>{7, 30, 99, 1000});
    CHECK(s.graph.num_nodes == 4);
    using E = std::vector<std::pair<index_t, index_t>>;
    CHECK(s.graph.edges == E{{1, 3}, {3, 0}, {0, 1}, {2, 0}, {1, 1}, {3, 1}});
    CHECK(io::read_edge_list_snap<index_t>(write_bytes(scratch("snap.txt.gz"), gzip(text))).graph.edges == s.graph.edges);

    // Ids too sparse for a table (sorted path) number the same way as dense ones.
    const auto g = random_edges(4, 300, 2000);
    std::string dense, sparse;
    for (auto [u, v] : g.edges) {
        dense += std::to_string(u) + "\t" + std::to_string(v) + "\n";
        sparse += std::to_string(std::int64_t(u) * 1000000007LL) + " " + std::to_string(std::int64_t(v) * 1000000007LL) + "\n";
    }
    const auto a = io::read_edge_list_snap<index_t>(write_bytes(scratch("snap_dense.txt"), dense));
    const auto b = io::read_edge_list_snap<std::int64_t>(write_bytes(scratch("snap_sparse.tsv.gz"), gzip(sparse)));
    REQUIRE(a.ids.size() == b.ids.size());
    for (std::size_t k = 0; k < a.ids.size(); ++k) CHECK(b.ids[k] == a.ids[k] * 1000000007LL);
    REQUIRE(a.graph.edges.size() == g.edges.size());
    for (std::size_t k = 0; k < g.edges.size(); ++k) {
        CHECK(a.ids[std::size_t(a.graph.edges[k].first)] == g.edges[k].first);
        CHECK(b.graph.edges[k].first == a.graph.edges[k].first);
        CHECK(b.graph.edges[k].second == a.graph.edges[k].second);
    }
    // Hostile: negative id, three columns, empty.
    const auto neg = write_bytes(scratch("snap_neg.txt"), "# c\n1 -2\n");
    CHECK_IO_ERROR_MSG(io::read_edge_list_snap<index_t>(neg), neg.string(), "negative node id");
    const auto three = write_bytes(scratch("snap_three.txt"), "1 2 1577836800\n");
    CHECK_IO_ERROR_MSG(io::read_edge_list_snap<index_t>(three), three.string(), "expected 2 columns");
    const auto none = write_bytes(scratch("snap_none.txt"), "# only comments\n\n");
    CHECK_IO_ERROR_MSG(io::read_edge_list_snap<index_t>(none), none.string(), "no edges");
}

// ---------------------------------------------------------------- .npz

TEST_CASE("npz: CSR, CSC and COO adjacency, stored, deflated and ZIP64, load as the plain edge list") {
    const auto g = random_edges(5, 60, 300);
    const auto plain = scratch("adj_plain.tsv");
    io::write_edge_list(plain, g);
    auto want = io::read_edge_list<index_t>(plain).edges;
    std::stable_sort(want.begin(), want.end(), [](auto x, auto y) { return x.first < y.first; });
    const auto csr = adjacency_csr(g);
    for (bool deflate : {false, true})
        for (bool zip64 : {false, true})
            for (bool unicode : {false, true}) {
                CAPTURE(deflate);
                CAPTURE(zip64);
                CAPTURE(unicode);
                const auto p = write_bytes(scratch("adj.npz"), make_zip(npz_members(csr, "csr", deflate, unicode), zip64));
                const auto e = io::read_edge_list<index_t>(p, index_t(60));
                CHECK(e.num_nodes == 60);
                CHECK(e.edges == want);
            }
    // CSC: the same arrays describe the transpose.
    const auto pc = write_bytes(scratch("adj_csc.npz"), make_zip(npz_members(csr, "csc")));
    auto t = io::read_edge_list<index_t>(pc).edges;
    for (auto& [u, v] : t) std::swap(u, v);
    CHECK(t == want);
    // COO: row/col/data.
    std::vector<std::int64_t> row, col;
    for (auto [u, v] : g.edges) {
        row.push_back(u);
        col.push_back(v);
    }
    const std::vector<std::int64_t> shape{60, 60};
    const std::vector<std::uint8_t> ones(g.edges.size(), 1);
    const auto n = "(" + std::to_string(g.edges.size()) + ",)";
    const auto pcoo = write_bytes(scratch("adj_coo.npz"),
                                  make_zip({{"row.npy", npy_image("<i8", n, false, element_bytes(row, false))},
                                            {"col.npy", npy_image("<i8", n, false, element_bytes(col, false))},
                                            {"data.npy", npy_image("|b1", n, false, element_bytes(ones, false))},
                                            {"shape.npy", npy_image("<i8", "(2,)", false, element_bytes(shape, false))},
                                            {"format.npy", npy_image("|S3", "()", false, "coo")}}));
    CHECK(io::read_edge_list<index_t>(pcoo).edges == g.edges);
}

TEST_CASE("npz: sparse features densify like the dense .npy; a dataset folder with edges.npz and features.npz") {
    auto m = random_dense(6, 40, 12, 0.3);
    const auto pf = write_bytes(scratch("feat.npz"), make_zip(npz_members(to_csr(m))));
    CHECK(bit_equal(io::read_features<double>(pf), m));

    // The same dataset as a plain folder and with the .npz parts.
    dataset<double> ds;
    ds.edges = random_edges(7, 40, 100);
    ds.features = m;
    ds.labels.assign(40, 1);
    ds.labels[0] = 0;
    ds.split.assign(40, split_role::train);
    const auto plain = scratch("ds_plain");
    fs::remove_all(plain);
    io::save_dataset(plain, ds);
    const auto want = io::load_dataset<double>(plain);
    const auto dir = scratch("ds_npz");
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(plain / "labels.npy", dir / "labels.npy");
    fs::copy_file(plain / "split.npy", dir / "split.npy");
    write_bytes(dir / "features.npz", make_zip(npz_members(to_csr(m))));
    write_bytes(dir / "edges.npz", make_zip(npz_members(adjacency_csr(ds.edges))));
    const auto got = io::load_dataset<double>(dir);
    CHECK(bit_equal(got.features, want.features));
    auto we = want.edges.edges;
    std::stable_sort(we.begin(), we.end(), [](auto x, auto y) { return x.first < y.first; });
    CHECK(got.edges.edges == we);
    CHECK(got.labels == want.labels);
    CHECK(got.num_classes == want.num_classes);
    // An adjacency whose size disagrees with the feature rows.
    dense_matrix<double> small(39, 12);
    write_bytes(dir / "features.npz", make_zip(npz_members(to_csr(small))));
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (dir / "edges.npz").string(), "39 were expected");
}

TEST_CASE("npz hostile: CRC mismatch, missing member, bad format, out-of-range indices, broken indptr, bad archive") {
    const auto g = random_edges(8, 20, 50);
    const auto csr = adjacency_csr(g);
    const auto ms = npz_members(csr, "csr", /*deflate=*/false);
    const auto good = make_zip(ms);
    {
        // Flip a byte inside a stored member's data: the CRC catches it.
        std::string z = good;
        const auto at = z.find("indices.npy") + 11 + 128 + 4;
        z[at] ^= 0x01;
        const auto p = write_bytes(scratch("crc.npz"), z);
        CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(p), p.string(), "CRC-32 mismatch in indices.npy");
    }
    {
        // A deflated member whose bytes were damaged: corrupt or CRC, never a crash.
        std::string z = make_zip(npz_members(csr, "csr", true));
        const auto at = z.find("indices.npy") + 11 + 20;
        z[at] ^= 0x5a;
        const auto p = write_bytes(scratch("crc_deflated.npz"), z);
        CHECK(io_error_of([&] { (void)io::read_edge_list<index_t>(p); }).has_value());
    }
    const auto missing = write_bytes(scratch("missing.npz"), make_zip(without(ms, "indptr.npy")));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(missing), missing.string(), "member missing");
    const auto nofmt = write_bytes(scratch("nofmt.npz"), make_zip(without(ms, "format.npy")));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(nofmt), nofmt.string(), "format.npy");

    const auto bsr = write_bytes(scratch("bsr.npz"), make_zip(npz_members(csr, "bsr")));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(bsr), bsr.string() + ":format.npy", "tocsr()");
    const auto weird = write_bytes(scratch("weird.npz"), make_zip(npz_members(csr, "xyz")));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(weird), weird.string() + ":format.npy", "unknown sparse format");
    const auto intfmt = write_bytes(scratch("intfmt.npz"), make_zip(replaced(ms, "format.npy", npy_image("<i4", "()", false, std::string(4, '\0')))));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(intfmt), intfmt.string() + ":format.npy", "one string");

    auto bad = csr;
    bad.indices[3] = 20;  // == cols
    const auto oor = write_bytes(scratch("oor.npz"), make_zip(npz_members(bad)));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(oor), oor.string() + ":indices.npy", "column index out of range");
    bad = csr;
    bad.indices[1] = -1;
    const auto neg = write_bytes(scratch("neg.npz"), make_zip(npz_members(bad)));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(neg), neg.string() + ":indices.npy", "out of range");
    bad = csr;
    std::swap(bad.indptr[4], bad.indptr[5]);
    if (bad.indptr[4] != bad.indptr[5]) {
        const auto dec = write_bytes(scratch("dec.npz"), make_zip(npz_members(bad)));
        CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(dec), dec.string() + ":indptr.npy", "must not decrease");
    }
    bad = csr;
    bad.indptr.back() -= 1;
    const auto end = write_bytes(scratch("end.npz"), make_zip(npz_members(bad)));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(end), end.string() + ":indptr.npy", "end at the entry count");
    bad = csr;
    bad.indptr.pop_back();
    const auto short_ptr = write_bytes(scratch("short.npz"), make_zip(npz_members(bad)));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(short_ptr), short_ptr.string() + ":indptr.npy", "rows + 1");
    bad = csr;
    bad.cols = 21;
    const auto rect = write_bytes(scratch("rect.npz"), make_zip(npz_members(bad)));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(rect), rect.string(), "N x N");

    // The archive itself: truncated, not a zip, a member claiming more than the limit.
    const auto trunc = write_bytes(scratch("trunc.npz"), good.substr(0, good.size() / 2));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(trunc), trunc.string(), "zip");
    const auto notzip = write_bytes(scratch("notzip.npz"), std::string(100, 'x'));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(notzip), notzip.string(), "not a zip archive");
    const auto cut_dir = write_bytes(scratch("cutdir.npz"), good.substr(0, good.size() - 30) + good.substr(good.size() - 22));
    CHECK(io_error_of([&] { (void)io::read_edge_list<index_t>(cut_dir); }).has_value());
    const io::zip_archive z(scratch("crc_deflated.npz"));
    REQUIRE(!z.entries().empty());
    CHECK_IO_ERROR_MSG(z.extract(z.entries()[0], 10), z.file(), "declares more bytes than the limit");
    // A deflated member that inflates past the size its directory entry declares.
    std::string lying = make_zip({{"data.npy", std::string(5000, 'a'), true}});
    const auto size_at = lying.find("PK\x01\x02") + 24;
    lying[size_at] = 100;
    lying[size_at + 1] = 0;
    const io::zip_archive zl("lying.npz", lying);
    CHECK_IO_ERROR_MSG(zl.extract(zl.entries()[0]), "lying.npz:data.npy", "the size its directory entry declares");
}

// ---------------------------------------------------------------- OGB

namespace {
// A small node-property dataset in memory, written once in OGB's raw layout and once as a
// plain folder. Nodes 25..29 are in no split and have no label (nan, empty line, nan).
struct ogb_fixture {
    dataset<double> ds;
    std::vector<index_t> train, valid, test;

    ogb_fixture() {
        const index_t n = 30;
        ds.edges = random_edges(9, n, 90);
        ds.features = random_dense(10, std::size_t(n), 6);
        ds.labels.resize(std::size_t(n));
        ds.split.assign(std::size_t(n), split_role::none);
        rng g(11);
        for (index_t i = 0; i < n; ++i) {
            ds.labels[std::size_t(i)] = i < 25 ? static_cast<std::int32_t>(g.below(5)) : -1;
            auto& role = ds.split[std::size_t(i)];
            if (i < 12) {
                role = split_role::train;
                train.push_back(i);
            } else if (i < 18) {
                role = split_role::val;
                valid.push_back(i);
            } else if (i < 25) {
                role = split_role::test;
                test.push_back(i);
            }
        }
        ds.labels[3] = 4;  // so the largest label is 4
        ds.num_classes = 5;
    }

    static std::string lines(const std::vector<index_t>& ids) {
        std::string s;
        for (auto i : ids) s += std::to_string(i) + "\n";
        return s;
    }

    // Writes dir/raw and dir/split/<split_name>; `gz` picks .csv.gz or .csv.
    void write_ogb(const fs::path& dir, bool gz, const std::string& split_name = "time") const {
        fs::remove_all(dir);
        const auto put = [&](const fs::path& p, const std::string& text) {
            write_bytes(gz ? fs::path(p.string() + ".gz") : p, gz ? gzip(text) : text);
        };
        std::string edges, feat, labels;
        for (auto [u, v] : ds.edges.edges) edges += std::to_string(u) + "," + std::to_string(v) + "\n";
        for (std::size_t i = 0; i < ds.features.rows(); ++i) {
            for (std::size_t j = 0; j < ds.features.cols(); ++j) feat += (j ? "," : "") + number(ds.features(i, j));
            feat += "\n";
        }
        // Labels as integers and as integral floats; unlabelled nodes as nan or an empty line.
        for (std::size_t i = 0; i < ds.labels.size(); ++i)
            labels += (ds.labels[i] >= 0 ? (i % 2 ? std::to_string(ds.labels[i]) : std::to_string(ds.labels[i]) + ".0")
                                         : (i == 26 ? std::string() : std::string("nan"))) +
                      "\n";
        put(dir / "raw/num-node-list.csv", std::to_string(ds.labels.size()) + "\n");
        put(dir / "raw/num-edge-list.csv", std::to_string(ds.edges.edges.size()) + "\n");
        put(dir / "raw/edge.csv", edges);
        put(dir / "raw/node-feat.csv", feat);
        put(dir / "raw/node-label.csv", labels);
        put(dir / "split" / split_name / "train.csv", lines(train));
        put(dir / "split" / split_name / "valid.csv", lines(valid));
        put(dir / "split" / split_name / "test.csv", lines(test));
    }
};
}  // namespace

TEST_CASE("OGB raw layout (.csv.gz and .csv) loads like the same dataset saved as a plain folder") {
    const ogb_fixture fx;
    const auto plain = scratch("ogb_plain");
    fs::remove_all(plain);
    io::save_dataset(plain, fx.ds);
    const auto want = io::load_dataset<double>(plain);
    for (bool gz : {true, false}) {
        CAPTURE(gz);
        const auto dir = scratch("ogbn_tiny");
        fx.write_ogb(dir, gz);
        CHECK(io::is_ogb_layout(dir));
        const auto got = io::load_dataset<double>(dir);
        CHECK(got.name == "ogbn_tiny");
        CHECK(got.num_nodes() == want.num_nodes());
        CHECK(got.edges.edges == want.edges.edges);
        CHECK(bit_equal(got.features, want.features));
        CHECK(got.labels == want.labels);
        CHECK(got.split == want.split);
        CHECK(got.num_classes == want.num_classes);
        got.validate();
        const auto f = io::load_dataset<float>(dir);
        CHECK(f.features(3, 2) == static_cast<float>(want.features(3, 2)));
    }
    CHECK_FALSE(io::is_ogb_layout(plain));
}

TEST_CASE("OGB hostile: mismatched counts, bad ids, overlapping splits, several split folders, missing files") {
    const ogb_fixture fx;
    const auto dir = scratch("ogbn_bad");
    const auto raw = dir / "raw";
    auto fresh = [&] { fx.write_ogb(dir, false); };

    fresh();
    write_bytes(raw / "num-node-list.csv", "31\n");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (raw / "node-feat.csv").string(), "30 feature rows but 31 nodes");
    fresh();
    write_bytes(raw / "num-node-list.csv", "29\n");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (raw / "edge.csv").string(), "node id out of range");
    fresh();
    write_bytes(raw / "num-node-list.csv", "30\n12\n");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (raw / "num-node-list.csv").string(), "more than one graph");
    fresh();
    write_bytes(raw / "num-edge-list.csv", "5\n");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (raw / "edge.csv").string(), "num-edge-list.csv says 5");
    fresh();
    write_bytes(raw / "node-label.csv", "1\n2\n");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (raw / "node-label.csv").string(), "has 2 labels but num-node-list says 30");
    fresh();
    {
        std::string labels = "1.5\n";
        for (int i = 1; i < 30; ++i) labels += "1\n";
        write_bytes(raw / "node-label.csv", labels);
    }
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (raw / "node-label.csv").string(), "not an integer");
    fresh();
    write_bytes(raw / "node-label.csv", "1,0\n");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (raw / "node-label.csv").string(), "multi-task");
    fresh();
    {
        std::string feat = io::read_file(raw / "node-feat.csv");
        feat.insert(feat.find('\n', feat.find('\n') + 1), ",1");  // line 2 gets a 7th value
        write_bytes(raw / "node-feat.csv", feat);
    }
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (raw / "node-feat.csv").string(), "expected 6 columns");
    fresh();
    write_bytes(raw / "node-feat.csv", "1,nan\n");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (raw / "node-feat.csv").string(), "too short");
    fresh();
    write_bytes(dir / "split/time/test.csv", "18\n30\n");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (dir / "split/time/test.csv").string(), "node id out of range");
    fresh();
    write_bytes(dir / "split/time/valid.csv", "12\n3\n");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (dir / "split/time/valid.csv").string(), "already in the train split");
    fresh();
    write_bytes(dir / "split/time/test.csv", "27\n");  // node 27 has no label
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (dir / "split/time").string(), "gives it no label");
    fresh();
    fs::create_directories(dir / "split/random");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (dir / "split").string(), "several splits");
    {
        const auto ok = io::load_dataset<double>(dir, io::load_options{"time"});
        CHECK(ok.split == fx.ds.split);
    }
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir, io::load_options{"nope"}), (dir / "split/nope").string(), "does not exist");
    fresh();
    fs::remove(raw / "node-label.csv");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (raw / "node-label.csv.gz").string(), "no node-label file");
    fresh();
    fs::remove(dir / "split/time/train.csv");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (dir / "split/time/train.csv.gz").string(), "no train file");
    // A .gz member that is not gzip, inside the layout.
    fresh();
    fs::remove(raw / "edge.csv");
    write_bytes(raw / "edge.csv.gz", "0,1\n");
    CHECK_IO_ERROR_MSG(io::load_dataset<double>(dir), (raw / "edge.csv.gz").string(), "not a gzip file");
}

// ---------------------------------------------------------------- numpy itself

TEST_CASE("files numpy writes itself (Fortran, big-endian, save_npz's layout) load when python3 has numpy") {
    if (std::system("python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
        MESSAGE("skipped: python3 with numpy not available");
        return;
    }
    const auto dir = scratch("numpy_made");
    fs::remove_all(dir);
    fs::create_directories(dir);
    // scipy.sparse.save_npz when scipy is there; otherwise the same call it makes:
    // np.savez_compressed(indptr, indices, format=b'csr', shape, data).
    const std::string script = R"PY(
import sys, numpy as np
d = sys.argv[1]
x = np.arange(35, dtype=np.float64).reshape(7, 5) / 8.0
np.save(d + "/c.npy", x)
np.save(d + "/f.npy", np.asfortranarray(x))
np.save(d + "/be.npy", x.astype(">f8"))
np.save(d + "/fbe.npy", np.asfortranarray(x.astype(">f4")))
e = np.array([[0, 1], [2, 3], [4, 0], [3, 3]], dtype=">i8")
np.save(d + "/edges_fbe.npy", np.asfortranarray(e))
indptr = np.array([0, 2, 3, 3, 4, 4], dtype=np.int32)
indices = np.array([1, 4, 0, 3], dtype=np.int32)
data = np.array([1.5, 2.0, 3.0, 4.0])
try:
    import scipy.sparse as sp
    sp.save_npz(d + "/m.npz", sp.csr_matrix((data, indices, indptr), shape=(5, 5)))
except ImportError:
    np.savez_compressed(d + "/m.npz", indptr=indptr, indices=indices, format=b"csr", shape=(5, 5), data=data)
np.savez(d + "/m_stored.npz", indptr=indptr, indices=indices, format="csr", shape=np.array([5, 5]), data=data)
)PY";
    write_bytes(dir / "make.py", script);
    REQUIRE(std::system(("python3 " + (dir / "make.py").string() + " " + dir.string()).c_str()) == 0);
    const auto want = io::read_features<double>(dir / "c.npy");
    CHECK(want(6, 4) == 34.0 / 8.0);
    CHECK(bit_equal(io::read_features<double>(dir / "f.npy"), want));
    CHECK(bit_equal(io::read_features<double>(dir / "be.npy"), want));
    CHECK(io::load_npy(dir / "fbe.npy").header.fortran_order);
    CHECK(bit_equal(io::read_features<double>(dir / "fbe.npy"), want));
    using E = std::vector<std::pair<index_t, index_t>>;
    CHECK(io::read_edge_list<index_t>(dir / "edges_fbe.npy").edges == E{{0, 1}, {2, 3}, {4, 0}, {3, 3}});
    const E csr_edges{{0, 1}, {0, 4}, {1, 0}, {3, 3}};
    for (const char* f : {"m.npz", "m_stored.npz"}) {
        CAPTURE(f);
        CHECK(io::read_edge_list<index_t>(dir / f).edges == csr_edges);
        const auto m = io::read_features<double>(dir / f);
        CHECK(m(0, 4) == 2.0);
        CHECK(m(3, 3) == 4.0);
        CHECK(m(2, 2) == 0.0);
    }
}

#else  // no zlib

TEST_CASE("without zlib a .gz file is an io_error saying so") {
    const auto p = write_bytes(scratch("nozlib.tsv.gz"), std::string("\x1f\x8b", 2));
    CHECK_IO_ERROR_MSG(io::read_edge_list<index_t>(p), p.string(), "built without zlib");
}

#endif
