// Reads a checkpoint the way a resume does (length, checksum, every section) and prints
// its epoch; exit 0 when it loads, 1 with the reader's message when it does not.
//   mixgcn_checkpoint_check FILE [EXPECTED_EPOCH]
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "mixgcn/io/checkpoint.hpp"

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s FILE [EXPECTED_EPOCH]\n", argv[0]);
        return 2;
    }
    try {
        const auto ck = mixgcn::io::read_checkpoint(argv[1]);
        std::printf("%s: epoch %llu, %zu arrays, %s, checksum ok\n", argv[1], static_cast<unsigned long long>(ck.epoch),
                    ck.arrays.size(), ck.value_type.c_str());
        if (argc == 3 && ck.epoch != std::strtoull(argv[2], nullptr, 10)) {
            std::fprintf(stderr, "%s: epoch %llu, expected %s\n", argv[1], static_cast<unsigned long long>(ck.epoch),
                         argv[2]);
            return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
