#pragma once
// A Gloo rendezvous store backed by MPI, so ranks started by mpirun need no shared
// directory: gloo_gathering_store with an MPI all-gather.
#include <mpi.h>

#include <cstddef>
#include <string>
#include <vector>

#include "mixgcn/comm/detail/gloo_gathering_store.hpp"
#include "mixgcn/core/error.hpp"

namespace mixgcn::comm::detail {

inline gloo_gathering_store gloo_mpi_store(MPI_Comm comm) {
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    return gloo_gathering_store(rank, "Gloo rendezvous over MPI", [comm, rank](const std::vector<char>& mine) {
        const auto check = [rank](int rc, const char* what) {
            if (rc != MPI_SUCCESS) throw comm_error(rank, std::string("Gloo rendezvous over MPI: ") + what + " failed");
        };
        int size = 1;
        MPI_Comm_size(comm, &size);
        const auto n = static_cast<std::size_t>(size);
        long long len = static_cast<long long>(mine.size());
        std::vector<long long> lens(n);
        check(MPI_Allgather(&len, 1, MPI_LONG_LONG, lens.data(), 1, MPI_LONG_LONG, comm), "MPI_Allgather");
        std::vector<int> counts(n), displs(n);
        int total = 0;
        for (std::size_t q = 0; q < n; ++q) {
            counts[q] = static_cast<int>(lens[q]);
            displs[q] = total;
            total += counts[q];
        }
        std::vector<char> all(static_cast<std::size_t>(total));
        check(MPI_Allgatherv(mine.data(), static_cast<int>(mine.size()), MPI_CHAR, all.data(), counts.data(),
                             displs.data(), MPI_CHAR, comm),
              "MPI_Allgatherv");
        std::vector<std::vector<char>> out(n);
        for (std::size_t q = 0; q < n; ++q) out[q].assign(all.begin() + displs[q], all.begin() + displs[q] + counts[q]);
        return out;
    });
}

}  // namespace mixgcn::comm::detail
