// Counts above 2^31 without the memory: the piece arithmetic comm::mpi moves large
// blocks with (comm/detail/pieces.hpp), checked against a brute-force replay on a stub
// that only records which element ranges each piece covers. The real transfers above
// 2^31 bytes run in tests/comm/large_transfer.cpp.
#include <doctest/doctest.h>

#include <climits>
#include <cstdint>
#include <vector>

#include "mixgcn/comm/detail/checks.hpp"
#include "mixgcn/comm/detail/pieces.hpp"
#include "mixgcn/core/error.hpp"

namespace comm = mixgcn::comm;
using std::size_t;

namespace {

constexpr size_t two31 = size_t{1} << 31;
constexpr size_t int_max = static_cast<size_t>(INT_MAX);

// A stub engine: "sends" each piece by recording its range per peer, then checks that
// every peer's block was covered once, in order, with no piece over the limit, and
// that each piece's offset and count survive the int conversion the engine makes.
void replay(const std::vector<size_t>& counts, size_t max, int skip) {
    const auto pieces = comm::detail::split_blocks(counts, max, skip);
    const auto displ = comm::detail::displacements(counts);
    std::vector<size_t> covered(counts.size(), 0);
    int last_peer = -1;
    for (const auto& p : pieces) {
        REQUIRE(p.peer >= 0);
        REQUIRE(static_cast<size_t>(p.peer) < counts.size());
        CHECK(p.peer != skip);
        CHECK(p.peer >= last_peer);  // blocks in rank order
        last_peer = p.peer;
        const auto q = static_cast<size_t>(p.peer);
        CHECK(p.count >= 1);
        CHECK(p.count <= max);
        CHECK(p.count <= int_max);
        CHECK(static_cast<size_t>(static_cast<int>(p.count)) == p.count);
        CHECK(p.offset == displ[q] + covered[q]);  // contiguous, 64-bit offsets
        covered[q] += p.count;
    }
    for (size_t q = 0; q < counts.size(); ++q) CHECK(covered[q] == (static_cast<int>(q) == skip ? 0 : counts[q]));
}

}  // namespace

TEST_CASE("blocks above 2^31 elements split into int-sized pieces at 64-bit offsets") {
    // One mixture switch on papers100M at d = 256, P = 8 moves about 3.6 G elements.
    const std::vector<size_t> counts{3 * two31 + 5, 0, int_max, int_max + 1, 7, two31 * 2};
    replay(counts, int_max, -1);
    replay(counts, int_max, 2);
    const auto pieces = comm::detail::split_blocks(counts, int_max);
    // 3·2^31 + 5 = 3 (2^31 − 1) + 8: four pieces; INT_MAX: one; INT_MAX + 1: two; 7: one; 2^32: three.
    CHECK(pieces.size() == 4 + 1 + 2 + 1 + 3);
    CHECK(pieces.back().offset + pieces.back().count == comm::detail::sum(counts));
    CHECK(comm::detail::sum(counts) == 7 * two31 + 11);
}

TEST_CASE("tiny limits (the test hook comm::mpi honours) cover every element") {
    const std::vector<size_t> counts{0, 1, 2, 3, 10, 0, 11};
    for (size_t max : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{100}}) {
        INFO("max " << max);
        for (int skip = -1; skip < static_cast<int>(counts.size()); ++skip) replay(counts, max, skip);
    }
    std::vector<comm::detail::piece> one;
    comm::detail::split_block(one, 3, 40, 10, 3);
    REQUIRE(one.size() == 4);
    CHECK(one[0].offset == 40);
    CHECK(one[3].offset == 49);
    CHECK(one[3].count == 1);
    comm::detail::split_block(one, 0, 0, 0, 3);
    CHECK(one.size() == 4);  // an empty block adds no piece
    CHECK_THROWS_AS(comm::detail::split_block(one, 0, 0, 5, 0), mixgcn::invalid_argument);
}

TEST_CASE("one call carries the blocks only when every count and displacement fits") {
    using comm::detail::fits_one_call;
    CHECK(fits_one_call(std::vector<size_t>{int_max}, int_max));
    CHECK_FALSE(fits_one_call(std::vector<size_t>{int_max + 1}, int_max));
    // Small blocks whose displacement passes INT_MAX (many ranks, each under the limit).
    CHECK_FALSE(fits_one_call(std::vector<size_t>{int_max, 1}, int_max));
    CHECK(fits_one_call(std::vector<size_t>{int_max - 1, 1}, int_max));
    CHECK_FALSE(fits_one_call(std::vector<size_t>{two31 / 2, two31 / 2, two31 / 2}, int_max));
    CHECK(fits_one_call(std::vector<size_t>{}, int_max));
    CHECK(fits_one_call(std::vector<size_t>{2, 1}, 3));
    CHECK_FALSE(fits_one_call(std::vector<size_t>{2, 2}, 3));
}
