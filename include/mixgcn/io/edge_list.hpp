#pragma once
// Edge lists from text (`u v` per line, optionally gzipped), CSV (`u,v`, OGB's
// edge.csv[.gz]), .npy ([E, 2] int32/int64), Matrix Market (N x N coordinate, 1-based)
// and SciPy .npz adjacency matrices, SNAP files with their sparse ids compacted, and
// writers for text, .npy and .mtx. Ids are checked on the way in: a negative id, an id
// past the node count or one that does not fit the index type is an io_error naming the
// file, the line (or byte offset) and the id.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/types.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/io/file.hpp"
#include "mixgcn/io/gzip.hpp"
#include "mixgcn/io/matrix_market.hpp"
#include "mixgcn/io/npy.hpp"
#include "mixgcn/io/npz.hpp"
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

// Two ids per line of `data`, split on blanks (separator 0) or on `separator`; '#'
// starts a comment; blank lines are skipped. Without `num_nodes` the node count is the
// largest id + 1.
template <index_type Index = index_t>
graph::edge_list<Index> parse_edge_list_text(const std::string& file, std::string_view data,
                                             std::optional<Index> num_nodes = {}, char separator = 0) {
    text_reader r(file, data, '#', separator);
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
    if (g.edges.empty()) throw io_error(file, 0, "", "file is empty: no edges (only blanks or comments)");
    g.num_nodes = detail::node_count(g, num_nodes);
    return g;
}

// Whitespace-separated `u v` per line ('#' comments), gzipped when the name ends in .gz.
template <index_type Index = index_t>
graph::edge_list<Index> read_edge_list_text(const std::filesystem::path& path, std::optional<Index> num_nodes = {}) {
    return parse_edge_list_text<Index>(path.string(), read_file_or_gzip(path), num_nodes);
}

// `u,v` per line (OGB's edge.csv), gzipped when the name ends in .gz.
template <index_type Index = index_t>
graph::edge_list<Index> read_edge_list_csv(const std::filesystem::path& path, std::optional<Index> num_nodes = {}) {
    return parse_edge_list_text<Index>(path.string(), read_file_or_gzip(path), num_nodes, ',');
}

// A SNAP edge list with its ids compacted: node k of `graph` is the file's id `ids[k]`.
template <index_type Index = index_t>
struct snap_edge_list {
    graph::edge_list<Index> graph;
    std::vector<std::int64_t> ids;  // ascending: compact ids keep the file's order of ids
};

// SNAP's text edge lists (`# comments`, `u<TAB>v` or `u v`, optionally .gz). SNAP ids are
// often sparse and need not start at 0, so the distinct ids are numbered 0..N-1 in
// ascending order (not first-seen order: the numbering depends only on the id set).
// Edges are kept as listed, direction, duplicates and self-loops included.
template <index_type Index = index_t>
snap_edge_list<Index> read_edge_list_snap(const std::filesystem::path& path) {
    const std::string file = path.string();
    const std::string data = read_file_or_gzip(path);
    text_reader r(file, data, '#');
    std::vector<std::int64_t> raw;
    raw.reserve(data.size() / 6);
    std::int64_t max_id = -1;
    while (r.next()) {
        r.expect_columns(2);
        for (int k = 0; k < 2; ++k) {
            const auto id = r.parse_int<std::int64_t>(r.tokens()[k], "node id");
            if (id < 0) r.fail(r.tokens()[k], "negative node id");
            raw.push_back(id);
            max_id = std::max(max_id, id);
        }
    }
    if (raw.empty()) throw io_error(file, 0, "", "file is empty: no edges (only blanks or comments)");
    snap_edge_list<Index> out;
    auto& ids = out.ids;
    const auto too_many = [&](std::size_t n) {
        if (n >= static_cast<std::size_t>(std::numeric_limits<Index>::max()))
            throw io_error(file, 0, std::to_string(n),
                           "node count does not fit the " + std::to_string(sizeof(Index) * 8) + "-bit index type");
    };
    std::vector<Index> compact(raw.size());
    // Ids dense enough for a table (at most 4 slots per endpoint): mark, then number in
    // ascending order; otherwise sort the distinct ids and search.
    if (static_cast<std::uint64_t>(max_id) < 4 * std::uint64_t(raw.size()) + 1024) {
        std::vector<Index> table(static_cast<std::size_t>(max_id) + 1, Index(-1));
        for (auto id : raw) table[static_cast<std::size_t>(id)] = 0;
        for (std::size_t id = 0; id < table.size(); ++id)
            if (table[id] == 0) {
                too_many(ids.size());
                table[id] = static_cast<Index>(ids.size());
                ids.push_back(static_cast<std::int64_t>(id));
            }
        for (std::size_t k = 0; k < raw.size(); ++k) compact[k] = table[static_cast<std::size_t>(raw[k])];
    } else {
        ids = raw;
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        too_many(ids.size());
        for (std::size_t k = 0; k < raw.size(); ++k)
            compact[k] = static_cast<Index>(std::lower_bound(ids.begin(), ids.end(), raw[k]) - ids.begin());
    }
    out.graph.num_nodes = static_cast<Index>(ids.size());
    out.graph.edges.resize(raw.size() / 2);
    for (std::size_t e = 0; e < out.graph.edges.size(); ++e) out.graph.edges[e] = {compact[2 * e], compact[2 * e + 1]};
    return out;
}

