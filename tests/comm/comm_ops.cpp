// Every communicator operation against a brute-force expectation. Each rank builds the
// data every rank sends from a formula of (source rank, destination rank, index), so it
// can compute locally what it must receive. Run as one process per rank:
//   test_comm_ops --comm=local
//   mpirun -np 4 test_comm_ops --comm=mpi
//   launch_ranks.sh 4 60 test_comm_ops --comm=gloo
//   mpirun -np 2 test_comm_ops --comm=hybrid-mpi-gloo   (also hybrid-local)
// Only CHECKs (never REQUIREs) inside collective code, so a failing rank keeps calling
// the same collectives as the others; the verdict is all-reduced at the end so every
// rank exits non-zero when any failed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "mixgcn/comm.hpp"

namespace comm = mixgcn::comm;
using std::size_t;

namespace {

using world = std::variant<comm::local*, comm::hybrid<comm::local, comm::local>*
#ifdef MIXGCN_HAS_MPI
                           ,
                           comm::mpi*
#endif
#ifdef MIXGCN_HAS_GLOO
                           ,
                           comm::gloo*
#endif
#if defined(MIXGCN_HAS_MPI) && defined(MIXGCN_HAS_GLOO)
                           ,
                           comm::hybrid<comm::mpi, comm::gloo>*
#endif
                           >;
world g_world;

template <class F>
void on_world(F&& f) {
    std::visit([&](auto* c) { f(*c); }, g_world);
}

// The value rank `src` puts at position i of what it sends to `dst`, in round `round`.
template <class T>
T value(int src, int dst, size_t i, int round = 0) {
    const auto v = (static_cast<std::int64_t>(src) * 37 + dst * 11 + static_cast<std::int64_t>(i) * 3 + round * 5) % 113;
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>(v) + static_cast<T>(0.25);
    else return static_cast<T>(v);
}

// Uneven counts with zeros: how many elements src sends dst in `round`.
size_t count(int src, int dst, int round) {
    if (round == 3) return 0;  // everything empty
    return static_cast<size_t>((src * 3 + dst * 5 + round) % 4) * static_cast<size_t>(1 + round * 7);
}

template <class C>
std::uint64_t global_sum(C& c, std::uint64_t x) {
    std::vector<std::uint64_t> v{x};
    c.all_reduce(std::span<std::uint64_t>(v));
    return v[0];
}

template <class T, class C>
void check_all_reduce(C& c) {
    const int r = c.rank(), p = c.size();
    INFO("rank " << r << " type size " << sizeof(T));
    for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}}) {
        std::vector<T> sum(n), mx(n);
        for (size_t i = 0; i < n; ++i) sum[i] = mx[i] = value<T>(r, 0, i);
        c.all_reduce(std::span<T>(sum));
        c.all_reduce(std::span<T>(mx), comm::reduce_op::max);
        for (size_t i = 0; i < n; ++i) {
            T s{}, m = value<T>(0, 0, i);
            for (int q = 0; q < p; ++q) {
                s = static_cast<T>(s + value<T>(q, 0, i));
                m = std::max(m, value<T>(q, 0, i));
            }
            CHECK(sum[i] == s);
            CHECK(mx[i] == m);
        }
    }
}

