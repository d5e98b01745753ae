#pragma once
// Partitioned loading: every rank reads only its share of a dataset folder and ends with
// the rows it owns, so no rank ever holds all features or all edges.
//
//   features, labels, split: rank r reads rows [N·r/P, N·(r+1)/P) of each .npy by offset
//       (io::load_npy_rows), then, unless those ranges already are the owners, sends each
//       row to its owner (all-to-all-v);
//   edges: rank r reads rows [E·r/P, E·(r+1)/P) of edges.npy in slices (or, from a plain
//       edges.tsv / edges.csv, the lines whose first byte lies in bytes [S·r/P, S·(r+1)/P),
//       the range's ends moved to line starts, in chunks), and sends every
//       edge {u, v} (u != v) to the owner of u as (u, v) and to the owner of v as (v, u);
//       each rank sorts what it receives and drops duplicates, which gives exactly the
//       owned rows of graph::build_adjacency (symmetrised, self-loops and duplicates
//       dropped, columns ascending) with global column ids.
// parallel::graph's local-rows constructor (parallel/graph.hpp: make_graph,
// train_graph_partitioned) then normalises those rows with the ghosts' degrees from
// their owners: the run equals one over the fully loaded dataset.
//
// Per-rank memory: the owned rows (features, labels, split, adjacency) and, while
// loading, one read range and the edge keys in flight (O(E/P)), plus one O(N) array: the
// owner vector (4 bytes per node), which the graph strategy's ghost lookup needs; it is
// counted in local_part::bytes(). The per-node parts must be .npy (C order), the edges
// .npy or plain tsv/csv text; any other format of a part is an io_error that names the file. Call it from every rank, under
// comm::run_guarded as mixgcn-train does, so that a rank's bad input ends every rank.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/comm/exchange.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/sorted_ids.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/io/dataset.hpp"
#include "mixgcn/io/edge_list.hpp"
#include "mixgcn/io/features.hpp"
#include "mixgcn/io/file.hpp"
#include "mixgcn/io/labels.hpp"
#include "mixgcn/io/npy.hpp"
#include "mixgcn/parallel/detail/edge_buckets.hpp"
#include "mixgcn/storage/csr.hpp"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace mixgcn::parallel {

// Where the time and the bytes of one rank's load went.
struct partitioned_load_report {
    std::uint64_t features_bytes_read = 0, labels_bytes_read = 0, split_bytes_read = 0, edges_bytes_read = 0;
    std::uint64_t bytes_sent = 0, bytes_received = 0;  // to and from other ranks
    // Of this rank's edge rows: self-loops dropped, and directed copies sent (two per
    // other edge); summed over the ranks, copies minus non-zeros are the duplicates.
    std::uint64_t self_loops_dropped = 0, directed_entries = 0;
    double headers_seconds = 0, rows_seconds = 0, redistribute_seconds = 0, edges_read_seconds = 0,
           edges_exchange_seconds = 0, build_seconds = 0;
    double partition_seconds = 0;  // set by a caller that partitions first (not in seconds())
    std::uint64_t bytes_read() const noexcept {
        return features_bytes_read + labels_bytes_read + split_bytes_read + edges_bytes_read;
    }
    double seconds() const noexcept {
        return headers_seconds + rows_seconds + redistribute_seconds + edges_read_seconds + edges_exchange_seconds +
               build_seconds;
    }
};

// One rank's part of a dataset.
template <class V>
struct local_part {
    std::string name;
    index_t nodes = 0;             // of the whole graph
    std::uint64_t edge_rows = 0;   // rows (text: edge lines) of the edge file, all ranks
    std::int32_t num_classes = 0;  // over all ranks
    std::vector<int> owner;        // every node's rank: the one O(N) array
    std::vector<index_t> owned;    // this rank's nodes, ascending
    dense_matrix<V> features;      // row k belongs to owned[k]
    std::vector<std::int32_t> labels;
    std::vector<split_role> split;
    // A's rows of the owned nodes (row k is owned[k]), columns global and ascending.
    storage::csr<index_t, V> rows;
    partitioned_load_report report;

