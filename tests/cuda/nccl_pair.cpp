// comm::hybrid<nccl, gloo> or hybrid<nccl, mpi> across separate processes that may share
// one GPU: every collective is run twice on the same inputs, once by NCCL on device
// buffers and once by the host engine (Gloo or MPI) on host buffers, and the two results
// must be equal (bit for bit where the
// reduction order cannot differ: copies, max, and sums of two ranks), and equal to a
// brute-force value computed from every rank's inputs (each rank can regenerate them).
// Byte counters of the two engines must agree too, since both follow comm/traffic.hpp.
//
// Under mpirun (OMPI_COMM_WORLD_SIZE set) the host engine is MPI and the NCCL id goes
// through MPI_Bcast. Otherwise it is Gloo, started by tests/comm/launch_ranks.sh
// (MIXGCN_RANK, MIXGCN_WORLD_SIZE, MIXGCN_GLOO_STORE), and the NCCL id travels through a
// file in the store directory. Exit 77 (skip) when no GPU is visible.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "mixgcn/core/rng.hpp"
#include "nccl_launch.hpp"

namespace {

using namespace mixgcn;

int failures = 0;
int my_rank = -1;
const char* host_engine = "Gloo";  // the engine NCCL is compared with: Gloo or MPI

void expect(bool ok, const std::string& what) {
    if (ok) return;
    ++failures;
    std::cerr << "rank " << my_rank << ": FAILED " << what << "\n";
}

template <class T>
struct device_array {
    T* p = nullptr;
    std::size_t n = 0;
    explicit device_array(std::size_t count) : n(count) {
        if (cudaMalloc(&p, std::max<std::size_t>(n, 1) * sizeof(T)) != cudaSuccess)
            throw error("cudaMalloc of " + std::to_string(n) + " elements failed");
    }
    explicit device_array(const std::vector<T>& h) : device_array(h.size()) { put(h); }
    device_array(const device_array&) = delete;
    device_array& operator=(const device_array&) = delete;
    ~device_array() { cudaFree(p); }
    void put(const std::vector<T>& h) {
        if (cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice) != cudaSuccess) throw error("upload failed");
    }
    std::vector<T> get() const {
        std::vector<T> h(n);
        if (cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost) != cudaSuccess) throw error("download failed");
        return h;
    }
    std::span<T> span() { return {p, n}; }
    std::span<const T> cspan() const { return {p, n}; }
};

// The inputs of rank r: deterministic, so any rank can rebuild any other's.
template <class T>
std::vector<T> inputs(int r, std::size_t n, std::uint64_t salt) {
    rng g(splitmix64(salt * 1000003u + std::uint64_t(r)));
    std::vector<T> v(n);
    for (auto& x : v) x = T(g.uniform(-1.0, 1.0));
    return v;
}

// Elements rank i sends to rank j in the all-to-all-v (zero for some pairs on purpose).
std::size_t count_between(int i, int j) { return std::size_t((i * 3 + j * 5) % 7); }

template <class T>
double max_rel(const std::vector<T>& a, const std::vector<T>& b) {
    double m = a.size() == b.size() ? 0.0 : INFINITY;
    for (std::size_t k = 0; k < a.size() && k < b.size(); ++k)
        m = std::max(m, std::abs(double(a[k]) - double(b[k])) / std::max(1.0, std::abs(double(b[k]))));
    return m;
}

template <class T, class Hybrid>
void check_all_reduce(Hybrid& c, comm::reduce_op op, const char* name) {
    const int p = c.size();
    const std::size_t n = 100'003;  // odd: no vector-width luck
    const auto mine = inputs<T>(c.rank(), n, 1 + std::uint64_t(op));
    std::vector<T> expected = inputs<T>(0, n, 1 + std::uint64_t(op));
    for (int r = 1; r < p; ++r) {
        const auto other = inputs<T>(r, n, 1 + std::uint64_t(op));
        for (std::size_t k = 0; k < n; ++k)
            expected[k] = op == comm::reduce_op::sum ? expected[k] + other[k] : std::max(expected[k], other[k]);
    }
    device_array<T> d(mine);
    c.all_reduce(comm::device_buffer, d.span(), op);
    std::vector<T> h = mine;
    c.all_reduce(comm::host_buffer, std::span<T>(h), op);
    const auto got = d.get();
    const bool exact = op == comm::reduce_op::max || p == 2;
    const double tol = exact ? 0.0 : (sizeof(T) == 4 ? 1e-6 : 1e-14) * p;
    const double nccl_vs_host = max_rel(got, h), nccl_vs_brute = max_rel(got, expected);
    std::ostringstream what;
    what << "all_reduce<" << name << "> NCCL vs " << host_engine << " " << nccl_vs_host << ", NCCL vs brute force " << nccl_vs_brute
         << " (tolerance " << tol << ")";
    expect(nccl_vs_host <= tol && nccl_vs_brute <= tol, what.str());
    if (c.rank() == 0) std::cout << what.str() << "\n";
}