template <class T, class C>
void check_all_to_all_v(C& c, bool async) {
    const int r = c.rank(), p = c.size();
    INFO("rank " << r << " type size " << sizeof(T) << " async " << async);
    for (int round = 0; round < 4; ++round) {
        std::vector<size_t> sc(static_cast<size_t>(p)), rc(static_cast<size_t>(p));
        for (int q = 0; q < p; ++q) {
            sc[static_cast<size_t>(q)] = count(r, q, round);
            rc[static_cast<size_t>(q)] = count(q, r, round);
        }
        std::vector<T> send;
        for (int q = 0; q < p; ++q)
            for (size_t i = 0; i < sc[static_cast<size_t>(q)]; ++i) send.push_back(value<T>(r, q, i, round));
        std::vector<T> recv(comm::detail::sum(rc), T{99});
        c.reset_stats();
        if (async) {
            auto h = c.start_all_to_all_v(std::span<const T>(send), sc, std::span<T>(recv), rc);
            // While the exchange is in flight: local work, and another collective.
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            std::vector<std::int64_t> other{r + 1};
            c.all_reduce(std::span<std::int64_t>(other));
            CHECK(other[0] == static_cast<std::int64_t>(p) * (p + 1) / 2);
            h.wait();
            CHECK(h.done());
        } else {
            c.all_to_all_v(std::span<const T>(send), sc, std::span<T>(recv), rc);
        }
        size_t at = 0;
        for (int q = 0; q < p; ++q)
            for (size_t i = 0; i < rc[static_cast<size_t>(q)]; ++i) CHECK(recv[at++] == value<T>(q, r, i, round));
        // Accounting: payload to / from other ranks only.
        std::uint64_t sent = 0, got = 0;
        for (int q = 0; q < p; ++q)
            if (q != r) {
                sent += count(r, q, round) * sizeof(T);
                got += count(q, r, round) * sizeof(T);
            }
        const auto st = c.stats()["all_to_all_v"];
        CHECK(st.calls == 1);
        CHECK(st.seconds >= 0.0);
        CHECK(st.bytes_sent == sent);
        CHECK(st.bytes_received == got);
        CHECK(global_sum(c, st.bytes_sent) == global_sum(c, st.bytes_received));
    }
}

// Whether C's pending exchange can report completion from progress(): Gloo's cannot
// (comm/gloo.hpp says why), so there progress() must only never block, and wait() completes.
#ifdef MIXGCN_HAS_GLOO
template <class C>
constexpr bool progress_completes = !std::is_same_v<typename C::pending, comm::gloo::pending>;
#else
template <class C>
constexpr bool progress_completes = true;
#endif

// An exchange started and then only polled with progress(): the data arrives, and the
// traffic is counted exactly once, as for a blocking all_to_all_v of the same counts.
template <class T, class C>
void check_progress(C& c) {
    const int r = c.rank(), p = c.size();
    INFO("rank " << r << " type size " << sizeof(T));
    const int round = 1;
    std::vector<size_t> sc(static_cast<size_t>(p)), rc(static_cast<size_t>(p));
    for (int q = 0; q < p; ++q) {
        sc[static_cast<size_t>(q)] = count(r, q, round) * 50;  // large enough not to finish inside start
        rc[static_cast<size_t>(q)] = count(q, r, round) * 50;
    }
    std::vector<T> send;
    for (int q = 0; q < p; ++q)
        for (size_t i = 0; i < sc[static_cast<size_t>(q)]; ++i) send.push_back(value<T>(r, q, i, round));
    std::vector<T> recv(comm::detail::sum(rc), T{99});
    c.reset_stats();
    c.all_to_all_v(std::span<const T>(send), sc, std::span<T>(recv), rc);
    const auto blocking = c.stats()["all_to_all_v"];
    std::fill(recv.begin(), recv.end(), T{99});
    c.barrier();
    c.reset_stats();

    auto h = c.start_all_to_all_v(std::span<const T>(send), sc, std::span<T>(recv), rc);
    bool completed = false;
    const auto t0 = std::chrono::steady_clock::now();
    const auto deadline = t0 + std::chrono::seconds(20);
    if constexpr (progress_completes<C>) {
        while (!(completed = h.progress()) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();  // stand-in for a slice of interior aggregation
        CHECK(completed);
    } else {
        for (int i = 0; i < 100; ++i) completed = h.progress();  // must not block, nor fail
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
        h.wait();
        CHECK(h.progress());
        completed = true;
    }
    CHECK(h.done());
    if (completed) {
        const auto before = std::chrono::steady_clock::now();
        h.wait();  // returns at once, records nothing more
        CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(1));
        CHECK(h.progress());
    }
    size_t at = 0;
    for (int q = 0; q < p; ++q)
        for (size_t i = 0; i < rc[static_cast<size_t>(q)]; ++i) CHECK(recv[at++] == value<T>(q, r, i, round));
    const auto st = c.stats()["all_to_all_v"];
    CHECK(st.calls == 1);
    CHECK(st.bytes_sent == blocking.bytes_sent);
    CHECK(st.bytes_received == blocking.bytes_received);
    CHECK(st.seconds >= 0.0);
    CHECK(global_sum(c, st.bytes_sent) == global_sum(c, st.bytes_received));
}

