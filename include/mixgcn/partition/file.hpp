#pragma once
// Partition files: plain text, one owner rank per line, line i+1 for node i. Lines
// starting with '#' are comments (the writer records the method and sizes there);
// blank lines are ignored. Read by `mixgcn-train --partition-file`.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/io/file.hpp"

namespace mixgcn::partition {

inline void write_partition_file(const std::string& path, std::span<const int> owner, int parts,
                                 std::string_view method = {}) {
    std::ofstream out(path);
    if (!out) throw io_error(path, 0, "", "cannot open partition file for writing");
    out << "# mixgcn partition: " << owner.size() << " nodes, " << parts << " parts";
    if (!method.empty()) out << ", method " << method;
    out << '\n';
    for (int o : owner) out << o << '\n';
    out.flush();
    if (!out) throw io_error(path, 0, "", "write failed");
}

// Reads owners for exactly `nodes` nodes. When `parts` > 0 every owner must lie in
// [0, parts); otherwise owners must be non-negative. Throws io_error naming the file
// and line of the first bad entry, or of the missing/extra entry on a count mismatch.
inline std::vector<int> read_partition_file(const std::string& path, std::int64_t nodes, int parts = 0) {
    const std::string data = io::read_file(path);  // io_error naming the file when unreadable
    std::vector<int> owner;
    // An owner takes a digit and a newline: reserve no more than the file can hold, not
    // what the caller's node count asks for.
    const auto fits = static_cast<std::uint64_t>(data.size() / 2 + 1);
    owner.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(nodes > 0 ? std::uint64_t(nodes) : 0, fits)));
    std::int64_t line_no = 0;
    for (std::size_t pos = 0; pos < data.size();) {
        const auto nl = std::min(data.find('\n', pos), data.size());
        std::string_view s(data.data() + pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
        if (s.empty() || s.front() == '#') continue;
        int value = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
        if (ec != std::errc{} || end != s.data() + s.size())
            throw io_error(path, line_no, std::string(s), "expected one integer owner rank per line");
        if (value < 0 || (parts > 0 && value >= parts))
            throw io_error(path, line_no, std::string(s),
                           parts > 0 ? "owner outside [0, " + std::to_string(parts) + ")" : "negative owner");
        if (static_cast<std::int64_t>(owner.size()) == nodes)
            throw io_error(path, line_no, std::string(s),
                           "more owners than the graph's " + std::to_string(nodes) + " nodes");
        owner.push_back(value);
    }
    if (static_cast<std::int64_t>(owner.size()) != nodes)
        throw io_error(path, line_no + 1, "",
                       "file ends after " + std::to_string(owner.size()) + " owners but the graph has " +
                           std::to_string(nodes) + " nodes");
    return owner;
}

}  // namespace mixgcn::partition
