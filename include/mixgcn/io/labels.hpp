#pragma once
// Per-node labels (one integer per node, -1 = unlabelled) and the train/val/test split,
// from text or .npy, and their writers.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/io/file.hpp"
#include "mixgcn/io/npy.hpp"
#include "mixgcn/io/text_reader.hpp"

namespace mixgcn::io {

namespace detail {
// Empty when `v` is a valid label, else why not.
inline std::string label_problem(std::int64_t v) {
    if (v < -1) return "label below -1 (use -1 for an unlabelled node)";
    if (v > std::numeric_limits<std::int32_t>::max()) return "label does not fit int32";
    return {};
}
}  // namespace detail

// One integer per line ('#' comments and blank lines skipped).
inline std::vector<std::int32_t> read_labels_text(const std::filesystem::path& path) {
    const std::string data = read_file(path);
    text_reader r(path.string(), data, '#');
    std::vector<std::int32_t> out;
    out.reserve(data.size() / 2);
    while (r.next()) {
        r.expect_columns(1);
        const auto v = r.parse_int<std::int64_t>(r.tokens()[0], "label");
        if (auto why = detail::label_problem(v); !why.empty()) r.fail(r.tokens()[0], why);
        out.push_back(static_cast<std::int32_t>(v));
    }
    if (out.empty()) throw io_error(path.string(), 0, "", "file is empty: no labels");
    return out;
}

// int32 or int64, 1-D; from a loaded image, whole or a row range (load_npy_rows).
inline std::vector<std::int32_t> labels_from_npy(const npy_array& a) {
    npy_require(a, {"i4", "i8"}, 1, "labels");
    std::vector<std::int32_t> out(static_cast<std::size_t>(a.header.shape[0]));
    npy_for_each(a, [&](std::uint64_t i, auto raw) {
        const auto v = static_cast<std::int64_t>(raw);
        if (auto why = detail::label_problem(v); !why.empty()) a.fail(a.offset_of(i), std::to_string(v), why);
        out[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(v);
    });
    return out;
}
inline std::vector<std::int32_t> read_labels_npy(const std::filesystem::path& path) {
    return labels_from_npy(load_npy(path));
}

inline std::vector<std::int32_t> read_labels(const std::filesystem::path& path) {
    const auto ext = path.extension().string();
    if (ext == ".npy") return read_labels_npy(path);
    if (ext == ".txt" || ext == ".tsv") return read_labels_text(path);
    throw io_error(path.string(), 0, ext, "unknown label file extension (expected .txt or .npy)");
}

// One of train / val / test / none per line.
inline std::vector<split_role> read_split_text(const std::filesystem::path& path) {
    const std::string data = read_file(path);
    text_reader r(path.string(), data, '#');
    std::vector<split_role> out;
    out.reserve(data.size() / 4);
    while (r.next()) {
        r.expect_columns(1);
        const auto w = r.tokens()[0];
        if (w == "train") out.push_back(split_role::train);
        else if (w == "val") out.push_back(split_role::val);
        else if (w == "test") out.push_back(split_role::test);
        else if (w == "none") out.push_back(split_role::none);
        else r.fail(w, "unknown split word (expected train, val, test or none)");
    }
    if (out.empty()) throw io_error(path.string(), 0, "", "file is empty: no split entries");
    return out;
}

// int8, 1-D: 0 = none, 1 = train, 2 = val, 3 = test; whole or a row range.
inline std::vector<split_role> split_from_npy(const npy_array& a) {
    npy_require(a, {"i1"}, 1, "a split");
    std::vector<split_role> out(static_cast<std::size_t>(a.header.shape[0]));
    npy_for_each(a, [&](std::uint64_t i, auto raw) {
        const int v = static_cast<int>(raw);
        if (v < 0 || v > 3) a.fail(a.offset_of(i), std::to_string(v), "split code outside 0..3 (none/train/val/test)");
        out[static_cast<std::size_t>(i)] = static_cast<split_role>(v);
    });
    return out;
}
inline std::vector<split_role> read_split_npy(const std::filesystem::path& path) { return split_from_npy(load_npy(path)); }

inline std::vector<split_role> read_split(const std::filesystem::path& path) {
    const auto ext = path.extension().string();
    if (ext == ".npy") return read_split_npy(path);
    if (ext == ".txt" || ext == ".tsv") return read_split_text(path);
    throw io_error(path.string(), 0, ext, "unknown split file extension (expected .txt or .npy)");
}

inline const char* split_word(split_role r) noexcept {
    switch (r) {
        case split_role::train: return "train";
        case split_role::val: return "val";
        case split_role::test: return "test";
        default: return "none";
    }
}

namespace detail {
// The checks every loader ends with: `num_classes` from the largest label, no node in
// train/val/test without a label. The files name the parts in errors.
template <class Value>
void finish_labels(dataset<Value>& ds, const std::filesystem::path& label_file,
                   const std::filesystem::path& split_file) {
    std::int32_t max_label = -1;
    for (auto l : ds.labels) max_label = std::max(max_label, l);
    if (max_label < 0) throw io_error(label_file.string(), 0, "", "no node has a label");
    ds.num_classes = max_label + 1;
    for (std::size_t i = 0; i < ds.split.size(); ++i)
        if (ds.split[i] != split_role::none && ds.labels[i] < 0)
            throw io_error(split_file.string(), 0, "node " + std::to_string(i),
                           std::string("node is in the ") + split_word(ds.split[i]) + " split but " +
                               label_file.filename().string() + " gives it no label");
}
}  // namespace detail

inline void write_labels_text(const std::filesystem::path& path, std::span<const std::int32_t> labels) {
    std::string s;
    s.reserve(labels.size() * 3);
    for (auto v : labels) {
        append_number(s, v);
        s += '\n';
    }
    output_file out(path);
    out.write(s);
    out.close();
}

inline void write_labels_npy(const std::filesystem::path& path, std::span<const std::int32_t> labels) {
    const std::uint64_t shape[1] = {labels.size()};
    write_npy<std::int32_t>(path, labels, shape);
}

inline void write_split_text(const std::filesystem::path& path, std::span<const split_role> split) {
    std::string s;
    s.reserve(split.size() * 6);
    for (auto v : split) (s += split_word(v)) += '\n';
    output_file out(path);
    out.write(s);
    out.close();
}

inline void write_split_npy(const std::filesystem::path& path, std::span<const split_role> split) {
    std::vector<std::int8_t> codes(split.size());
    for (std::size_t i = 0; i < split.size(); ++i) codes[i] = static_cast<std::int8_t>(split[i]);
    const std::uint64_t shape[1] = {split.size()};
    write_npy<std::int8_t>(path, codes, shape);
}

}  // namespace mixgcn::io
