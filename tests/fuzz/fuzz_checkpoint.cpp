// Checkpoint images through the in-memory decoder, twice: as given (magic, version,
// length and checksum checks), and with the length field and CRC-32C repaired so that
// mutations reach the section parser behind the checksum.
#include <cstring>
#include <string>

#include "fuzz_common.hpp"
#include "mixgcn/io/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace mixgcn;
    std::string image(reinterpret_cast<const char*>(data), size);
    mixgcn_fuzz::expect_error_or_success([&] { (void)io::decode_checkpoint("fuzz.ck", image); });
    constexpr std::size_t header = 24, crc = 4;
    if (image.size() < header + crc) return 0;
    const std::uint64_t total = image.size();
    std::memcpy(image.data() + 16, &total, sizeof total);
    const std::uint32_t sum = io::crc32c(std::string_view(image).substr(0, image.size() - crc));
    std::memcpy(image.data() + image.size() - crc, &sum, sizeof sum);
    mixgcn_fuzz::expect_error_or_success([&] { (void)io::decode_checkpoint("fuzz.ck", image); });
    return 0;
}