template <class T, class C>
void check_gathers(C& c) {
    const int r = c.rank(), p = c.size();
    INFO("rank " << r << " type size " << sizeof(T));
    for (size_t n : {size_t{0}, size_t{5}}) {
        std::vector<T> mine(n), all(n * static_cast<size_t>(p));
        for (size_t i = 0; i < n; ++i) mine[i] = value<T>(r, 0, i);
        c.all_gather(std::span<const T>(mine), std::span<T>(all));
        for (int q = 0; q < p; ++q)
            for (size_t i = 0; i < n; ++i) CHECK(all[static_cast<size_t>(q) * n + i] == value<T>(q, 0, i));
    }
    for (int round = 0; round < 4; ++round) {
        std::vector<size_t> counts(static_cast<size_t>(p));
        for (int q = 0; q < p; ++q) counts[static_cast<size_t>(q)] = count(q, 1, round);
        std::vector<T> mine(counts[static_cast<size_t>(r)]);
        for (size_t i = 0; i < mine.size(); ++i) mine[i] = value<T>(r, 1, i, round);
        std::vector<T> all(comm::detail::sum(counts));
        c.reset_stats();
        c.all_gather_v(std::span<const T>(mine), std::span<T>(all), counts);
        size_t at = 0;
        for (int q = 0; q < p; ++q)
            for (size_t i = 0; i < counts[static_cast<size_t>(q)]; ++i) CHECK(all[at++] == value<T>(q, 1, i, round));
        const auto st = c.stats()["all_gather_v"];
        CHECK(st.bytes_sent == static_cast<std::uint64_t>(p - 1) * mine.size() * sizeof(T));
        CHECK(st.bytes_received == (all.size() - mine.size()) * sizeof(T));
    }
}

template <class T, class C>
void check_broadcast(C& c) {
    const int r = c.rank(), p = c.size();
    INFO("rank " << r << " type size " << sizeof(T));
    for (int root = 0; root < p; ++root) {
        std::vector<T> buf(33);
        for (size_t i = 0; i < buf.size(); ++i) buf[i] = value<T>(r, root, i);
        c.broadcast(std::span<T>(buf), root);
        for (size_t i = 0; i < buf.size(); ++i) CHECK(buf[i] == value<T>(root, root, i));
    }
    std::vector<T> empty;
    c.broadcast(std::span<T>(empty), 0);
}

template <class T, class C>
void check_reduce_scatter(C& c) {
    const int r = c.rank(), p = c.size();
    INFO("rank " << r << " type size " << sizeof(T));
    // Equal blocks of n; element i of the full vector from rank q is value(q, 0, i).
    for (size_t n : {size_t{0}, size_t{6}}) {
        std::vector<T> send(n * static_cast<size_t>(p)), recv(n, T{42});
        for (size_t i = 0; i < send.size(); ++i) send[i] = value<T>(r, 0, i);
        c.reduce_scatter(std::span<const T>(send), std::span<T>(recv));
        for (size_t k = 0; k < n; ++k) {
            T s{};
            for (int q = 0; q < p; ++q) s = static_cast<T>(s + value<T>(q, 0, static_cast<size_t>(r) * n + k));
            CHECK(recv[k] == s);
        }
    }
    for (int round = 0; round < 4; ++round) {
        std::vector<size_t> counts(static_cast<size_t>(p));
        for (int q = 0; q < p; ++q) counts[static_cast<size_t>(q)] = count(q, 2, round);
        const auto displ = comm::detail::displacements(counts);
        std::vector<T> send(comm::detail::sum(counts)), recv(counts[static_cast<size_t>(r)], T{42});
        for (size_t i = 0; i < send.size(); ++i) send[i] = value<T>(r, 3, i, round);
        c.reduce_scatter_v(std::span<const T>(send), std::span<T>(recv), counts);
        for (size_t k = 0; k < recv.size(); ++k) {
            T s{};
            for (int q = 0; q < p; ++q) s = static_cast<T>(s + value<T>(q, 3, displ[static_cast<size_t>(r)] + k, round));
            CHECK(recv[k] == s);
        }
    }
}

