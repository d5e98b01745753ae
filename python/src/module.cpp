// _mixgcn: the nanobind module under the Python package `mixgcn` (docs/python.md).
// Host backend only, float32 and float64. Arrays come in through nanobind's ndarray
// caster (buffer protocol / DLPack, so NumPy and anything else exporting host memory)
// and are checked here: a wrong dtype raises TypeError, a wrong shape, a non-contiguous
// layout or an out-of-range value raises ValueError, each naming the argument.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/io/dataset.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/nn/optimizer.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/partition/block.hpp"
#include "mixgcn/partition/metis.hpp"
#include "mixgcn/partition/random.hpp"
#include "mixgcn/storage/csr.hpp"
#include "mixgcn/storage/sparse_view.hpp"
#include "mixgcn/train/trainer.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

using namespace mixgcn;

// Any array on any device; the checks below narrow it down.
using in_array = nb::ndarray<nb::ro>;

template <class... Parts>
[[noreturn]] void type_fail(const Parts&... parts) {
    throw nb::type_error(::mixgcn::detail::concat(parts...).c_str());
}
template <class... Parts>
[[noreturn]] void value_fail(const Parts&... parts) {
    throw nb::value_error(::mixgcn::detail::concat(parts...).c_str());
}

std::string py_type_name(nb::handle h) { return nb::cast<std::string>(nb::str(nb::handle(h.type()).attr("__name__"))); }

std::string dtype_name(const nb::dlpack::dtype& d) {
    const char* kind = "?";
    switch (static_cast<nb::dlpack::dtype_code>(d.code)) {
        case nb::dlpack::dtype_code::Int: kind = "int"; break;
        case nb::dlpack::dtype_code::UInt: kind = "uint"; break;
        case nb::dlpack::dtype_code::Float: kind = "float"; break;
        case nb::dlpack::dtype_code::Bool: return "bool";
        case nb::dlpack::dtype_code::Complex: kind = "complex"; break;
        default: break;
    }
    return std::string(kind) + std::to_string(int(d.bits));
}

template <class T>
const char* numpy_name() {
    if constexpr (std::is_same_v<T, float>) return "float32";
    else if constexpr (std::is_same_v<T, double>) return "float64";
    else if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
    else if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
    else if constexpr (std::is_same_v<T, bool>) return "bool";
    else return "?";
}

template <class T>
bool is(const in_array& a) {
    return a.dtype() == nb::dtype<T>();
}

std::string shape_of(const in_array& a) {
    std::string s = "(";
    for (std::size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

// The argument as a host array of `ndim` dimensions laid out in C order.
in_array host_array(nb::handle h, const char* name, std::size_t ndim) {
    if (h.is_none()) type_fail("argument '", name, "': expected an array, got None");
    in_array a;
    if (!nb::try_cast<in_array>(h, a, false))
        type_fail("argument '", name, "': expected an array (NumPy, or another object exporting the buffer protocol "
                  "or DLPack), got ", py_type_name(h));
    if (a.device_type() != nb::device::cpu::value)
        value_fail("argument '", name, "': the array is not in host memory (mixgcn's Python module runs the host "
                   "backend; copy it to the CPU first)");
    if (a.ndim() != ndim)
        value_fail("argument '", name, "': expected a ", ndim, "-D array, got ", a.ndim(), "-D with shape ", shape_of(a));
    std::int64_t expect = 1;
    for (std::size_t i = a.ndim(); i-- > 0;) {
        if (a.shape(i) > 1 && a.stride(i) != expect)
            value_fail("argument '", name, "': the array is not C-contiguous (shape ", shape_of(a),
                       "); pass numpy.ascontiguousarray(", name, ")");
        expect *= std::int64_t(a.shape(i));
    }
    return a;
}

template <class T>
const T* data_of(const in_array& a) {
    return static_cast<const T*>(a.data());
}

// A NumPy array that owns `v` (moved to the heap; freed with the array).
template <class Container>
nb::object to_numpy(Container&& v, std::initializer_list<std::size_t> shape) {
    using C = std::remove_cvref_t<Container>;
    using T = std::remove_cvref_t<decltype(*std::declval<C&>().data())>;
    auto* owned = new C(std::forward<Container>(v));
    nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<C*>(p); });
    std::vector<std::size_t> s(shape);
    return nb::ndarray<nb::numpy, T>(owned->data(), s.size(), s.data(), owner).cast();
}

