// Hostile inputs: headers that declare far more than the file holds, and every input the
// fuzz targets (tests/fuzz, docs/fuzzing.md) found to crash, hang or over-allocate. Each
// must be refused with an io_error naming the file before anything of the declared size
// is allocated; a std::bad_alloc or std::length_error here is the bug coming back.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "../../tools/cli.hpp"
#include "mixgcn/io.hpp"
#include "mixgcn/partition/file.hpp"

using namespace mixgcn;
namespace fs = std::filesystem;

namespace {

fs::path write_file(const std::string& name, std::string_view bytes) {
    const fs::path dir = fs::path(MIXGCN_TEST_TMPDIR) / "hostile";
    fs::create_directories(dir);
    const auto p = dir / name;
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
}

// A version 1.0 .npy header for `descr` and `shape` (a tuple's text), no data.
std::string npy_header(std::string_view descr, std::string_view shape) {
    std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " +
                       std::string(shape) + ", }";
    dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
    dict += '\n';
    std::string out = "\x93NUMPY\x01";
    out += '\0';
    out += static_cast<char>(dict.size() & 0xff);
    out += static_cast<char>(dict.size() >> 8);
    return out + dict;
}

// Runs `f`, which must throw io_error naming `path`; returns the message. Any other
// exception fails the test (doctest reports it) instead of being mistaken for a pass.
template <class F>
std::string io_error_message(const fs::path& path, F&& f) {
    try {
        f();
    } catch (const io_error& e) {
        CHECK(e.file() == path.string());
        CHECK(std::string_view(e.what()).find(path.string()) != std::string_view::npos);
        return e.what();
    }
    FAIL("no io_error for ", path.string());
    return {};
}

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// Sets an environment variable for one scope.
struct scoped_env {
    const char* name;
    scoped_env(const char* n, const char* value) : name(n) { ::setenv(n, value, 1); }
    ~scoped_env() { ::unsetenv(name); }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;
};

constexpr std::string_view mm_pattern = "%%MatrixMarket matrix coordinate pattern general\n";
constexpr std::string_view mm_real = "%%MatrixMarket matrix coordinate real general\n";

}  // namespace

TEST_CASE("an .npy shape of (2^40, 2^40) is refused by every reader before allocating") {
    // 2^80 elements overflow 64 bits; the header alone is the whole file.
    const auto f4 = write_file("huge.npy", npy_header("<f4", "(1099511627776, 1099511627776)"));
    CHECK(contains(io_error_message(f4, [&] { (void)io::load_npy(f4); }), "too large"));
    (void)io_error_message(f4, [&] { (void)io::read_features_npy<float>(f4); });
    const auto i8 = write_file("huge_edges.npy", npy_header("<i8", "(1099511627776, 2)"));
    CHECK(contains(io_error_message(i8, [&] { (void)io::read_edge_list_npy<index_t>(i8); }), "truncated"));
    const auto lab = write_file("huge_labels.npy", npy_header("<i4", "(1099511627776,)"));
    (void)io_error_message(lab, [&] { (void)io::read_labels_npy(lab); });
}

TEST_CASE("a Matrix Market size line of 10^12 entries is refused before reserving them") {
    // Found by fuzz_matrix_market: read_edge_list_mtx reserved nnz edges (8 TB) from the
    // size line and died with std::length_error / bad_alloc.
    const std::string body = std::string(mm_pattern) + "4 4 1000000000000\n1 1\n";
    const auto p = write_file("huge_nnz.mtx", body);
    const auto msg = io_error_message(p, [&] { (void)io::read_edge_list_mtx<index_t>(p); });
    CHECK(contains(msg, "1000000000000 entries"));
    CHECK(contains(msg, "bytes follow"));
    (void)io_error_message(p, [&] { (void)io::read_features_mtx<float>(p); });
    const auto sym = write_file("huge_nnz_sym.mtx", "%%MatrixMarket matrix coordinate pattern symmetric\n"
                                                    "4 4 9223372036854775807\n1 1\n");
    (void)io_error_message(sym, [&] { (void)io::read_edge_list_mtx<index_t>(sym); });
}

TEST_CASE("the Matrix Market entry bound keeps files at the minimum size") {
    // The bound must not refuse a tight file: last entry without a newline.
    const auto p = write_file("tight.mtx", std::string(mm_pattern) + "2 2 2\n1 1\n2 2");
    CHECK(io::read_edge_list_mtx<index_t>(p).edges.size() == 2);
    const auto r = write_file("tight_real.mtx", std::string(mm_real) + "2 2 2\n1 1 1\n2 2 5");
    CHECK(io::read_features_mtx<double>(r)(1, 1) == 5.0);
    const auto over = write_file("over.mtx", std::string(mm_pattern) + "2 2 3\n1 1\n2 2");
    (void)io_error_message(over, [&] { (void)io::read_edge_list_mtx<index_t>(over); });
}

TEST_CASE("sparse .mtx features whose dense size exceeds memory are refused") {
    // A 10^6 x 10^6 dense float matrix is 4 TB: before the limit, std::bad_alloc.
    const auto p = write_file("huge_dense.mtx", std::string(mm_real) + "1000000 1000000 0\n");
    CHECK(contains(io_error_message(p, [&] { (void)io::read_features_mtx<float>(p); }), "4000000000000 bytes"));
    // The limit can be lowered (the fuzz targets do): 100 x 100 floats = 40000 bytes.
    const auto small = write_file("small_dense.mtx", std::string(mm_real) + "100 100 1\n1 1 1\n");
    CHECK(io::read_features_mtx<float>(small).rows() == 100);
    {
        const scoped_env limit("MIXGCN_MAX_DECLARED_BYTES", "39999");
        CHECK(contains(io_error_message(small, [&] { (void)io::read_features_mtx<float>(small); }), "39999"));
    }
}

TEST_CASE("a partition file is not sized by the caller's node count alone") {
    // Found by fuzz_partition_file: read_partition_file reserved `nodes` ints up front, so a
    // two-line file read for a huge declared graph threw std::length_error (or bad_alloc).
    const auto p = write_file("two.part", "0\n1\n");
    const auto msg = io_error_message(p, [&] { (void)partition::read_partition_file(p.string(), std::int64_t{1} << 62); });
    CHECK(contains(msg, "file ends after 2 owners"));
    CHECK(partition::read_partition_file(p.string(), 2) == std::vector<int>{0, 1});
}

TEST_CASE("non-finite numbers are not valid flag values") {
    // Seen while writing fuzz_cli: from_chars reads "nan" and "inf", so --lr nan trained on NaN.
    std::string prog = "mixgcn-train", lr = "--lr=nan", wd = "--weight-decay", inf = "-inf", ep = "--epochs=7";
    char* argv[] = {prog.data(), lr.data(), wd.data(), inf.data(), ep.data()};
    const cli::args a(5, argv, {"lr", "weight-decay", "epochs"}, {});
    CHECK_THROWS_AS((void)a.number<double>("lr", 0.01), cli::usage_error);
    CHECK_THROWS_AS((void)a.number<float>("weight-decay", 0.f), cli::usage_error);
    CHECK(a.number<int>("epochs", 200) == 7);
}