template <class T, class C>
void check_send_recv(C& c) {
    const int r = c.rank(), p = c.size();
    if (p < 2 || p % 2 != 0) return;  // the ordering below pairs even and odd ranks
    INFO("rank " << r << " type size " << sizeof(T));
    const int next = (r + 1) % p, prev = (r + p - 1) % p;
    std::vector<T> out(17), in(17);
    for (size_t i = 0; i < out.size(); ++i) out[i] = value<T>(r, next, i);
    c.reset_stats();
    if (r % 2 == 0) {
        c.send(std::span<const T>(out), next, 7);
        c.recv(std::span<T>(in), prev, 7);
    } else {
        c.recv(std::span<T>(in), prev, 7);
        c.send(std::span<const T>(out), next, 7);
    }
    for (size_t i = 0; i < in.size(); ++i) CHECK(in[i] == value<T>(prev, r, i));
    CHECK(c.stats()["send"].bytes_sent == out.size() * sizeof(T));
    CHECK(c.stats()["recv"].bytes_received == in.size() * sizeof(T));
}

template <class F>
void for_each_type(F&& f) {
    f(float{});
    f(double{});
    f(std::int32_t{});
    f(std::int64_t{});
    f(std::uint64_t{});
    f(std::uint8_t{});
}

}  // namespace

TEST_CASE("rank and size agree with an all_gather of ranks") {
    on_world([](auto& c) {
        std::vector<std::int32_t> me{c.rank()}, all(static_cast<size_t>(c.size()));
        c.all_gather(std::span<const std::int32_t>(me), std::span<std::int32_t>(all));
        for (int q = 0; q < c.size(); ++q) CHECK(all[static_cast<size_t>(q)] == q);
    });
}

TEST_CASE("all_reduce sum and max") {
    on_world([](auto& c) { for_each_type([&](auto t) { check_all_reduce<decltype(t)>(c); }); });
}

TEST_CASE("all_to_all_v, blocking, uneven and empty counts, with byte accounting") {
    on_world([](auto& c) { for_each_type([&](auto t) { check_all_to_all_v<decltype(t)>(c, false); }); });
}

TEST_CASE("all_to_all_v, non-blocking start/wait") {
    on_world([](auto& c) { for_each_type([&](auto t) { check_all_to_all_v<decltype(t)>(c, true); }); });
}

TEST_CASE("all_to_all_v, non-blocking, completed by polling progress()") {
    on_world([](auto& c) { for_each_type([&](auto t) { check_progress<decltype(t)>(c); }); });
}

// An exchange records its traffic when it completes, possibly after its communicator was
// moved: the counters must follow the communicator, not stay at its old address.
template <class T, class C>
void check_pending_survives_move(C& c) {
    const int r = c.rank(), p = c.size();
    INFO("rank " << r << " type size " << sizeof(T));
    std::vector<size_t> sc(static_cast<size_t>(p)), rc(static_cast<size_t>(p));
    for (int q = 0; q < p; ++q) {
        sc[static_cast<size_t>(q)] = count(r, q, 2) * 10;
        rc[static_cast<size_t>(q)] = count(q, r, 2) * 10;
    }
    std::vector<T> send;
    for (int q = 0; q < p; ++q)
        for (size_t i = 0; i < sc[static_cast<size_t>(q)]; ++i) send.push_back(value<T>(r, q, i, 2));
    std::vector<T> recv(comm::detail::sum(rc), T{99});
    c.reset_stats();
    auto h = c.start_all_to_all_v(std::span<const T>(send), sc, std::span<T>(recv), rc);
    C moved(std::move(c));
    h.wait();
    const auto expect = comm::volume::all_to_all_v(r, sc, rc, sizeof(T));
    CHECK(moved.stats()["all_to_all_v"].calls == 1);
    CHECK(moved.stats()["all_to_all_v"].bytes_received == expect.received);
    CHECK(moved.stats()["all_to_all_v"].bytes_sent == expect.sent);
    c = std::move(moved);  // the world gets its communicator back
    CHECK(c.stats()["all_to_all_v"].bytes_received == expect.received);
    const auto rd = comm::detail::displacements(rc);
    for (int q = 0; q < p; ++q)
        for (size_t i = 0; i < rc[static_cast<size_t>(q)]; ++i)
            CHECK(recv[rd[static_cast<size_t>(q)] + i] == value<T>(q, r, i, 2));
}

