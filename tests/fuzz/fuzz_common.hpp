#pragma once
// Shared by the libFuzzer targets: the input goes to a per-process temp file for
// readers that take a path, and a thrown mixgcn::error is the parser doing its job.
// Anything else escaping (std::bad_alloc, std::length_error, std::out_of_range) is not
// caught, so libFuzzer reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

#include "mixgcn/core/error.hpp"

namespace mixgcn_fuzz {

// One file per process and extension, rewritten for every input (the extension picks
// the reader). TMPDIR is honoured; scripts/fuzz.sh points it at /dev/shm.
inline std::filesystem::path input_file(const std::uint8_t* data, std::size_t size, std::string_view ext) {
    // Removes the process's temp files when libFuzzer exits normally.
    struct cleanup {
        std::filesystem::path stem;
        ~cleanup() {
            std::error_code ec;
            for (const char* e : {".tsv", ".txt", ".npy", ".mtx", ".part", ".ck", ".tsv.gz", ".csv", ".csv.gz", ".npz"})
                std::filesystem::remove(std::filesystem::path(stem.string() + e), ec);
        }
    };
    static const cleanup files{std::filesystem::temp_directory_path() / ("mixgcn-fuzz-" + std::to_string(::getpid()))};
    auto p = std::filesystem::path(files.stem.string() + std::string(ext));
    // Unlink, then create: truncating a file that holds data makes ext4 flush it on
    // close (its replace-by-truncate heuristic), which costs 25x in executions/s.
    std::error_code ec;
    std::filesystem::remove(p, ec);
    std::ofstream(p, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return p;
}

// Runs `f`, swallowing only the library's own error type.
template <class F>
void expect_error_or_success(F&& f) {
    try {
        f();
    } catch (const mixgcn::error&) {
    }
}

// Readers size dense arrays a file only declares (a sparse .mtx's dense features) up to
// 16 MiB: far under libFuzzer's -malloc_limit_mb, so a legal-but-large header is an
// io_error here, not a reported over-allocation, and executions stay fast.
inline void limit_declared_allocations() { ::setenv("MIXGCN_MAX_DECLARED_BYTES", "16777216", 1); }

}  // namespace mixgcn_fuzz
