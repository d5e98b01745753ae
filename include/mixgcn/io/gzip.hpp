#pragma once
// gzip (RFC 1952) through zlib: a whole .gz file inflated into memory, every member of a
// multi-member file (what `cat a.gz b.gz` or pigz makes) in turn. The output is bounded
// (declared_size_limit() by default) so a gzip bomb is an io_error, not the OOM killer.
// Without zlib (MIXGCN_HAS_ZLIB undefined) the headers still compile and reading a .gz is
// an io_error saying so.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>

#include "mixgcn/core/error.hpp"
#include "mixgcn/io/file.hpp"

#ifdef MIXGCN_HAS_ZLIB
#include <zlib.h>
#endif

namespace mixgcn::io {

inline constexpr bool have_zlib =
#ifdef MIXGCN_HAS_ZLIB
    true;
#else
    false;
#endif

// True for a path whose name ends in .gz (the readers pick gzip by name, not content).
inline bool is_gzip_path(const std::filesystem::path& path) { return path.extension() == ".gz"; }

// The extension under a .gz ("edges.tsv.gz" -> ".tsv"), else the extension itself.
inline std::string inner_extension(const std::filesystem::path& path) {
    return (is_gzip_path(path) ? path.stem() : path).extension().string();
}

namespace detail {
[[noreturn]] inline void no_zlib(const std::string& file) {
    throw io_error(file, 0, "",
                   "mixgcn was built without zlib, so compressed (gzip or deflated zip) input cannot be read; "
                   "install zlib (Debian: zlib1g-dev) and reconfigure, or decompress the file first");
}

#ifdef MIXGCN_HAS_ZLIB
// An initialised z_stream, ended on destruction. `window_bits` as for inflateInit2:
// 15 + 16 gzip only, -15 raw deflate (zip members).
class inflater {
public:
    inflater(const std::string& file, int window_bits) : file_(file) {
        if (inflateInit2(&zs_, window_bits) != Z_OK) throw io_error(file_, 0, "", "zlib: inflateInit2 failed");
    }
    ~inflater() { inflateEnd(&zs_); }
    inflater(const inflater&) = delete;
    inflater& operator=(const inflater&) = delete;
    z_stream& stream() noexcept { return zs_; }
    void reset() {
        if (inflateReset(&zs_) != Z_OK) throw io_error(file_, 0, "", "zlib: inflateReset failed");
    }

private:
    const std::string& file_;
    z_stream zs_{};
};

// Inflates `in` from `at` until the stream's end, appending to `out`, never past `limit`
// output bytes in all. Returns the input bytes consumed. `what` names the format, `limit_is`
// what the limit stands for.
inline std::size_t inflate_into(inflater& inf, const std::string& file, std::string_view in, std::size_t at,
                                std::string& out, std::uint64_t limit, const char* what,
                                const char* limit_is = "the limit (physical memory or MIXGCN_MAX_DECLARED_BYTES)") {
    z_stream& zs = inf.stream();
    const std::size_t start = at;
    // One byte of room past the limit tells "ends exactly at the limit" from "goes on".
    const std::uint64_t room = limit == std::numeric_limits<std::uint64_t>::max() ? limit : limit + 1;
    for (;;) {
        if (out.size() == out.capacity()) {
            const auto grow = std::max<std::uint64_t>(std::uint64_t(out.size()), 1u << 16);
            out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(out.size() + grow, room)));
        }
        const std::size_t old = out.size();
        out.resize(out.capacity());
        // zlib counts in uInt: feed and take at most 1 GiB per call.
        const std::size_t avail_in = std::min<std::size_t>(in.size() - at, std::size_t(1) << 30);
        const std::size_t avail_out = std::min<std::size_t>(out.size() - old, std::size_t(1) << 30);
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + at));
        zs.avail_in = static_cast<uInt>(avail_in);
        zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
        zs.avail_out = static_cast<uInt>(avail_out);
        const int rc = inflate(&zs, Z_NO_FLUSH);
        at += avail_in - zs.avail_in;
        out.resize(old + (avail_out - zs.avail_out));
        if (out.size() > limit)
            throw io_error(file, static_cast<std::int64_t>(at), "",
                           std::string(what) + " inflates past " + std::to_string(limit) + " bytes, " + limit_is, true);
        if (rc == Z_STREAM_END) return at - start;
        if (rc == Z_BUF_ERROR && avail_in == 0)
            throw io_error(file, static_cast<std::int64_t>(in.size()), "",
                           std::string("truncated ") + what + ": the stream ends before its end marker", true);
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            throw io_error(file, static_cast<std::int64_t>(at), zs.msg ? zs.msg : "",
                           std::string("corrupt ") + what, true);
    }
}
#endif
}  // namespace detail

// The inflated bytes of the gzip image `data`; `file` names it in errors (offsets are into
// the compressed bytes). Bytes after the last member other than zero padding are an error.
inline std::string gunzip(std::string_view data, const std::string& file,
                          std::uint64_t limit = declared_size_limit()) {
#ifndef MIXGCN_HAS_ZLIB
    (void)data;
    (void)limit;
    detail::no_zlib(file);
#else
    if (data.empty()) throw io_error(file, 0, "", "file is empty: not a gzip file");
    if (data.size() < 2 || data[0] != '\x1f' || data[1] != '\x8b')
        throw io_error(file, 0, std::string(data.substr(0, 4)), "not a gzip file: bad magic (expected 1f 8b)", true);
    std::string out;
    // ISIZE, the last member's length mod 2^32, is a good first guess for one member;
    // deflate expands at most ~1032x, so a lying trailer cannot make us reserve more.
    if (data.size() >= 18) {
        const std::uint64_t isize = std::uint8_t(data[data.size() - 4]) | std::uint64_t(std::uint8_t(data[data.size() - 3])) << 8 |
                                    std::uint64_t(std::uint8_t(data[data.size() - 2])) << 16 |
                                    std::uint64_t(std::uint8_t(data[data.size() - 1])) << 24;
        // One byte more than ISIZE lets zlib reach the trailer without a regrow of the buffer.
        out.reserve(static_cast<std::size_t>(std::min({isize + 1, std::uint64_t(data.size()) * 1032, limit})));
    }
    detail::inflater inf(file, 15 + 16);
    std::size_t at = 0;
    for (;;) {
        at += detail::inflate_into(inf, file, data, at, out, limit, "gzip data");
        if (at == data.size()) return out;
        // Another member, or padding (some tape and archive tools append zeros).
        if (data.find_first_not_of('\0', at) == std::string_view::npos) return out;
        if (data.size() - at < 2 || data[at] != '\x1f' || data[at + 1] != '\x8b')
            throw io_error(file, static_cast<std::int64_t>(at), "",
                           std::to_string(data.size() - at) + " unexpected bytes after the last gzip member", true);
        inf.reset();
    }
#endif
}

// The bytes of `path`, inflated when its name ends in .gz.
inline std::string read_file_or_gzip(const std::filesystem::path& path, std::uint64_t limit = declared_size_limit()) {
    if (!is_gzip_path(path)) return read_file(path);
    if constexpr (!have_zlib) detail::no_zlib(path.string());
    return gunzip(read_file(path), path.string(), limit);
}

}  // namespace mixgcn::io
