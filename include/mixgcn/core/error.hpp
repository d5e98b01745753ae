#pragma once
// One exception hierarchy for the whole library: every failure a user can provoke
// (bad file, bad flag, bad shape, failed collective) is a mixgcn::error, and the
// message names where it happened and the value at fault.
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace mixgcn {

class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Malformed or unreadable input. `line` is 1-based; for binary files it carries the
// byte offset instead and `is_offset()` says so.
class io_error : public error {
public:
    io_error(std::string file, std::int64_t line, std::string text, const std::string& reason,
             bool offset = false)
        : error(compose(file, line, text, reason, offset)),
          file_(std::move(file)), line_(line), text_(std::move(text)), offset_(offset) {}

    const std::string& file() const noexcept { return file_; }
    std::int64_t line() const noexcept { return line_; }
    const std::string& text() const noexcept { return text_; }
    bool is_offset() const noexcept { return offset_; }

private:
    static std::string compose(const std::string& file, std::int64_t line, const std::string& text,
                               const std::string& reason, bool offset) {
        std::ostringstream os;
        os << file;
        if (line > 0 || offset) os << (offset ? ": byte " : ":") << line;
        os << ": " << reason;
        if (!text.empty()) os << " (got '" << text << "')";
        return os.str();
    }
    std::string file_;
    std::int64_t line_;
    std::string text_;
    bool offset_;
};

// A caller passed something the library cannot work with (shape mismatch, id out of
// range, unknown option).
class invalid_argument : public error {
public:
    using error::error;
};

// A collective or transport failed; carries the rank that saw it.
class comm_error : public error {
public:
    comm_error(int rank, const std::string& what)
        : error("rank " + std::to_string(rank) + ": " + what), rank_(rank) {}
    int rank() const noexcept { return rank_; }

private:
    int rank_;
};

// A run that cannot fit: what it would need exceeds the memory it may use. Raised before
// the large allocations, with the predicted figures and what would fit.
class memory_error : public error {
public:
    using error::error;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
    std::ostringstream os;
    (os << ... << parts);
    return os.str();
}
}  // namespace detail

// Throws invalid_argument with a message built from the parts when `ok` is false.
template <class... Parts>
void require(bool ok, const Parts&... parts) {
    if (!ok) throw invalid_argument(detail::concat(parts...));
}

}  // namespace mixgcn