    std::size_t bytes() const noexcept {
        return features.bytes() + labels.size() * sizeof(std::int32_t) + split.size() * sizeof(split_role) +
               rows.bytes() + owner.size() * sizeof(int) + owned.size() * sizeof(index_t);
    }
};

// The rows rank r reads of a file of n rows: [n·r/P, n·(r+1)/P) (n·P below 2^64).
inline std::pair<std::uint64_t, std::uint64_t> read_range(std::uint64_t n, int rank, int ranks) noexcept {
    const auto at = [&](int r) { return n * std::uint64_t(r) / std::uint64_t(ranks); };
    return {at(rank), at(rank + 1)};
}

// The rank whose read range holds row v: the largest r with n·r/P <= v.
inline int range_owner(std::uint64_t v, std::uint64_t n, int ranks) noexcept {
    return static_cast<int>(((v + 1) * std::uint64_t(ranks) - 1) / n);
}

// The owners that make every rank own exactly the rows it reads (no redistribution).
inline std::vector<int> range_owners(std::uint64_t n, int ranks) {
    std::vector<int> owner(static_cast<std::size_t>(n));
    for (int r = 0; r < ranks; ++r) {
        const auto [b, e] = read_range(n, r, ranks);
        std::fill(owner.begin() + std::ptrdiff_t(b), owner.begin() + std::ptrdiff_t(e), r);
    }
    return owner;
}

struct partitioned_load_options {
    // Every node's rank, the same on every rank; empty: range_owners (each rank owns the
    // rows it reads). A partitioner that needs the whole graph cannot run here; streaming
    // ones can (partition::fennel over a graph one machine holds, or a partition file).
    std::vector<int> owner;
    std::uint64_t edge_slice = std::uint64_t(1) << 22;  // edges read and converted at a time
};

