// Matrix Market coordinate files as a graph (free and fixed node count) and as dense
// features (float and double; duplicates summed, symmetric mirrored).
#include "fuzz_common.hpp"
#include "mixgcn/io/edge_list.hpp"
#include "mixgcn/io/features.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    mixgcn_fuzz::limit_declared_allocations();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = mixgcn_fuzz::input_file(data, size, ".mtx");
    using namespace mixgcn;
    using mixgcn_fuzz::expect_error_or_success;
    expect_error_or_success([&] { (void)io::read_edge_list_mtx<std::int32_t>(path); });
    expect_error_or_success([&] { (void)io::read_edge_list_mtx<std::int32_t>(path, 8); });
    expect_error_or_success([&] { (void)io::read_features_mtx<float>(path); });
    expect_error_or_success([&] { (void)io::read_features_mtx<double>(path); });
    return 0;
}
