// Aggregation Y = Â·X on the GPU: mixgcn's merge-path kernels (fused D^-1/2 scaling and
// stored edge weights) against cuSPARSE SpMM (CSR, row-major dense, same weights, same
// output), for widths 16..512 on an SBM with power-law degrees and a Graph500 R-MAT.
// Reports time, achieved bandwidth over a compulsory-traffic byte count (each operator
// array, X and Y touched once) against the device's peak, and the largest difference to
// cuSPARSE. Prints a table and a JSON document.
//
//   mixgcn-bench-cuda_aggregate [--scale 20] [--sbm-nodes 1000000] [--sbm-degree 20]
//                               [--reps 10] [--widths 16,32,...] [--json out.json]
//
// Without a visible GPU it says so and exits 0.
#include <cusparse.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "mixgcn/backend/cuda.cuh"
#include "mixgcn/backend/cuda/graph_build.cuh"
#include "mixgcn/graph/generators/rmat.hpp"
#include "mixgcn/graph/generators/sbm.hpp"

namespace {

namespace gpu = mixgcn::gpu;
using mixgcn::index_t;
using mixgcn::offset_t;

void check_sparse(cusparseStatus_t s, const char* call, int line) {
    if (s != CUSPARSE_STATUS_SUCCESS)
        throw mixgcn::cuda_error(call, __FILE__, line, static_cast<int>(s), cusparseGetErrorString(s));
}
#define BENCH_CUSPARSE(call) check_sparse((call), #call, __LINE__)

// Deterministic pseudo-random X filled on the device (no host copy of a 2 GB matrix).
__global__ void fill_kernel(float* x, std::size_t n, std::uint64_t seed) {
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
        x[i] = float(gpu::detail::splitmix64(seed ^ i) >> 40) * 0x1.0p-24f - 0.5f;
}
__global__ void narrow_offsets(const offset_t* in, int* out, std::size_t n) {
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
        out[i] = static_cast<int>(in[i]);
}

struct options {
    int scale = 20;
    std::int64_t sbm_nodes = 1'000'000;
    double sbm_degree = 20;
    int reps = 10;
    std::vector<int> widths{16, 32, 64, 128, 256, 512};
    std::string json;
};

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            mixgcn::require(i + 1 < argc, "cuda_aggregate: ", a, " needs a value");
            return argv[++i];
        };
        if (a == "--scale") o.scale = std::stoi(value());
        else if (a == "--sbm-nodes") o.sbm_nodes = std::stoll(value());
        else if (a == "--sbm-degree") o.sbm_degree = std::stod(value());
        else if (a == "--reps") o.reps = std::stoi(value());
        else if (a == "--json") o.json = value();
        else if (a == "--widths") {
            o.widths.clear();
            std::stringstream ss(value());
            for (std::string w; std::getline(ss, w, ',');) o.widths.push_back(std::stoi(w));
        } else
            throw mixgcn::invalid_argument("cuda_aggregate: unknown option '" + a + "'");
    }
    mixgcn::require(o.reps >= 1, "cuda_aggregate: --reps ", o.reps, " must be >= 1");
    return o;
}

// Peak DRAM bandwidth from the driver (DDR: two transfers per clock); by name if the
// attributes are unavailable.
double peak_bandwidth(int dev, std::string& how) {
    int clock_khz = 0, bus_bits = 0;
    if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, dev) == cudaSuccess &&
        cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev) == cudaSuccess && clock_khz > 0 &&
        bus_bits > 0) {
        how = "driver: memory clock x bus width x 2";
        return 2.0 * clock_khz * 1e3 * bus_bits / 8.0;
    }
    (void)cudaGetLastError();
    cudaDeviceProp p{};
    MIXGCN_CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
    const std::string name = p.name;
    how = "by name";
    if (name.find("H200") != std::string::npos) return 4.8e12;
    if (name.find("H100") != std::string::npos) return 3.35e12;
    how = "unknown";
    return 0;
}

