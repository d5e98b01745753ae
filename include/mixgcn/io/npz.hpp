#pragma once
// Sparse matrices as scipy.sparse.save_npz writes them: a zip (.npz) of .npy members,
// format.npy ('csr', 'csc' or 'coo', as bytes '|S3' or text '<U3'), shape.npy and the
// format's arrays (indptr/indices/data, or row/col/data). Every index is checked against
// the shape and indptr for monotonicity; errors name "<archive>:<member>" and the byte
// offset inside that member.
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>

#include "mixgcn/core/error.hpp"
#include "mixgcn/io/npy.hpp"
#include "mixgcn/io/zip.hpp"

namespace mixgcn::io {

// Element i of an integer array as int64 (uint64 values past int64 come back negative,
// which every caller refuses as a negative index).
inline std::int64_t npy_int_at(const npy_array& a, std::uint64_t i) {
    const char* p = a.element(i);
    const auto s = a.header.item_size;
    if (a.header.kind == 'i') {
        if (s == 4) return detail::load_le<std::int32_t>(p);
        if (s == 8) return detail::load_le<std::int64_t>(p);
        if (s == 2) return detail::load_le<std::int16_t>(p);
        if (s == 1) return detail::load_le<std::int8_t>(p);
    } else if (a.header.kind == 'u') {
        if (s == 4) return detail::load_le<std::uint32_t>(p);
        if (s == 8) return static_cast<std::int64_t>(detail::load_le<std::uint64_t>(p));
        if (s == 2) return detail::load_le<std::uint16_t>(p);
        if (s == 1) return detail::load_le<std::uint8_t>(p);
    }
    a.fail(a.header.header_offset, a.header.descr, "expected an integer dtype");
}

// Element i of a numeric array (int, unsigned, float, bool) as double.
inline double npy_number_at(const npy_array& a, std::uint64_t i) {
    const char* p = a.element(i);
    const auto s = a.header.item_size;
    if (a.header.kind == 'f') {
        if (s == 8) return detail::load_le<double>(p);
        if (s == 4) return detail::load_le<float>(p);
    } else if (a.header.kind == 'b' && s == 1) {
        return detail::load_le<std::uint8_t>(p) != 0 ? 1.0 : 0.0;
    } else if (a.header.kind == 'u' && s == 8) {
        return static_cast<double>(detail::load_le<std::uint64_t>(p));
    } else if (a.header.kind == 'i' || a.header.kind == 'u') {
        return static_cast<double>(npy_int_at(a, i));
    }
    a.fail(a.header.header_offset, a.header.descr, "unsupported dtype for matrix values");
}

struct sparse_npz {
    std::string file;
    std::string format;  // "csr", "csc" or "coo"
    std::uint64_t rows = 0, cols = 0;
    npy_array major, minor, data;  // csr/csc: indptr, indices; coo: row, col

    std::uint64_t nnz() const noexcept { return data.header.count(); }