template <class Hybrid>
void check_all_to_all_v(Hybrid& c) {
    const int p = c.size(), me = c.rank();
    std::vector<std::size_t> send_counts(p), recv_counts(p);
    std::size_t send_total = 0, recv_total = 0;
    for (int j = 0; j < p; ++j) {
        send_counts[j] = count_between(me, j) * 1000;
        recv_counts[j] = count_between(j, me) * 1000;
        send_total += send_counts[j];
        recv_total += recv_counts[j];
    }
    const auto send = inputs<float>(me, send_total, 77);
    // Brute force: the block rank j sends to me sits after j's blocks for ranks < me.
    std::vector<float> expected;
    for (int j = 0; j < p; ++j) {
        const auto theirs = inputs<float>(j, [&] {
            std::size_t t = 0;
            for (int q = 0; q < p; ++q) t += count_between(j, q) * 1000;
            return t;
        }(), 77);
        std::size_t off = 0;
        for (int q = 0; q < me; ++q) off += count_between(j, q) * 1000;
        expected.insert(expected.end(), theirs.begin() + std::ptrdiff_t(off),
                        theirs.begin() + std::ptrdiff_t(off + recv_counts[j]));
    }
    device_array<float> ds(send), dr(recv_total);
    c.all_to_all_v(comm::device_buffer, ds.cspan(), send_counts, dr.span(), recv_counts);
    std::vector<float> hr(recv_total);
    c.all_to_all_v(comm::host_buffer, std::span<const float>(send), send_counts, std::span<float>(hr), recv_counts);
    const auto got = dr.get();
    // Name the first wrong element of each source block, to tell a misplaced block from
    // a torn one.
    for (int j = 0, off = 0; j < p; off += int(recv_counts[j]), ++j)
        for (std::size_t k = 0; k < recv_counts[j]; ++k)
            if (got[std::size_t(off) + k] != expected[std::size_t(off) + k]) {
                std::cerr << "rank " << me << ": all_to_all_v block from rank " << j << " (" << recv_counts[j]
                          << " elements at " << off << "): first difference at element " << k << ": NCCL "
                          << got[std::size_t(off) + k] << ", " << host_engine << " " << hr[std::size_t(off) + k] << ", expected "
                          << expected[std::size_t(off) + k] << "\n";
                break;
            }
    expect(got == hr, std::string("all_to_all_v: NCCL and ") + host_engine + " results differ");
    expect(got == expected, "all_to_all_v: NCCL result differs from the brute-force exchange");
    // The same exchange started asynchronously and awaited, with its input written by a
    // kernel-free copy on a non-blocking stream that the communicator is told to wait for
    // (as backend::cuda's stream would be).
    cudaStream_t producer = nullptr;
    if (cudaStreamCreateWithFlags(&producer, cudaStreamNonBlocking) != cudaSuccess) throw error("cudaStreamCreate failed");
    device_array<float> ds2(send.size()), dr2(recv_total);
    if (cudaMemcpyAsync(ds2.p, send.data(), send.size() * sizeof(float), cudaMemcpyHostToDevice, producer) != cudaSuccess)
        throw error("cudaMemcpyAsync failed");
    c.device().wait_for(producer);
    auto pending = c.device().start_all_to_all_v(ds2.cspan(), send_counts, dr2.span(), recv_counts);
    pending.wait();
    c.device().wait_for(nullptr);
    cudaStreamDestroy(producer);
    expect(dr2.get() == expected, "start_all_to_all_v: NCCL result differs from the brute-force exchange");
    if (me == 0) std::cout << "all_to_all_v: " << recv_total << " floats received on rank 0, NCCL == " << host_engine
                            << " == brute force\n";
}

