#pragma once
// A ZIP archive reader (PKWARE APPNOTE 6.3) for .npz files: the central directory
// (ZIP64 included, which numpy writes), members stored or deflated, each member's CRC-32
// checked. Whole-archive in memory, no encryption, one disk. Every failure is an
// io_error naming the archive (and member) and the byte offset.
#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/io/file.hpp"
#include "mixgcn/io/gzip.hpp"

namespace mixgcn::io {

namespace detail {
constexpr std::array<std::uint32_t, 256> make_crc32_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        t[i] = c;
    }
    return t;
}
inline constexpr auto crc32_table = make_crc32_table();
}  // namespace detail

// CRC-32 (ISO-HDLC, as zip and gzip use): zlib's when there is one, a table otherwise.
inline std::uint32_t crc32_ieee(std::string_view bytes) noexcept {
#ifdef MIXGCN_HAS_ZLIB
    uLong crc = ::crc32(0L, Z_NULL, 0);
    while (!bytes.empty()) {
        const auto n = static_cast<uInt>(std::min<std::size_t>(bytes.size(), std::size_t(1) << 30));
        crc = ::crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), n);
        bytes.remove_prefix(n);
    }
    return static_cast<std::uint32_t>(crc);
#else
    std::uint32_t crc = ~0u;
    for (unsigned char c : bytes) crc = detail::crc32_table[(crc ^ c) & 0xffu] ^ (crc >> 8);
    return ~crc;
#endif
}

struct zip_entry {
    std::string name;
    std::uint16_t flags = 0, method = 0;  // 0 stored, 8 deflated
    std::uint32_t crc = 0;
    std::uint64_t compressed = 0, size = 0, local_offset = 0;
    std::uint64_t directory_offset = 0;  // of its central-directory record, for errors
};

class zip_archive {
public:
    // Reads and indexes `path`.
    explicit zip_archive(const std::filesystem::path& path) : zip_archive(path.string(), read_file(path)) {}

    zip_archive(std::string file, std::string bytes) : file_(std::move(file)), bytes_(std::move(bytes)) { index(); }

    const std::string& file() const noexcept { return file_; }
    const std::vector<zip_entry>& entries() const noexcept { return entries_; }

    const zip_entry* find(std::string_view name) const noexcept {
        for (const auto& e : entries_)
            if (e.name == name) return &e;
        return nullptr;
    }

    // The member's bytes, inflated when deflated, its length and CRC-32 checked. Refuses
    // members larger than `limit` before allocating.
    std::string extract(const zip_entry& e, std::uint64_t limit = declared_size_limit()) const {
        const std::string member = file_ + ":" + e.name;
        if (e.flags & 1u) fail(e.directory_offset, e.name, "encrypted zip members are not supported");
        if (e.method != 0 && e.method != 8)
            fail(e.directory_offset, std::to_string(e.method),
                 "unsupported zip compression method for " + e.name + " (expected 0 stored or 8 deflated)");
        if (e.size > limit)
            fail(e.directory_offset, std::to_string(e.size),
                 e.name + " declares more bytes than the limit of " + std::to_string(limit) +
                     " (physical memory or MIXGCN_MAX_DECLARED_BYTES)");
        // The local header repeats name and flags; only its variable lengths matter here.
        const std::uint64_t at = e.local_offset;
        need(at, 30, "local header of " + e.name);
        if (u32(at) != 0x04034b50u) fail(at, e.name, "bad local header signature for " + e.name);
        const std::uint64_t data = at + 30 + u16(at + 26) + u16(at + 28);
        need(data, e.compressed, "data of " + e.name);
        const std::string_view raw = std::string_view(bytes_).substr(0, static_cast<std::size_t>(data + e.compressed));
        std::string out;
        if (e.method == 0) {
            if (e.compressed != e.size)
                fail(e.directory_offset, e.name, "stored member " + e.name + " has different compressed and plain sizes");
            out.assign(raw.substr(static_cast<std::size_t>(data)));
        } else {
#ifdef MIXGCN_HAS_ZLIB
            out.reserve(static_cast<std::size_t>(e.size));
            detail::inflater inf(member, -15);
            detail::inflate_into(inf, member, raw, static_cast<std::size_t>(data), out, e.size, "deflated zip member",
                                "the size its directory entry declares");
#else
            detail::no_zlib(member);
#endif
            if (out.size() != e.size)
                fail(data, e.name,
                     e.name + " inflates to " + std::to_string(out.size()) + " bytes, the directory says " +
                         std::to_string(e.size));
        }
        const std::uint32_t crc = crc32_ieee(out);
        if (crc != e.crc)
            fail(data, e.name, "CRC-32 mismatch in " + e.name + ": stored " + hex(e.crc) + ", computed " + hex(crc));
        return out;
    }

private:
    [[noreturn]] void fail(std::uint64_t offset, std::string text, const std::string& reason) const {
        throw io_error(file_, static_cast<std::int64_t>(offset), std::move(text), reason, true);
    }
    void need(std::uint64_t at, std::uint64_t n, const std::string& what) const {
        if (at > bytes_.size() || n > bytes_.size() - at)
            fail(bytes_.size(), "", "truncated zip archive: " + what + " runs past the end");
    }
    std::uint16_t u16(std::uint64_t at) const noexcept {
        const auto* p = reinterpret_cast<const unsigned char*>(bytes_.data() + at);
        return static_cast<std::uint16_t>(p[0] | p[1] << 8);
    }
    std::uint32_t u32(std::uint64_t at) const noexcept { return u16(at) | std::uint32_t(u16(at + 2)) << 16; }
    std::uint64_t u64(std::uint64_t at) const noexcept { return u32(at) | std::uint64_t(u32(at + 4)) << 32; }
    static std::string hex(std::uint32_t v) {
        static constexpr char digits[] = "0123456789abcdef";
        std::string s = "0x";
        for (int k = 28; k >= 0; k -= 4) s += digits[(v >> k) & 15u];
        return s;
    }

