// Text edge lists (.tsv/.txt): free node count, an expected node count, 64-bit ids.
#include "fuzz_common.hpp"
#include "mixgcn/io/edge_list.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = mixgcn_fuzz::input_file(data, size, ".tsv");
    using namespace mixgcn;
    mixgcn_fuzz::expect_error_or_success([&] { (void)io::read_edge_list_text<std::int32_t>(path); });
    mixgcn_fuzz::expect_error_or_success([&] { (void)io::read_edge_list_text<std::int32_t>(path, 100); });
    mixgcn_fuzz::expect_error_or_success([&] { (void)io::read_edge_list<std::int64_t>(path); });
    return 0;
}