template <class Hybrid>
void check_gather_scatter(Hybrid& c) {
    const int p = c.size(), me = c.rank();
    const std::size_t block = 4099;
    const auto mine = inputs<double>(me, block, 5);
    device_array<double> ds(mine), dg(block * std::size_t(p));
    c.all_gather(comm::device_buffer, ds.cspan(), dg.span());
    std::vector<double> hg(block * std::size_t(p));
    c.all_gather(comm::host_buffer, std::span<const double>(mine), std::span<double>(hg));
    std::vector<double> expected;
    for (int r = 0; r < p; ++r) {
        const auto v = inputs<double>(r, block, 5);
        expected.insert(expected.end(), v.begin(), v.end());
    }
    const auto got = dg.get();
    expect(got == hg && got == expected, std::string("all_gather: NCCL, ") + host_engine + " and brute force disagree");

    const auto full = inputs<double>(me, block * std::size_t(p), 6);
    device_array<double> df(full), drs(block);
    c.reduce_scatter(comm::device_buffer, df.cspan(), drs.span());
    std::vector<double> hrs(block);
    c.reduce_scatter(comm::host_buffer, std::span<const double>(full), std::span<double>(hrs));
    std::vector<double> want(block, 0.0);
    for (int r = 0; r < p; ++r) {
        const auto v = inputs<double>(r, block * std::size_t(p), 6);
        for (std::size_t k = 0; k < block; ++k) want[k] += v[std::size_t(me) * block + k];
    }
    const double tol = p == 2 ? 0.0 : 1e-14 * p;
    const auto rs = drs.get();
    std::ostringstream what;
    what << "reduce_scatter: NCCL vs " << host_engine << " " << max_rel(rs, hrs) << ", vs brute force " << max_rel(rs, want);
    expect(max_rel(rs, hrs) <= tol && max_rel(rs, want) <= tol, what.str());
    if (me == 0) std::cout << what.str() << "\n";
}

template <class Hybrid>
void check_accounting(Hybrid& c) {
    // Both engines ran the same operations on the same sizes: same counted bytes.
    const auto& d = c.device().stats();
    const auto& h = c.host().stats();
    for (const char* op : {"all_reduce", "all_to_all_v", "all_gather", "reduce_scatter"}) {
        const auto dv = d[op], hv = h[op];
        std::ostringstream what;
        what << op << " bytes sent NCCL " << dv.bytes_sent << " vs " << host_engine << " " << hv.bytes_sent << ", received "
             << dv.bytes_received << " vs " << hv.bytes_received;
        // The device ran one extra (asynchronous) all_to_all_v.
        const std::uint64_t times = std::string(op) == "all_to_all_v" ? 2 : 1;
        expect(dv.bytes_sent == times * hv.bytes_sent && dv.bytes_received == times * hv.bytes_received, what.str());
        if (c.rank() == 0) std::cout << what.str() << "\n";
    }
}

template <class Hybrid>
void run_checks(Hybrid& c, const char* engine, int devices) {
    host_engine = engine;
    if (c.rank() == 0)
        std::cout << "nccl_pair: " << c.size() << " processes on " << devices << " visible GPU(s), NCCL against "
                  << host_engine << "\n";
    check_all_reduce<float>(c, comm::reduce_op::sum, "float, sum");
    check_all_reduce<double>(c, comm::reduce_op::sum, "double, sum");
    check_all_reduce<float>(c, comm::reduce_op::max, "float, max");
    check_all_to_all_v(c);
    check_gather_scatter(c);
    check_accounting(c);
    c.barrier();
}

}  // namespace

int main(int argc, char** argv) {
    const int rc = nccl_launch::run("nccl_pair", argc, argv, my_rank, [](auto& c, const char* engine, int devices) {
        run_checks(c, engine, devices);
        return 0;
    });
    if (rc != 0) return rc;
    if (failures) return 1;
    if (my_rank == 0) std::cout << "nccl_pair: all checks passed\n";
    return 0;
}
