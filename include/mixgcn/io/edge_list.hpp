#pragma once
// Edge lists from text (`u v` per line), .npy ([E, 2] int32/int64) and Matrix Market
// (N x N coordinate, 1-based), and writers for all three. Ids are checked on the way in:
// a negative id, an id past the node count or one that does not fit the index type is
// an io_error naming the file, the line (or byte offset) and the id.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/types.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/io/file.hpp"
#include "mixgcn/io/matrix_market.hpp"
#include "mixgcn/io/npy.hpp"
#include "mixgcn/io/text_reader.hpp"

namespace mixgcn::io {

namespace detail {
// Checks one id; `fail(reason)` raises the format-specific error.
template <index_type Index, class Fail>
Index check_node_id(std::int64_t id, std::optional<Index> num_nodes, Fail&& fail) {
    if (id < 0) fail("negative node id");
    if (num_nodes && id >= static_cast<std::int64_t>(*num_nodes))
        fail("node id out of range: the graph has " + std::to_string(*num_nodes) + " nodes");
    if (id >= static_cast<std::int64_t>(std::numeric_limits<Index>::max()))
        fail("node id does not fit the " + std::to_string(sizeof(Index) * 8) + "-bit index type");
    return static_cast<Index>(id);
}

template <index_type Index>
Index node_count(const graph::edge_list<Index>& g, std::optional<Index> num_nodes) {
    if (num_nodes) return *num_nodes;
    Index n = 0;
    for (const auto& [u, v] : g.edges) n = std::max({n, static_cast<Index>(u + 1), static_cast<Index>(v + 1)});
    return n;
}
}  // namespace detail

// Whitespace-separated `u v` per line; '#' starts a comment; blank lines are skipped.
// Without `num_nodes` the node count is the largest id + 1.
template <index_type Index = index_t>
graph::edge_list<Index> read_edge_list_text(const std::filesystem::path& path, std::optional<Index> num_nodes = {}) {
    const std::string data = read_file(path);
    text_reader r(path.string(), data, '#');
    graph::edge_list<Index> g;
    g.edges.reserve(data.size() / 8);
    while (r.next()) {
        r.expect_columns(2);
        const auto& t = r.tokens();
        Index ends[2];
        for (int k = 0; k < 2; ++k) {
            const auto id = r.parse_int<std::int64_t>(t[k], "node id");
            ends[k] = detail::check_node_id<Index>(id, num_nodes, [&](const std::string& why) { r.fail(t[k], why); });
        }
        g.edges.emplace_back(ends[0], ends[1]);
    }
    if (g.edges.empty()) throw io_error(path.string(), 0, "", "file is empty: no edges (only blanks or comments)");
    g.num_nodes = detail::node_count(g, num_nodes);
    return g;
}

// An int32 or int64 array of shape [E, 2] in C order.
template <index_type Index = index_t>
graph::edge_list<Index> read_edge_list_npy(const std::filesystem::path& path, std::optional<Index> num_nodes = {}) {
    const npy_array a = load_npy(path);
    npy_require(a, {"i4", "i8"}, 2, "an edge list");
    if (a.header.shape[1] != 2)
        a.fail(a.header.header_offset, std::to_string(a.header.shape[1]) + " columns",
               "wrong shape for an edge list: expected [E, 2]");
    graph::edge_list<Index> g;
    g.edges.resize(static_cast<std::size_t>(a.header.shape[0]));
    npy_for_each(a, [&](std::uint64_t i, auto raw) {
        const auto id = static_cast<std::int64_t>(raw);
        const Index v = detail::check_node_id<Index>(id, num_nodes, [&](const std::string& why) {
            a.fail(a.offset_of(i), std::to_string(id), why);
        });
        auto& e = g.edges[static_cast<std::size_t>(i / 2)];
        (i % 2 == 0 ? e.first : e.second) = v;
    });
    g.num_nodes = detail::node_count(g, num_nodes);
    return g;
}

// Matrix Market coordinate N x N (pattern, real or integer; values ignored). A symmetric
// file stands for both directions of each off-diagonal entry.
template <index_type Index = index_t>
graph::edge_list<Index> read_edge_list_mtx(const std::filesystem::path& path, std::optional<Index> num_nodes = {}) {
    const std::string data = read_file(path);
    graph::edge_list<Index> g;
    bool symmetric = false;
    parse_matrix_market(
        path.string(), data,
        [&](const text_reader& r, const mm_header& h) {
            if (h.rows != h.cols)
                r.fail(r.text(), "an adjacency matrix must be N x N, got " + std::to_string(h.rows) + " x " +
                                     std::to_string(h.cols));
            if (num_nodes && h.rows != static_cast<std::uint64_t>(*num_nodes))
                r.fail(r.text(), "the matrix has " + std::to_string(h.rows) + " nodes but " +
                                     std::to_string(*num_nodes) + " were expected");
            if (h.rows > static_cast<std::uint64_t>(std::numeric_limits<Index>::max()))
                r.fail(r.text(), "node count does not fit the index type");
            g.num_nodes = static_cast<Index>(h.rows);
            symmetric = h.symmetry == mm_symmetry::symmetric;
            g.edges.reserve(static_cast<std::size_t>(h.max_entries) * (symmetric ? 2 : 1));
        },
        [&](const text_reader&, std::uint64_t i, std::uint64_t j, double) {
            g.edges.emplace_back(static_cast<Index>(i), static_cast<Index>(j));
            if (symmetric && i != j) g.edges.emplace_back(static_cast<Index>(j), static_cast<Index>(i));
        });
    return g;
}

// Picks the reader by extension: .tsv/.txt/.edges, .npy, .mtx.
template <index_type Index = index_t>
graph::edge_list<Index> read_edge_list(const std::filesystem::path& path, std::optional<Index> num_nodes = {}) {
    const auto ext = path.extension().string();
    if (ext == ".npy") return read_edge_list_npy<Index>(path, num_nodes);
    if (ext == ".mtx") return read_edge_list_mtx<Index>(path, num_nodes);
    if (ext == ".tsv" || ext == ".txt" || ext == ".edges") return read_edge_list_text<Index>(path, num_nodes);
    throw io_error(path.string(), 0, ext, "unknown edge list extension (expected .tsv, .txt, .npy or .mtx)");
}

template <index_type Index>
void write_edge_list_text(const std::filesystem::path& path, const graph::edge_list<Index>& g) {
    std::string s = "# mixgcn edge list: " + std::to_string(g.num_nodes) + " nodes, " +
                    std::to_string(g.edges.size()) + " edges\n";
    s.reserve(s.size() + g.edges.size() * 14);
    for (const auto& [u, v] : g.edges) {
        append_number(s, u);
        s += '\t';
        append_number(s, v);
        s += '\n';
    }
    output_file out(path);
    out.write(s);
    out.close();
}

template <index_type Index>
void write_edge_list_npy(const std::filesystem::path& path, const graph::edge_list<Index>& g) {
    std::vector<Index> flat;
    flat.reserve(g.edges.size() * 2);
    for (const auto& [u, v] : g.edges) {
        flat.push_back(u);
        flat.push_back(v);
    }
    const std::uint64_t shape[2] = {g.edges.size(), 2};
    write_npy<Index>(path, flat, shape);
}

template <index_type Index>
void write_edge_list_mtx(const std::filesystem::path& path, const graph::edge_list<Index>& g) {
    const auto n = static_cast<std::uint64_t>(g.num_nodes);
    std::string s = mm_preamble(mm_field::pattern, n, n, g.edges.size());
    for (const auto& [u, v] : g.edges) {
        append_number(s, static_cast<std::int64_t>(u) + 1);
        s += ' ';
        append_number(s, static_cast<std::int64_t>(v) + 1);
        s += '\n';
    }
    output_file out(path);
    out.write(s);
    out.close();
}

template <index_type Index>
void write_edge_list(const std::filesystem::path& path, const graph::edge_list<Index>& g) {
    const auto ext = path.extension().string();
    if (ext == ".npy") return write_edge_list_npy(path, g);
    if (ext == ".mtx") return write_edge_list_mtx(path, g);
    if (ext == ".tsv" || ext == ".txt" || ext == ".edges") return write_edge_list_text(path, g);
    throw invalid_argument("write_edge_list " + path.string() + ": unknown extension '" + ext + "'");
}

}  // namespace mixgcn::io