namespace detail {

inline std::filesystem::path npy_part(const std::filesystem::path& dir, std::span<const char* const> names,
                                      const char* part) {
    const auto file = io::detail::first_existing(dir, names, part);
    if (file.extension() != ".npy")
        throw io_error(file.string(), 0, file.extension().string(),
                       std::string("partitioned loading reads the ") + part + " from .npy by row ranges; convert this " +
                           "file (mixgcn-train --export-dataset DIR writes every part as .npy)");
    return file;
}

// The edge list: .npy (read by row ranges) or a plain-text edges.tsv / edges.csv (read by
// byte ranges split at line starts); compressed or other formats are refused by name.
inline std::filesystem::path edge_part(const std::filesystem::path& dir) {
    const auto file = io::detail::first_existing(dir, io::detail::edge_files, "edges");
    const auto name = file.filename().string();
    if (file.extension() != ".npy" && name != "edges.tsv" && name != "edges.csv")
        throw io_error(file.string(), 0, file.extension().string(),
                       "partitioned loading reads the edges from .npy by row ranges or from a plain edges.tsv / "
                       "edges.csv by byte ranges; convert this file (mixgcn-train --export-dataset DIR writes .npy)");
    return file;
}

// The first line start at or after byte `at` of `f` (its size at the end): the byte after
// the first '\n' at or after at - 1. Reads from at - 1 to that '\n'.
inline std::uint64_t next_line_start(io::input_file& f, std::uint64_t at) {
    if (at == 0 || at >= f.size()) return std::min(at, f.size());
    char block[256];  // lines are short: small reads past the range
    for (std::uint64_t pos = at - 1; pos < f.size(); pos += sizeof block) {
        const auto n = std::min<std::uint64_t>(sizeof block, f.size() - pos);
        f.read_at(pos, block, n);
        for (std::uint64_t i = 0; i < n; ++i)
            if (block[i] == '\n') return pos + i + 1;
    }
    return f.size();
}

// Calls edge(u, v) for every edge line of a text edge list whose first byte lies in
// this rank's byte range [S·r/P, S·(r+1)/P) (each line read by exactly one rank), in
// chunks of about `chunk` bytes cut at line starts; returns the edge lines. '#' starts a
// comment; `separator` 0 splits on blanks (tsv), ',' for csv. An error names the file and
// the byte offset of the chunk its line is counted from.
template <class Edge>
std::uint64_t for_each_text_edge(io::input_file& f, int rank, int ranks, char separator, index_t nodes,
                                 std::uint64_t chunk, Edge&& edge) {
    const auto [lo, hi] = read_range(f.size(), rank, ranks);
    const std::uint64_t begin = next_line_start(f, lo), end = next_line_start(f, hi);
    std::uint64_t lines = 0;
    std::string data, carry;  // carry: a line cut by the end of the previous block
    for (std::uint64_t at = begin; at < end;) {
        // The next block, after the carried part line; every byte is read once.
        const std::uint64_t n = std::min(end - at, std::max<std::uint64_t>(chunk, 1));
        const std::uint64_t first = at - carry.size();  // file offset of data[0]
        data.swap(carry);
        data.resize(data.size() + n);
        f.read_at(at, data.data() + (data.size() - n), n);
        at += n;
        carry.clear();
        if (at < end) {  // keep the last, unfinished line for the next block
            const auto cut = data.rfind('\n');
            if (cut == std::string::npos) {
                carry.swap(data);
                continue;
            }
            carry.assign(data, cut + 1);
            data.resize(cut + 1);
        }
        try {
            io::text_reader r(f.name(), data, '#', separator);
            while (r.next()) {
                r.expect_columns(2);
                const auto& t = r.tokens();
                index_t ends[2];
                for (int k = 0; k < 2; ++k) {
                    const auto id = r.parse_int<std::int64_t>(t[k], "node id");
                    ends[k] = io::detail::check_node_id<index_t>(id, std::optional<index_t>(nodes),
                                                                 [&](const std::string& why) { r.fail(t[k], why); });
                }
                edge(ends[0], ends[1]);
                ++lines;
            }
        } catch (const io_error& e) {
            throw io_error(f.name(), std::int64_t(first), "",
                           std::string("in the lines counted from this byte offset (rank ") + std::to_string(rank) +
                               "'s byte range): " + e.what(),
                           true);
        }
    }
    return lines;
}

}  // namespace detail

// The node count of a dataset folder, from its features.npy header alone (what a caller
// needs to read a partition file before load_partitioned).
inline std::uint64_t dataset_nodes(const std::filesystem::path& dir) {
    io::input_file f(detail::npy_part(dir, io::detail::feature_files, "features"));
    const auto h = io::read_npy_header(f);
    if (h.shape.size() != 2) throw io_error(f.name(), 0, "", "wrong shape for features: expected [N, d]");
    return h.shape[0];
}

