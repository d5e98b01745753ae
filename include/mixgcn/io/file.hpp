#pragma once
// Whole-file input and checked output. Every reader loads its file with one read into
// memory and parses from there; every writer reports a failed write as an io_error
// naming the file instead of leaving a silently short file behind.
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#if __has_include(<unistd.h>)
#include <unistd.h>
#endif

#include "mixgcn/core/error.hpp"

namespace mixgcn::io {

// The bytes of `path`. Missing, unreadable or directory paths raise io_error.
inline std::string read_file(const std::filesystem::path& path) {
    const std::string name = path.string();
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw io_error(name, 0, "", "is a directory, expected a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error(name, 0, "", std::string("cannot open file: ") + std::strerror(errno));
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::streamoff>(in.tellg());
    if (size < 0) throw io_error(name, 0, "", "cannot determine the file size");
    in.seekg(0, std::ios::beg);
    std::string data(static_cast<std::size_t>(size), '\0');
    in.read(data.data(), size);
    if (in.gcount() != size) throw io_error(name, in.gcount(), "", "read failed before the end of the file", true);
    return data;
}

// The most bytes a reader allocates for an array whose size a file declares without
// holding that many bytes (the dense matrix of a sparse .mtx): physical memory, so a
// lying header is an io_error instead of std::bad_alloc or the OOM killer.
// MIXGCN_MAX_DECLARED_BYTES lowers it (the fuzz targets stay under libFuzzer's limit).
inline std::uint64_t declared_size_limit() noexcept {
    if (const char* env = std::getenv("MIXGCN_MAX_DECLARED_BYTES")) {
        std::uint64_t v = 0;
        const auto* end = env + std::strlen(env);
        if (const auto r = std::from_chars(env, end, v); r.ec == std::errc{} && r.ptr == end) return v;
    }
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 &&
        static_cast<std::uint64_t>(pages) <= std::numeric_limits<std::uint64_t>::max() / static_cast<std::uint64_t>(page))
        return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
#endif
    return std::numeric_limits<std::uint64_t>::max();
}

// A file opened for reading parts of it: read_at() fills a buffer from an offset, and
// bytes_read() counts what was read, so a partitioned loader can show that it read only
// its share. RAII; errors are io_errors naming the file.
class input_file {
public:
    explicit input_file(const std::filesystem::path& path) : name_(path.string()) {
        std::error_code ec;
        if (std::filesystem::is_directory(path, ec)) throw io_error(name_, 0, "", "is a directory, expected a file");
        in_.open(path, std::ios::binary);
        if (!in_) throw io_error(name_, 0, "", std::string("cannot open file: ") + std::strerror(errno));
        in_.seekg(0, std::ios::end);
        const auto end = static_cast<std::streamoff>(in_.tellg());
        if (end < 0) throw io_error(name_, 0, "", "cannot determine the file size");
        size_ = static_cast<std::uint64_t>(end);
    }
    std::uint64_t size() const noexcept { return size_; }
    std::uint64_t bytes_read() const noexcept { return read_; }
    const std::string& name() const noexcept { return name_; }

    // Bytes [offset, offset + n) into dst; a range past the end is an io_error.
    void read_at(std::uint64_t offset, char* dst, std::uint64_t n) {
        if (offset > size_ || n > size_ - offset)
            throw io_error(name_, static_cast<std::int64_t>(offset), "",
                           "read of " + std::to_string(n) + " bytes runs past the end of the file (" +
                               std::to_string(size_) + " bytes)",
                           true);
        if (n == 0) return;
        in_.clear();
        in_.seekg(static_cast<std::streamoff>(offset));
        in_.read(dst, static_cast<std::streamsize>(n));
        if (static_cast<std::uint64_t>(in_.gcount()) != n)
            throw io_error(name_, static_cast<std::int64_t>(offset) + in_.gcount(), "", "read failed", true);
        read_ += n;
    }

private:
    std::string name_;
    std::ifstream in_;
    std::uint64_t size_ = 0, read_ = 0;
};

namespace detail {
// The last component of a folder path, trailing separators ignored ("data/cora/" -> "cora").
inline std::string folder_name(const std::filesystem::path& dir) {
    auto p = dir.lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    return p.filename().string();
}
}  // namespace detail

// A file opened for writing; write() and close() throw io_error on failure. RAII: the
// stream closes on destruction when close() was never reached (after an exception).
class output_file {
public:
    explicit output_file(const std::filesystem::path& path)
        : name_(path.string()), out_(path, std::ios::binary | std::ios::trunc) {
        if (!out_) throw io_error(name_, 0, "", std::string("cannot create file: ") + std::strerror(errno));
    }
    void write(std::string_view bytes) {
        out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out_) throw io_error(name_, 0, "", "write failed (disk full?)");
    }
    void close() {
        out_.close();
        if (out_.fail()) throw io_error(name_, 0, "", "closing the file failed");
    }
    const std::string& name() const noexcept { return name_; }

private:
    std::string name_;
    std::ofstream out_;
};

// Appends the shortest text that reads back to exactly `v` (integers and floating
// point alike), so text writers round-trip float64 bit for bit.
template <class T>
void append_number(std::string& out, T v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

}  // namespace mixgcn::io
