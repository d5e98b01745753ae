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
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
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
#include "train_host.hpp"  // tools/: mixgcn-train's run, shared so that train() is the CLI's

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

nb::dict py_load_dataset(const std::filesystem::path& path, const std::string& dtype, const std::string& split) {
    return loaded_dataset(dtype, [&]<class V>() { return io::load_dataset<V>(path, io::load_options{split}); });
}

// ---- datasets from arrays (train, save_dataset) ---------------------------------------

// The six arrays of a dataset, checked: edge_index (2 x E int64/int32), x (N x F
// float32/float64), y (N int64/int32), three disjoint bool masks of N entries.
struct dataset_arrays {
    in_array ei, x, y, masks[3];
    std::size_t n = 0;
};

constexpr const char* mask_names[3] = {"train_mask", "val_mask", "test_mask"};
constexpr split_role mask_roles[3] = {split_role::train, split_role::val, split_role::test};

dataset_arrays check_dataset_arrays(nb::handle edge_index, nb::handle x_obj, nb::handle y_obj, nb::handle train_mask,
                                    nb::handle val_mask, nb::handle test_mask) {
    dataset_arrays d;
    d.x = host_array(x_obj, "x", 2);
    if (!is<float>(d.x) && !is<double>(d.x))
        type_fail("argument 'x': expected dtype float32 or float64, got ", dtype_name(d.x.dtype()));
    d.n = d.x.shape(0);
    if (d.n == 0) value_fail("argument 'x': has no rows (nodes)");
    if (d.n > std::size_t(std::numeric_limits<index_t>::max()))
        value_fail("argument 'x': ", d.n, " rows do not fit int32 node ids");
    d.ei = host_array(edge_index, "edge_index", 2);
    if (!is<std::int64_t>(d.ei) && !is<std::int32_t>(d.ei))
        type_fail("argument 'edge_index': expected dtype int64 or int32, got ", dtype_name(d.ei.dtype()));
    if (d.ei.shape(0) != 2) value_fail("argument 'edge_index': expected shape (2, E), got ", shape_of(d.ei));
    d.y = host_array(y_obj, "y", 1);
    if (!is<std::int64_t>(d.y) && !is<std::int32_t>(d.y))
        type_fail("argument 'y': expected dtype int64 or int32, got ", dtype_name(d.y.dtype()));
    if (d.y.shape(0) != d.n) value_fail("argument 'y': has ", d.y.shape(0), " entries but x has ", d.n, " rows");
    const nb::handle mask_objs[3] = {train_mask, val_mask, test_mask};
    for (int m = 0; m < 3; ++m) {
        d.masks[m] = host_array(mask_objs[m], mask_names[m], 1);
        if (!is<bool>(d.masks[m]))
            type_fail("argument '", mask_names[m], "': expected dtype bool, got ", dtype_name(d.masks[m].dtype()));
        if (d.masks[m].shape(0) != d.n)
            value_fail("argument '", mask_names[m], "': has ", d.masks[m].shape(0), " entries but x has ", d.n, " rows");
    }
    return d;
}

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

// The dataset of the arrays (features copied: training normalises them in place);
// `num_classes` 0 means the largest label + 1.
template <class V>
dataset<V> dataset_from(const dataset_arrays& d, std::int32_t num_classes, const std::string& name) {
    const std::size_t n = d.n, f = d.x.shape(1);
    dataset<V> ds;
    ds.name = name;
    ds.edges.num_nodes = index_t(n);
    if (is<std::int64_t>(d.ei)) read_edges<std::int64_t>(d.ei, index_t(n), ds.edges);
    else read_edges<std::int32_t>(d.ei, index_t(n), ds.edges);
    ds.features = dense_matrix<V>(n, f);
    if (is<float>(d.x)) copy_features<V, float>(d.x, ds.features);
    else copy_features<V, double>(d.x, ds.features);
    ds.labels.resize(n);
    if (is<std::int64_t>(d.y)) read_labels<std::int64_t>(d.y, ds.labels);
    else read_labels<std::int32_t>(d.y, ds.labels);
    ds.split.assign(n, split_role::none);
    for (int m = 0; m < 3; ++m) {
        const auto* p = static_cast<const std::uint8_t*>(d.masks[m].data());
        for (std::size_t i = 0; i < n; ++i) {
            if (!p[i]) continue;
            if (ds.split[i] != split_role::none)
                value_fail("argument '", mask_names[m], "': node ", i, " is also in ", io::split_word(ds.split[i]),
                           "_mask; the masks must not overlap");
            if (ds.labels[i] < 0)
                value_fail("argument '", mask_names[m], "': node ", i, " is in the mask but y[", i, "] is -1");
            ds.split[i] = mask_roles[m];
        }
    }
    std::int32_t max_label = -1;
    for (auto l : ds.labels) max_label = std::max(max_label, l);
    if (num_classes > 0) {
        if (max_label >= num_classes)
            value_fail("argument 'num_classes': is ", num_classes, " but y holds the label ", max_label);
        ds.num_classes = num_classes;
    } else {
        if (max_label < 0) value_fail("argument 'y': no node has a label");
        ds.num_classes = max_label + 1;
    }
    return ds;
}

