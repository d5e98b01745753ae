#pragma once
// Where a process of a job learns its rank: the launcher's environment, read the same
// way by every communicator and tool. Sources, in the order they are tried (the first
// that names a rank wins, and the size and local rank come from the same source):
//
//   MIXGCN_RANK  MIXGCN_WORLD_SIZE  MIXGCN_LOCAL_RANK      by hand, tests/comm/launch_ranks.sh
//   OMPI_COMM_WORLD_RANK  _SIZE  _LOCAL_RANK              mpirun (Open MPI)
//   PMI_RANK  PMI_SIZE  MPI_LOCALRANKID                   MPICH's Hydra
//   SLURM_PROCID  SLURM_NTASKS  SLURM_LOCALID             srun
//   RANK  WORLD_SIZE  LOCAL_RANK                          torchrun (and MASTER_ADDR/PORT)
//
// mpirun inside a Slurm allocation sets both its own and Slurm's variables: its own come
// first, so the rank is mpirun's. docs/launching.md has the commands.
#include <cstdlib>
#include <string>

#include "mixgcn/core/error.hpp"

namespace mixgcn::comm {

namespace detail {

inline const char* env_or_null(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
}

inline int env_int(const char* name, const char* v) {
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    require(end && *end == '\0' && x >= 0 && x <= 1 << 24, "environment variable ", name, "='", v,
            "' is not a non-negative integer");
    return static_cast<int>(x);
}

}  // namespace detail

struct launch_info {
    int rank = -1, size = -1, local_rank = -1;  // -1: not given
    std::string source;                         // the launcher, e.g. "srun (SLURM_PROCID)"; empty: none
};

inline launch_info detect_launch() {
    struct source {
        const char *name, *rank, *size, *local;
    };
    static constexpr source sources[] = {
        {"MIXGCN_RANK", "MIXGCN_RANK", "MIXGCN_WORLD_SIZE", "MIXGCN_LOCAL_RANK"},
        {"mpirun (OMPI_COMM_WORLD_RANK)", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
        {"MPICH (PMI_RANK)", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"},
        {"srun (SLURM_PROCID)", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
        {"torchrun (RANK)", "RANK", "WORLD_SIZE", "LOCAL_RANK"},
    };
    for (const auto& s : sources) {
        const char* r = detail::env_or_null(s.rank);
        if (!r) continue;
        launch_info l;
        l.source = s.name;
        l.rank = detail::env_int(s.rank, r);
        if (const char* n = detail::env_or_null(s.size)) {
            l.size = detail::env_int(s.size, n);
            require(l.size >= 1 && l.rank < l.size, l.source, ": ", s.rank, "=", l.rank, " is outside [0, ", s.size,
                    "=", l.size, ")");
        }
        if (const char* lr = detail::env_or_null(s.local)) l.local_rank = detail::env_int(s.local, lr);
        return l;
    }
    return {};
}

}  // namespace mixgcn::comm
