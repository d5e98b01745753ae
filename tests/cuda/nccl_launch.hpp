#pragma once
// How the multi-process NCCL programs start: under mpirun (OMPI_COMM_WORLD_SIZE set) the
// host engine is MPI and the NCCL id goes through MPI_Bcast; otherwise it is Gloo,
// started by tests/comm/launch_ranks.sh (MIXGCN_RANK, MIXGCN_WORLD_SIZE,
// MIXGCN_GLOO_STORE), and the NCCL id travels through a file in the store directory.
// Ranks share the visible GPUs round-robin. f(hybrid, engine name, devices) runs the
// checks; the return is the exit code (77: no GPU, skipped).
#include <cuda_runtime.h>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

#if defined(MIXGCN_HAS_GLOO)
#include "mixgcn/comm/gloo.hpp"
#endif
#if defined(MIXGCN_HAS_MPI)
#include "mixgcn/comm/mpi.hpp"
#endif
#include "mixgcn/comm/hybrid.hpp"
#include "mixgcn/comm/nccl.hpp"
#include "mixgcn/core/error.hpp"

namespace nccl_launch {

// NCCL refuses two ranks of one communicator on the same GPU ("Duplicate GPU detected",
// NCCL >= 2.5). With fewer GPUs than ranks, each process declares itself a host of its
// own (NCCL_HOSTID), so NCCL connects the ranks through its socket transport over
// loopback, as between machines, instead of refusing. Must run before NCCL starts.
inline void pose_as_separate_hosts(const char* program, int rank, int size, int devices) {
    if (size <= devices || std::getenv("NCCL_HOSTID") != nullptr) return;
    const std::string id = std::string("mixgcn-") + program + "-rank-" + std::to_string(rank);
    ::setenv("NCCL_HOSTID", id.c_str(), 1);
    if (std::getenv("NCCL_SOCKET_IFNAME") == nullptr) ::setenv("NCCL_SOCKET_IFNAME", "lo", 1);
    if (rank == 0)
        std::cout << program << ": " << size << " ranks share " << devices
                  << " GPU(s): each rank poses as its own host (NCCL_HOSTID), traffic over loopback sockets\n";
}

// `rank` receives this process's rank as soon as it is known (for error messages).
template <class F>
int run(const char* program, int argc, char** argv, int& rank, F&& f) {
    using namespace mixgcn;
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        std::cout << program << ": no CUDA device visible; SKIPPED\n";
        return 77;
    }
    try {
        if (std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr) {
#if defined(MIXGCN_HAS_MPI)
            comm::mpi::environment env(argc, argv);
            comm::mpi host;
            rank = host.rank();
            pose_as_separate_hosts(program, host.rank(), host.size(), devices);
            auto dev = comm::nccl::from_mpi(host.native(), host.rank() % devices);
            comm::hybrid<comm::nccl, comm::mpi> c(std::move(dev), std::move(host));
            return f(c, "MPI", devices);
#else
            throw error(std::string(program) + ": started by mpirun, but built without MPI");
#endif
        } else {
#if defined(MIXGCN_HAS_GLOO)
            comm::gloo host{};
            rank = host.rank();
            const char* store = std::getenv("MIXGCN_GLOO_STORE");
            require(store != nullptr, program, ": MIXGCN_GLOO_STORE is not set (start it with launch_ranks.sh)");
            pose_as_separate_hosts(program, host.rank(), host.size(), devices);
            auto dev = comm::nccl::from_file(std::filesystem::path(store) / "nccl_id", host.rank(), host.size(),
                                             host.rank() % devices);
            comm::hybrid<comm::nccl, comm::gloo> c(std::move(dev), std::move(host));
            return f(c, "Gloo", devices);
#else
            throw error(std::string(program) + ": built without Gloo; start it with mpirun");
#endif
        }
    } catch (const std::exception& e) {
        std::cerr << "rank " << rank << ": " << e.what() << "\n";
        return 1;
    }
}

}  // namespace nccl_launch