// The value dtype of `precision` / `dtype` arguments.
bool wants_double(const std::string& s, const char* name) {
    if (s == "float" || s == "float32") return false;
    if (s == "double" || s == "float64") return true;
    value_fail("argument '", name, "': expected 'float32' ('float') or 'float64' ('double'), got '", s, "'");
}

// ---- aggregate -----------------------------------------------------------------------

struct csr_arrays {
    in_array indptr, indices;
    index_t rows = 0;
    std::size_t nnz = 0;
};

// Checks indptr (int32/int64, n+1 entries, from 0, non-decreasing, ending at nnz) and
// indices (int32, every id in [0, cols)).
template <class O>
void check_indptr(const in_array& p, std::size_t nnz) {
    const O* rp = data_of<O>(p);
    const std::size_t n = p.shape(0) - 1;
    if (rp[0] != 0) value_fail("argument 'indptr': indptr[0] is ", rp[0], ", expected 0");
    for (std::size_t r = 0; r < n; ++r)
        if (rp[r + 1] < rp[r])
            value_fail("argument 'indptr': decreases at row ", r, " (", rp[r], " then ", rp[r + 1], ")");
    if (static_cast<std::size_t>(rp[n]) != nnz)
        value_fail("argument 'indptr': ends at ", rp[n], " but 'indices' has ", nnz, " entries");
}

csr_arrays read_csr(nb::handle indptr, nb::handle indices, std::int64_t cols) {
    csr_arrays c;
    c.indptr = host_array(indptr, "indptr", 1);
    c.indices = host_array(indices, "indices", 1);
    if (!is<std::int32_t>(c.indptr) && !is<std::int64_t>(c.indptr))
        type_fail("argument 'indptr': expected dtype int32 or int64, got ", dtype_name(c.indptr.dtype()));
    if (!is<std::int32_t>(c.indices))
        type_fail("argument 'indices': expected dtype int32, got ", dtype_name(c.indices.dtype()),
                  " (node ids are int32; use indices.astype(numpy.int32))");
    if (c.indptr.shape(0) < 1) value_fail("argument 'indptr': needs at least one entry (rows + 1)");
    const std::size_t n = c.indptr.shape(0) - 1;
    if (n > std::size_t(std::numeric_limits<index_t>::max()))
        value_fail("argument 'indptr': ", n, " rows do not fit int32 node ids");
    c.rows = static_cast<index_t>(n);
    c.nnz = c.indices.shape(0);
    if (is<std::int32_t>(c.indptr)) check_indptr<std::int32_t>(c.indptr, c.nnz);
    else check_indptr<std::int64_t>(c.indptr, c.nnz);
    const std::int32_t* ci = data_of<std::int32_t>(c.indices);
    for (std::size_t k = 0; k < c.nnz; ++k)
        if (ci[k] < 0 || ci[k] >= cols)
            value_fail("argument 'indices': entry ", k, " is ", ci[k], ", outside [0, ", cols, ")");
    return c;
}

template <class V, class O>
nb::object aggregate_as(const csr_arrays& c, const in_array& x, const V* values) {
    const std::size_t width = x.shape(1);
    storage::sparse_view<index_t, V, O> a;
    a.rows = c.rows;
    a.cols = static_cast<index_t>(x.shape(0));
    a.row_ptr = data_of<O>(c.indptr);
    a.col_idx = data_of<index_t>(c.indices);
    a.val = values;
    dense_matrix<V> y(static_cast<std::size_t>(c.rows), width);
    {
        nb::gil_scoped_release release;
        backend::host::aggregate(a, const_matrix_view<V>(data_of<V>(x), x.shape(0), width), y.view());
    }
    return to_numpy(std::move(y), {static_cast<std::size_t>(c.rows), width});
}

