#pragma once
// A Gloo rendezvous store whose set() is a collective: an all-gather, over a
// communicator that already works, of every rank's key and value, after which get() and
// wait() are local look-ups. Gloo's full-mesh rendezvous has every rank set() its own key
// once and then wait()/get() the others' keys; that symmetry is what lets set() gather.
// Two uses: ranks started by mpirun rendezvous over MPI (no shared directory), and
// comm::gloo::split rendezvouses a sub-communicator over its parent.
//
// `scope` separates groups that rendezvous at once over one parent (split's colours):
// every rank of the parent takes part in each all-gather, but keeps only the entries set
// under its own scope, where the sub-communicator's keys ("0", "1", ...) repeat. A key
// that no rank of the scope set is an error, never a wait.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gloo/rendezvous/store.h>

#include "mixgcn/core/error.hpp"

namespace mixgcn::comm::detail {

class gloo_gathering_store final : public ::gloo::rendezvous::Store {
public:
    // gather(mine) returns every rank's bytes, in rank order; it is called once per set().
    using gather_fn = std::function<std::vector<std::vector<char>>(const std::vector<char>&)>;

    gloo_gathering_store(int rank, std::string what, gather_fn gather, std::string scope = {})
        : rank_(rank), what_(std::move(what)), gather_(std::move(gather)), scope_(std::move(scope)) {}

    void set(const std::string& key, const std::vector<char>& data) override {
        // [scope length][key length] as 8 bytes each, then scope, key and data.
        std::vector<char> mine(16 + scope_.size() + key.size() + data.size());
        const auto put = [&](std::size_t at, std::size_t v) {
            for (std::size_t b = 0; b < 8; ++b) mine[at + b] = static_cast<char>((v >> (8 * b)) & 0xff);
        };
        put(0, scope_.size());
        put(8, key.size());
        auto at = std::copy(scope_.begin(), scope_.end(), mine.begin() + 16);
        at = std::copy(key.begin(), key.end(), at);
        std::copy(data.begin(), data.end(), at);
        const auto all = gather_(mine);
        for (std::size_t q = 0; q < all.size(); ++q) {
            const auto& e = all[q];
            const auto get = [&](std::size_t pos) {
                std::size_t v = 0;
                for (std::size_t b = 0; b < 8; ++b) v |= std::size_t(static_cast<unsigned char>(e[pos + b])) << (8 * b);
                return v;
            };
            if (e.size() < 16 || 16 + get(0) + get(8) > e.size())
                throw comm_error(rank_, what_ + ": rank " + std::to_string(q) + " published a malformed entry");
            const std::size_t sl = get(0), kl = get(8);
            if (std::string(e.data() + 16, sl) != scope_) continue;
            entries_[std::string(e.data() + 16 + sl, kl)] = std::vector<char>(e.begin() + std::ptrdiff_t(16 + sl + kl), e.end());
        }
    }

    std::vector<char> get(const std::string& key) override {
        auto it = entries_.find(key);
        if (it == entries_.end()) throw comm_error(rank_, what_ + ": no rank published key '" + key + "'");
        return it->second;
    }

    void wait(const std::vector<std::string>& keys) override { wait(keys, kDefaultTimeout); }
    void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds&) override {
        for (const auto& k : keys) get(k);
    }

private:
    int rank_;
    std::string what_;
    gather_fn gather_;
    std::string scope_;
    std::map<std::string, std::vector<char>> entries_;
};

}  // namespace mixgcn::comm::detail
