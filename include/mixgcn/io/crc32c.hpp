#pragma once
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of iSCSI, ext4 and
// SSE4.2's crc32 instruction. Detects every single-bit error and every burst up to 32
// bits, which is what a checkpoint needs to tell a flipped bit from a good file.
#include <array>
#include <cstdint>
#include <string_view>

namespace mixgcn::io {

namespace detail {
constexpr std::array<std::uint32_t, 256> make_crc32c_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        t[i] = c;
    }
    return t;
}
inline constexpr auto crc32c_table = make_crc32c_table();
}  // namespace detail

// Continues a running CRC: crc32c(b, crc32c(a)) == crc32c(a + b).
constexpr std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0) noexcept {
    crc = ~crc;
    for (unsigned char c : bytes) crc = detail::crc32c_table[(crc ^ c) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

}  // namespace mixgcn::io