    // Calls f(row, col, k) for every stored entry in storage order (k indexes `data`).
    // Duplicates and explicit zeros are passed on as stored.
    template <class F>
    void for_each(F&& f) const {
        auto check = [](const npy_array& a, std::uint64_t k, std::int64_t v, std::uint64_t bound, const char* what) {
            if (v < 0 || static_cast<std::uint64_t>(v) >= bound)
                a.fail(a.offset_of(k), std::to_string(v),
                       std::string(what) + " index out of range: the matrix has " + std::to_string(bound) + " " + what +
                           "s");
            return static_cast<std::uint64_t>(v);
        };
        if (format == "coo") {
            for (std::uint64_t k = 0; k < nnz(); ++k)
                f(check(major, k, npy_int_at(major, k), rows, "row"), check(minor, k, npy_int_at(minor, k), cols, "column"),
                  k);
            return;
        }
        const bool csr = format == "csr";
        const std::uint64_t outer = csr ? rows : cols, inner = csr ? cols : rows;
        const char* inner_name = csr ? "column" : "row";
        for (std::uint64_t o = 0; o < outer; ++o) {
            const auto b = static_cast<std::uint64_t>(npy_int_at(major, o)),
                       e = static_cast<std::uint64_t>(npy_int_at(major, o + 1));
            for (std::uint64_t k = b; k < e; ++k) {
                const auto i = check(minor, k, npy_int_at(minor, k), inner, inner_name);
                if (csr) f(o, i, k);
                else f(i, o, k);
            }
        }
    }
};

namespace detail {
inline npy_array npz_member(const zip_archive& z, const std::string& name, std::uint64_t limit) {
    const zip_entry* e = z.find(name + ".npy");
    if (!e) {
        std::string have;
        for (const auto& x : z.entries()) (have += have.empty() ? "" : ", ") += x.name;
        throw io_error(z.file(), 0, name + ".npy",
                       "not a scipy.sparse .npz: member missing (the archive holds " + (have.empty() ? "nothing" : have) +
                           ")");
    }
    return parse_npy(z.file() + ":" + e->name, z.extract(*e, limit));
}

inline void require_int_vector(const npy_array& a, std::uint64_t length, const char* what) {
    if (a.header.kind != 'i' && a.header.kind != 'u')
        a.fail(a.header.header_offset, a.header.descr, std::string("wrong dtype for ") + what + ": expected integers");
    if (a.header.shape.size() != 1 || a.header.shape[0] != length)
        a.fail(a.header.header_offset, a.header.shape.empty() ? "()" : std::to_string(a.header.shape[0]),
               std::string("wrong shape for ") + what + ": expected " + std::to_string(length) + " entries");
}
}  // namespace detail

// Reads and checks a scipy.sparse .npz. Members larger than `limit` are refused.
inline sparse_npz read_sparse_npz(const std::filesystem::path& path, std::uint64_t limit = declared_size_limit()) {
    const zip_archive z(path);
    sparse_npz m;
    m.file = path.string();
    const npy_array fmt = detail::npz_member(z, "format", limit);
    if ((fmt.header.kind != 'S' && fmt.header.kind != 'U') || fmt.header.count() != 1)
        fmt.fail(fmt.header.header_offset, fmt.header.descr, "format.npy must hold one string such as 'csr'");
    m.format = npy_string(fmt, 0);
    if (m.format != "csr" && m.format != "csc" && m.format != "coo")
        fmt.fail(fmt.header.data_offset, m.format,
                 m.format == "bsr" || m.format == "dia"
                     ? "unsupported sparse format: save it as CSR (matrix.tocsr()) before scipy.sparse.save_npz"
                     : "unknown sparse format (expected csr, csc or coo)");

    const npy_array shape = detail::npz_member(z, "shape", limit);
    detail::require_int_vector(shape, 2, "shape.npy");
    const std::int64_t r = npy_int_at(shape, 0), c = npy_int_at(shape, 1);
    if (r < 0 || c < 0) shape.fail(shape.header.data_offset, std::to_string(r) + " x " + std::to_string(c), "negative matrix shape");
    m.rows = static_cast<std::uint64_t>(r);
    m.cols = static_cast<std::uint64_t>(c);

    m.data = detail::npz_member(z, "data", limit);
    if (m.data.header.shape.size() != 1) m.data.fail(m.data.header.header_offset, m.data.header.descr, "data.npy must be 1-D");
    const std::uint64_t nnz = m.data.header.shape[0];
    if (m.format == "coo") {
        m.major = detail::npz_member(z, "row", limit);
        m.minor = detail::npz_member(z, "col", limit);
        detail::require_int_vector(m.major, nnz, "row.npy (one per data.npy entry)");
        detail::require_int_vector(m.minor, nnz, "col.npy (one per data.npy entry)");
        return m;
    }
    m.major = detail::npz_member(z, "indptr", limit);
    m.minor = detail::npz_member(z, "indices", limit);
    const std::uint64_t outer = m.format == "csr" ? m.rows : m.cols;
    if (outer == std::numeric_limits<std::uint64_t>::max()) shape.fail(shape.header.data_offset, "", "matrix too large");
    detail::require_int_vector(m.major, outer + 1, m.format == "csr" ? "indptr.npy (rows + 1)" : "indptr.npy (columns + 1)");
    detail::require_int_vector(m.minor, nnz, "indices.npy (one per data.npy entry)");
    // indptr: starts at 0, never decreases, ends at nnz.
    std::int64_t prev = 0;
    for (std::uint64_t o = 0; o <= outer; ++o) {
        const std::int64_t v = npy_int_at(m.major, o);
        if ((o == 0 && v != 0) || v < prev || static_cast<std::uint64_t>(v) > nnz)
            m.major.fail(m.major.offset_of(o), std::to_string(v),
                         o == 0 ? "indptr must start at 0"
                                : "indptr must not decrease and must stay within the " + std::to_string(nnz) + " entries");
        prev = v;
    }
    if (static_cast<std::uint64_t>(prev) != nnz)
        m.major.fail(m.major.offset_of(outer), std::to_string(prev),
                     "indptr must end at the entry count " + std::to_string(nnz));
    return m;
}

}  // namespace mixgcn::io
