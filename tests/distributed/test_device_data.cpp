// The data strategy (Cluster-GCN batches, gradients all-reduced) and the pipeline
// strategy (layer stages, activations point to point) over a device backend,
// with real processes and no GPU: test_device::host_as_device is the host kernels under
// a device backend's flag. The run must train what the same batches train on the host
// (dropout on, weight decay, with and without accumulated micro-batches), with the
// gradients summed on comm::hybrid's device engine. Inside an epoch nothing may come
// back from the "device", and what goes to it is each batch's operator and index lists:
// never its feature rows, which are gathered on the device from the features moved once.
#include "session.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "device_case.hpp"
#include "device_checks.hpp"
#include "host_as_device.hpp"
#include "mixgcn/backend/host.hpp"
#include "mixgcn/backend/memory.hpp"
#include "mixgcn/comm.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/parallel/data.hpp"
#include "mixgcn/parallel/pipeline.hpp"
#include "mixgcn/partition.hpp"

using namespace mixgcn;
using test_device::host_as_device;

namespace {

using device_case::epochs;
using device_case::model;
using device_case::model_seed;
using device_case::run_result;

// Per epoch: copies back from the device, and bytes uploaded.
struct traffic {
    std::vector<std::size_t> downloads, uploaded_bytes;
};

// device_case's model and graph with 64 features: a batch's feature rows (512 bytes
// per row in double) then outweigh its operator and index lists, so the upload count
// below tells them apart.
inline nn::model_options wide_model() {
    auto mo = model();
    mo.in = 64;
    return mo;
}
inline graph::sbm_options wide_graph() {
    auto g = device_case::graph();
    g.features = 64;
    return g;
}

template <class B, class V, class Comm>
run_result<V> cluster_run(Comm& comm, const test_session::problem<V>& p, const std::vector<int>& clusters,
                          const parallel::data_options& o, traffic* t, parallel::data_report& rep) {
    nn::gcn_model<B, V> m(wide_model());
    m.initialize(model_seed);
    nn::optimizer<B, V> opt(nn::optimizer_options{});
    auto to = device_case::trainer_opts();
    std::size_t downloads = 0, uploaded = 0;
    if (t)
        to.on_epoch = [&](const train::epoch_metrics&) {
            t->downloads.push_back(host_as_device::downloads - downloads);
            t->uploaded_bytes.push_back(host_as_device::uploaded_bytes - uploaded);
            downloads = host_as_device::downloads;
            uploaded = host_as_device::uploaded_bytes;
        };
    downloads = host_as_device::downloads;
    uploaded = host_as_device::uploaded_bytes;
    run_result<V> out;
    out.res = parallel::train_clusters<B, V>(comm, p.ds, p.adjacency, clusters, o, m, opt, to, &rep);
    for (auto* prm : m.parameters()) out.weights.push_back(backend::to_host_vector<B>(prm->value.data(), prm->size()));
    return out;
}

template <class V, class Comm>
void check_data(Comm& comm, int accumulate, double tol) {
    using H = comm::hybrid<Comm, Comm>;
    const test_session::problem<V> p(wide_graph());
    parallel::data_options o;
    o.clusters = 16;
    o.clusters_per_batch = 2;
    o.method = parallel::cluster_method::random;
    o.accumulate = accumulate;
    const auto clusters = parallel::cluster_assignment<V>(comm, p.adjacency, o);
    parallel::data_report host_rep, dev_rep;
    const auto ref = cluster_run<backend::host, V>(comm, p, clusters, o, nullptr, host_rep);
    H both(comm.split(0, comm.rank()), comm.split(0, comm.rank()));
    traffic t;
    // The "device" run: the whole graph's inputs are moved before the first epoch.
    const auto got = cluster_run<host_as_device, V>(both, p, clusters, o, &t, dev_rep);
    device_checks::check_same_model(comm, "data (accumulate " + std::to_string(accumulate) + ")", got, ref, tol);
    CHECK(dev_rep.batch_nodes == host_rep.batch_nodes);
    CHECK(dev_rep.batch_nonzeros == host_rep.batch_nonzeros);
    // The gradients were summed on the device engine.
    CHECK((comm.size() == 1 || both.device().stats().total().bytes_sent > 0));
    REQUIRE(t.downloads.size() == std::size_t(epochs));
    std::size_t uploaded = 0;  // epochs 2.., after the set-up that epoch 1's count includes
    for (std::size_t e = 0; e < t.downloads.size(); ++e) {
        CAPTURE(e + 1);
        CHECK(t.downloads[e] == 0);
        if (e > 0) uploaded += t.uploaded_bytes[e];
    }
    // Per batch: ids, labels and training rows (index_t/int32 per row at most), the
    // operator (row offsets, columns, values and two scales), never its feature rows.
    const std::size_t batches = dev_rep.steps * std::size_t(accumulate);
    // (an operator's row offsets are one more than its rows, even when it has none).
    const std::size_t bound = dev_rep.batch_nodes * (3 * sizeof(index_t) + sizeof(offset_t) + 2 * sizeof(V)) +
                              batches * sizeof(offset_t) + dev_rep.batch_nonzeros * (sizeof(index_t) + sizeof(V));
    const std::size_t feature_rows = dev_rep.batch_nodes * p.ds.features.cols() * sizeof(V);
    CAPTURE(uploaded);
    CAPTURE(bound);
    CHECK(uploaded <= bound);
    if (dev_rep.batch_nodes > 0) {  // (with many ranks a rank's batches may all be empty)
        CHECK(uploaded > 0);
        CHECK(2 * bound < feature_rows);  // feature rows per batch would pass the bound
    }
    CHECK(dev_rep.resident_bytes >= p.ds.features.bytes());
}

// The pipeline on the "device" against the pipeline on the host, the same ranks, stages
// and batches: activations, their gradients, the weight broadcasts and the replicas'
// gradient sums on the device engine, nothing copied back inside an epoch.
template <class V, class Comm>
void check_pipeline(Comm& comm, int stages, double tol) {
    using H = comm::hybrid<Comm, Comm>;
    const test_session::problem<V> p(device_case::graph());
    parallel::pipeline_options po;
    po.stages = stages;
    po.micro_batches = 3;
    po.data.clusters = 12;
    po.data.clusters_per_batch = 2;
    po.data.method = parallel::cluster_method::random;
    const auto clusters = parallel::cluster_assignment<V>(comm, p.adjacency, po.data);
    auto run = [&]<class B, class C>(C& c, std::vector<std::size_t>* downloads) {
        nn::gcn_model<B, V> m(model());
        m.initialize(model_seed);
        nn::optimizer<B, V> opt(nn::optimizer_options{});
        auto to = device_case::trainer_opts();
        std::size_t last = host_as_device::downloads;
        if (downloads)
            to.on_epoch = [&](const train::epoch_metrics&) {
                downloads->push_back(host_as_device::downloads - last);
                last = host_as_device::downloads;
            };
        run_result<V> out;
        out.res = parallel::train_pipeline<B, V>(c, p.ds, p.adjacency, clusters, po, m, opt, to);
        for (auto* prm : m.parameters())
            out.weights.push_back(backend::to_host_vector<B>(prm->value.data(), prm->size()));
        return out;
    };
    const auto ref = run.template operator()<backend::host>(comm, nullptr);
    H both(comm.split(0, comm.rank()), comm.split(0, comm.rank()));
    std::vector<std::size_t> downloads;
    const auto got = run.template operator()<host_as_device>(both, &downloads);
    device_checks::check_same_model(comm, "pipeline (" + std::to_string(stages) + " stages)", got, ref, tol);
    CHECK((comm.size() == 1 || both.device().stats().total().bytes_sent > 0));
    REQUIRE(downloads.size() == std::size_t(epochs));
    for (std::size_t e = 0; e < downloads.size(); ++e) {
        CAPTURE(e + 1);
        CHECK(downloads[e] == 0);
    }
}

using test_session::with_comm;

}  // namespace

TEST_CASE("data on a device backend (host-emulated), double: equals the host run to 1e-9, no copy back") {
    with_comm([](auto& comm) {
        for (int k : {1, 2}) {
            CAPTURE(k);
            check_data<double>(comm, k, 1e-9);
        }
    });
}

TEST_CASE("data on a device backend (host-emulated), float: equals the host run to 1e-4") {
    with_comm([](auto& comm) { check_data<float>(comm, 1, 1e-4); });
}

TEST_CASE("pipeline on a device backend (host-emulated): equals the host pipeline, no copy back") {
    with_comm([](auto& comm) {
        // The 3-layer model: as many stages as ranks up to 3 (4 ranks: 2 stages x 2 replicas).
        const int stages = comm.size() <= 3 ? comm.size() : 2;
        check_pipeline<double>(comm, stages, 1e-9);
        check_pipeline<float>(comm, stages, 1e-4);
    });
}

int main(int argc, char** argv) { return test_session::main(argc, argv); }