template <class V>
nb::object aggregate_typed(const csr_arrays& c, const in_array& x, nb::handle values) {
    const V* w = nullptr;
    in_array vals;
    if (!values.is_none()) {
        vals = host_array(values, "values", 1);
        if (!is<V>(vals))
            type_fail("argument 'values': expected dtype ", numpy_name<V>(), " (the dtype of 'x'), got ",
                      dtype_name(vals.dtype()));
        if (vals.shape(0) != c.nnz)
            value_fail("argument 'values': has ", vals.shape(0), " entries but 'indices' has ", c.nnz);
        w = data_of<V>(vals);
    }
    return is<std::int32_t>(c.indptr) ? aggregate_as<V, std::int32_t>(c, x, w) : aggregate_as<V, std::int64_t>(c, x, w);
}

nb::object py_aggregate(nb::handle indptr, nb::handle indices, nb::handle x_obj, nb::handle values) {
    const in_array x = host_array(x_obj, "x", 2);
    if (!is<float>(x) && !is<double>(x)) type_fail("argument 'x': expected dtype float32 or float64, got ", dtype_name(x.dtype()));
    if (x.shape(0) > std::size_t(std::numeric_limits<index_t>::max()))
        value_fail("argument 'x': ", x.shape(0), " rows do not fit int32 node ids");
    const auto c = read_csr(indptr, indices, std::int64_t(x.shape(0)));
    return is<float>(x) ? aggregate_typed<float>(c, x, values) : aggregate_typed<double>(c, x, values);
}

// ---- datasets --------------------------------------------------------------------------

template <class V>
nb::dict dataset_dict(dataset<V>&& ds) {
    const std::size_t n = static_cast<std::size_t>(ds.num_nodes());
    const std::size_t e = ds.edges.edges.size();
    std::vector<std::int64_t> ei(2 * e);
    for (std::size_t k = 0; k < e; ++k) {
        ei[k] = ds.edges.edges[k].first;
        ei[e + k] = ds.edges.edges[k].second;
    }
    std::vector<std::int64_t> y(ds.labels.begin(), ds.labels.end());
    const split_role roles[3] = {split_role::train, split_role::val, split_role::test};
    nb::dict d;
    d["name"] = ds.name;
    d["edge_index"] = to_numpy(std::move(ei), {2, e});
    const std::size_t f = ds.features.cols();
    d["x"] = to_numpy(std::move(ds.features), {n, f});
    d["y"] = to_numpy(std::move(y), {n});
    const char* keys[3] = {"train_mask", "val_mask", "test_mask"};
    for (int m = 0; m < 3; ++m) {
        std::vector<std::uint8_t> mask(n);
        for (std::size_t i = 0; i < n; ++i) mask[i] = ds.split[i] == roles[m];
        // bool arrays: one byte per entry, 0 or 1.
        auto* owned = new std::vector<std::uint8_t>(std::move(mask));
        nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<std::uint8_t>*>(p); });
        const std::size_t shape[1] = {n};
        d[keys[m]] = nb::ndarray<nb::numpy, bool>(reinterpret_cast<bool*>(owned->data()), 1, shape, owner).cast();
    }
    d["num_classes"] = ds.num_classes;
    return d;
}

// The dataset `make.template operator()<V>()` builds, with V the value type `dtype`
// names, built without the GIL and returned as a dict.
template <class Make>
nb::dict loaded_dataset(const std::string& dtype, Make&& make) {
    auto build = [&]<class V>() {
        dataset<V> ds;
        {
            nb::gil_scoped_release release;
            ds = make.template operator()<V>();
        }
        return dataset_dict(std::move(ds));
    };
    return wants_double(dtype, "dtype") ? build.template operator()<double>() : build.template operator()<float>();
}

nb::dict py_generate_sbm(std::int64_t nodes, double avg_degree, std::int32_t classes, double homophily,
                      std::int64_t features, std::uint64_t seed, std::int64_t train_per_class, std::int64_t val,
                      std::int64_t test, const std::string& dtype) {
    graph::sbm_options o;
    o.split.train_per_class = train_per_class;
    o.split.val = val;
    o.split.test = test;
    o.nodes = nodes;
    o.avg_degree = avg_degree;
    o.classes = classes;
    o.homophily = homophily;
    o.features = features;
    o.seed = seed;
    return loaded_dataset(dtype, [&]<class V>() { return graph::generate_sbm<V>(o); });
}