// Collective: this rank's part of the dataset folder `dir` (the same parts as
// io::load_dataset picks, each of which must be .npy). Throws io_error for a missing or
// malformed part and invalid_argument for a bad owner vector.
template <class V, comm::communicator Comm>
local_part<V> load_partitioned(Comm& comm, const std::filesystem::path& dir, partitioned_load_options opt = {}) {
    using clock = std::chrono::steady_clock;
    const auto since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
    const int P = comm.size(), me = comm.rank();
    const auto traffic0 = comm.stats().total();
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) throw io_error(dir.string(), 0, "", "dataset folder does not exist");
    if (io::is_ogb_layout(dir))
        throw io_error(dir.string(), 0, "", "partitioned loading reads .npy dataset folders, not OGB's raw layout; "
                                            "convert it once with mixgcn-train --data DIR --export-dataset OUT");
    local_part<V> out;
    auto& rep = out.report;
    out.name = io::detail::folder_name(dir);

    auto t = clock::now();
    io::input_file ff(detail::npy_part(dir, io::detail::feature_files, "features"));
    io::input_file ef(detail::edge_part(dir));
    const bool text_edges = std::filesystem::path(ef.name()).extension() != ".npy";
    io::input_file lf(detail::npy_part(dir, io::detail::label_files, "labels"));
    io::input_file sf(detail::npy_part(dir, io::detail::split_files, "split"));
    const auto fh = io::read_npy_header(ff), lh = io::read_npy_header(lf), sh = io::read_npy_header(sf);
    const auto eh = text_edges ? io::npy_header{} : io::read_npy_header(ef);
    if (fh.shape.size() != 2) throw io_error(ff.name(), 0, "", "wrong shape for features: expected [N, d]");
    const std::uint64_t n = fh.shape[0];
    if (n > static_cast<std::uint64_t>(std::numeric_limits<index_t>::max()))
        throw io_error(ff.name(), 0, std::to_string(n), "node count does not fit index_t");
    for (const auto& [h, f, what] : {std::tuple{&lh, &lf, "labels"}, std::tuple{&sh, &sf, "split entries"}})
        if (h->shape.size() != 1 || h->shape[0] != n)
            throw io_error(f->name(), 0, "",
                           "has " + std::to_string(h->shape.empty() ? 0 : h->shape[0]) + " " + what + " but " +
                               ff.name() + " has " + std::to_string(n) + " rows (nodes)");
    out.nodes = static_cast<index_t>(n);
    out.edge_rows = eh.shape.empty() ? 0 : eh.shape[0];
    const bool ranged = opt.owner.empty();  // then a node's owner is arithmetic (range_owner)
    if (ranged) opt.owner = range_owners(n, P);
    require(opt.owner.size() == n, "load_partitioned (rank ", me, "): owner vector has ", opt.owner.size(),
            " entries for ", n, " nodes");
    for (std::size_t v = 0; v < n; ++v)
        require(opt.owner[v] >= 0 && opt.owner[v] < P, "load_partitioned (rank ", me, "): node ", v, " has owner ",
                opt.owner[v], " outside [0, ", P, ")");
    out.owner = std::move(opt.owner);
    const auto& owner = out.owner;
    rep.headers_seconds = since(t);

    // This rank's read range of the per-node parts.
    t = clock::now();
    const auto [lo, hi] = read_range(n, me, P);
    auto features = io::features_from_npy<V>(io::load_npy_rows(ff, fh, lo, hi));
    auto labels = io::labels_from_npy(io::load_npy_rows(lf, lh, lo, hi));
    auto split = io::split_from_npy(io::load_npy_rows(sf, sh, lo, hi));
    rep.rows_seconds = since(t);

    // To the owners, unless every rank already owns exactly what it read.
    t = clock::now();
    std::size_t owned_count = 0;
    for (auto o : owner) owned_count += o == me;
    bool in_place = owned_count == hi - lo;
    for (std::uint64_t v = lo; in_place && v < hi; ++v) in_place = owner[v] == me;
    std::int32_t moved = in_place ? 0 : 1;
    comm.all_reduce(std::span<std::int32_t>(&moved, 1), comm::reduce_op::max);
    const std::size_t d = features.cols();
    if (moved == 0) {
        out.owned.resize(hi - lo);
        std::iota(out.owned.begin(), out.owned.end(), static_cast<index_t>(lo));
        out.features = std::move(features);
        out.labels = std::move(labels);
        out.split = std::move(split);
    } else {
        // Rows in order of (destination, id): grouped by owner, ascending within.
        std::vector<index_t> order(hi - lo);
        std::iota(order.begin(), order.end(), static_cast<index_t>(lo));
        std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) { return owner[std::size_t(a)] < owner[std::size_t(b)]; });
        std::vector<std::size_t> rows_to(static_cast<std::size_t>(P), 0);
        for (auto v : order) ++rows_to[static_cast<std::size_t>(owner[std::size_t(v)])];
        std::vector<std::int64_t> ids(order.begin(), order.end());
        std::vector<std::int32_t> lab(order.size());
        std::vector<std::uint8_t> role(order.size());
        std::vector<V> feat(order.size() * d);
        for (std::size_t k = 0; k < order.size(); ++k) {
            const auto i = static_cast<std::size_t>(order[k]) - lo;
            lab[k] = labels[i];
            role[k] = static_cast<std::uint8_t>(split[i]);
            std::copy_n(features.row(i), d, feat.data() + k * d);
        }
        features = {};  // the read range goes before the owned rows arrive
        std::vector<std::size_t> values_to(rows_to);
        for (auto& c : values_to) c *= d;
        const auto got_ids = comm::exchange_grouped<std::int64_t>(comm, ids, rows_to);
        const auto got_lab = comm::exchange_grouped<std::int32_t>(comm, lab, rows_to);
        const auto got_role = comm::exchange_grouped<std::uint8_t>(comm, role, rows_to);
        auto got_feat = comm::exchange_grouped<V>(comm, feat, values_to);
        // Sources' ranges are ascending and disjoint, each sent ascending: the rows
        // arrive in ascending id.
        out.owned.assign(got_ids.begin(), got_ids.end());
        out.labels = got_lab;
        out.split.resize(got_role.size());
        for (std::size_t k = 0; k < got_role.size(); ++k) out.split[k] = static_cast<split_role>(got_role[k]);
        out.features = dense_matrix<V>(out.owned.size(), d);
        std::copy(got_feat.begin(), got_feat.end(), out.features.data());
    }
    rep.redistribute_seconds = since(t);

    // Labels over all ranks, as io::load_dataset checks them.
    std::int32_t max_label = -1;
    for (auto l : out.labels) max_label = std::max(max_label, l);
    comm.all_reduce(std::span<std::int32_t>(&max_label, 1), comm::reduce_op::max);
    if (max_label < 0) throw io_error(lf.name(), 0, "", "no node has a label");
    out.num_classes = max_label + 1;
    for (std::size_t k = 0; k < out.owned.size(); ++k)
        if (out.split[k] != split_role::none && out.labels[k] < 0)
            throw io_error(sf.name(), 0, "node " + std::to_string(out.owned[k]),
                           std::string("node is in the ") + io::split_word(out.split[k]) + " split but " +
                               lf.name() + " gives it no label");

    // Edges: this rank's range in slices, each directed copy keyed (row << 32 | column)
    // and bucketed by the row's owner. This rank's own bucket stays here; only the others
    // travel (at P = 1 nothing is copied through the exchange).
    t = clock::now();
    std::vector<detail::key_vector> bucket(static_cast<std::size_t>(P));
    if (!text_edges) {  // each bucket's expected share of the 2·E_r directed copies (exact at P = 1)
        const auto [elo, ehi] = read_range(out.edge_rows, me, P);
        for (auto& b : bucket) b.reserve(static_cast<std::size_t>(2 * (ehi - elo) / std::uint64_t(P) * 11 / 10 + 16));
    }
    const auto add_edge = [&](index_t u, index_t v) {
        if (u == v) {
            ++rep.self_loops_dropped;
            return;
        }
        rep.directed_entries += 2;
        bucket[static_cast<std::size_t>(owner[std::size_t(u)])].push_back(detail::edge_key(u, v));
        bucket[static_cast<std::size_t>(owner[std::size_t(v)])].push_back(detail::edge_key(v, u));
    };
    if (text_edges) {  // byte ranges; an edge line is ~8-16 bytes, so edge_slice lines ~ 16 x as many bytes
        const char sep = std::filesystem::path(ef.name()).extension() == ".csv" ? ',' : 0;
        // A bad line is in one rank's range: every rank learns it and throws, so none waits
        // in the collectives below (the rank that read it names the line).
        std::vector<std::uint64_t> lines{0};
        std::optional<io_error> failure;
        try {
            lines[0] = detail::for_each_text_edge(ef, me, P, sep, out.nodes, 16 * opt.edge_slice, add_edge);
        } catch (const io_error& e) {
            failure = e;
        }
        std::int32_t failed = failure ? me : -1;
        comm.all_reduce(std::span<std::int32_t>(&failed, 1), comm::reduce_op::max);
        if (failure) throw *failure;
        if (failed >= 0)
            throw io_error(ef.name(), 0, "", "rank " + std::to_string(failed) +
                                                 " could not parse its byte range of this file (its error names the line)");
        comm.all_reduce(std::span<std::uint64_t>(lines), comm::reduce_op::sum);
        if (lines[0] == 0) throw io_error(ef.name(), 0, "", "file is empty: no edges (only blanks or comments)");
        out.edge_rows = lines[0];
    } else {
        const auto [elo, ehi] = read_range(out.edge_rows, me, P);
        // int32/int64 [E, 2] files are converted and bucketed on the threads (a bad id makes
        // the serial reader name it); any other dtype or shape takes the serial reader, which
        // accepts or refuses it as a whole load would.
        const bool fast = eh.kind == 'i' && (eh.item_size == 4 || eh.item_size == 8) && eh.shape.size() == 2 &&
                          eh.shape[1] == 2;
        io::npy_array slice;  // one buffer for every slice
        detail::edge_bucket_counts counted;
        for (std::uint64_t b = elo; b < ehi; b += std::max<std::uint64_t>(opt.edge_slice, 1)) {
            const auto e = std::min(ehi, b + std::max<std::uint64_t>(opt.edge_slice, 1));
            io::load_npy_rows(ef, eh, b, e, slice);
            const char* ids = slice.element(0);
            const auto edges = std::size_t(e - b);
            // Owners by arithmetic where they are the read ranges (one rank, or no owner
            // vector given): a lookup per key in the N-entry vector was half this phase.
            const auto bucket_with = [&](auto&& id) {
                if (P == 1) return detail::bucket_edges(id, edges, out.nodes, [](index_t) { return 0; }, bucket, counted);
                if (ranged)
                    return detail::bucket_edges(id, edges, out.nodes,
                                                [n, P](index_t v) { return range_owner(std::uint64_t(v), n, P); },
                                                bucket, counted);
                return detail::bucket_edges(id, edges, out.nodes, owner, bucket, counted);
            };
            const bool bucketed =
                fast && (eh.item_size == 4
                             ? bucket_with([ids](std::size_t k) { return std::int64_t(io::detail::load_le<std::int32_t>(ids + 4 * k)); })
                             : bucket_with([ids](std::size_t k) { return io::detail::load_le<std::int64_t>(ids + 8 * k); }));
            if (!bucketed)  // the serial reader: names a bad id, or takes another dtype
                for (const auto& [u, v] : io::edge_list_from_npy<index_t>(slice, out.nodes).edges) add_edge(u, v);
        }
        rep.self_loops_dropped += counted.self_loops;
        rep.directed_entries += counted.directed;
    }
    std::vector<std::size_t> keys_to(static_cast<std::size_t>(P), 0);
    for (std::size_t q = 0; q < bucket.size(); ++q) keys_to[q] = q == std::size_t(me) ? 0 : bucket[q].size();
    auto send = detail::concatenate_buckets(bucket, std::size_t(me));
    detail::key_vector own = std::move(bucket[static_cast<std::size_t>(me)]);
    bucket = {};
    rep.edges_read_seconds = since(t);
    t = clock::now();
    auto received = comm::exchange_grouped<std::uint64_t>(comm, std::span<const std::uint64_t>(send), keys_to);
    send = {};
    rep.edges_exchange_seconds = since(t);

    t = clock::now();
    // Bucketed by local row (detail::rows_from_keys: blocks of rows first, then a counting
    // sort inside each block, on the threads), then each row's columns sorted and
    // deduplicated in parallel: what graph::build_adjacency does, on this rank's rows. A key
    // of a row this rank does not own is named here (the other ranks' keys were fine: they
    // go on to their builds).
    const auto& owned = out.owned;
    const std::size_t rows = owned.size();
    const bool contiguous = rows > 0 && std::size_t(owned.back() - owned.front()) + 1 == rows;
    // Scattered owners: an O(1) index of the owned ids (core/sorted_ids.hpp), N/4 bytes.
    const mixgcn::detail::sorted_id_index<index_t> owned_index(
        contiguous ? std::span<const index_t>{} : std::span<const index_t>(owned), contiguous ? 0 : std::uint64_t(out.nodes));
    const auto local_of = [&](std::uint64_t key) {  // rows when the row is not this rank's
        const auto r = static_cast<index_t>(key >> 32);
        if (!contiguous) return owned_index.find(r);
        const auto l = std::size_t(std::uint32_t(r - owned.front()));
        return l < rows && owned[l] == r ? l : rows;
    };
    std::vector<offset_t> start;
    std::vector<index_t> cols;
    std::uint64_t bad_key = 0;
    const std::span<std::uint64_t> key_arrays[] = {std::span<std::uint64_t>(own), std::span<std::uint64_t>(received)};
    if (!detail::rows_from_keys(std::span<const std::span<std::uint64_t>>(key_arrays), rows, local_of, start, cols,
                                bad_key))
        throw invalid_argument(mixgcn::detail::concat("load_partitioned (rank ", me, "): received an edge of node ",
                                           bad_key >> 32,
                                           ", which this rank does not own (do the ranks hold different owner vectors?)"));
    own = {};  // the keys go before the rows are sorted
    received = {};
    std::vector<offset_t> kept(rows + 1, 0);
