#pragma once
// Degree statistics: what tells a user whether the graph is power-law and whether
// partitioning by node count would be unbalanced.
#include <algorithm>
#include <cmath>
#include <vector>

#include "mixgcn/storage/csr.hpp"

namespace mixgcn::graph {

struct degree_stats {
    std::size_t nodes = 0;
    std::size_t nonzeros = 0;
    std::size_t isolated = 0;
    std::size_t self_loops = 0;
    double mean = 0, stddev = 0;
    std::size_t min = 0, max = 0, median = 0, p99 = 0;
};

template <class Index, class Value, class Offset>
degree_stats compute_degree_stats(const storage::csr<Index, Value, Offset>& a) {
    degree_stats s;
    s.nodes = static_cast<std::size_t>(a.rows);
    s.nonzeros = a.nnz();
    if (a.rows == 0) return s;
    std::vector<std::size_t> deg(s.nodes);
    double sum = 0, sq = 0;
    for (Index r = 0; r < a.rows; ++r) {
        const auto d = static_cast<std::size_t>(a.degree(r));
        deg[static_cast<std::size_t>(r)] = d;
        sum += double(d);
        sq += double(d) * double(d);
        if (d == 0) ++s.isolated;
        for (Index c : a.row_cols(r)) s.self_loops += (c == r);
    }
    s.mean = sum / double(s.nodes);
    s.stddev = std::sqrt(std::max(0.0, sq / double(s.nodes) - s.mean * s.mean));
    std::sort(deg.begin(), deg.end());
    s.min = deg.front();
    s.max = deg.back();
    s.median = deg[s.nodes / 2];
    s.p99 = deg[std::min(s.nodes - 1, s.nodes * 99 / 100)];
    return s;
}

}  // namespace mixgcn::graph
