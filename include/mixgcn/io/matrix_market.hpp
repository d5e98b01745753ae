#pragma once
// Matrix Market coordinate files: banner, size line and entries, with 1-based ids turned
// into 0-based ones. The parser hands each entry to a callback so edge lists and sparse
// features are built without an intermediate copy.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

#include "mixgcn/core/error.hpp"
#include "mixgcn/io/text_reader.hpp"

namespace mixgcn::io {

enum class mm_field { pattern, real, integer };
enum class mm_symmetry { general, symmetric };

struct mm_header {
    std::uint64_t rows = 0, cols = 0, nnz = 0;
    // The most entries the bytes after the size line can hold; readers reserve by this,
    // never by `nnz`, which a hostile file sets at will.
    std::uint64_t max_entries = 0;
    mm_field field = mm_field::pattern;
    mm_symmetry symmetry = mm_symmetry::general;
};

namespace detail {
inline std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}
}  // namespace detail

// Parses `data` (the contents of `file`). After the size line calls
// on_header(reader, header) (the reader on the size line, for errors about the sizes);
// then for every stored entry calls
// on_entry(reader, row, col, value) with 0-based row/col (checked against the size line)
// and the value (1 for pattern files); `reader` points at the entry's line so the
// callback can raise errors naming it. Symmetric files are not expanded here.
template <class OnHeader, class OnEntry>
mm_header parse_matrix_market(const std::string& file, std::string_view data, OnHeader&& on_header,
                              OnEntry&& on_entry) {
    if (data.empty()) throw io_error(file, 0, "", "file is empty");
    text_reader r(file, data, '%');
    r.next(true);
    const auto& banner = r.tokens();
    if (banner.empty() || detail::lower(banner[0]) != "%%matrixmarket")
        r.fail(r.text(), "missing '%%MatrixMarket' banner");
    if (banner.size() != 5) r.fail(r.text(), "banner needs 5 words: %%MatrixMarket matrix coordinate <field> <symmetry>");
    if (detail::lower(banner[1]) != "matrix") r.fail(banner[1], "only 'matrix' objects are supported");
    if (detail::lower(banner[2]) != "coordinate") r.fail(banner[2], "only the 'coordinate' format is supported");
    mm_header h;
    const std::string field = detail::lower(banner[3]);
    if (field == "pattern") h.field = mm_field::pattern;
    else if (field == "real" || field == "double") h.field = mm_field::real;
    else if (field == "integer") h.field = mm_field::integer;
    else r.fail(banner[3], "unsupported Matrix Market field (expected pattern, real or integer)");
    const std::string sym = detail::lower(banner[4]);
    if (sym == "general") h.symmetry = mm_symmetry::general;
    else if (sym == "symmetric") h.symmetry = mm_symmetry::symmetric;
    else r.fail(banner[4], "unsupported Matrix Market symmetry (expected general or symmetric)");

    if (!r.next()) throw io_error(file, r.line(), "", "no size line after the banner");
    r.expect_columns(3);
    h.rows = r.parse_int<std::uint64_t>(r.tokens()[0], "row count");
    h.cols = r.parse_int<std::uint64_t>(r.tokens()[1], "column count");
    h.nnz = r.parse_int<std::uint64_t>(r.tokens()[2], "entry count");
    if (h.symmetry == mm_symmetry::symmetric && h.rows != h.cols)
        r.fail(r.text(), "a symmetric matrix must be square");
    // An entry line takes at least "i j" (or "i j v") and a newline, the last one maybe
    // without it. A count above one entry per byte is refused at once; one that is merely
    // too large is reported, with the line where the entries end, after the last entry.
    const std::uint64_t rest = r.remaining();
    if (h.nnz > rest)
        r.fail(r.tokens()[2], "the size line declares " + std::to_string(h.nnz) + " entries but only " +
                                  std::to_string(rest) + " bytes follow");
    h.max_entries = std::min(h.nnz, (rest + 1) / (h.field == mm_field::pattern ? 4 : 6));
    on_header(r, h);

    const std::size_t columns = h.field == mm_field::pattern ? 2 : 3;
    std::uint64_t seen = 0;
    while (r.next()) {
        if (seen == h.nnz) r.fail(r.text(), "more entries than the " + std::to_string(h.nnz) + " the size line declares");
        r.expect_columns(columns);
        const auto& t = r.tokens();
        const auto i = r.parse_int<std::int64_t>(t[0], "row index");
        const auto j = r.parse_int<std::int64_t>(t[1], "column index");
        if (i < 1 || static_cast<std::uint64_t>(i) > h.rows)
            r.fail(t[0], "row index outside [1, " + std::to_string(h.rows) + "]");
        if (j < 1 || static_cast<std::uint64_t>(j) > h.cols)
            r.fail(t[1], "column index outside [1, " + std::to_string(h.cols) + "]");
        double v = 1.0;
        if (h.field == mm_field::real) v = r.parse_double(t[2], "the entry value");
        else if (h.field == mm_field::integer) v = static_cast<double>(r.parse_int<std::int64_t>(t[2], "entry value"));
        on_entry(r, static_cast<std::uint64_t>(i - 1), static_cast<std::uint64_t>(j - 1), v);
        ++seen;
    }
    if (seen < h.nnz)
        throw io_error(file, r.line(), "", "file ends after " + std::to_string(seen) + " of the " +
                                               std::to_string(h.nnz) + " entries the size line declares");
    return h;
}

// "%%MatrixMarket matrix coordinate <field> general\n<rows> <cols> <nnz>\n".
inline std::string mm_preamble(mm_field field, std::uint64_t rows, std::uint64_t cols, std::uint64_t nnz) {
    std::string s = "%%MatrixMarket matrix coordinate ";
    s += field == mm_field::pattern ? "pattern" : field == mm_field::real ? "real" : "integer";
    s += " general\n% written by mixgcn\n";
    s += std::to_string(rows) + " " + std::to_string(cols) + " " + std::to_string(nnz) + "\n";
    return s;
}

}  // namespace mixgcn::io
