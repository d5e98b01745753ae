// Rank, size and local rank from each launcher's environment (comm/launcher.hpp), in
// the documented order, and a rank outside the size named with its variables.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "mixgcn/comm/launcher.hpp"

using namespace mixgcn;

namespace {

// Sets the given variables for one test and clears every launcher variable around it.
class launch_env {
public:
    explicit launch_env(std::vector<std::pair<const char*, const char*>> vars) {
        clear();
        for (const auto& [k, v] : vars) ::setenv(k, v, 1);
    }
    ~launch_env() { clear(); }

private:
    static void clear() {
        for (const char* k : {"MIXGCN_RANK", "MIXGCN_WORLD_SIZE", "MIXGCN_LOCAL_RANK", "OMPI_COMM_WORLD_RANK",
                              "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "PMI_RANK", "PMI_SIZE",
                              "MPI_LOCALRANKID", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "RANK", "WORLD_SIZE",
                              "LOCAL_RANK"})
            ::unsetenv(k);
    }
};

}  // namespace

TEST_CASE("each launcher's variables give rank, size and local rank") {
    struct expect {
        std::vector<std::pair<const char*, const char*>> vars;
        int rank, size, local;
        std::string source;
    };
    const std::vector<expect> cases = {
        {{{"MIXGCN_RANK", "1"}, {"MIXGCN_WORLD_SIZE", "3"}}, 1, 3, -1, "MIXGCN_RANK"},
        {{{"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "0"}}, 2, 4, 0,
         "mpirun"},
        {{{"PMI_RANK", "0"}, {"PMI_SIZE", "2"}, {"MPI_LOCALRANKID", "0"}}, 0, 2, 0, "MPICH"},
        {{{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}}, 5, 8, 1, "srun"},
        {{{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "3"}}, 3, 4, 3, "torchrun"},
        // mpirun inside a Slurm allocation: mpirun's rank, not the allocation's.
        {{{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}, {"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}},
         1, 2, -1, "mpirun"},
        // Explicit variables win over every launcher.
        {{{"MIXGCN_RANK", "0"}, {"MIXGCN_WORLD_SIZE", "1"}, {"RANK", "3"}, {"WORLD_SIZE", "4"}}, 0, 1, -1,
         "MIXGCN_RANK"},
    };
    for (const auto& c : cases) {
        launch_env env(c.vars);
        const auto l = comm::detect_launch();
        INFO(c.source);
        CHECK(l.rank == c.rank);
        CHECK(l.size == c.size);
        CHECK(l.local_rank == c.local);
        CHECK(l.source.rfind(c.source, 0) == 0);
    }
    launch_env none({});
    CHECK(comm::detect_launch().rank == -1);
    CHECK(comm::detect_launch().source.empty());
}

TEST_CASE("a rank outside the world size, or a malformed value, is named") {
    {
        launch_env env({{"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "4"}});
        CHECK_THROWS_WITH_AS(comm::detect_launch(), doctest::Contains("srun (SLURM_PROCID): SLURM_PROCID=4 is outside [0, SLURM_NTASKS=4)"),
                             invalid_argument);
    }
    {
        launch_env env({{"RANK", "x1"}, {"WORLD_SIZE", "2"}});
        CHECK_THROWS_WITH_AS(comm::detect_launch(), doctest::Contains("RANK='x1' is not a non-negative integer"),
                             invalid_argument);
    }
}
