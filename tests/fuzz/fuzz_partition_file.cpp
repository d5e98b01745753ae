// Partition files (one owner rank per line) for a small graph with a fixed part count,
// and for a large declared graph without one (the reader must not size by the caller's
// node count alone).
#include "fuzz_common.hpp"
#include "mixgcn/partition/file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = mixgcn_fuzz::input_file(data, size, ".part").string();
    using namespace mixgcn;
    mixgcn_fuzz::expect_error_or_success([&] { (void)partition::read_partition_file(path, 8, 4); });
    mixgcn_fuzz::expect_error_or_success([&] { (void)partition::read_partition_file(path, 1 << 30); });
    return 0;
}
