#pragma once
// Process memory as the kernel sees it: peak resident set size (VmHWM) from
// /proc/self/status, so reported peaks include everything (allocator slack, MPI
// buffers), not only what the library counted; and the memory a run may still take.
#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mixgcn::train {

namespace memory_detail {
// A /proc/self/status field given in kB, in bytes.
inline std::size_t status_bytes(const std::string& field) {
    std::ifstream in("/proc/self/status");
    std::string key;
    while (in >> key) {
        if (key == field) {
            std::size_t kib = 0;
            in >> kib;
            return kib * 1024;
        }
        std::getline(in, key);
    }
    return 0;
}
}  // namespace memory_detail

// The most the process has held resident (VmHWM), and what it holds now (VmRSS): a run
// reads the second before it loads anything, so that peak - baseline is what the run
// itself added (libraries, the MPI runtime and an embedding interpreter are baseline).
inline std::size_t peak_rss_bytes() { return memory_detail::status_bytes("VmHWM:"); }
inline std::size_t rss_bytes() { return memory_detail::status_bytes("VmRSS:"); }

// Hands the memory the allocator keeps after frees back to the kernel. glibc serves
// allocations below its (adaptive, up to 32 MiB) mmap threshold from its heap and keeps
// what loading, ordering and partitioning freed there: 190 MiB of resident set on a
// 300k-node graph whose training held 770 MiB (docs/benchmarks.md). Called between
// set-up and training, so that the peak resident set is what training holds.
inline void return_free_memory() noexcept {
#if defined(__GLIBC__)
    ::malloc_trim(0);
#endif
}

// Bytes this host can still give a process: MemAvailable from /proc/meminfo, lowered to
// what the memory cgroup (memory.max - memory.current, cgroup v2) still allows, when it
// sets a limit. 0 when neither can be read.
inline std::uint64_t available_memory_bytes() {
    std::uint64_t avail = 0;
    {
        std::ifstream in("/proc/meminfo");
        std::string key;
        while (in >> key) {
            if (key == "MemAvailable:") {
                in >> avail;
                avail *= 1024;
                break;
            }
            std::getline(in, key);
        }
    }
    std::ifstream max_file("/sys/fs/cgroup/memory.max"), current_file("/sys/fs/cgroup/memory.current");
    std::string max_text;
    std::uint64_t current = 0;
    std::uint64_t limit = 0;
    if (max_file >> max_text && current_file >> current &&
        std::from_chars(max_text.data(), max_text.data() + max_text.size(), limit).ec == std::errc{}) {  // not "max"
        const std::uint64_t left = limit > current ? limit - current : 0;
        avail = avail == 0 ? left : std::min(avail, left);
    }
    return avail;
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
