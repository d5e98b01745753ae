// Never built: ctest compiles it with one MIXGCN_COMPOSE_<strategy> defined and expects
// the compiler to stop at that strategy's static_assert, whose sentence the test matches
// (graph, feature, mixture, data: over device memory without a device engine in the
// communicator).
// A host-only strategy composed with a device backend (host_accessible = false) must be a
// compile-time error that says why, not a device pointer dereferenced at run time.
#include <vector>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/comm/hybrid.hpp"
#include "mixgcn/comm/local.hpp"
#include "mixgcn/parallel/data.hpp"
#include "mixgcn/parallel/feature.hpp"
#include "mixgcn/parallel/graph.hpp"
#include "mixgcn/parallel/mixture.hpp"
#include "mixgcn/parallel/pipeline.hpp"
#include "../distributed/host_as_device.hpp"

// The host kernels under a device backend's flag: every operation exists, so the only
// error is the strategy's refusal.
struct device_like : mixgcn::backend::host {
    static constexpr bool host_accessible = false;
    static constexpr const char* name() { return "device_like"; }
    template <class T>
    using array = std::vector<T>;
};

using comm_type = mixgcn::comm::local;
// Several ranks' worth of communicator with no device engine (comm::local itself has
// nothing to reduce, so data on one rank needs none).
struct host_only_comm : mixgcn::comm::local {};

#if defined(MIXGCN_COMPOSE_graph)
std::size_t probe = sizeof(mixgcn::parallel::graph<device_like, float, comm_type>);
#elif defined(MIXGCN_COMPOSE_feature)
std::size_t probe = sizeof(mixgcn::parallel::feature<device_like, float, comm_type>);
#elif defined(MIXGCN_COMPOSE_mixture)
std::size_t probe = sizeof(mixgcn::parallel::mixture<device_like, float, comm_type>);
#elif defined(MIXGCN_COMPOSE_pipeline)
std::size_t probe = sizeof(mixgcn::parallel::pipeline_trainer<device_like, float, host_only_comm>);
#elif defined(MIXGCN_COMPOSE_data)
auto* probe = &mixgcn::parallel::train_clusters<device_like, float, host_only_comm>;
#elif defined(MIXGCN_COMPOSE_independent_graphs)
auto* probe = &mixgcn::parallel::train_independent_graphs<device_like, float, comm_type>;
#elif defined(MIXGCN_COMPOSE_host_graph)  // a control: the same file compiles on the host
std::size_t probe = sizeof(mixgcn::parallel::graph<mixgcn::backend::host, float, comm_type>);
#elif defined(MIXGCN_COMPOSE_device_graph)  // controls: over device memory with a device engine
std::size_t probe = sizeof(mixgcn::parallel::graph<device_like, float, mixgcn::comm::hybrid<comm_type, comm_type>>);
#elif defined(MIXGCN_COMPOSE_device_feature)
std::size_t probe = sizeof(mixgcn::parallel::feature<device_like, float, mixgcn::comm::hybrid<comm_type, comm_type>>);
#elif defined(MIXGCN_COMPOSE_device_mixture)
std::size_t probe = sizeof(mixgcn::parallel::mixture<device_like, float, mixgcn::comm::hybrid<comm_type, comm_type>>);
#elif defined(MIXGCN_COMPOSE_device_data)  // a whole function: a backend with every operation
auto* probe = &mixgcn::parallel::train_clusters<test_device::host_as_device, float,
                                                mixgcn::comm::hybrid<comm_type, comm_type>>;
#elif defined(MIXGCN_COMPOSE_device_pipeline)
std::size_t probe =
    sizeof(mixgcn::parallel::pipeline_trainer<device_like, float, mixgcn::comm::hybrid<comm_type, comm_type>>);
#elif defined(MIXGCN_COMPOSE_device_data_one_rank)
auto* probe = &mixgcn::parallel::train_clusters<test_device::host_as_device, float, comm_type>;
#endif
