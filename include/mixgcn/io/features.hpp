#pragma once
// Node features: dense .npy (float32/float64, [N, d]) or sparse Matrix Market coordinate
// (bag of words; missing entries are 0) into a dense_matrix<float|double>. A NaN or
// infinite value, or a float64 value too large for float32, is an io_error naming the
// file, the line or byte offset, and the value.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/types.hpp"
#include "mixgcn/io/file.hpp"
#include "mixgcn/io/matrix_market.hpp"
#include "mixgcn/io/npy.hpp"

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
}  // namespace detail

template <value_type Value = float>
dense_matrix<Value> read_features_npy(const std::filesystem::path& path) {
    const npy_array a = load_npy(path);
    npy_require(a, {"f4", "f8"}, 2, "features");
    const auto rows = a.header.shape[0], cols = a.header.shape[1];
    detail::checked_area(rows, cols, [&](const std::string& why) { a.fail(a.header.header_offset, "", why); });
    dense_matrix<Value> m(static_cast<std::size_t>(rows), static_cast<std::size_t>(cols));
    Value* out = m.data();
    npy_for_each(a, [&](std::uint64_t i, auto raw) {
        const double v = static_cast<double>(raw);
        if (auto why = detail::feature_problem<Value>(v); !why.empty())
            a.fail(a.offset_of(i), detail::number_text(v),
                   why + " at row " + std::to_string(i / cols) + ", column " + std::to_string(i % cols));
        out[i] = static_cast<Value>(raw);
    });
    return m;
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
            const auto area = detail::checked_area(h.rows, h.cols, [&](const std::string& why) { r.fail(r.text(), why); });
            // Entries not listed are zeros the file does not hold: cap what it may declare.
            const std::uint64_t bytes = std::uint64_t(area) * sizeof(Value), limit = declared_size_limit();
            if (bytes > limit)
                r.fail(r.text(), "a dense " + std::to_string(h.rows) + " x " + std::to_string(h.cols) +
                                     " feature matrix needs " + std::to_string(bytes) + " bytes, more than the " +
                                     std::to_string(limit) +
                                     " this machine allows (physical memory or MIXGCN_MAX_DECLARED_BYTES)");
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

template <value_type Value = float>
dense_matrix<Value> read_features(const std::filesystem::path& path) {
    const auto ext = path.extension().string();
    if (ext == ".npy") return read_features_npy<Value>(path);
    if (ext == ".mtx") return read_features_mtx<Value>(path);
    throw io_error(path.string(), 0, ext, "unknown feature file extension (expected .npy or .mtx)");
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
