// A job in which rank 1 fails, for the fault tests (expect_fault.sh):
//   --comm=mpi|gloo   rank 1 throws inside run_guarded while the others wait for it in
//                     an all_reduce; every rank must exit non-zero, stderr naming rank 1.
//   --hang            (gloo) rank 1 stays alive but silent; the others must time out.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mixgcn/comm.hpp"
#include "run_on_comm.hpp"

namespace comm = mixgcn::comm;

namespace {
template <class C>
int job(C& c, bool hang) {
    comm::run_guarded(c, [&] {
        c.barrier();
        if (c.rank() == 1) {
            if (hang) std::this_thread::sleep_for(std::chrono::seconds(8));
            else throw std::runtime_error("injected failure");
        }
        std::vector<double> x(1000, 1.0);
        c.all_reduce(std::span<double>(x));
        c.barrier();
    });
    return 0;
}
}  // namespace

int main(int argc, char** argv) {
    std::string kind;
    bool hang = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--comm=", 7) == 0) kind = argv[i] + 7;
        if (std::strcmp(argv[i], "--hang") == 0) hang = true;
    }
    return mixgcn::test_support::run_on_comm(kind, argc, argv, "comm_fault_driver",
                                             [&](auto& c) { return job(c, hang); });
}