TEST_CASE("an exchange completing after its communicator moved records into the moved-to counters") {
    on_world([](auto& c) {
        using C = std::remove_reference_t<decltype(c)>;
        if constexpr (std::is_move_constructible_v<C> && std::is_move_assignable_v<C>)
            for_each_type([&](auto t) { check_pending_survives_move<decltype(t)>(c); });
    });
}

TEST_CASE("all_gather and all_gather_v") {
    on_world([](auto& c) { for_each_type([&](auto t) { check_gathers<decltype(t)>(c); }); });
}

TEST_CASE("broadcast from every root") {
    on_world([](auto& c) { for_each_type([&](auto t) { check_broadcast<decltype(t)>(c); }); });
}

TEST_CASE("reduce_scatter, equal and v-counts") {
    on_world([](auto& c) { for_each_type([&](auto t) { check_reduce_scatter<decltype(t)>(c); }); });
}

TEST_CASE("send/recv around a ring") {
    on_world([](auto& c) { for_each_type([&](auto t) { check_send_recv<decltype(t)>(c); }); });
}

TEST_CASE("split: ranks of one colour sum among themselves, ranked by key") {
    on_world([](auto& c) {
        if constexpr (requires { c.split(0, 0); }) {
            const int r = c.rank(), p = c.size();
            // Colour = parity, key = descending rank: the sub-rank order is reversed.
            auto sub = c.split(r % 2, p - r);
            const int members = (p - r % 2 + 1) / 2;
            CHECK(sub.size() == members);
            int above = 0;  // same-colour ranks with a larger world rank come first
            for (int q = r + 2; q < p; q += 2) ++above;
            CHECK(sub.rank() == above);
            std::vector<std::int64_t> v{r};
            sub.all_reduce(std::span<std::int64_t>(v), comm::reduce_op::sum);
            std::int64_t want = 0;
            for (int q = r % 2; q < p; q += 2) want += q;
            CHECK(v[0] == want);
        } else {
            MESSAGE(c.name(), " has no split (the pipeline strategy falls back to world all-reduces)");
        }
    });
}

