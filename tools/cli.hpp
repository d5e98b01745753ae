#pragma once
// Flag parsing shared by the command-line tools: `--name value` or `--name=value`,
// typed conversion with a one-line error naming the flag and the bad value.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mixgcn/core/error.hpp"

namespace mixgcn::cli {

// A bad command line: the tools print the message and exit with status 2.
class usage_error : public error {
public:
    using error::error;
};

class args {
public:
    // `switches` are flags without a value.
    args(int argc, char** argv, std::set<std::string> known, std::set<std::string> switches) {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (a.rfind("--", 0) != 0) throw usage_error("unexpected argument '" + a + "' (flags start with --)");
            std::string name = a.substr(2), value;
            const auto eq = name.find('=');
            const bool inline_value = eq != std::string::npos;
            if (inline_value) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            }
            if (!known.count(name) && !switches.count(name))
                throw usage_error("unknown flag --" + name + " (see --help)");
            if (switches.count(name)) {
                if (inline_value) throw usage_error("flag --" + name + " takes no value");
                values_[name] = "1";
                continue;
            }
            if (!inline_value) {
                if (i + 1 >= argc) throw usage_error("flag --" + name + " needs a value");
                value = argv[++i];
            }
            values_[name] = value;
        }
    }

    // Flags given as values directly (the Python module's keywords): name -> value, "1"
    // for a switch; nothing is checked against a list of known flags.
    explicit args(std::map<std::string, std::string> values) : values_(std::move(values)) {}

    bool has(const std::string& name) const { return values_.count(name) > 0; }
    std::string get(const std::string& name, const std::string& fallback) const {
        const auto it = values_.find(name);
        return it == values_.end() ? fallback : it->second;
    }
    template <class T>
    T number(const std::string& name, T fallback) const {
        const auto it = values_.find(name);
        if (it == values_.end()) return fallback;
        T v{};
        const auto& s = it->second;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        if (r.ec != std::errc{} || r.ptr != s.data() + s.size())
            throw usage_error("flag --" + name + ": '" + s + "' is not a valid number");
        // from_chars accepts "nan" and "inf", which no flag means: training would go NaN.
        if constexpr (std::is_floating_point_v<T>)
            if (!std::isfinite(v)) throw usage_error("flag --" + name + ": '" + s + "' is not a finite number");
        return v;
    }
    std::string choice(const std::string& name, const std::string& fallback, const std::vector<std::string>& options) const {
        const auto v = get(name, fallback);
        for (const auto& o : options)
            if (o == v) return v;
        std::string list;
        for (const auto& o : options) list += (list.empty() ? "" : "|") + o;
        throw usage_error("flag --" + name + ": '" + v + "' is not one of " + list);
    }

private:
    std::map<std::string, std::string> values_;
};

}  // namespace mixgcn::cli
