// labels.txt (one integer per line) and split.txt (train/val/test/none per line).
#include "fuzz_common.hpp"
#include "mixgcn/io/labels.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = mixgcn_fuzz::input_file(data, size, ".txt");
    using namespace mixgcn;
    mixgcn_fuzz::expect_error_or_success([&] { (void)io::read_labels(path); });
    mixgcn_fuzz::expect_error_or_success([&] { (void)io::read_split(path); });
    return 0;
}