nb::dict py_load_dataset(const std::filesystem::path& path, const std::string& dtype) {
    return loaded_dataset(dtype, [&]<class V>() { return io::load_dataset<V>(path); });
}

// ---- train -----------------------------------------------------------------------------

struct train_options {
    int epochs = 200;
    std::size_t hidden = 16;
    int layers = 2;
    double lr = 0.01;
    double dropout = 0.5;
    double weight_decay = 5e-4;
    std::uint64_t seed = 42;
    std::string feature_norm = "auto";
    std::string optimizer = "adam";
    int patience = 0;
    std::int32_t num_classes = 0;  // 0: max(y) + 1
};

template <class I>
void read_edges(const in_array& a, index_t n, graph::edge_list<index_t>& out) {
    const I* p = data_of<I>(a);
    const std::size_t e = a.shape(1);
    out.edges.resize(e);
    for (std::size_t k = 0; k < e; ++k) {
        const I u = p[k], v = p[e + k];
        if (u < 0 || u >= I(n) || v < 0 || v >= I(n))
            value_fail("argument 'edge_index': edge ", k, " (", u, ", ", v, ") has a node id outside [0, ", n,
                       ") (x has ", n, " rows)");
        out.edges[k] = {index_t(u), index_t(v)};
    }
}

template <class L>
void read_labels(const in_array& a, std::vector<std::int32_t>& out) {
    const L* p = data_of<L>(a);
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (p[i] < -1 || p[i] > L(std::numeric_limits<std::int32_t>::max()))
            value_fail("argument 'y': label ", p[i], " of node ", i, " is outside [-1, 2^31) (-1: unlabelled)");
        out[i] = std::int32_t(p[i]);
    }
}

template <class V, class X>
void copy_features(const in_array& a, dense_matrix<V>& out) {
    const X* p = data_of<X>(a);
    V* q = out.data();
    for (std::size_t i = 0; i < out.size(); ++i) q[i] = V(p[i]);
}

template <class V>
nb::dict train_typed(dataset<V>& ds, const train_options& t) {
    using B = backend::host;
    // The order of mixgcn-train (tools/train_run.hpp) with --strategy single --backend host,
    // so that equal inputs give equal losses.
    train::train_result res;
    dense_matrix<V> logits;
    {
        nb::gil_scoped_release release;
        ds.validate();
        const bool non_negative =
            std::all_of(ds.features.values().begin(), ds.features.values().end(), [](V v) { return v >= V(0); });
        if (t.feature_norm == "row" || (t.feature_norm == "auto" && non_negative)) graph::row_normalize(ds.features);
        const auto adjacency = graph::build_adjacency<index_t, V>(ds.edges);
        nn::model_options mo;
        mo.in = ds.features.cols();
        mo.classes = static_cast<std::size_t>(ds.num_classes);
        mo.hidden = t.hidden;
        mo.layers = t.layers;
        mo.dropout = t.dropout;
        mo.weight_decay = t.weight_decay;
        nn::gcn_model<B, V> model(mo);
        model.initialize(t.seed);
        nn::optimizer_options oo;
        oo.lr = t.lr;
        oo.kind = t.optimizer == "adam" ? nn::optimizer_kind::adam : nn::optimizer_kind::sgd;
        nn::optimizer<B, V> opt(oo);
        train::trainer_options to;
        to.epochs = t.epochs;
        to.patience = t.patience;
        to.seed = t.seed;
        const auto op = graph::gcn_normalize<V>(adjacency, graph::normalization_mode::fused);
        parallel::single<B, V> strategy(op);
        const auto in = strategy.local_inputs(ds);
        const auto data = in.data();
        res = train::trainer<B, V, parallel::single<B, V>>(strategy, model, opt, data, to).run();
        // The restored best model's evaluation forward (dropout off).
        const auto out = model.forward(strategy, data.features, false, 0);
        logits = dense_matrix<V>(out.rows(), out.cols());
        mixgcn::copy(out, logits.view());
    }
    nb::list history;
    for (const auto& m : res.history) {
        nb::dict e;
        e["epoch"] = m.epoch;
        e["loss"] = m.loss;
        e["train_acc"] = m.train_acc;
        e["val_acc"] = m.val_acc;
        e["seconds"] = m.seconds;
        history.append(e);
    }
    nb::dict r;
    r["history"] = history;
    r["best_val_epoch"] = res.best_val_epoch;
    r["best_val_acc"] = res.best_val_acc;
    r["test_accuracy"] = res.test_acc;
    r["stopped_early"] = res.stopped_early;
    r["epoch_time_median_s"] = res.epoch_time_median();
    r["precision"] = sizeof(V) == 4 ? "float" : "double";
    const std::size_t rows = logits.rows(), cols = logits.cols();
    r["logits"] = to_numpy(std::move(logits), {rows, cols});
    return r;
}

