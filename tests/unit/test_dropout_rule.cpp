// The counter-based dropout rule every backend shares: right keep rate, no visible
// correlation between neighbouring elements, exact edge cases.
#include <doctest/doctest.h>

#include <cmath>

#include "mixgcn/backend/common.hpp"

using namespace mixgcn;

TEST_CASE("keep rate is 1 - p within 5 standard deviations") {
    for (double p : {0.1, 0.3, 0.5, 0.9}) {
        for (std::uint64_t seed : {1ull, 42ull, 0xFFFFFFFFFFFFull}) {
            const backend::dropout_rule rule(seed, p);
            std::size_t kept = 0;
            const std::size_t rows = 1000, cols = 200;
            for (std::size_t r = 0; r < rows; ++r) {
                const auto k = rule.row_key(r);
                for (std::size_t c = 0; c < cols; ++c) kept += rule.keep(k, c);
            }
            const double n = double(rows * cols), expect = n * (1 - p), sd = std::sqrt(n * p * (1 - p));
            CAPTURE(p);
            CAPTURE(seed);
            CHECK(std::abs(double(kept) - expect) < 5 * sd);
        }
    }
}

TEST_CASE("neighbouring columns, rows and seeds are uncorrelated") {
    const double p = 0.5;
    const backend::dropout_rule a(7, p), b(8, p);
    std::size_t same_col = 0, same_row = 0, same_seed = 0, n = 0;
    for (std::size_t r = 0; r < 400; ++r)
        for (std::size_t c = 0; c + 1 < 256; ++c, ++n) {
            const bool x = a.keep(a.row_key(r), c);
            same_col += x == a.keep(a.row_key(r), c + 1);
            same_row += x == a.keep(a.row_key(r + 1), c);
            same_seed += x == b.keep(b.row_key(r), c);
        }
    const double sd = std::sqrt(double(n) * 0.25);
    CHECK(std::abs(double(same_col) - 0.5 * double(n)) < 5 * sd);
    CHECK(std::abs(double(same_row) - 0.5 * double(n)) < 5 * sd);
    CHECK(std::abs(double(same_seed) - 0.5 * double(n)) < 5 * sd);
}

TEST_CASE("p = 0 keeps everything; the element function equals the row-key form") {
    const backend::dropout_rule none(3, 0.0);
    for (std::uint64_t r = 0; r < 100; ++r)
        for (std::uint64_t c = 0; c < 100; ++c) CHECK(none.keep(none.row_key(r), c));
    const backend::dropout_rule rule(99, 0.37);
    for (std::uint64_t r : {0ull, 5ull, (1ull << 32) + 5})
        for (std::uint64_t c = 0; c < 50; ++c)
            CHECK(backend::dropout_keep(99, r, c, 0.37) == rule.keep(rule.row_key(r), c));
    // Rows beyond 2^32 hash differently from their low 32 bits.
    std::size_t differ = 0;
    for (std::uint64_t c = 0; c < 64; ++c)
        differ += rule.keep(rule.row_key(5), c) != rule.keep(rule.row_key((1ull << 32) + 5), c);
    CHECK(differ > 10);
}
