#pragma once
// Process memory as the kernel sees it: peak resident set size (VmHWM) from
// /proc/self/status, so reported peaks include everything (allocator slack, MPI
// buffers), not only what the library counted.
#include <cstddef>
#include <fstream>
#include <string>

namespace mixgcn::train {

inline std::size_t peak_rss_bytes() {
    std::ifstream in("/proc/self/status");
    std::string key;
    while (in >> key) {
        if (key == "VmHWM:") {
            std::size_t kib = 0;
            in >> kib;
            return kib * 1024;
        }
        std::getline(in, key);
    }
    return 0;
}

// What the library itself holds, by purpose.
struct memory_breakdown {
    std::size_t graph = 0;
    std::size_t features = 0;
    std::size_t activations = 0;
    std::size_t parameters_and_optimizer = 0;
    std::size_t communication = 0;
    std::size_t total() const noexcept { return graph + features + activations + parameters_and_optimizer + communication; }
};

}  // namespace mixgcn::train
