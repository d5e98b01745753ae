// A run that cannot fit fails before its large allocations, with the planner's figures
// and what would fit; sizes on the command line parse or are refused by name.
#include <doctest/doctest.h>

#include <string>

#include "mixgcn/parallel/plan.hpp"
#include "mixgcn/train/memory.hpp"

using namespace mixgcn;
namespace plan = parallel::plan;

namespace {

// Reddit-shaped: 232,965 nodes, 11.6 M undirected edges, 602 features, 41 classes.
plan::problem reddit(int ranks) {
    nn::model_options mo;
    mo.in = 602;
    mo.hidden = 128;
    mo.classes = 41;
    return plan::problem_for(232965, 2 * 11606919ull, mo, ranks, 4);
}

double predicted(const plan::problem& p, const std::string& strategy) {
    for (const auto& e : plan::make_plan(p).strategies)
        if (e.strategy == strategy) return e.mem.total();
    FAIL("no estimate for ", strategy);
    return 0;
}

}  // namespace

TEST_CASE("sizes parse with binary units and bad ones are refused naming the source") {
    CHECK(plan::parse_bytes("123456", "--memory-limit") == 123456u);
    CHECK(plan::parse_bytes("512M", "--memory-limit") == 512ull << 20);
    CHECK(plan::parse_bytes("8G", "--memory-limit") == 8ull << 30);
    CHECK(plan::parse_bytes("1.5GiB", "--memory-limit") == 3ull << 29);
    CHECK(plan::parse_bytes("2k", "--memory-limit") == 2048u);
    for (const char* bad : {"", "G", "-1G", "0", "12X", "nan", "inf", "1e30G", "5 G"})
        CHECK_THROWS_WITH_AS(plan::parse_bytes(bad, "--memory-limit"), doctest::Contains("--memory-limit: '"),
                             invalid_argument);
}

TEST_CASE("a run that fits passes; one that does not names its need, the limit and what fits") {
    const auto one = reddit(1);
    const double need = predicted(one, "single");
    CHECK_NOTHROW(plan::require_fits(one, "single", need, "test"));
    // Already loaded bytes are not asked for twice.
    CHECK_NOTHROW(plan::require_fits(one, "single", need - 1e6, "test", 2e6));
    const double limit = need / 3;
    std::string message;
    try {
        plan::require_fits(one, "single", limit, "--memory-limit");
    } catch (const memory_error& e) {
        message = e.what();
    }
    INFO(message);
    CHECK(message.find("strategy single on 1 rank(s) needs " + plan::format_bytes(need)) != std::string::npos);
    CHECK(message.find("activations ") != std::string::npos);
    CHECK(message.find(plan::format_bytes(limit) + " is available (--memory-limit)") != std::string::npos);
    // The suggestion is true: the graph strategy at the named rank count fits, at half
    // that count it does not.
    const auto at = message.find("--strategy graph on ");
    REQUIRE(at != std::string::npos);
    const int ranks = std::stoi(message.substr(at + 20));
    CHECK(predicted(reddit(ranks), "graph") <= limit);
    if (ranks > 2) CHECK(predicted(reddit(ranks / 2), "graph") > limit);
}

TEST_CASE("a distributed strategy started on one rank is checked against single's figure") {
    const auto one = reddit(1);
    const double need = predicted(one, "single");
    for (const char* s : {"graph", "mixture", "feature"}) {
        CAPTURE(s);
        CHECK_NOTHROW(plan::require_fits(one, s, need, "test"));
        CHECK_THROWS_AS(plan::require_fits(one, s, need / 2, "test"), memory_error);
    }
    CHECK_THROWS_WITH_AS(plan::require_fits(one, "pipeline", need, "test"),
                         doctest::Contains("no estimate for strategy 'pipeline' at 1 rank(s)"), invalid_argument);
}

TEST_CASE("nothing fits: said so") {
    std::string message;
    try {
        plan::require_fits(reddit(2), "graph", 1024, "test");
    } catch (const memory_error& e) {
        message = e.what();
    }
    CHECK(message.find("would fit: nothing up to 4096 ranks") != std::string::npos);
}

TEST_CASE("the host reports the memory a run may still take") {
    const auto avail = train::available_memory_bytes();
    CHECK(avail > 0);
    CHECK(avail < (std::uint64_t(1) << 50));
}
