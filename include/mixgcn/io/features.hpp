#pragma once
// Node features: dense .npy (float32/float64, [N, d]), CSV (OGB's node-feat.csv[.gz],
// one row of d comma-separated numbers per node), or sparse Matrix Market coordinate or
// scipy.sparse .npz (bag of words; missing entries are 0) into a dense_matrix<float|double>. A NaN or
// infinite value, or a float64 value too large for float32, is an io_error naming the
// file, the line or byte offset, and the value.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/types.hpp"
#include "mixgcn/io/file.hpp"
#include "mixgcn/io/gzip.hpp"
#include "mixgcn/io/matrix_market.hpp"
#include "mixgcn/io/npy.hpp"
#include "mixgcn/io/npz.hpp"
#include "mixgcn/io/text_reader.hpp"

namespace mixgcn::io {

namespace detail {
// Empty when `v` is a usable feature of type Value, else the reason it is not.
template <value_type Value>
std::string feature_problem(double v) {
    if (std::isnan(v)) return "NaN feature value";
    if (std::isinf(v)) return "infinite feature value";
    if (std::is_same_v<Value, float> && std::abs(v) > double(std::numeric_limits<float>::max()))
        return "feature value overflows float32";
    return {};
}

// Copies the f4/f8 elements of `a` to `out` as Value; false when one is not finite or
// overflows Value (the caller then finds and names it).
template <class Value>
bool convert_finite(const npy_array& a, Value* out) {
    const auto n = static_cast<std::int64_t>(a.header.count());
    const char* src = a.element(0);
    const auto run = [&]<class S>(S*) {
        // The largest finite value both S and Value hold.
        constexpr S limit = sizeof(S) <= sizeof(Value) ? std::numeric_limits<S>::max() : S(std::numeric_limits<Value>::max());
        int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
        for (std::int64_t i = 0; i < n; ++i) {
            S v;
            std::memcpy(&v, src + i * std::int64_t(sizeof(S)), sizeof(S));
            bad |= !(std::abs(v) <= limit);
            out[i] = static_cast<Value>(v);
        }
        return bad == 0;
    };
    return a.header.item_size == 4 ? run(static_cast<float*>(nullptr)) : run(static_cast<double*>(nullptr));
}

inline std::string number_text(double v) {
    std::string s;
    append_number(s, v);
    return s;
}

inline std::size_t checked_area(std::uint64_t rows, std::uint64_t cols, const auto& fail) {
    if (cols != 0 && rows > std::numeric_limits<std::size_t>::max() / sizeof(double) / cols)
        fail("feature matrix " + std::to_string(rows) + " x " + std::to_string(cols) + " is too large");
    return static_cast<std::size_t>(rows * cols);
}

// A dense matrix the file does not spell out entry by entry must fit the declared limit.
template <value_type Value>
void check_dense_limit(std::uint64_t rows, std::uint64_t cols, const auto& fail) {
    const std::uint64_t bytes = std::uint64_t(checked_area(rows, cols, fail)) * sizeof(Value), limit = declared_size_limit();
    if (bytes > limit)
        fail("a dense " + std::to_string(rows) + " x " + std::to_string(cols) + " feature matrix needs " +
             std::to_string(bytes) + " bytes, more than the " + std::to_string(limit) +
             " this machine allows (physical memory or MIXGCN_MAX_DECLARED_BYTES)");
}
}  // namespace detail

// From a loaded .npy image, whole or a row range (load_npy_rows).
template <value_type Value = float>
dense_matrix<Value> features_from_npy(const npy_array& a) {
    npy_require(a, {"f4", "f8"}, 2, "features");
    const auto rows = a.header.shape[0], cols = a.header.shape[1];
    detail::checked_area(rows, cols, [&](const std::string& why) { a.fail(a.header.header_offset, "", why); });
    dense_matrix<Value> m(static_cast<std::size_t>(rows), static_cast<std::size_t>(cols));
    Value* out = m.data();
    // Fast path: convert on the threads with one vectorisable range test per value
    // (|v| <= max is false for NaN, infinities and float32 overflow); only a file that
    // fails it takes the loop below, which names the first bad value.
    if (detail::convert_finite<Value>(a, out)) return m;
    npy_for_each(a, [&](std::uint64_t i, auto raw) {
        const double v = static_cast<double>(raw);
        if (auto why = detail::feature_problem<Value>(v); !why.empty())
            a.fail(a.offset_of(i), detail::number_text(v),
                   why + " at row " + std::to_string((a.first + i) / cols) + ", column " + std::to_string(i % cols));
        out[i] = static_cast<Value>(raw);
    });
    return m;
}

template <value_type Value = float>
dense_matrix<Value> read_features_npy(const std::filesystem::path& path) {
    return features_from_npy<Value>(load_npy(path));
}

// Coordinate real/integer (pattern entries count as 1). Duplicate entries are summed,
// as SciPy does.
template <value_type Value = float>
dense_matrix<Value> read_features_mtx(const std::filesystem::path& path) {
    const std::string data = read_file(path);
    dense_matrix<Value> m;
    bool symmetric = false;
    parse_matrix_market(
        path.string(), data,
        [&](const text_reader& r, const mm_header& h) {
            // Entries not listed are zeros the file does not hold: cap what it may declare.
            detail::check_dense_limit<Value>(h.rows, h.cols, [&](const std::string& why) { r.fail(r.text(), why); });
            m = dense_matrix<Value>(static_cast<std::size_t>(h.rows), static_cast<std::size_t>(h.cols));
            symmetric = h.symmetry == mm_symmetry::symmetric;
        },
        [&](const text_reader& r, std::uint64_t i, std::uint64_t j, double v) {
            if (auto why = detail::feature_problem<Value>(v); !why.empty()) r.fail(r.tokens()[2], why);
            m(i, j) += static_cast<Value>(v);
            if (symmetric && i != j) m(j, i) += static_cast<Value>(v);
        });
    return m;
}

// A scipy.sparse.save_npz matrix (csr, csc or coo; any numeric dtype), densified;
// duplicate entries are summed as SciPy's toarray() does.
template <value_type Value = float>
dense_matrix<Value> read_features_npz(const std::filesystem::path& path) {
    const sparse_npz s = read_sparse_npz(path);
    detail::check_dense_limit<Value>(s.rows, s.cols, [&](const std::string& why) {
        throw io_error(s.file, 0, std::to_string(s.rows) + " x " + std::to_string(s.cols), why);
    });
    dense_matrix<Value> m(static_cast<std::size_t>(s.rows), static_cast<std::size_t>(s.cols));
    s.for_each([&](std::uint64_t i, std::uint64_t j, std::uint64_t k) {
        const double v = npy_number_at(s.data, k);
        if (auto why = detail::feature_problem<Value>(v); !why.empty())
            s.data.fail(s.data.offset_of(k), detail::number_text(v),
                        why + " at row " + std::to_string(i) + ", column " + std::to_string(j));
        m(static_cast<std::size_t>(i), static_cast<std::size_t>(j)) += static_cast<Value>(v);
    });
    return m;
}

// One row of comma-separated numbers per line (all rows as wide as the first). With
// `rows` (OGB's num-node-list) the file must hold exactly that many.
template <value_type Value = float>
dense_matrix<Value> parse_features_csv(const std::string& file, std::string_view data,
                                       std::optional<std::size_t> rows = {}) {
    std::size_t n = 0;
    if (rows) n = *rows;
    else
        for (text_reader count(file, data, '#', ','); count.next();) ++n;
    text_reader r(file, data, '#', ',');
    dense_matrix<Value> m;
    std::size_t i = 0, d = 0;
    while (r.next()) {
        if (i == 0) {
            d = r.tokens().size();
            const auto fail = [&](const std::string& why) { r.fail(r.text().substr(0, 40), why); };
            detail::check_dense_limit<Value>(n, d, fail);
            // Each value takes a character and a separator: a short file cannot hold n rows.
            if (n > (data.size() + 1) / (2 * d))
                fail("the file is too short for " + std::to_string(n) + " rows of " + std::to_string(d) + " values");
            m = dense_matrix<Value>(n, d);
        } else {
            r.expect_columns(d);
        }
        if (i >= n) r.fail(r.text().substr(0, 40), "more feature rows than the " + std::to_string(n) + " nodes");
        for (std::size_t j = 0; j < d; ++j) {
            const auto tok = r.tokens()[j];
            const double v = r.parse_double(tok, "feature");
            if (auto why = detail::feature_problem<Value>(v); !why.empty())
                r.fail(tok, why + " at row " + std::to_string(i) + ", column " + std::to_string(j));
            m(i, j) = static_cast<Value>(v);
        }
        ++i;
    }
    if (i == 0) throw io_error(file, 0, "", "file is empty: no feature rows");
    if (i != n)
        throw io_error(file, r.line(), std::to_string(i),
                       "has " + std::to_string(i) + " feature rows but " + std::to_string(n) + " nodes");
    return m;
}

// CSV features, gzipped when the name ends in .gz.
template <value_type Value = float>
dense_matrix<Value> read_features_csv(const std::filesystem::path& path, std::optional<std::size_t> rows = {}) {
    return parse_features_csv<Value>(path.string(), read_file_or_gzip(path), rows);
}

template <value_type Value = float>
dense_matrix<Value> read_features(const std::filesystem::path& path) {
    const auto ext = inner_extension(path);
    if (ext == ".csv") return read_features_csv<Value>(path);
    if (!is_gzip_path(path) && ext == ".npy") return read_features_npy<Value>(path);
    if (!is_gzip_path(path) && ext == ".mtx") return read_features_mtx<Value>(path);
    if (!is_gzip_path(path) && ext == ".npz") return read_features_npz<Value>(path);
    throw io_error(path.string(), 0, path.filename().string(),
                   "unknown feature file extension (expected .npy, .mtx, .npz, or .csv optionally .gz)");
}

// float32 or float64 .npy, matching Value.
template <value_type Value>
void write_features_npy(const std::filesystem::path& path, const dense_matrix<Value>& m) {
    const std::uint64_t shape[2] = {m.rows(), m.cols()};
    write_npy<Value>(path, m.values(), shape);
}

// Non-zero entries only, each written as the shortest decimal that reads back to the
// same double (float values are widened first, so they too read back exactly).
template <value_type Value>
void write_features_mtx(const std::filesystem::path& path, const dense_matrix<Value>& m) {
    std::size_t nnz = 0;
    for (auto v : m.values()) nnz += v != Value(0);
    std::string s = mm_preamble(mm_field::real, m.rows(), m.cols(), nnz);
    for (std::size_t i = 0; i < m.rows(); ++i)
        for (std::size_t j = 0; j < m.cols(); ++j) {
            const Value v = m(i, j);
            if (v == Value(0)) continue;
            append_number(s, i + 1);
            s += ' ';
            append_number(s, j + 1);
            s += ' ';
            append_number(s, static_cast<double>(v));
            s += '\n';
        }
    output_file out(path);
    out.write(s);
    out.close();
}

template <value_type Value>
void write_features(const std::filesystem::path& path, const dense_matrix<Value>& m) {
    const auto ext = path.extension().string();
    if (ext == ".npy") return write_features_npy(path, m);
    if (ext == ".mtx") return write_features_mtx(path, m);
    throw invalid_argument("write_features " + path.string() + ": unknown extension '" + ext + "'");
}

}  // namespace mixgcn::io
