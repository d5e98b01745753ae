#pragma once
// A Gloo rendezvous store backed by MPI, so ranks started by mpirun need no shared
// directory. Gloo's full-mesh rendezvous has every rank set() its own key once and then
// wait()/get() the others' keys; that symmetry lets set() be a collective (an
// all-gather of every rank's key and value) after which get() and wait() are local
// look-ups. A key that no rank set is an error, never a wait.
#include <mpi.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <gloo/rendezvous/store.h>

#include "mixgcn/core/error.hpp"

namespace mixgcn::comm::detail {

class gloo_mpi_store final : public ::gloo::rendezvous::Store {
public:
    explicit gloo_mpi_store(MPI_Comm comm) : comm_(comm) {
        MPI_Comm_rank(comm_, &rank_);
        MPI_Comm_size(comm_, &size_);
    }

    void set(const std::string& key, const std::vector<char>& data) override {
        // Each rank contributes [key length, data length] and then key bytes + data.
        const long long mine[2] = {static_cast<long long>(key.size()), static_cast<long long>(data.size())};
        std::vector<long long> lens(2 * static_cast<std::size_t>(size_));
        check(MPI_Allgather(mine, 2, MPI_LONG_LONG, lens.data(), 2, MPI_LONG_LONG, comm_), "MPI_Allgather");
        std::vector<int> counts(static_cast<std::size_t>(size_)), displs(static_cast<std::size_t>(size_));
        int total = 0;
        for (std::size_t q = 0; q < counts.size(); ++q) {
            counts[q] = static_cast<int>(lens[2 * q] + lens[2 * q + 1]);
            displs[q] = total;
            total += counts[q];
        }
        std::vector<char> out(key.begin(), key.end());
        out.insert(out.end(), data.begin(), data.end());
        std::vector<char> all(static_cast<std::size_t>(total));
        check(MPI_Allgatherv(out.data(), static_cast<int>(out.size()), MPI_CHAR, all.data(), counts.data(),
                             displs.data(), MPI_CHAR, comm_),
              "MPI_Allgatherv");
        for (std::size_t q = 0; q < counts.size(); ++q) {
            const char* at = all.data() + displs[q];
            const auto kl = static_cast<std::size_t>(lens[2 * q]);
            const auto dl = static_cast<std::size_t>(lens[2 * q + 1]);
            entries_[std::string(at, kl)] = std::vector<char>(at + kl, at + kl + dl);
        }
    }

    std::vector<char> get(const std::string& key) override {
        auto it = entries_.find(key);
        if (it == entries_.end()) throw comm_error(rank_, "Gloo rendezvous over MPI: no rank published key '" + key + "'");
        return it->second;
    }

    void wait(const std::vector<std::string>& keys) override { wait(keys, kDefaultTimeout); }
    void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds&) override {
        for (const auto& k : keys) get(k);
    }

private:
    void check(int rc, const char* what) const {
        if (rc != MPI_SUCCESS) throw comm_error(rank_, std::string("Gloo rendezvous over MPI: ") + what + " failed");
    }
    MPI_Comm comm_;
    int rank_ = 0;
    int size_ = 1;
    std::map<std::string, std::vector<char>> entries_;
};

}  // namespace mixgcn::comm::detail
