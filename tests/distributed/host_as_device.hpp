#pragma once
// A device backend that runs on the host: the host kernels under a device backend's flag
// (host_accessible = false), with its own arrays, upload/download, row moves, optimizer
// steps and sum of squares, as backend::cuda declares them. A strategy composed with it
// takes every path a GPU run takes (layout and buffers as backend arrays, row moves
// through B::, exchanges on the communicator's device engine, gradients summed there),
// and the counters say how often data crossed between "host" and "device".
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <vector>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/backend/optimizer_update.hpp"
#include "mixgcn/backend/row_moves.hpp"

namespace test_device {

struct host_as_device : mixgcn::backend::host {
    static constexpr bool host_accessible = false;
    static constexpr const char* name() { return "host_as_device"; }
    template <class T>
    using array = std::vector<T>;

    static inline std::atomic<std::size_t> uploads{0}, downloads{0}, uploaded_bytes{0};
    template <class T>
    static void upload(const T* host, std::size_t n, T* device) {
        ++uploads;
        uploaded_bytes += n * sizeof(T);
        std::copy(host, host + n, device);
    }
    template <class T>
    static void download(const T* device, std::size_t n, T* host) {
        ++downloads;
        std::copy(device, device + n, host);
    }

    template <class V>
    static void copy_rows(mixgcn::const_matrix_view<V> src, mixgcn::matrix_view<V> dst) {
        mixgcn::backend::copy_rows<mixgcn::backend::host>(src, dst);
    }
    template <class V>
    static void gather_rows(mixgcn::const_matrix_view<V> x, const mixgcn::index_t* rows, mixgcn::matrix_view<V> out) {
        mixgcn::backend::gather_rows<mixgcn::backend::host>(x, rows, out);
    }
    template <class V>
    static void add_row_lists(mixgcn::const_matrix_view<V> src, const mixgcn::offset_t* ptr, const mixgcn::index_t* pos,
                              mixgcn::matrix_view<V> dst) {
        mixgcn::backend::add_row_lists<mixgcn::backend::host>(src, ptr, pos, dst);
    }
    template <class V>
    static void fill_zero(mixgcn::matrix_view<V> dst) {
        mixgcn::backend::fill_zero<mixgcn::backend::host>(dst);
    }
    template <class V>
    static double sum_of_squares(std::size_t n, const V* x) {
        double s = 0;
        for (std::size_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
        return s;
    }
    template <class V>
    static void adam_step(std::size_t n, V* w, const V* g, V* m, V* v, const mixgcn::backend::update_coefficients<V>& k) {
        mixgcn::backend::adam_update(n, w, g, m, v, k);
    }
    template <class V>
    static void sgd_step(std::size_t n, V* w, const V* g, V* m, const mixgcn::backend::update_coefficients<V>& k) {
        mixgcn::backend::sgd_update(n, w, g, m, k);
    }
};

}  // namespace test_device
