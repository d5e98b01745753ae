// Text edge lists (.tsv/.txt): free node count, an expected node count, 64-bit ids; the
// same bytes as SNAP (ids compacted) and as CSV (edges and features). An input that
// starts with gzip's magic is named .gz, so it goes through the gzip reader first.
#include "fuzz_common.hpp"
#include "mixgcn/io/edge_list.hpp"
#include "mixgcn/io/features.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    mixgcn_fuzz::limit_declared_allocations();  // also bounds what a .gz may inflate to
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    const auto path = mixgcn_fuzz::input_file(data, size, gz ? ".tsv.gz" : ".tsv");
    using namespace mixgcn;
    using mixgcn_fuzz::expect_error_or_success;
    expect_error_or_success([&] { (void)io::read_edge_list_text<std::int32_t>(path); });
    expect_error_or_success([&] { (void)io::read_edge_list_text<std::int32_t>(path, 100); });
    expect_error_or_success([&] { (void)io::read_edge_list<std::int64_t>(path); });
    expect_error_or_success([&] { (void)io::read_edge_list_snap<std::int32_t>(path); });
    const auto csv = mixgcn_fuzz::input_file(data, size, gz ? ".csv.gz" : ".csv");
    expect_error_or_success([&] { (void)io::read_edge_list<std::int32_t>(csv, 100); });
    expect_error_or_success([&] { (void)io::read_features_csv<float>(csv); });
    return 0;
}
