// .npy header and body, through every reader that takes one: the raw loader, features
// (float and double), edges, labels and split. An input that starts like a zip ("PK")
// is named .npz instead and goes through the zip reader and the scipy.sparse readers.
#include "fuzz_common.hpp"
#include "mixgcn/io/edge_list.hpp"
#include "mixgcn/io/features.hpp"
#include "mixgcn/io/labels.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    mixgcn_fuzz::limit_declared_allocations();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace mixgcn;
    using mixgcn_fuzz::expect_error_or_success;
    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
        const auto npz = mixgcn_fuzz::input_file(data, size, ".npz");
        bool loads = false;
        expect_error_or_success([&] {
            (void)io::read_sparse_npz(npz);
            loads = true;
        });
        if (!loads) return 0;
        expect_error_or_success([&] { (void)io::read_edge_list_npz<std::int32_t>(npz); });
        expect_error_or_success([&] { (void)io::read_edge_list_npz<std::int32_t>(npz, 64); });
        expect_error_or_success([&] { (void)io::read_features_npz<float>(npz); });
        return 0;
    }
    const auto path = mixgcn_fuzz::input_file(data, size, ".npy");
    // One load and header check always; the typed readers only when the header parses,
    // so the fuzzer's time goes to the bodies instead of re-failing the same header.
    bool loads = false;
    expect_error_or_success([&] {
        (void)io::load_npy(path);
        loads = true;
    });
    if (!loads) return 0;
    expect_error_or_success([&] { (void)io::read_features_npy<float>(path); });
    expect_error_or_success([&] { (void)io::read_features_npy<double>(path); });
    expect_error_or_success([&] { (void)io::read_edge_list_npy<std::int32_t>(path); });
    expect_error_or_success([&] { (void)io::read_edge_list_npy<std::int32_t>(path, 64); });
    expect_error_or_success([&] { (void)io::read_labels_npy(path); });
    expect_error_or_success([&] { (void)io::read_split_npy(path); });
    return 0;
}