template <class V>
nb::dict train_with_precision(const in_array& ei, const in_array& x, const in_array& y, const in_array* masks,
                              const train_options& t) {
    const std::size_t n = x.shape(0), f = x.shape(1);
    dataset<V> ds;
    ds.name = "python";
    ds.edges.num_nodes = index_t(n);
    if (is<std::int64_t>(ei)) read_edges<std::int64_t>(ei, index_t(n), ds.edges);
    else read_edges<std::int32_t>(ei, index_t(n), ds.edges);
    ds.features = dense_matrix<V>(n, f);  // a copy: features are row-normalised in place
    if (is<float>(x)) copy_features<V, float>(x, ds.features);
    else copy_features<V, double>(x, ds.features);
    ds.labels.resize(n);
    if (is<std::int64_t>(y)) read_labels<std::int64_t>(y, ds.labels);
    else read_labels<std::int32_t>(y, ds.labels);
    ds.split.assign(n, split_role::none);
    const char* names[3] = {"train_mask", "val_mask", "test_mask"};
    const split_role roles[3] = {split_role::train, split_role::val, split_role::test};
    for (int m = 0; m < 3; ++m) {
        const auto* p = static_cast<const std::uint8_t*>(masks[m].data());
        for (std::size_t i = 0; i < n; ++i) {
            if (!p[i]) continue;
            if (ds.split[i] != split_role::none)
                value_fail("argument '", names[m], "': node ", i, " is also in ", io::split_word(ds.split[i]),
                           "_mask; the masks must not overlap");
            if (ds.labels[i] < 0) value_fail("argument '", names[m], "': node ", i, " is in the mask but y[", i, "] is -1");
            ds.split[i] = roles[m];
        }
    }
    std::int32_t max_label = -1;
    for (auto l : ds.labels) max_label = std::max(max_label, l);
    if (t.num_classes > 0) {
        if (max_label >= t.num_classes)
            value_fail("argument 'num_classes': is ", t.num_classes, " but y holds the label ", max_label);
        ds.num_classes = t.num_classes;
    } else {
        if (max_label < 0) value_fail("argument 'y': no node has a label");
        ds.num_classes = max_label + 1;
    }
    return train_typed(ds, t);
}