#pragma omp parallel for schedule(dynamic, 1024)
    for (std::ptrdiff_t l = 0; l < std::ptrdiff_t(rows); ++l) {
        const auto b = cols.begin() + std::ptrdiff_t(start[std::size_t(l)]), e = cols.begin() + std::ptrdiff_t(start[std::size_t(l) + 1]);
        std::sort(b, e);
        kept[std::size_t(l) + 1] = static_cast<offset_t>(std::unique(b, e) - b);
    }
    std::partial_sum(kept.begin(), kept.end(), kept.begin());
    auto& a = out.rows;
    a.rows = static_cast<index_t>(rows);
    a.cols = out.nodes;
    // Without repeats the rows are already in place; else each row moves forward over the
    // gaps left by the ones before it (in row order, so no row overwrites one unread).
    if (kept.back() != start.back())
        for (std::size_t l = 0; l < rows; ++l) {  // std::copy: the target begins before the source
            const auto from = cols.begin() + std::ptrdiff_t(start[l]);
            std::copy(from, from + std::ptrdiff_t(kept[l + 1] - kept[l]), cols.begin() + std::ptrdiff_t(kept[l]));
        }
    cols.resize(static_cast<std::size_t>(kept.back()));
    a.row_ptr = std::move(kept);
    a.col_idx = std::move(cols);
    rep.build_seconds = since(t);

    rep.features_bytes_read = ff.bytes_read();
    rep.labels_bytes_read = lf.bytes_read();
    rep.split_bytes_read = sf.bytes_read();
    rep.edges_bytes_read = ef.bytes_read();
    const auto traffic1 = comm.stats().total();
    rep.bytes_sent = traffic1.bytes_sent - traffic0.bytes_sent;
    rep.bytes_received = traffic1.bytes_received - traffic0.bytes_received;
    return out;
}

}  // namespace mixgcn::parallel
