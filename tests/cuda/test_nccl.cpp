// comm::nccl on one GPU as a one-rank clique: every collective must reduce to the
// identity / self copy with zero bytes to other ranks, host buffers must be refused, and
// the wait limit is read and checked. (A dead peer: tests/cuda/nccl_graph.cu.)
// (Several ranks need several GPUs: run the comm tests with mpirun there.)
#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <vector>

#include "mixgcn/comm/nccl.hpp"

using namespace mixgcn;

namespace {

struct device_vec {
    float* p = nullptr;
    std::size_t n = 0;
    explicit device_vec(const std::vector<float>& h) : n(h.size()) {
        REQUIRE(cudaMalloc(&p, n * sizeof(float)) == cudaSuccess);
        REQUIRE(cudaMemcpy(p, h.data(), n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
    }
    device_vec(const device_vec&) = delete;
    device_vec& operator=(const device_vec&) = delete;
    ~device_vec() { cudaFree(p); }
    std::span<float> span() { return {p, n}; }
    std::vector<float> host() const {
        std::vector<float> h(n);
        REQUIRE(cudaMemcpy(h.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
        return h;
    }
};

}  // namespace

TEST_SUITE("cuda-device") {
TEST_CASE("comm::nccl as a one-rank clique") {
    const auto path = std::filesystem::path(MIXGCN_TEST_TMPDIR) / "nccl_id_one_rank";
    std::filesystem::create_directories(path.parent_path());
    std::filesystem::remove(path);
    auto c = comm::nccl::from_file(path, 0, 1);
    CHECK(c.rank() == 0);
    CHECK(c.size() == 1);

    std::vector<float> h(10);
    std::iota(h.begin(), h.end(), 1.f);
    device_vec a(h), b(std::vector<float>(10, 0.f));
    c.all_reduce(a.span());
    CHECK(a.host() == h);
    const std::vector<std::size_t> counts{10};
    c.all_to_all_v(std::span<const float>(a.span()), counts, b.span(), counts);
    CHECK(b.host() == h);
    device_vec g(std::vector<float>(10, 0.f));
    c.all_gather(std::span<const float>(a.span()), g.span());
    CHECK(g.host() == h);
    device_vec rs(std::vector<float>(10, 0.f));
    c.reduce_scatter(std::span<const float>(a.span()), rs.span());
    CHECK(rs.host() == h);
    c.barrier();
    CHECK(c.stats().total().bytes_sent == 0);
    CHECK(c.stats()["all_reduce"].calls == 1);

    std::vector<float> host_buf(4);
    CHECK_THROWS_AS(c.all_reduce(std::span<float>(host_buf)), invalid_argument);

    // The wait limit: 30 s unless MIXGCN_NCCL_TIMEOUT says otherwise; a bad value is named.
    CHECK(c.timeout() == doctest::Approx(30.0));
    CHECK_THROWS_AS(c.set_timeout(-1), invalid_argument);
    c.set_timeout(0.5);
    c.all_reduce(a.span());  // completes well within it
    CHECK_FALSE(c.aborted());
    ::setenv("MIXGCN_NCCL_TIMEOUT", "soon", 1);
    std::filesystem::remove(path);
    CHECK_THROWS_WITH_AS(comm::nccl::from_file(path, 0, 1), doctest::Contains("MIXGCN_NCCL_TIMEOUT='soon'"),
                         comm_error);
    ::unsetenv("MIXGCN_NCCL_TIMEOUT");
}
}