// An int32 or int64 array of shape [E, 2] in C order.
// From a loaded image, whole or a row range (load_npy_rows).
template <index_type Index = index_t>
graph::edge_list<Index> edge_list_from_npy(const npy_array& a, std::optional<Index> num_nodes = {}) {
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
template <index_type Index = index_t>
graph::edge_list<Index> read_edge_list_npy(const std::filesystem::path& path, std::optional<Index> num_nodes = {}) {
    return edge_list_from_npy<Index>(load_npy(path), num_nodes);
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

// A scipy.sparse.save_npz adjacency (csr, csc or coo), N x N: one edge (row, column) per
// stored entry, in storage order; values are ignored (as for .mtx), explicit zeros too.
template <index_type Index = index_t>
graph::edge_list<Index> read_edge_list_npz(const std::filesystem::path& path, std::optional<Index> num_nodes = {}) {
    const sparse_npz m = read_sparse_npz(path);
    const auto fail = [&](const std::string& why) {
        throw io_error(m.file, 0, std::to_string(m.rows) + " x " + std::to_string(m.cols), why);
    };
    if (m.rows != m.cols) fail("an adjacency matrix must be N x N");
    if (num_nodes && m.rows != static_cast<std::uint64_t>(*num_nodes))
        fail("the matrix has " + std::to_string(m.rows) + " nodes but " + std::to_string(*num_nodes) + " were expected");
    if (m.rows >= static_cast<std::uint64_t>(std::numeric_limits<Index>::max()))
        fail("node count does not fit the " + std::to_string(sizeof(Index) * 8) + "-bit index type");
    graph::edge_list<Index> g;
    g.num_nodes = static_cast<Index>(m.rows);
    g.edges.reserve(static_cast<std::size_t>(m.nnz()));
    m.for_each([&](std::uint64_t i, std::uint64_t j, std::uint64_t) {
        g.edges.emplace_back(static_cast<Index>(i), static_cast<Index>(j));
    });
    return g;
}

// Picks the reader by extension: .tsv/.txt/.edges (blanks), .csv (commas), either with
// .gz after it; .npy, .mtx, .npz.
template <index_type Index = index_t>
graph::edge_list<Index> read_edge_list(const std::filesystem::path& path, std::optional<Index> num_nodes = {}) {
    const auto ext = inner_extension(path);
    const bool gz = is_gzip_path(path);
    if (ext == ".tsv" || ext == ".txt" || ext == ".edges") return read_edge_list_text<Index>(path, num_nodes);
    if (ext == ".csv") return read_edge_list_csv<Index>(path, num_nodes);
    if (!gz && ext == ".npy") return read_edge_list_npy<Index>(path, num_nodes);
    if (!gz && ext == ".mtx") return read_edge_list_mtx<Index>(path, num_nodes);
    if (!gz && ext == ".npz") return read_edge_list_npz<Index>(path, num_nodes);
    throw io_error(path.string(), 0, path.filename().string(),
                   "unknown edge list extension (expected .tsv, .txt, .edges or .csv, each optionally .gz; .npy, .mtx "
                   "or .npz)");
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