TEST_CASE("barrier holds every rank until the last arrives") {
    on_world([](auto& c) {
        c.barrier();
        if (c.rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
        const auto t0 = std::chrono::steady_clock::now();
        c.barrier();
        const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (c.rank() != 0 && c.size() > 1) CHECK(waited > 0.2);
        CHECK(c.stats()["barrier"].calls >= 2);
    });
}

TEST_CASE("mismatched counts are rejected before any data moves") {
    on_world([](auto& c) {
        std::vector<float> send(3), recv(3);
        std::vector<size_t> wrong(static_cast<size_t>(c.size()), 0);  // adds up to 0, not 3
        CHECK_THROWS_AS(c.all_to_all_v(std::span<const float>(send), wrong, std::span<float>(recv), wrong),
                        mixgcn::invalid_argument);
        std::vector<size_t> short_counts;  // no entry per rank
        CHECK_THROWS_AS(c.all_gather_v(std::span<const float>(send), std::span<float>(recv), short_counts),
                        mixgcn::invalid_argument);
        CHECK_THROWS_AS(c.broadcast(std::span<float>(send), c.size()), mixgcn::invalid_argument);
    });
}

TEST_CASE("stats total and reset") {
    on_world([](auto& c) {
        c.reset_stats();
        std::vector<double> x(100, 1.0);
        c.all_reduce(std::span<double>(x));
        const auto t = c.stats().total();
        CHECK(t.calls == 1);
        const auto expect = comm::volume::all_reduce(c.rank(), c.size(), x.size(), sizeof(double));
        CHECK(t.bytes_sent == expect.sent);
        // The rule's total over ranks is 2 (P-1) n elements each way.
        CHECK(global_sum(c, t.bytes_sent) == 2ull * static_cast<unsigned>(c.size() - 1) * 100 * sizeof(double));
        c.reset_stats();
        CHECK(c.stats().ops.empty());
    });
}

namespace {
template <class D, class H>
void check_hybrid_routing(comm::hybrid<D, H>& c) {
    c.reset_stats();
    std::vector<float> x(8, 1.0f);
    c.all_reduce(comm::device_buffer, std::span<float>(x));
    for (float v : x) CHECK(v == static_cast<float>(c.size()));
    c.all_reduce(comm::host_buffer, std::span<float>(x));
    c.template on<comm::memory_space::device>().all_reduce(std::span<float>(x));
    for (float v : x) CHECK(v == static_cast<float>(c.size() * c.size() * c.size()));
    CHECK(c.device().stats()["all_reduce"].calls == 2);
    CHECK(c.host().stats()["all_reduce"].calls == 1);
    CHECK(c.stats()["all_reduce"].calls == 3);
}
template <class C>
void check_hybrid_routing(C&) {}
}  // namespace

TEST_CASE("hybrid routes tagged buffers to the right engine") {
    on_world([](auto& c) { check_hybrid_routing(c); });
}

namespace {
// Runs the suite on one communicator; every rank returns the same verdict.
template <class C>
int run(C& c, doctest::Context& ctx) {
    g_world = &c;
    int failed = ctx.run();
    if (ctx.shouldExit()) return failed;
    std::vector<std::int32_t> f{failed != 0 ? 1 : 0};
    c.all_reduce(std::span<std::int32_t>(f));
    if (f[0] != 0 && failed == 0)
        std::fprintf(stderr, "rank %d: passed, but %d other rank(s) failed\n", c.rank(), f[0]);
    return f[0] != 0 ? 1 : 0;
}
}  // namespace

int main(int argc, char** argv) {
    std::string kind = "local";
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        if (std::strncmp(argv[i], "--comm=", 7) == 0) kind = argv[i] + 7;
        else args.push_back(argv[i]);
    }
    int nargs = static_cast<int>(args.size());
    char** pargs = args.data();
    doctest::Context ctx;
    ctx.applyCommandLine(nargs, pargs);
    try {
        if (kind == "local") {
            comm::local c;
            return run(c, ctx);
        }
        if (kind == "hybrid-local") {
            comm::hybrid<comm::local, comm::local> c{comm::local{}, comm::local{}};
            return run(c, ctx);
        }
#ifdef MIXGCN_HAS_MPI
        if (kind == "mpi") {
            comm::mpi::environment env(nargs, pargs);
            comm::mpi c;
            return run(c, ctx);
        }
#endif
#ifdef MIXGCN_HAS_GLOO
        if (kind == "gloo") {
            comm::gloo c;
            return run(c, ctx);
        }
#endif
#if defined(MIXGCN_HAS_MPI) && defined(MIXGCN_HAS_GLOO)
        if (kind == "hybrid-mpi-gloo") {
            comm::mpi::environment env(nargs, pargs);
            comm::mpi m;
            comm::gloo g(m);  // rendezvous through MPI, no store directory
            comm::hybrid<comm::mpi, comm::gloo> c{std::move(m), std::move(g)};
            return run(c, ctx);
        }
#endif
    } catch (const std::exception& e) {
        std::fprintf(stderr, "test_comm_ops (%s): %s\n", kind.c_str(), e.what());
        return 2;
    }
    std::fprintf(stderr, "test_comm_ops: unknown or unavailable --comm=%s\n", kind.c_str());
    return 2;
}