nb::dict py_train(nb::handle edge_index, nb::handle x_obj, nb::handle y_obj, nb::handle train_mask, nb::handle val_mask,
               nb::handle test_mask, int epochs, std::size_t hidden, int layers, double lr, double dropout,
               double weight_decay, std::uint64_t seed, const std::string& precision, const std::string& feature_norm,
               const std::string& optimizer, int patience, std::optional<std::int32_t> num_classes) {
    const in_array x = host_array(x_obj, "x", 2);
    if (!is<float>(x) && !is<double>(x)) type_fail("argument 'x': expected dtype float32 or float64, got ", dtype_name(x.dtype()));
    const std::size_t n = x.shape(0);
    if (n == 0) value_fail("argument 'x': has no rows (nodes)");
    if (n > std::size_t(std::numeric_limits<index_t>::max())) value_fail("argument 'x': ", n, " rows do not fit int32 node ids");
    const in_array ei = host_array(edge_index, "edge_index", 2);
    if (!is<std::int64_t>(ei) && !is<std::int32_t>(ei))
        type_fail("argument 'edge_index': expected dtype int64 or int32, got ", dtype_name(ei.dtype()));
    if (ei.shape(0) != 2) value_fail("argument 'edge_index': expected shape (2, E), got ", shape_of(ei));
    const in_array y = host_array(y_obj, "y", 1);
    if (!is<std::int64_t>(y) && !is<std::int32_t>(y)) type_fail("argument 'y': expected dtype int64 or int32, got ", dtype_name(y.dtype()));
    if (y.shape(0) != n) value_fail("argument 'y': has ", y.shape(0), " entries but x has ", n, " rows");
    const char* names[3] = {"train_mask", "val_mask", "test_mask"};
    const nb::handle mask_objs[3] = {train_mask, val_mask, test_mask};
    in_array masks[3];
    for (int m = 0; m < 3; ++m) {
        masks[m] = host_array(mask_objs[m], names[m], 1);
        if (!is<bool>(masks[m])) type_fail("argument '", names[m], "': expected dtype bool, got ", dtype_name(masks[m].dtype()));
        if (masks[m].shape(0) != n)
            value_fail("argument '", names[m], "': has ", masks[m].shape(0), " entries but x has ", n, " rows");
    }
    train_options t;
    if (epochs < 0) value_fail("argument 'epochs': must be >= 0, got ", epochs);
    if (hidden < 1) value_fail("argument 'hidden': must be >= 1, got ", hidden);
    if (layers < 1) value_fail("argument 'layers': must be >= 1, got ", layers);
    if (!(lr > 0)) value_fail("argument 'lr': must be > 0, got ", lr);
    if (!(dropout >= 0 && dropout < 1)) value_fail("argument 'dropout': must be in [0, 1), got ", dropout);
    if (!(weight_decay >= 0)) value_fail("argument 'weight_decay': must be >= 0, got ", weight_decay);
    if (patience < 0) value_fail("argument 'patience': must be >= 0, got ", patience);
    if (num_classes && *num_classes < 1) value_fail("argument 'num_classes': must be >= 1 (or None), got ", *num_classes);
    if (feature_norm != "auto" && feature_norm != "row" && feature_norm != "none")
        value_fail("argument 'feature_norm': expected 'auto', 'row' or 'none', got '", feature_norm, "'");
    if (optimizer != "adam" && optimizer != "sgd")
        value_fail("argument 'optimizer': expected 'adam' or 'sgd', got '", optimizer, "'");
    t.epochs = epochs;
    t.hidden = hidden;
    t.layers = layers;
    t.lr = lr;
    t.dropout = dropout;
    t.weight_decay = weight_decay;
    t.seed = seed;
    t.feature_norm = feature_norm;
    t.optimizer = optimizer;
    t.patience = patience;
    t.num_classes = num_classes.value_or(0);
    return wants_double(precision, "precision") ? train_with_precision<double>(ei, x, y, masks, t)
                                                : train_with_precision<float>(ei, x, y, masks, t);
}

// ---- partition -------------------------------------------------------------------------

nb::object partition_graph(nb::handle indptr, nb::handle indices, int parts, const std::string& method,
                           std::uint64_t seed) {
    const in_array p = host_array(indptr, "indptr", 1);
    if (p.shape(0) < 1) value_fail("argument 'indptr': needs at least one entry (rows + 1)");
    const auto c = read_csr(indptr, indices, std::int64_t(p.shape(0)) - 1);
    if (parts < 1 || parts > c.rows) value_fail("argument 'parts': must be in [1, ", c.rows, "], got ", parts);
    if (method != "metis" && method != "block" && method != "random")
        value_fail("argument 'method': expected 'metis', 'block' or 'random', got '", method, "'");
    storage::csr<index_t, float> a;
    a.rows = a.cols = c.rows;
    a.row_ptr.resize(static_cast<std::size_t>(c.rows) + 1);
    if (is<std::int32_t>(c.indptr)) std::copy_n(data_of<std::int32_t>(c.indptr), a.row_ptr.size(), a.row_ptr.begin());
    else std::copy_n(data_of<std::int64_t>(c.indptr), a.row_ptr.size(), a.row_ptr.begin());
    a.col_idx.assign(data_of<index_t>(c.indices), data_of<index_t>(c.indices) + c.nnz);
    std::vector<int> owner;
    {
        nb::gil_scoped_release release;
        if (method == "block") owner = partition::block{}.partition(a, parts);
        else if (method == "random") owner = partition::random{seed}.partition(a, parts);
        else owner = partition::metis{}.partition(a, parts);
    }
    std::vector<std::int32_t> out(owner.begin(), owner.end());
    const std::size_t n = out.size();
    return to_numpy(std::move(out), {n});
}

}  // namespace

