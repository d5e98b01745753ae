#pragma once
// Training checkpoints: named float64 arrays plus epoch, value type and string metadata,
// in a self-checking binary file written atomically (temp file, fsync, rename), so a
// crash mid-write leaves the previous checkpoint intact. Layout: docs/data-formats.md.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#if __has_include(<unistd.h>) && __has_include(<fcntl.h>)
#include <fcntl.h>
#include <unistd.h>
#define MIXGCN_IO_POSIX 1
#else
#include <fstream>
#endif

#include "mixgcn/core/error.hpp"
#include "mixgcn/io/crc32c.hpp"
#include "mixgcn/io/file.hpp"

namespace mixgcn::io {

struct checkpoint_array {
    std::string name;
    std::vector<std::uint64_t> shape;
    std::vector<double> values;  // float64 so float32 parameters round-trip exactly
};

struct checkpoint {
    std::uint64_t epoch = 0;
    std::string value_type;  // "float32" or "float64": the precision of the run that wrote it
    std::map<std::string, std::string> meta;
    std::vector<checkpoint_array> arrays;

    const checkpoint_array& get(std::string_view name) const {
        std::string have;
        for (const auto& a : arrays) {
            if (a.name == name) return a;
            (have += have.empty() ? "" : ", ") += a.name;
        }
        throw invalid_argument("checkpoint has no array '" + std::string(name) + "' (it holds: " +
                               (have.empty() ? "nothing" : have) + ")");
    }
};

static_assert(std::endian::native == std::endian::little,
              "mixgcn checkpoints are little-endian and written by memcpy; a big-endian host needs byte swaps.");

inline constexpr std::string_view checkpoint_magic = "MIXGCNCK";
inline constexpr std::uint32_t checkpoint_version = 1;

namespace detail {

class ck_writer {
public:
    void bytes(std::string_view s) { out_ += s; }
    template <class T>
    void le(T v) {
        char b[sizeof(T)];
        std::memcpy(b, &v, sizeof v);
        out_.append(b, sizeof b);
    }
    void str(std::string_view s) {
        le<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
        bytes(s);
    }
    // Starts a section; returns where its length goes so end_section can patch it.
    std::size_t begin_section(std::string_view tag) {
        bytes(tag);
        const std::size_t at = out_.size();
        le<std::uint64_t>(0);
        return at;
    }
    void end_section(std::size_t at) {
        const std::uint64_t len = out_.size() - at - sizeof(std::uint64_t);
        std::memcpy(out_.data() + at, &len, sizeof len);
    }
    std::string& buffer() noexcept { return out_; }

private:
    std::string out_;
};

// Bounds-checked cursor: every read past the end names the offset.
class ck_reader {
public:
    ck_reader(const std::string& file, std::string_view data, std::size_t pos) : file_(file), d_(data), pos_(pos) {}
    [[noreturn]] void fail(std::size_t at, std::string text, const std::string& reason) const {
        throw io_error(file_, static_cast<std::int64_t>(at), std::move(text), reason, true);
    }
    void need(std::size_t n, const char* what) const {
        if (n > d_.size() - pos_) fail(pos_, "", std::string("section runs past its end while reading ") + what);
    }
    template <class T>
    T le(const char* what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, d_.data() + pos_, sizeof v);
        pos_ += sizeof v;
        return v;
    }
    std::string str(const char* what) {
        const auto n = le<std::uint32_t>(what);
        need(n, what);
        std::string s(d_.substr(pos_, n));
        pos_ += n;
        return s;
    }
    std::string_view take(std::size_t n, const char* what) {
        need(n, what);
        auto s = d_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    std::size_t pos() const noexcept { return pos_; }
    bool at_end() const noexcept { return pos_ == d_.size(); }

private:
    const std::string& file_;
    std::string_view d_;
    std::size_t pos_;
};

inline std::uint64_t shape_count(const std::vector<std::uint64_t>& shape) {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

// Fixed header: magic, version, reserved, total length.
inline constexpr std::size_t ck_header_size = 8 + 4 + 4 + 8;
inline constexpr std::size_t ck_checksum_size = 4;

}  // namespace detail

// The file image of `ck` (what write_checkpoint puts on disk).
inline std::string encode_checkpoint(const checkpoint& ck) {
    require(ck.value_type == "float32" || ck.value_type == "float64", "checkpoint value_type must be float32 or "
            "float64, got '", ck.value_type, "'");
    detail::ck_writer w;
    w.bytes(checkpoint_magic);
    w.le<std::uint32_t>(checkpoint_version);
    w.le<std::uint32_t>(0);
    w.le<std::uint64_t>(0);  // total length, patched below
    auto s = w.begin_section("HEAD");
    w.le<std::uint64_t>(ck.epoch);
    w.str(ck.value_type);
    w.end_section(s);
    s = w.begin_section("META");
    w.le<std::uint32_t>(static_cast<std::uint32_t>(ck.meta.size()));
    for (const auto& [k, v] : ck.meta) {
        w.str(k);
        w.str(v);
    }
    w.end_section(s);
    for (const auto& a : ck.arrays) {
        require(detail::shape_count(a.shape) == a.values.size(), "checkpoint array '", a.name, "': shape holds ",
                detail::shape_count(a.shape), " values, got ", a.values.size());
        s = w.begin_section("ARRY");
        w.str(a.name);
        w.le<std::uint32_t>(static_cast<std::uint32_t>(a.shape.size()));
        for (auto d : a.shape) w.le<std::uint64_t>(d);
        w.bytes({reinterpret_cast<const char*>(a.values.data()), a.values.size() * sizeof(double)});
        w.end_section(s);
    }
    auto& buf = w.buffer();
    const std::uint64_t total = buf.size() + detail::ck_checksum_size;
    std::memcpy(buf.data() + 16, &total, sizeof total);
    w.le<std::uint32_t>(crc32c(buf));
    return std::move(buf);
}

// Parses a file image; `file` names it in errors.
inline checkpoint decode_checkpoint(const std::string& file, std::string_view d) {
    using detail::ck_header_size;
    auto fail = [&](std::size_t at, std::string text, const std::string& why) -> void {
        throw io_error(file, static_cast<std::int64_t>(at), std::move(text), why, true);
    };
    if (d.empty()) fail(0, "", "checkpoint file is empty");
    const std::size_t m = std::min(d.size(), checkpoint_magic.size());
    if (d.substr(0, m) != checkpoint_magic.substr(0, m))
        fail(0, std::string(d.substr(0, m)), "not a mixgcn checkpoint: bad magic");
    if (d.size() < ck_header_size + detail::ck_checksum_size)
        fail(d.size(), "", "truncated checkpoint: shorter than its fixed header");
    std::uint32_t version;
    std::memcpy(&version, d.data() + 8, 4);
    if (version != checkpoint_version)
        fail(8, std::to_string(version), "unsupported checkpoint version (this build reads version " +
                                             std::to_string(checkpoint_version) + ")");
    std::uint64_t total;
    std::memcpy(&total, d.data() + 16, 8);
    if (d.size() < total)
        fail(d.size(), "", "truncated checkpoint: header promises " + std::to_string(total) + " bytes, file has " +
                               std::to_string(d.size()));
    if (d.size() > total) fail(total, "", std::to_string(d.size() - total) + " unexpected bytes after the checkpoint");
    const std::size_t body = d.size() - detail::ck_checksum_size;
    std::uint32_t stored;
    std::memcpy(&stored, d.data() + body, 4);
    if (const auto actual = crc32c(d.substr(0, body)); actual != stored)
        fail(body, "", "checkpoint checksum mismatch (stored " + std::to_string(stored) + ", computed " +
                           std::to_string(actual) + "): the file is corrupted");

    checkpoint ck;
    bool have_head = false;
    detail::ck_reader r(file, d.substr(0, body), ck_header_size);
    while (!r.at_end()) {
        const std::size_t at = r.pos();
        const std::string tag(r.take(4, "a section tag"));
        const auto len = r.le<std::uint64_t>("a section length");
        detail::ck_reader sec(file, r.take(static_cast<std::size_t>(len), "a section body"), 0);
        const std::size_t base = at + 12;
        auto sec_fail = [&](const char* why) { r.fail(base + sec.pos(), tag, why); };
        if (tag == "HEAD") {
            ck.epoch = sec.le<std::uint64_t>("epoch");
            ck.value_type = sec.str("value type");
            if (ck.value_type != "float32" && ck.value_type != "float64")
                r.fail(base, ck.value_type, "checkpoint value type must be float32 or float64");
            have_head = true;
        } else if (tag == "META") {
            const auto n = sec.le<std::uint32_t>("metadata count");
            for (std::uint32_t i = 0; i < n; ++i) {
                auto k = sec.str("metadata key");
                ck.meta[std::move(k)] = sec.str("metadata value");
            }
        } else if (tag == "ARRY") {
            checkpoint_array a;
            a.name = sec.str("array name");
            const auto ndim = sec.le<std::uint32_t>("array rank");
            for (std::uint32_t i = 0; i < ndim; ++i) a.shape.push_back(sec.le<std::uint64_t>("array dimension"));
            // The shape is checked against the bytes the file really holds before anything
            // is allocated: a header declaring a 1 TB tensor in a small file is an io_error.
            const std::uint64_t bytes_left = len - sec.pos();
            auto shape_fail = [&](const std::string& what) {
                r.fail(base + sec.pos(), tag, "array '" + a.name + "' " + what + " but its section holds " +
                                                  std::to_string(bytes_left) + " bytes of value data (the file is " +
                                                  std::to_string(d.size()) + " bytes)");
            };
            std::uint64_t n = 1;
            for (auto dim : a.shape) {
                if (dim != 0 && n > bytes_left / dim) shape_fail("declares a shape of more values than the file holds");
                n *= dim;
            }
            if (n * sizeof(double) != bytes_left)
                shape_fail("declares " + std::to_string(n) + " values (" + std::to_string(n * sizeof(double)) + " bytes)");
            a.values.resize(static_cast<std::size_t>(n));
            const auto raw = sec.take(static_cast<std::size_t>(n * sizeof(double)), "array values");
            if (!raw.empty()) std::memcpy(a.values.data(), raw.data(), raw.size());  // data() may be null when empty
            ck.arrays.push_back(std::move(a));
        } else {
            r.fail(at, tag, "unknown checkpoint section");
        }
        if (!sec.at_end() && tag != "ARRY") sec_fail("section holds more bytes than its fields");
    }
    if (!have_head) fail(ck_header_size, "", "checkpoint has no HEAD section");
    return ck;
}

namespace detail {
#ifdef MIXGCN_IO_POSIX
// Owns a file descriptor.
class unique_fd {
public:
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }
    // Closes now and reports failure (deferred write errors surface here on NFS).
    bool close() noexcept {
        const int fd = fd_;
        fd_ = -1;
        return ::close(fd) == 0;
    }

private:
    int fd_;
};
#endif

// Removes the temp file unless disarmed: a failed write leaves no litter behind.
class temp_file_guard {
public:
    explicit temp_file_guard(std::filesystem::path p) : path_(std::move(p)) {}
    temp_file_guard(const temp_file_guard&) = delete;
    temp_file_guard& operator=(const temp_file_guard&) = delete;
    ~temp_file_guard() {
        if (armed_) {
            std::error_code ec;
            std::filesystem::remove(path_, ec);
        }
    }
    void disarm() noexcept { armed_ = false; }

private:
    std::filesystem::path path_;
    bool armed_ = true;
};

inline std::filesystem::path temp_path_for(const std::filesystem::path& target) {
#ifdef MIXGCN_IO_POSIX
    const long pid = static_cast<long>(::getpid());
#else
    const long pid = 0;
#endif
    auto p = target;
    p += ".tmp." + std::to_string(pid);
    return p;
}
}  // namespace detail

// Test hook for the fault tests (docs/faults.md): MIXGCN_DEBUG_CHECKPOINT_STOP=POINT[:N]
// kills this process with SIGKILL at POINT of its N-th checkpoint write (default 1st):
// `mid-write` (half the temp file written), `after-write` (temp file written, fsynced and
// closed, not renamed), `after-rename` (renamed, directory not yet fsynced). Unset: nothing.
inline void checkpoint_debug_stop(const char* point, int write_number) {
    const char* env = std::getenv("MIXGCN_DEBUG_CHECKPOINT_STOP");
    if (!env || !*env) return;
    const std::string_view spec(env);
    const auto colon = spec.find(':');
    const int n = colon == std::string_view::npos ? 1 : std::atoi(std::string(spec.substr(colon + 1)).c_str());
    if (spec.substr(0, colon) != point || n != write_number) return;
    std::fprintf(stderr, "mixgcn: debug: SIGKILL at checkpoint write %d, %s (MIXGCN_DEBUG_CHECKPOINT_STOP)\n",
                 write_number, point);
    std::fflush(stderr);
    std::raise(SIGKILL);
}

// Writes `ck` to `<path>.tmp.<pid>`, flushes it to disk and renames it over `path`.
// On any failure the temp file is removed, `path` is untouched, and io_error names the
// file that failed.
inline void write_checkpoint(const std::filesystem::path& path, const checkpoint& ck) {
    static std::atomic<int> writes{0};  // for checkpoint_debug_stop
    const int write_number = ++writes;
    const std::string image = encode_checkpoint(ck);
    const auto tmp = detail::temp_path_for(path);
    const std::string tmp_name = tmp.string();
    auto sys_fail = [&](const char* what) -> void {
        throw io_error(tmp_name, 0, "", std::string(what) + ": " + std::strerror(errno));
    };
#ifdef MIXGCN_IO_POSIX
    detail::unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) sys_fail("cannot create the temporary checkpoint file");
    detail::temp_file_guard guard(tmp);
    std::size_t done = 0;
    const std::size_t half = image.size() / 2;  // written in two parts, so mid-write is a point
    while (done < image.size()) {
        if (done >= half) checkpoint_debug_stop("mid-write", write_number);
        const std::size_t chunk = done < half ? half - done : image.size() - done;
        const auto n = ::write(fd.get(), image.data() + done, chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) sys_fail("writing the temporary checkpoint file failed");
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) sys_fail("fsync of the temporary checkpoint file failed");
    if (!fd.close()) sys_fail("closing the temporary checkpoint file failed");
    checkpoint_debug_stop("after-write", write_number);
#else
    detail::temp_file_guard guard(tmp);
    {
        output_file out(tmp);
        out.write(image);
        out.close();
    }
#endif
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw io_error(path.string(), 0, "", "cannot rename " + tmp_name + " over it: " + ec.message());
    guard.disarm();
#ifdef MIXGCN_IO_POSIX
    checkpoint_debug_stop("after-rename", write_number);
    // Make the rename itself durable; best effort, the data is already safe.
    auto dir = path.parent_path();
    if (dir.empty()) dir = ".";
    detail::unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.get() >= 0) (void)::fsync(dfd.get());
#endif
}

inline checkpoint read_checkpoint(const std::filesystem::path& path) {
    const std::string data = read_file(path);
    return decode_checkpoint(path.string(), data);
}

}  // namespace mixgcn::io