void py_save_dataset(const std::filesystem::path& path, nb::handle edge_index, nb::handle x, nb::handle y,
                     nb::handle train_mask, nb::handle val_mask, nb::handle test_mask) {
    const auto d = check_dataset_arrays(edge_index, x, y, train_mask, val_mask, test_mask);
    auto save = [&]<class V>() {
        const auto ds = dataset_from<V>(d, 0, "python");
        nb::gil_scoped_release release;
        io::save_dataset(path, ds);
    };
    if (is<float>(d.x)) save.template operator()<float>();
    else save.template operator()<double>();
}

// ---- train -----------------------------------------------------------------------------

#ifdef MIXGCN_HAS_MPI
constexpr bool built_with_mpi = true;
#else
constexpr bool built_with_mpi = false;
#endif
#ifdef MIXGCN_HAS_GLOO
constexpr bool built_with_gloo = true;
#else
constexpr bool built_with_gloo = false;
#endif

// A keyword as mixgcn-train's flag value: numbers in the shortest form that reads back
// to the same value, so the run is the CLI's bit for bit.
template <class T>
std::string flag_value(T v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

void require_choice(const std::string& v, const char* name, std::initializer_list<const char*> options) {
    std::string list;
    for (const char* o : options) {
        if (v == o) return;
        list += std::string(list.empty() ? "'" : ", '") + o + "'";
    }
    value_fail("argument '", name, "': expected one of ", list, ", got '", v, "'");
}

std::string optional_path(nb::handle h, const char* name) {
    if (h.is_none()) return "";
    std::filesystem::path p;
    if (!nb::try_cast<std::filesystem::path>(h, p, true))
        type_fail("argument '", name, "': expected a path (str or os.PathLike) or None, got ", py_type_name(h));
    if (p.empty()) value_fail("argument '", name, "': is empty");
    return p.string();
}

// The JSON report (mixgcn-train --json) as Python objects, with the logits, the
// embeddings (the last hidden layer's outputs) and this rank.
template <class V>
nb::dict result_dict(const std::string& report, dense_matrix<V>&& logits, dense_matrix<V>&& embeddings) {
    nb::dict r = nb::cast<nb::dict>(nb::module_::import_("json").attr("loads")(report));
    r["history"] = r["epochs"];  // one dict per epoch (the JSON's "epochs")
    nb::del(r["epochs"]);
    r["precision"] = sizeof(V) == 4 ? "float" : "double";
    auto array_or_none = [](dense_matrix<V>&& m) -> nb::object {
        if (m.rows() == 0) return nb::none();
        const std::size_t rows = m.rows(), cols = m.cols();
        return to_numpy(std::move(m), {rows, cols});
    };
    r["logits"] = array_or_none(std::move(logits));
    r["embeddings"] = array_or_none(std::move(embeddings));
    return r;
}

template <class V>
nb::dict train_with_precision(const dataset_arrays& d, std::int32_t num_classes, const cli::args& flags,
                              std::optional<int> threads) {
    train_tool::run_extras<V> ex;
    auto ds = std::make_shared<dataset<V>>(dataset_from<V>(d, num_classes, "python"));
    ex.make_dataset = [ds] { return std::move(*ds); };
    ex.data_label = "python";
    ex.summary = !flags.has("quiet");
    std::ostringstream report;
    ex.report = &report;
    dense_matrix<V> logits, embeddings;
    ex.logits = &logits;
    ex.embeddings = &embeddings;
    {
        nb::gil_scoped_release release;
#ifdef _OPENMP
        // --threads for this call only: the caller's OpenMP setting comes back afterwards.
        const int before = omp_get_max_threads();
        if (threads) omp_set_num_threads(*threads);
        struct restore {
            int n;
            ~restore() { omp_set_num_threads(n); }
        } restore_threads{before};
#else
        (void)threads;
#endif
        train_tool::run_on_ranks<backend::host, V>(flags, nullptr, nullptr, ex);
    }
    return result_dict<V>(report.str(), std::move(logits), std::move(embeddings));
}

nb::dict py_train(nb::handle edge_index, nb::handle x_obj, nb::handle y_obj, nb::handle train_mask, nb::handle val_mask,
                  nb::handle test_mask, int epochs, std::size_t hidden, int layers, double lr, double dropout,
                  double weight_decay, std::uint64_t seed, const std::string& precision, const std::string& feature_norm,
                  const std::string& optimizer, int patience, std::optional<std::int32_t> num_classes,
                  const std::string& strategy, std::optional<std::string> comm, const std::string& partition,
                  nb::handle partition_file, std::optional<int> chunks, std::optional<int> clusters,
                  std::optional<int> clusters_per_batch, std::optional<int> accumulate, std::optional<int> stages,
                  std::optional<int> micro_batches, const std::string& normalization, const std::string& order,
                  bool decay_all_layers, bool eval_cache, std::optional<int> threads, nb::handle checkpoint, std::optional<int> checkpoint_every,
                  nb::handle resume, nb::handle memory_limit, std::optional<double> comm_timeout, nb::handle json,
                  nb::handle trace, bool verbose) {
    const auto d = check_dataset_arrays(edge_index, x_obj, y_obj, train_mask, val_mask, test_mask);
    // Every keyword is checked here, naming it; what passes becomes mixgcn-train's flag
    // of the same meaning, and the run is the CLI's (tools/train_host.hpp).
    if (epochs < 0) value_fail("argument 'epochs': must be >= 0, got ", epochs);
    if (hidden < 1) value_fail("argument 'hidden': must be >= 1, got ", hidden);
    if (layers < 1) value_fail("argument 'layers': must be >= 1, got ", layers);
    if (!(lr > 0) || !std::isfinite(lr)) value_fail("argument 'lr': must be > 0, got ", lr);
    if (!(dropout >= 0 && dropout < 1)) value_fail("argument 'dropout': must be in [0, 1), got ", dropout);
    if (!(weight_decay >= 0) || !std::isfinite(weight_decay))
        value_fail("argument 'weight_decay': must be >= 0, got ", weight_decay);
    if (patience < 0) value_fail("argument 'patience': must be >= 0, got ", patience);
    if (num_classes && *num_classes < 1) value_fail("argument 'num_classes': must be >= 1 (or None), got ", *num_classes);
    require_choice(feature_norm, "feature_norm", {"auto", "row", "none"});
    require_choice(optimizer, "optimizer", {"adam", "sgd"});
    require_choice(strategy, "strategy", {"single", "graph", "feature", "mixture", "data", "pipeline", "auto"});
    require_choice(partition, "partition", {"metis", "block", "random", "spectral", "fennel"});
    require_choice(normalization, "normalization", {"fused", "edge-weights"});
    require_choice(order, "order", {"auto", "none", "metis", "rcm", "degree"});
    const bool dbl = wants_double(precision, "precision");
    if (chunks) {
        if (*chunks < 1) value_fail("argument 'chunks': must be >= 1, got ", *chunks);
        if (strategy != "mixture" && strategy != "auto")
            value_fail("argument 'chunks': applies to strategy 'mixture' (or 'auto'), not '", strategy, "'");
    }
    if (clusters && *clusters < 1) value_fail("argument 'clusters': must be >= 1, got ", *clusters);
    if (clusters_per_batch && *clusters_per_batch < 1)
        value_fail("argument 'clusters_per_batch': must be >= 1, got ", *clusters_per_batch);
    if ((clusters || clusters_per_batch) && strategy != "data" && strategy != "pipeline")
        value_fail("argument '", clusters ? "clusters" : "clusters_per_batch",
                   "': applies to strategy 'data' or 'pipeline', not '", strategy, "'");
    if (accumulate) {
        if (*accumulate < 1) value_fail("argument 'accumulate': must be >= 1, got ", *accumulate);
        if (strategy != "data") value_fail("argument 'accumulate': applies to strategy 'data', not '", strategy, "'");
    }
    for (const auto& [name, v] : {std::pair{"stages", stages}, std::pair{"micro_batches", micro_batches}}) {
        if (!v) continue;
        if (*v < 1) value_fail("argument '", name, "': must be >= 1, got ", *v);
        if (strategy != "pipeline") value_fail("argument '", name, "': applies to strategy 'pipeline', not '", strategy, "'");
    }
    if (threads && *threads < 1) value_fail("argument 'threads': must be >= 1, got ", *threads);
    const std::string checkpoint_path = optional_path(checkpoint, "checkpoint");
    const std::string resume_path = optional_path(resume, "resume");
    const std::string partition_path = optional_path(partition_file, "partition_file");
    const std::string json_path = optional_path(json, "json");
    const std::string trace_path = optional_path(trace, "trace");
    if (checkpoint_every) {
        if (*checkpoint_every < 0) value_fail("argument 'checkpoint_every': must be >= 0, got ", *checkpoint_every);
        if (*checkpoint_every > 0 && checkpoint_path.empty())
            value_fail("argument 'checkpoint_every': needs checkpoint=PATH");
    }
    std::string limit;
    if (!memory_limit.is_none()) {
        if (nb::isinstance<nb::str>(memory_limit)) {
            limit = nb::cast<std::string>(memory_limit);
            if (limit != "off") parallel::plan::parse_bytes(limit, "argument 'memory_limit'");
        } else if (nb::isinstance<nb::int_>(memory_limit) && !nb::isinstance<nb::bool_>(memory_limit)) {
            const auto bytes = nb::cast<std::int64_t>(memory_limit);
            if (bytes < 1) value_fail("argument 'memory_limit': must be >= 1 byte, got ", bytes);
            limit = std::to_string(bytes);
        } else {
            type_fail("argument 'memory_limit': expected bytes (int), a size such as '8G', 'off' or None, got ",
                      py_type_name(memory_limit));
        }
    }
    const std::string c = comm ? *comm : train_tool::default_comm(strategy);
    require_choice(c, "comm", {"local", "mpi", "gloo"});
    if (c == "mpi" && !built_with_mpi)
        value_fail("argument 'comm': this mixgcn module was built without MPI; strategy '", strategy,
                   "' asks for comm='mpi'. Build the module in mixgcn's own tree with MPI found "
                   "(MIXGCN_WITH_MPI, the default) or `pip install ./python -C cmake.define.MIXGCN_WITH_MPI=ON`, "
                   "or pass ", built_with_gloo ? "comm='gloo' or " : "", "comm='local' (one process)");
    if (c == "gloo" && !built_with_gloo)
        value_fail("argument 'comm': this mixgcn module was built without Gloo; strategy '", strategy,
                   "' asks for comm='gloo'. Build the module in mixgcn's own tree with Gloo found (MIXGCN_WITH_GLOO) "
                   "or `pip install ./python -C cmake.define.MIXGCN_WITH_GLOO=ON`, or pass ",
                   built_with_mpi ? "comm='mpi' or " : "", "comm='local' (one process)");
    if (comm_timeout) {
        if (c != "gloo") value_fail("argument 'comm_timeout': applies to comm='gloo', not '", c, "'");
        if (!(*comm_timeout >= 0.001 && *comm_timeout <= 1e7))
            value_fail("argument 'comm_timeout': must be between 0.001 and 1e7 seconds, got ", *comm_timeout);
    }

    std::map<std::string, std::string> f{
        {"epochs", flag_value(epochs)},         {"hidden", flag_value(hidden)},
        {"layers", flag_value(layers)},         {"lr", flag_value(lr)},
        {"dropout", flag_value(dropout)},       {"weight-decay", flag_value(weight_decay)},
        {"seed", flag_value(seed)},             {"precision", dbl ? "double" : "float"},
        {"feature-norm", feature_norm},         {"optimizer", optimizer},
        {"patience", flag_value(patience)},     {"strategy", strategy},
        {"comm", c},                            {"partition", partition},
        {"normalization", normalization},       {"order", order},
    };
    if (!partition_path.empty()) f["partition-file"] = partition_path;
    if (chunks) f["chunks"] = flag_value(*chunks);
    if (clusters) f["clusters"] = flag_value(*clusters);
    if (clusters_per_batch) f["clusters-per-batch"] = flag_value(*clusters_per_batch);
    if (accumulate) f["accumulate"] = flag_value(*accumulate);
    if (stages) f["stages"] = flag_value(*stages);
    if (micro_batches) f["micro-batches"] = flag_value(*micro_batches);
    if (decay_all_layers) f["decay-all-layers"] = "1";
    if (!eval_cache) f["no-eval-cache"] = "1";
    if (!checkpoint_path.empty()) f["checkpoint"] = checkpoint_path;
    if (checkpoint_every) f["checkpoint-every"] = flag_value(*checkpoint_every);
    if (!resume_path.empty()) f["resume"] = resume_path;
    if (!limit.empty()) f["memory-limit"] = limit;
    if (comm_timeout) f["comm-timeout"] = flag_value(*comm_timeout);
    if (!json_path.empty()) f["json"] = json_path;
    if (!trace_path.empty()) f["trace"] = trace_path;
    if (!verbose) f["quiet"] = "1";
    const cli::args flags(std::move(f));
    const std::int32_t classes = num_classes.value_or(0);
    return dbl ? train_with_precision<double>(d, classes, flags, threads)
               : train_with_precision<float>(d, classes, flags, threads);
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
        } catch (const mixgcn::cli::usage_error& e) {  // a combination of options the run refuses
            PyErr_SetString(PyExc_ValueError, e.what());
        } catch (const mixgcn::memory_error& e) {  // refused before allocating (memory_limit)
            PyErr_SetString(PyExc_MemoryError, e.what());
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
    m.def("save_dataset", &py_save_dataset, "path"_a, "edge_index"_a.none(), "x"_a.none(), "y"_a.none(),
          "train_mask"_a.none(), "val_mask"_a.none(), "test_mask"_a.none(),
          "Writes edges.npy, features.npy (x's dtype), labels.npy and split.npy into the folder `path` (created "
          "when missing), the layout load_dataset and mixgcn-train --data read.");
    m.def("load_dataset", &py_load_dataset, "path"_a, "dtype"_a = "float32", nb::kw_only(), "split"_a = "",
          "Loads a dataset folder or an OGB raw folder (docs/data-formats.md) into the dict generate_sbm "
          "returns; `split` names the OGB split folder under split/ (default: the only one).");
    m.def("train", &py_train, "edge_index"_a.none(), "x"_a.none(), "y"_a.none(), "train_mask"_a.none(),
          "val_mask"_a.none(), "test_mask"_a.none(), nb::kw_only(), "epochs"_a = 200, "hidden"_a = 16, "layers"_a = 2,
          "lr"_a = 0.01, "dropout"_a = 0.5, "weight_decay"_a = 5e-4, "seed"_a = 42, "precision"_a = "float",
          "feature_norm"_a = "auto", "optimizer"_a = "adam", "patience"_a = 0, "num_classes"_a = nb::none(),
          "strategy"_a = "single", "comm"_a = nb::none(), "partition"_a = "metis", "partition_file"_a.none() = nb::none(),
          "chunks"_a = nb::none(), "clusters"_a = nb::none(), "clusters_per_batch"_a = nb::none(),
          "accumulate"_a = nb::none(), "stages"_a = nb::none(), "micro_batches"_a = nb::none(),
          "normalization"_a = "fused", "order"_a = "auto", "decay_all_layers"_a = false, "eval_cache"_a = true, "threads"_a = nb::none(),
          "checkpoint"_a.none() = nb::none(), "checkpoint_every"_a = nb::none(), "resume"_a.none() = nb::none(),
          "memory_limit"_a.none() = nb::none(), "comm_timeout"_a = nb::none(), "json"_a.none() = nb::none(),
          "trace"_a.none() = nb::none(), "verbose"_a = false,
          "Trains a GCN as mixgcn-train does with the same options (the CLI's code path; distributed strategies "
          "under mpirun or torchrun with comm='mpi'/'gloo'); returns the --json report as a dict (history, "
          "best_val_epoch, test_accuracy, memory, ranks, ...) with the best model's logits (strategy single).");
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
    // Distributed strategies need one of these (comm='mpi' / 'gloo').
    m.attr("has_mpi") = built_with_mpi;
    m.attr("has_gloo") = built_with_gloo;
}
