#pragma once
// Dataset folders (see docs/data-formats.md): for each part the first existing file
// wins; N is the number of feature rows and every other part must agree with it. A
// folder in OGB's raw layout (raw/edge.csv[.gz]) is read by load_ogb_dataset instead.
#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <string>

#include "mixgcn/core/error.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/io/edge_list.hpp"
#include "mixgcn/io/features.hpp"
#include "mixgcn/io/labels.hpp"
#include "mixgcn/io/ogb.hpp"

namespace mixgcn::io {

namespace detail {
// The files each part of a dataset folder may come from; the first that exists wins.
inline constexpr std::array<const char*, 3> feature_files{"features.npy", "features.mtx", "features.npz"};
inline constexpr std::array<const char*, 7> edge_files{"edges.npy",    "edges.tsv", "edges.mtx",   "edges.npz",
                                                       "edges.tsv.gz", "edges.csv", "edges.csv.gz"};
inline constexpr std::array<const char*, 2> label_files{"labels.npy", "labels.txt"};
inline constexpr std::array<const char*, 2> split_files{"split.txt", "split.npy"};

inline std::filesystem::path first_existing(const std::filesystem::path& dir, std::span<const char* const> names,
                                            const char* part) {
    std::string tried;
    for (const char* n : names) {
        std::error_code ec;
        if (std::filesystem::exists(dir / n, ec)) return dir / n;
        (tried += tried.empty() ? "" : ", ") += n;
    }
    throw io_error((dir / names.front()).string(), 0, "",
                   std::string("dataset has no ") + part + " file (looked for " + tried + ")");
}

inline void require_count(const std::filesystem::path& file, std::size_t have, const char* what,
                          const std::filesystem::path& features, std::size_t n) {
    if (have != n)
        throw io_error(file.string(), 0, "",
                       "has " + std::to_string(have) + " " + what + " but " + features.filename().string() + " has " +
                           std::to_string(n) + " rows (nodes)");
}
}  // namespace detail

struct load_options {
    std::string split;  // OGB layout: the folder under split/ (empty: the only one)
};

template <value_type Value = float>
dataset<Value> load_dataset(const std::filesystem::path& dir, const load_options& opt = {}) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) throw io_error(dir.string(), 0, "", "dataset folder does not exist");
    if (is_ogb_layout(dir)) return load_ogb_dataset<Value>(dir, ogb_options{opt.split});
    const auto feat_file = detail::first_existing(dir, detail::feature_files, "features");
    const auto edge_file = detail::first_existing(dir, detail::edge_files, "edges");
    const auto label_file = detail::first_existing(dir, detail::label_files, "labels");
    const auto split_file = detail::first_existing(dir, detail::split_files, "split");

    dataset<Value> ds;
    ds.name = detail::folder_name(dir);
    ds.features = read_features<Value>(feat_file);
    const std::size_t n = ds.features.rows();
    if (n > static_cast<std::size_t>(std::numeric_limits<index_t>::max()))
        throw io_error(feat_file.string(), 0, std::to_string(n), "node count does not fit index_t");
    ds.edges = read_edge_list<index_t>(edge_file, static_cast<index_t>(n));
    ds.labels = read_labels(label_file);
    detail::require_count(label_file, ds.labels.size(), "labels", feat_file, n);
    ds.split = read_split(split_file);
    detail::require_count(split_file, ds.split.size(), "split entries", feat_file, n);
    detail::finish_labels(ds, label_file, split_file);
    return ds;
}

// Writes edges.npy, features.npy, labels.npy and split.npy into `dir` (created when
// missing). Refuses when a file the loader prefers (split.txt) would shadow them.
template <value_type Value>
void save_dataset(const std::filesystem::path& dir, const dataset<Value>& ds) {
    const auto n = ds.features.rows();
    require(ds.labels.size() == n && ds.split.size() == n && static_cast<std::size_t>(ds.num_nodes()) == n,
            "save_dataset ", dir.string(), ": ", ds.features.rows(), " feature rows, ", ds.num_nodes(), " nodes, ",
            ds.labels.size(), " labels, ", ds.split.size(), " split entries");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw io_error(dir.string(), 0, "", "cannot create the dataset folder: " + ec.message());
    if (std::filesystem::exists(dir / "split.txt", ec))
        throw io_error((dir / "split.txt").string(), 0, "", "would shadow the split.npy being written; remove it first");
    write_edge_list_npy(dir / "edges.npy", ds.edges);
    write_features_npy(dir / "features.npy", ds.features);
    write_labels_npy(dir / "labels.npy", ds.labels);
    write_split_npy(dir / "split.npy", ds.split);
}

}  // namespace mixgcn::io