template <class F>
double median_ms(int reps, F&& run) {
    auto& ctx = gpu::current_context();
    gpu::event start, stop;
    run();
    run();  // warm-up: pool, caches, cuSPARSE buffers
    std::vector<float> ms;
    for (int r = 0; r < reps; ++r) {
        start.record(ctx.stream());
        run();
        stop.record(ctx.stream());
        stop.synchronize();
        ms.push_back(stop.elapsed_since(start));
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

struct row {
    std::string graph;
    index_t nodes;
    std::size_t nnz;
    int width;
    double ms_fused, ms_weighted, ms_whole, ms_cusparse;  // ms_whole: weights, whole rows (0: n/a)
    double gbs_fused, gbs_weighted, gbs_cusparse;
    double gather_gbs_weighted;  // counting every gathered X row
    double max_rel_diff;
};

void bench_graph(const std::string& name, const mixgcn::graph::edge_list<index_t>& edges, const options& o,
                 double peak, std::vector<row>& out) {
    auto& ctx = gpu::current_context();
    const auto t0 = std::chrono::steady_clock::now();
    const auto adj = gpu::build_adjacency<float>(edges);
    const auto fused = gpu::gcn_normalize<float>(adj, mixgcn::graph::normalization_mode::fused);
    const auto weighted = gpu::gcn_normalize<float>(adj, mixgcn::graph::normalization_mode::edge_weights);
    ctx.synchronize();
    const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const index_t n = fused.a.rows;
    const std::size_t nnz = fused.a.nnz;
    std::printf("%s: %d nodes, %zu input edges, %zu non-zeros of A+I; device build + both normalisations %.2f s\n",
                name.c_str(), n, edges.edges.size(), nnz, build_s);
    mixgcn::require(nnz < (std::size_t(1) << 31), "cuda_aggregate: ", nnz, " non-zeros exceed cuSPARSE's int32 offsets here");

    gpu::device_buffer<int> rp32(static_cast<std::size_t>(n) + 1, ctx.stream());
    narrow_offsets<<<1024, 256, 0, ctx.stream()>>>(weighted.a.row_ptr.data(), rp32.data(), rp32.size());
    MIXGCN_CUDA_CHECK_LAUNCH();
    cusparseHandle_t sp{};
    BENCH_CUSPARSE(cusparseCreate(&sp));
    BENCH_CUSPARSE(cusparseSetStream(sp, ctx.stream()));
    cusparseSpMatDescr_t a_desc{};
    BENCH_CUSPARSE(cusparseCreateCsr(&a_desc, n, n, static_cast<std::int64_t>(nnz), rp32.data(),
                                     const_cast<index_t*>(weighted.a.col_idx.data()),
                                     const_cast<float*>(weighted.a.val.data()), CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                     CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));

    for (int w : o.widths) {
        const auto un = static_cast<std::size_t>(n), uw = static_cast<std::size_t>(w);
        gpu::device_matrix<float> x(un, uw), y(un, uw), ys(un, uw);
        fill_kernel<<<4096, 256, 0, ctx.stream()>>>(x.data(), x.size(), 1234 + w);
        MIXGCN_CUDA_CHECK_LAUNCH();
        cusparseDnMatDescr_t x_desc{}, y_desc{};
        BENCH_CUSPARSE(cusparseCreateDnMat(&x_desc, n, w, w, x.data(), CUDA_R_32F, CUSPARSE_ORDER_ROW));
        BENCH_CUSPARSE(cusparseCreateDnMat(&y_desc, n, w, w, ys.data(), CUDA_R_32F, CUSPARSE_ORDER_ROW));
        const float one = 1, zero = 0;
        cusparseSpMMAlg_t alg = CUSPARSE_SPMM_CSR_ALG2;
        std::size_t buf_bytes = 0;
        if (cusparseSpMM_bufferSize(sp, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, a_desc,
                                    x_desc, &zero, y_desc, CUDA_R_32F, alg, &buf_bytes) != CUSPARSE_STATUS_SUCCESS) {
            alg = CUSPARSE_SPMM_ALG_DEFAULT;
            BENCH_CUSPARSE(cusparseSpMM_bufferSize(sp, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                   &one, a_desc, x_desc, &zero, y_desc, CUDA_R_32F, alg, &buf_bytes));
        }
        gpu::device_buffer<std::byte> buf(std::max<std::size_t>(buf_bytes, 1), ctx.stream());

        const double ms_f = median_ms(o.reps, [&] { gpu::aggregate(fused.forward(), x.cview(), y.view()); });
        // Above the column block (default 128) the library runs one pass per block; the
        // whole-row kernels (256, 512) are timed too, side by side.
        const int block = ctx.aggregate_column_block();
        double ms_whole = 0;
        if (block > 0 && w > block) {
            ctx.set_aggregate_column_block(0);
            ms_whole = median_ms(o.reps, [&] { gpu::aggregate(weighted.forward(), x.cview(), y.view()); });
            ctx.set_aggregate_column_block(block);
        }
        const double ms_w = median_ms(o.reps, [&] { gpu::aggregate(weighted.forward(), x.cview(), y.view()); });
        const double ms_s = median_ms(o.reps, [&] {
            BENCH_CUSPARSE(cusparseSpMM(sp, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &one,
                                        a_desc, x_desc, &zero, y_desc, CUDA_R_32F, alg, buf.data()));
        });
        // Same output: compare ours (weighted, last run) with cuSPARSE.
        const auto hy = gpu::to_host(y), hs = gpu::to_host(ys);
        double max_diff = 0, max_abs = 0;
        for (std::size_t i = 0; i < hy.size(); ++i) {
            max_diff = std::max(max_diff, double(std::abs(hy.data()[i] - hs.data()[i])));
            max_abs = std::max(max_abs, double(std::abs(hs.data()[i])));
        }
        // Compulsory traffic: operator arrays once, X read once, Y written once.
        const double dense = 2.0 * double(un) * uw * sizeof(float);
        const double b_fused = double(un + 1) * sizeof(offset_t) + double(nnz) * sizeof(index_t) + 2.0 * double(un) * 4 + dense;
        const double b_weighted = double(un + 1) * sizeof(offset_t) + double(nnz) * (sizeof(index_t) + 4) + dense;
        const double b_sparse = double(un + 1) * 4 + double(nnz) * 8 + dense;
        // Gathered traffic: one X row per non-zero (what the kernel moves when no row is
        // reused from L2), Y once, the operator once.
        const double b_gather = double(un + 1) * sizeof(offset_t) + double(nnz) * (sizeof(index_t) + 4) +
                                double(nnz) * uw * sizeof(float) + double(un) * uw * sizeof(float);
        out.push_back({name, n, nnz, w, ms_f, ms_w, ms_whole, ms_s, b_fused / ms_f / 1e6, b_weighted / ms_w / 1e6,
                       b_sparse / ms_s / 1e6, b_gather / ms_w / 1e6, max_abs > 0 ? max_diff / max_abs : max_diff});
        const auto& r = out.back();
        std::printf("%-6s %5d | %9.3f %9.3f %9.3f %9.3f | %8.1f %8.1f %8.1f | %5.1f%% %5.1f%% %6.1f%% | %6.2fx %6.2fx | %.1e\n",
                    name.c_str(), w, ms_f, ms_w, ms_whole, ms_s, r.gbs_fused, r.gbs_weighted, r.gbs_cusparse,
                    peak > 0 ? 100 * r.gbs_weighted * 1e9 / peak : 0.0, peak > 0 ? 100 * r.gbs_cusparse * 1e9 / peak : 0.0,
                    peak > 0 ? 100 * r.gather_gbs_weighted * 1e9 / peak : 0.0, ms_s / ms_w, ms_s / ms_f, r.max_rel_diff);
        BENCH_CUSPARSE(cusparseDestroyDnMat(x_desc));
        BENCH_CUSPARSE(cusparseDestroyDnMat(y_desc));
    }
    BENCH_CUSPARSE(cusparseDestroySpMat(a_desc));
    BENCH_CUSPARSE(cusparseDestroy(sp));
}

}  // namespace

int main(int argc, char** argv) try {
    const options o = parse(argc, argv);
    if (gpu::device_count() == 0) {
        std::cout << "mixgcn-bench-cuda_aggregate: no CUDA device visible; nothing measured.\n";
        return 0;
    }
    auto& ctx = gpu::current_context();
    cudaDeviceProp prop{};
    MIXGCN_CUDA_CHECK(cudaGetDeviceProperties(&prop, ctx.device()));
    std::string how;
    const double peak = peak_bandwidth(ctx.device(), how);
    std::printf("device %s, %d SMs, peak DRAM bandwidth %.0f GB/s (%s)\n", prop.name, ctx.sm_count(), peak / 1e9,
                how.c_str());

    std::vector<row> rows;
    std::printf("columns: ours with fused D^-1/2 scales, ours with stored weights (the data cuSPARSE reads), the\n"
                "same in whole rows instead of 128-column passes (widths > 128), cuSPARSE SpMM; GB/s over compulsory bytes (operator, X and Y once); %%peak: ours (weights) and\n"
                "cusp%%: cuSPARSE on that count; gath%%: ours (weights) counting one gathered X row per non-zero;\n"
                "vs wgt / vs fus: cuSPARSE time over ours\n");
    std::printf("%-6s %5s | %9s %9s %9s %9s | %8s %8s %8s | %6s %6s %7s | %7s %7s | %s\n", "graph", "width",
                "fused ms", "weight ms", "whole ms", "cusp ms", "fused GB/s", "wgt GB/s", "cusp GB/s", "%peak", "cusp%",
                "gath%", "vs wgt", "vs fus", "max rel diff");
    {
        mixgcn::graph::sbm_options s;
        s.nodes = o.sbm_nodes;
        s.avg_degree = o.sbm_degree;
        s.features = 1;  // the bench makes its own X
        const auto d = mixgcn::graph::generate_sbm<float>(s);
        bench_graph("sbm", d.edges, o, peak, rows);
    }
    {
        mixgcn::graph::rmat_options r;
        r.scale = o.scale;
        bench_graph("rmat", mixgcn::graph::generate_rmat(r), o, peak, rows);
    }

    std::ostringstream js;
    js << "{\"device\": \"" << prop.name << "\", \"peak_bytes_per_s\": " << peak << ", \"results\": [";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        js << (i ? ", " : "") << "{\"graph\": \"" << r.graph << "\", \"nodes\": " << r.nodes << ", \"nnz\": " << r.nnz
           << ", \"width\": " << r.width << ", \"ms_fused\": " << r.ms_fused << ", \"ms_weighted\": " << r.ms_weighted
           << ", \"ms_weighted_whole_rows\": " << r.ms_whole << ", \"ms_cusparse\": " << r.ms_cusparse
           << ", \"gbs_fused\": " << r.gbs_fused << ", \"gather_gbs_weighted\": " << r.gather_gbs_weighted
           << ", \"gbs_weighted\": " << r.gbs_weighted << ", \"gbs_cusparse\": " << r.gbs_cusparse
           << ", \"max_rel_diff\": " << r.max_rel_diff << "}";
    }
    js << "]}";
    std::cout << js.str() << "\n";
    if (!o.json.empty()) std::ofstream(o.json) << js.str() << "\n";
    return 0;
} catch (const std::exception& e) {
    std::cerr << "mixgcn-bench-cuda_aggregate: " << e.what() << "\n";
    return 1;
}
