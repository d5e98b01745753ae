#pragma once
// OGB node-property datasets in their raw layout (what ogb's downloader unpacks, e.g.
// ogbn_arxiv/): raw/{num-node-list,edge,node-feat,node-label}.csv[.gz] and
// split/<name>/{train,valid,test}.csv[.gz]. Edges are kept as listed (OGB stores an
// undirected graph's edges once; graph::build_adjacency symmetrises by default).
// Every count is checked against num-node-list; errors name the file and line.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/io/edge_list.hpp"
#include "mixgcn/io/features.hpp"
#include "mixgcn/io/gzip.hpp"
#include "mixgcn/io/labels.hpp"
#include "mixgcn/io/text_reader.hpp"

namespace mixgcn::io {

struct ogb_options {
    // The folder under split/ to use; empty: the only one there (several are an error
    // that lists them).
    std::string split;
};

namespace detail {
// `dir/stem.csv.gz`, else `dir/stem.csv`; empty when neither exists.
inline std::filesystem::path ogb_file(const std::filesystem::path& dir, const std::string& stem) {
    std::error_code ec;
    for (const char* ext : {".csv.gz", ".csv"})
        if (std::filesystem::is_regular_file(dir / (stem + ext), ec)) return dir / (stem + ext);
    return {};
}

inline std::filesystem::path ogb_required(const std::filesystem::path& dir, const std::string& stem) {
    auto p = ogb_file(dir, stem);
    if (p.empty())
        throw io_error((dir / (stem + ".csv.gz")).string(), 0, "",
                       "OGB dataset has no " + stem + " file (looked for " + stem + ".csv.gz and " + stem + ".csv)");
    return p;
}

// A one-line count file (num-node-list, num-edge-list): one graph only.
inline std::uint64_t ogb_count(const std::filesystem::path& path, const char* what) {
    const std::string data = read_file_or_gzip(path);
    text_reader r(path.string(), data, '#', ',');
    if (!r.next()) throw io_error(path.string(), 0, "", std::string("file is empty: no ") + what);
    r.expect_columns(1);
    const auto v = r.parse_int<std::int64_t>(r.tokens()[0], what);
    if (v < 0) r.fail(r.tokens()[0], std::string("negative ") + what);
    if (r.next())
        r.fail(r.text(), "more than one graph: only single-graph node-property datasets (ogbn-*) are supported");
    return static_cast<std::uint64_t>(v);
}

// One label per line: an integer, or nan / an empty line (as pandas writes a missing
// value) for an unlabelled node, which becomes -1. Integral floats ("3.0") are accepted
// because a label column holding a nan is written as floats.
inline std::vector<std::int32_t> ogb_labels(const std::filesystem::path& path, std::size_t n) {
    const std::string data = read_file_or_gzip(path);
    text_reader r(path.string(), data, '#', ',');
    std::vector<std::int32_t> out;
    out.reserve(n);
    while (r.next(/*raw=*/true)) {
        if (r.tokens().size() > 1)
            r.fail(r.text().substr(0, 40), "expected one label per line (multi-task labels such as ogbn-proteins' are "
                                           "not supported), found " + std::to_string(r.tokens().size()) + " columns");
        const std::string_view t = r.tokens().empty() ? std::string_view{} : r.tokens()[0];
        std::int64_t v = -1;
        if (!t.empty() && t != "nan" && t != "NaN") {
            std::int64_t i = 0;
            if (std::from_chars(t.data(), t.data() + t.size(), i).ptr == t.data() + t.size()) {
                v = r.parse_int<std::int64_t>(t, "label");
            } else {
                const double d = r.parse_double(t, "label");
                if (std::isnan(d)) v = -1;
                else if (d != std::floor(d) || std::abs(d) > 2147483647.0) r.fail(t, "label is not an integer");
                else v = static_cast<std::int64_t>(d);
            }
        }
        if (auto why = label_problem(v); !why.empty()) r.fail(t, why);
        out.push_back(static_cast<std::int32_t>(v));
    }
    if (out.size() != n)
        throw io_error(path.string(), r.line(), std::to_string(out.size()),
                       "has " + std::to_string(out.size()) + " labels but num-node-list says " + std::to_string(n) +
                           " nodes");
    return out;
}

// Marks the node ids listed in `path` (one per line) with `role`; a node listed twice,
// in this file or an earlier one, is an error.
inline void ogb_split_file(const std::filesystem::path& path, split_role role, std::vector<split_role>& split) {
    const std::string data = read_file_or_gzip(path);
    text_reader r(path.string(), data, '#', ',');
    while (r.next()) {
        r.expect_columns(1);
        const auto id = r.parse_int<std::int64_t>(r.tokens()[0], "node id");
        if (id < 0 || static_cast<std::uint64_t>(id) >= split.size())
            r.fail(r.tokens()[0], "node id out of range: the graph has " + std::to_string(split.size()) + " nodes");
        auto& s = split[static_cast<std::size_t>(id)];
        if (s != split_role::none)
            r.fail(r.tokens()[0], std::string("node is already in the ") + split_word(s) + " split");
        s = role;
    }
}

inline std::filesystem::path ogb_split_dir(const std::filesystem::path& dir, const std::string& name) {
    const auto root = dir / "split";
    std::error_code ec;
    if (!name.empty()) {
        if (!std::filesystem::is_directory(root / name, ec))
            throw io_error((root / name).string(), 0, name, "OGB split folder does not exist");
        return root / name;
    }
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(root, ec))
        if (e.is_directory(ec)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    if (names.size() == 1) return root / names[0];
    std::string list;
    for (const auto& n : names) (list += list.empty() ? "" : ", ") += n;
    throw io_error(root.string(), 0, list,
                   names.empty() ? "OGB dataset has no split folder under split/"
                                 : "OGB dataset has several splits; name one (mixgcn-train --data-split NAME, "
                                   "mixgcn.load_dataset(..., split=NAME), io::load_options::split)");
}
}  // namespace detail

// True when `dir` holds OGB's raw layout: raw/edge.csv.gz or raw/edge.csv.
inline bool is_ogb_layout(const std::filesystem::path& dir) { return !detail::ogb_file(dir / "raw", "edge").empty(); }

template <value_type Value = float>
dataset<Value> load_ogb_dataset(const std::filesystem::path& dir, const ogb_options& opt = {}) {
    const auto raw = dir / "raw";
    const auto nodes_file = detail::ogb_required(raw, "num-node-list");
    const auto edge_file = detail::ogb_required(raw, "edge");
    const auto feat_file = detail::ogb_required(raw, "node-feat");
    const auto label_file = detail::ogb_required(raw, "node-label");
    const auto split_dir = detail::ogb_split_dir(dir, opt.split);
    const auto train_file = detail::ogb_required(split_dir, "train");

    const std::uint64_t n = detail::ogb_count(nodes_file, "node count");
    if (n == 0) throw io_error(nodes_file.string(), 1, "0", "the graph has no nodes");
    if (n >= static_cast<std::uint64_t>(std::numeric_limits<index_t>::max()))
        throw io_error(nodes_file.string(), 1, std::to_string(n), "node count does not fit index_t");

    dataset<Value> ds;
    ds.name = detail::folder_name(dir);
    ds.edges = read_edge_list_csv<index_t>(edge_file, static_cast<index_t>(n));
    if (const auto edges_file = detail::ogb_file(raw, "num-edge-list"); !edges_file.empty())
        if (const auto e = detail::ogb_count(edges_file, "edge count"); e != ds.edges.edges.size())
            throw io_error(edge_file.string(), 0, std::to_string(ds.edges.edges.size()),
                           "has " + std::to_string(ds.edges.edges.size()) + " edges but " +
                               edges_file.filename().string() + " says " + std::to_string(e));
    ds.features = read_features_csv<Value>(feat_file, static_cast<std::size_t>(n));
    ds.labels = detail::ogb_labels(label_file, static_cast<std::size_t>(n));
    ds.split.assign(static_cast<std::size_t>(n), split_role::none);
    detail::ogb_split_file(train_file, split_role::train, ds.split);
    for (auto [stem, role] : {std::pair{"valid", split_role::val}, std::pair{"test", split_role::test}})
        if (const auto f = detail::ogb_file(split_dir, stem); !f.empty()) detail::ogb_split_file(f, role, ds.split);
    detail::finish_labels(ds, label_file, split_dir);
    return ds;
}

}  // namespace mixgcn::io
