// Real transfers above 2^31 bytes, on two ranks:
//   mpirun -np 2 large_transfer --comm=mpi      launch_ranks.sh 2 300 large_transfer --comm=gloo
// 1. a float all_to_all_v block of 2^29 + 3 elements (2 GiB + 12 bytes; the count fits
//    MPI's int, the message does not fit 2^31 bytes);
// 2. a uint8 all_to_all_v block of 2^31 + 13 elements (the count does not fit an int:
//    comm::mpi sends it in pieces);
// 3. with --all-reduce, a uint8 all_reduce of 2^31 + 13 elements (in pieces, with the
//    wrapping sum; about 30 s on two loaded cores, so not in the default run: the piece
//    path of every collective also runs in comm_mpi_pieces_np3 on small data).
// Every byte received is checked against the formula that made it. Needs about 4.5 GB
// on each rank at peak; exits 77 (a skip) on every rank when the host has less than
// 10 GiB available.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "mixgcn/comm.hpp"

namespace comm = mixgcn::comm;
using std::size_t;

namespace {

std::uint64_t available_bytes() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::uint64_t kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb * 1024;
    return 0;
}

template <class T>
T pattern(int src, size_t i) {
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>((i * 2654435761u + static_cast<size_t>(src)) % 1000003);
    else return static_cast<T>((i * 131 + static_cast<size_t>(src) * 7 + (i >> 20)) & 0xff);
}

// Rank 0 sends `big` elements to rank 1, rank 1 sends 5 to rank 0; both keep 3 for themselves.
template <class T, class C>
bool big_exchange(C& c, size_t big) {
    const int r = c.rank();
    const size_t keep = 3, small = 5;
    const std::vector<size_t> sc = r == 0 ? std::vector<size_t>{keep, big} : std::vector<size_t>{small, keep};
    const std::vector<size_t> rc = r == 0 ? std::vector<size_t>{keep, small} : std::vector<size_t>{big, keep};
    std::vector<T> send(sc[0] + sc[1]);
    for (size_t i = 0; i < send.size(); ++i) send[i] = pattern<T>(r, i);
    std::vector<T> recv(rc[0] + rc[1]);
    c.reset_stats();
    c.all_to_all_v(std::span<const T>(send), sc, std::span<T>(recv), rc);
    std::vector<T>().swap(send);
    const int peer = 1 - r;
    bool ok = true;
    size_t bad = 0;
    const size_t kept_at = r == 0 ? 0 : big;      // where the kept block lands
    const size_t peer_at = r == 0 ? keep : 0;     // where the peer's block lands
    const size_t peer_src = r == 0 ? 0 : keep;    // where it started in the peer's send buffer
    const size_t own_src = r == 0 ? 0 : small;
    for (size_t i = 0; i < keep; ++i) ok = ok && recv[kept_at + i] == pattern<T>(r, own_src + i);
    const size_t n_peer = r == 0 ? small : big;
    for (size_t i = 0; i < n_peer; ++i)
        if (recv[peer_at + i] != pattern<T>(peer, peer_src + i)) {
            if (bad++ == 0) std::fprintf(stderr, "rank %d: element %zu from rank %d is wrong\n", r, i, peer);
        }
    const auto st = c.stats()["all_to_all_v"];
    const std::uint64_t expect_sent = (r == 0 ? big : small) * sizeof(T), expect_recv = n_peer * sizeof(T);
    if (st.bytes_sent != expect_sent || st.bytes_received != expect_recv) {
        std::fprintf(stderr, "rank %d: accounted %llu sent / %llu received bytes, expected %llu / %llu\n", r,
                     static_cast<unsigned long long>(st.bytes_sent), static_cast<unsigned long long>(st.bytes_received),
                     static_cast<unsigned long long>(expect_sent), static_cast<unsigned long long>(expect_recv));
        ok = false;
    }
    std::printf("rank %d: all_to_all_v of %zu x %zu-byte elements to rank 1: %s (%.2f s)\n", r, big, sizeof(T),
                ok && bad == 0 ? "ok" : "WRONG", st.seconds);
    return ok && bad == 0;
}

template <class C>
bool big_all_reduce(C& c, size_t n) {
    const int r = c.rank();
    std::vector<std::uint8_t> buf(n);
    for (size_t i = 0; i < n; ++i) buf[i] = pattern<std::uint8_t>(r, i);
    c.reset_stats();
    c.all_reduce(std::span<std::uint8_t>(buf));
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i)
        if (buf[i] != static_cast<std::uint8_t>(pattern<std::uint8_t>(0, i) + pattern<std::uint8_t>(1, i)))
            if (bad++ == 0) std::fprintf(stderr, "rank %d: all_reduce element %zu is wrong\n", r, i);
    std::printf("rank %d: all_reduce of %zu uint8: %s (%.2f s)\n", r, n, bad == 0 ? "ok" : "WRONG",
                c.stats()["all_reduce"].seconds);
    return bad == 0;
}

template <class C>
int run(C& c, bool with_all_reduce) {
    if (c.size() != 2) {
        std::fprintf(stderr, "large_transfer: run on exactly 2 ranks (got %d)\n", c.size());
        return 2;
    }
    std::vector<std::int32_t> low{available_bytes() < (std::uint64_t{10} << 30) ? 1 : 0};
    c.all_reduce(std::span<std::int32_t>(low));
    if (low[0] != 0) {
        std::printf("rank %d: SKIP: the transfers above 2^31 bytes need 10 GiB available on the host\n", c.rank());
        return 77;
    }
    bool ok = big_exchange<float>(c, (size_t{1} << 29) + 3);
    ok = big_exchange<std::uint8_t>(c, (size_t{1} << 31) + 13) && ok;
    if (with_all_reduce) ok = big_all_reduce(c, (size_t{1} << 31) + 13) && ok;
    std::vector<std::int32_t> failed{ok ? 0 : 1};
    c.all_reduce(std::span<std::int32_t>(failed));
    return failed[0] == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::string kind = "mpi";
    bool with_all_reduce = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--comm=", 7) == 0) kind = argv[i] + 7;
        if (std::strcmp(argv[i], "--all-reduce") == 0) with_all_reduce = true;
    }
    try {
#ifdef MIXGCN_HAS_MPI
        if (kind == "mpi") {
            comm::mpi::environment env(argc, argv);
            comm::mpi c;
            return run(c, with_all_reduce);
        }
#endif
#ifdef MIXGCN_HAS_GLOO
        if (kind == "gloo") {
            comm::gloo c;
            return run(c, with_all_reduce);
        }
#endif
    } catch (const std::exception& e) {
        std::fprintf(stderr, "large_transfer (%s): %s\n", kind.c_str(), e.what());
        return 1;
    }
    std::fprintf(stderr, "large_transfer: unknown or unavailable --comm=%s\n", kind.c_str());
    return 2;
}
