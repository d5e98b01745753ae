#pragma once
// Line-by-line view over a text file held in memory: skips blank lines and comments,
// splits on blanks (or on a separator such as ',' for CSV, every field kept, empty ones
// too, blanks around it trimmed), and parses tokens with std::from_chars. Every failure is an
// io_error naming the file, the 1-based line and the token at fault.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "mixgcn/core/error.hpp"

namespace mixgcn::io {

class text_reader {
public:
    // `comment` starts a comment that runs to the end of the line ('#' for tsv, '%' for
    // Matrix Market). The reader keeps a view: `data` must outlive it.
    // `separator` 0 splits on runs of blanks.
    text_reader(std::string file, std::string_view data, char comment = '#', char separator = 0)
        : file_(std::move(file)), data_(data), comment_(comment), sep_(separator) {
        tokens_.reserve(8);
    }

    // Moves to the next line that holds data. With `raw`, comment lines are returned
    // too (for the Matrix Market banner). Returns false at the end of the file.
    bool next(bool raw = false) {
        while (pos_ < data_.size()) {
            const auto nl = data_.find('\n', pos_);
            const auto end = nl == std::string_view::npos ? data_.size() : nl;
            std::string_view l = data_.substr(pos_, end - pos_);
            pos_ = nl == std::string_view::npos ? data_.size() : nl + 1;
            ++line_;
            if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
            if (!raw) {
                const auto c = l.find(comment_);
                if (c != std::string_view::npos) l = l.substr(0, c);
            }
            tokens_.clear();
            std::size_t i = 0;
            if (sep_ != 0) {
                if (l.find_first_not_of(" \t\v\f") != std::string_view::npos)
                    for (;;) {
                        const auto s = l.find(sep_, i);
                        tokens_.push_back(trim(l.substr(i, s == std::string_view::npos ? l.npos : s - i)));
                        if (s == std::string_view::npos) break;
                        i = s + 1;
                    }
                i = l.size();
            }
            while (i < l.size()) {
                while (i < l.size() && is_blank(l[i])) ++i;
                const std::size_t b = i;
                while (i < l.size() && !is_blank(l[i])) ++i;
                if (i > b) tokens_.push_back(l.substr(b, i - b));
            }
            text_ = l;
            if (raw || !tokens_.empty()) return true;
        }
        return false;
    }

    const std::string& file() const noexcept { return file_; }
    std::int64_t line() const noexcept { return line_; }
    // Bytes of the data not yet consumed (after the current line).
    std::size_t remaining() const noexcept { return data_.size() - pos_; }
    std::string_view text() const noexcept { return text_; }
    const std::vector<std::string_view>& tokens() const noexcept { return tokens_; }

    [[noreturn]] void fail(std::string_view offending, const std::string& reason) const {
        throw io_error(file_, line_, std::string(offending), reason);
    }

    // Exactly `n` tokens on this line, or an error quoting the line.
    void expect_columns(std::size_t n) const {
        if (tokens_.size() != n)
            fail(text_, "expected " + std::to_string(n) + " columns, found " + std::to_string(tokens_.size()));
    }

    template <class Int>
    Int parse_int(std::string_view tok, const char* what) const {
        Int v{};
        const auto* b = tok.data();
        const auto* e = b + tok.size();
        if (e - b > 1 && *b == '+' && b[1] != '-') ++b;  // from_chars rejects a leading '+'
        const auto r = std::from_chars(b, e, v);
        if (r.ec == std::errc::result_out_of_range) fail(tok, std::string(what) + " out of range");
        if (r.ec != std::errc{} || r.ptr != e) fail(tok, std::string("expected an integer ") + what);
        return v;
    }

    // Parses a floating-point token. NaN and infinities parse (so the caller can name
    // them); values beyond the double range are an error.
    double parse_double(std::string_view tok, const char* what) const {
        double v{};
        const auto* b = tok.data();
        const auto* e = b + tok.size();
        if (e - b > 1 && *b == '+' && b[1] != '-') ++b;
        const auto r = std::from_chars(b, e, v);
        if (r.ec == std::errc::result_out_of_range) fail(tok, std::string(what) + " out of the float64 range");
        if (r.ec != std::errc{} || r.ptr != e) fail(tok, std::string("expected a number for ") + what);
        return v;
    }

private:
    static bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }
    static std::string_view trim(std::string_view s) noexcept {
        while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
        while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
        return s;
    }

    std::string file_;
    std::string_view data_;
    char comment_;
    char sep_;
    std::size_t pos_ = 0;
    std::int64_t line_ = 0;
    std::string_view text_;
    std::vector<std::string_view> tokens_;
};

}  // namespace mixgcn::io