    void index() {
        if (bytes_.empty()) fail(0, "", "file is empty: not a zip archive");
        // The end-of-central-directory record: 22 bytes plus a comment of up to 64 KiB.
        if (bytes_.size() < 22) fail(0, "", "not a zip archive: too short for an end record");
        std::uint64_t eocd = bytes_.size() - 22;
        const std::uint64_t lowest = bytes_.size() > 22 + 65535 ? bytes_.size() - 22 - 65535 : 0;
        while (u32(eocd) != 0x06054b50u) {
            if (eocd == lowest) fail(0, bytes_.substr(0, 4), "not a zip archive: no end of central directory record");
            --eocd;
        }
        std::uint64_t count = u16(eocd + 10), dir_size = u32(eocd + 12), dir_at = u32(eocd + 16);
        if (u16(eocd + 4) != 0 || u16(eocd + 6) != 0) fail(eocd, "", "multi-disk zip archives are not supported");
        // ZIP64: a locator right before the end record points at the 64-bit end record.
        if (count == 0xffff || dir_size == 0xffffffffu || dir_at == 0xffffffffu) {
            if (eocd < 20 || u32(eocd - 20) != 0x07064b50u)
                fail(eocd, "", "zip end record needs ZIP64 fields but there is no ZIP64 locator");
            const std::uint64_t z = u64(eocd - 20 + 8);
            need(z, 56, "ZIP64 end of central directory");
            if (u32(z) != 0x06064b50u) fail(z, "", "bad ZIP64 end of central directory signature");
            count = u64(z + 32);
            dir_size = u64(z + 40);
            dir_at = u64(z + 48);
        }
        need(dir_at, dir_size, "the central directory");
        if (count > dir_size / 46) fail(eocd, std::to_string(count), "zip central directory too small for its entry count");
        entries_.reserve(static_cast<std::size_t>(count));
        std::uint64_t at = dir_at;
        for (std::uint64_t k = 0; k < count; ++k) {
            need(at, 46, "central directory entry " + std::to_string(k));
            if (u32(at) != 0x02014b50u) fail(at, "", "bad central directory signature");
            zip_entry e;
            e.directory_offset = at;
            e.flags = u16(at + 8);
            e.method = u16(at + 10);
            e.crc = u32(at + 16);
            e.compressed = u32(at + 20);
            e.size = u32(at + 24);
            const std::uint64_t name_len = u16(at + 28), extra_len = u16(at + 30), comment_len = u16(at + 32);
            e.local_offset = u32(at + 42);
            need(at + 46, name_len + extra_len + comment_len, "central directory entry " + std::to_string(k));
            e.name = bytes_.substr(static_cast<std::size_t>(at + 46), static_cast<std::size_t>(name_len));
            // ZIP64 extra field (id 1): the 64-bit values of the fields set to all ones, in order.
            for (std::uint64_t x = at + 46 + name_len, end = x + extra_len; x + 4 <= end;) {
                const std::uint16_t id = u16(x), len = u16(x + 2);
                if (x + 4 + len > end) fail(x, e.name, "zip extra field runs past its entry");
                if (id == 1) {
                    std::uint64_t f = x + 4;
                    for (std::uint64_t* v : {&e.size, &e.compressed, &e.local_offset})
                        if (*v == 0xffffffffu) {
                            if (f + 8 > x + 4 + len) fail(x, e.name, "ZIP64 extra field too short");
                            *v = u64(f);
                            f += 8;
                        }
                }
                x += 4 + len;
            }
            entries_.push_back(std::move(e));
            at += 46 + name_len + extra_len + comment_len;
        }
    }

    std::string file_;
    std::string bytes_;
    std::vector<zip_entry> entries_;
};

}  // namespace mixgcn::io