NB_MODULE(_mixgcn, m) {
    m.doc() = "mixgcn's C++ core (host backend, float32 and float64); see docs/python.md";
    nb::register_exception_translator([](const std::exception_ptr& p, void*) {
        try {
            std::rethrow_exception(p);
        } catch (const mixgcn::io_error& e) {
            PyErr_SetString(PyExc_OSError, e.what());
        } catch (const mixgcn::invalid_argument& e) {
            PyErr_SetString(PyExc_ValueError, e.what());
        }
    });

    m.def("aggregate", &py_aggregate, "indptr"_a.none(), "indices"_a.none(), "x"_a.none(), "values"_a.none() = nb::none(),
          "Y = A @ X for the CSR matrix A (indptr int32/int64, indices int32, optional values of x's dtype) "
          "and the C-contiguous float32/float64 matrix x; returns a new array of x's dtype.");
    m.def("generate_sbm", &py_generate_sbm, nb::kw_only(), "nodes"_a = 10000, "avg_degree"_a = 10.0, "classes"_a = 8,
          "homophily"_a = 0.75, "features"_a = 128, "seed"_a = 1, "train_per_class"_a = 20, "val"_a = 500, "test"_a = 1000,
          "dtype"_a = "float32",
          "A degree-corrected stochastic block model dataset (mixgcn-train --generate sbm): a dict with "
          "edge_index (2 x E int64), x, y (int64), train_mask, val_mask, test_mask, num_classes, name. The split "
          "is Planetoid's: train_per_class labelled nodes of each class, then val and test nodes.");
    m.def("load_dataset", &py_load_dataset, "path"_a, "dtype"_a = "float32",
          "Loads a dataset folder (docs/data-formats.md) into the dict generate_sbm returns.");
    m.def("train", &py_train, "edge_index"_a.none(), "x"_a.none(), "y"_a.none(), "train_mask"_a.none(),
          "val_mask"_a.none(), "test_mask"_a.none(), nb::kw_only(),
          "epochs"_a = 200, "hidden"_a = 16, "layers"_a = 2, "lr"_a = 0.01, "dropout"_a = 0.5, "weight_decay"_a = 5e-4,
          "seed"_a = 42, "precision"_a = "float", "feature_norm"_a = "auto", "optimizer"_a = "adam",
          "patience"_a = 0, "num_classes"_a = nb::none(),
          "Trains a GCN in this process (strategy single, host backend), as mixgcn-train does with the same "
          "options; returns history, best_val_epoch, best_val_acc, test_accuracy and the best model's logits.");
    m.def("partition", &partition_graph, "indptr"_a.none(), "indices"_a.none(), "parts"_a, "method"_a = "metis", "seed"_a = 42,
          "Assigns each of the CSR graph's rows to one of `parts` parts (metis, block or random); returns the "
          "owner of every row (int32).");
    // Tests only: the address the module sees for an array argument, to check that an
    // array (NumPy, or a PyTorch/CuPy tensor through DLPack) arrives without a copy.
    m.def(
        "_data_address",
        [](nb::handle a, std::size_t ndim) {
            return reinterpret_cast<std::uintptr_t>(host_array(a, "a", ndim).data());
        },
        "a"_a.none(), "ndim"_a);
    m.attr("has_metis") =
#ifdef MIXGCN_HAS_METIS
        true;
#else
        false;
#endif
}
