#pragma once
// The host-emulated device tests' verdict: the run on test_device::host_as_device trained
// the reference's model (losses and weights within `tol`), and rank 0 says by how much.
#include <doctest/doctest.h>

#include <string>

#include "device_case.hpp"

namespace device_checks {

template <class V, class Comm>
void check_same_model(Comm& comm, const std::string& what, const device_case::run_result<V>& got,
                      const device_case::run_result<V>& ref, double tol) {
    const auto d = device_case::compare(got, ref);
    if (comm.rank() == 0)
        MESSAGE(what, " on host_as_device, ranks=", comm.size(), ": max relative loss difference ", d.loss,
                ", weights ", d.weights);
    CHECK(d.loss < tol);
    CHECK(d.weights < tol);
    CHECK(got.res.best_val_epoch == ref.res.best_val_epoch);
}

}  // namespace device_checks
