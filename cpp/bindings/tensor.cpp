// The Tensor class for Python: metadata, views, copies and zero-copy numpy exchange.
// A numpy array handed to from_numpy stays alive as long as any tensor views its memory, and a
// tensor's storage stays alive as long as any array returned by numpy() does.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/copy.h"
#include "bindings.h"
#include "convert.h"

namespace py = pybind11;

namespace lamina::bind {

Device parse_device(const std::string& s) {
    if (s == "cpu") return Device{DeviceType::CPU, 0};
    if (s == "cuda") return Device{DeviceType::CUDA, 0};
    if (s.rfind("cuda:", 0) == 0) {
        try {
            return Device{DeviceType::CUDA, std::stoi(s.substr(5))};
        } catch (const std::exception&) {
        }
    }
    throw ValueError("invalid device '" + s + "': expected 'cpu', 'cuda' or 'cuda:N'");
}

py::dtype to_numpy_dtype(DType d) {
    switch (d) {
        case DType::Float32: return py::dtype::of<float>();
        case DType::Float64: return py::dtype::of<double>();
        case DType::Int64: return py::dtype::of<int64_t>();
        case DType::Bool: return py::dtype::of<bool>();
    }
    throw TypeError("unknown dtype");
}

DType from_numpy_dtype(const py::dtype& d) {
    if (d.is(py::dtype::of<float>()) || d.equal(py::dtype::of<float>())) return DType::Float32;
    if (d.equal(py::dtype::of<double>())) return DType::Float64;
    if (d.equal(py::dtype::of<int64_t>())) return DType::Int64;
    if (d.equal(py::dtype::of<bool>())) return DType::Bool;
    throw TypeError("from_numpy: numpy dtype " + std::string(py::str(d)) +
                    " is not supported (lamina holds float32, float64, int64 and bool); convert "
                    "with arr.astype(...) first");
}

namespace {

Tensor from_numpy(py::array arr) {
    const DType dt = from_numpy_dtype(arr.dtype());
    const int64_t isz = static_cast<int64_t>(itemsize(dt));
    Shape shape(arr.ndim()), strides(arr.ndim());
    bool ok = true;
    for (py::ssize_t d = 0; d < arr.ndim(); ++d) {
        shape[d] = arr.shape(d);
        const int64_t bs = arr.strides(d);
        if (bs < 0 || bs % isz != 0) ok = false;
        strides[d] = bs / isz;
    }
    if (!ok) {
        // Negative or unaligned strides: no tensor view can describe them; copy instead.
        py::array c = py::array::ensure(arr, py::array::c_style | py::array::forcecast);
        return from_numpy(c);
    }
    int64_t extent = 1;
    for (size_t d = 0; d < shape.size(); ++d)
        if (shape[d] > 0) extent += (shape[d] - 1) * strides[d];
    if (shape_numel(shape) == 0) extent = 0;
    auto st = std::make_shared<Storage>();
    py::object keep = arr;  // holds a reference until the last tensor on this memory goes away
    auto* holder = new py::object(std::move(keep));
    st->data = std::shared_ptr<void>(const_cast<void*>(arr.data()), [holder](void*) {
        py::gil_scoped_acquire gil;
        delete holder;
    });
    st->nbytes = static_cast<size_t>(extent * isz);
    st->device = Device{};
    return Tensor(st, shape, strides, 0, dt);
}

py::array to_numpy(const Tensor& t) {
    LAMINA_CHECK_RUNTIME(t.device().is_cpu(), "numpy(): tensor is on ", t.device(),
                         "; call .cpu() first to copy it to host memory");
    std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
    for (auto s : t.strides()) strides.push_back(static_cast<py::ssize_t>(s * t.element_size()));
    // The capsule owns a reference to the storage; numpy keeps the capsule as the array's base.
    auto* keep = new std::shared_ptr<Storage>(t.storage());
    py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<Storage>*>(p); });
    return py::array(to_numpy_dtype(t.dtype()), shape, strides, t.data_ptr(), base);
}

}  // namespace

void register_tensor(py::module_& m) {
    py::enum_<DType>(m, "DType")
        .value("float32", DType::Float32)
        .value("float64", DType::Float64)
        .value("int64", DType::Int64)
        .value("bool", DType::Bool);

    m.def("dtype_itemsize", [](DType d) { return itemsize(d); }, py::arg("dtype"));
    m.def("promote_types", &promote_types, py::arg("a"), py::arg("b"));

    using R = py::return_value_policy;
    (void)R::move;
    py::class_<Tensor>(m, "Tensor", py::buffer_protocol())
        .def_property_readonly("shape", [](const Tensor& t) { return py::tuple(py::cast(t.shape())); })
        .def_property_readonly("strides", [](const Tensor& t) { return py::tuple(py::cast(t.strides())); })
        .def_property_readonly("offset", &Tensor::offset)
        .def_property_readonly("_version", &Tensor::version)
        .def("_bump_version", &Tensor::bump_version)
        .def_property_readonly("dtype", &Tensor::dtype)
        // Hot-path queries for autograd (Function.apply runs them per input and output): a bool
        // and one tuple are far cheaper than hashing a DType enum object or three property reads.
        .def_property_readonly("is_floating_point", [](const Tensor& t) { return is_floating(t.dtype()); })
        .def_property_readonly("_meta", [](const Tensor& t) {
            return py::make_tuple(py::tuple(py::cast(t.shape())), t.dtype(), t.device().str());
        })
        .def_property_readonly("device", [](const Tensor& t) { return t.device().str(); })
        .def_property_readonly("ndim", &Tensor::dim)
        .def("numel", &Tensor::numel)
        .def("is_contiguous", &Tensor::is_contiguous)
        .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()); })
        .def("storage_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.storage()->data.get()); })
        .def("storage_nbytes", [](const Tensor& t) { return t.storage()->nbytes; })
        // How many C++ tensors share this storage (views, saved copies): autograd adopts a leaf's
        // first gradient without a copy only when nothing else can see its memory (use count 1).
        .def("_storage_use_count", [](const Tensor& t) { return t.storage() ? t.storage().use_count() : 0; })
        .def("view", &Tensor::view, py::arg("shape"))
        .def("reshape", &Tensor::reshape, py::arg("shape"),
             py::call_guard<py::gil_scoped_release>())  // may copy
        .def("transpose", &Tensor::transpose, py::arg("dim0"), py::arg("dim1"))
        .def("permute", &Tensor::permute, py::arg("dims"))
        .def("slice", &Tensor::slice, py::arg("dim"), py::arg("start"), py::arg("stop"), py::arg("step"))
        .def("select", &Tensor::select, py::arg("dim"), py::arg("index"))
        .def("expand", &Tensor::expand, py::arg("shape"))
        .def("squeeze", &Tensor::squeeze, py::arg("dim"))
        .def("squeeze_all", &Tensor::squeeze_all)
        .def("unsqueeze", &Tensor::unsqueeze, py::arg("dim"))
        .def("flatten", &Tensor::flatten, py::arg("start_dim"), py::arg("end_dim"),
             py::call_guard<py::gil_scoped_release>())  // may copy
        .def("as_strided", &Tensor::as_strided, py::arg("shape"), py::arg("strides"), py::arg("offset"))
        .def("contiguous", &Tensor::contiguous, py::call_guard<py::gil_scoped_release>())
        .def("clone", &Tensor::clone, py::call_guard<py::gil_scoped_release>())
        .def("to_dtype", py::overload_cast<DType>(&Tensor::to, py::const_), py::arg("dtype"),
             py::call_guard<py::gil_scoped_release>())
        .def("to_device", [](const Tensor& t, const std::string& dev) {
            const Device d = parse_device(dev);
            py::gil_scoped_release nogil;
            return t.to(d);
        }, py::arg("device"))
        .def("copy_", [](Tensor& dst, const Tensor& src) {
            py::gil_scoped_release nogil;
            copy_(dst, src);
        }, py::arg("src"))
        .def("numpy", &to_numpy)
        .def_buffer([](const Tensor& t) -> py::buffer_info {
            LAMINA_CHECK_RUNTIME(t.device().is_cpu(), "buffer protocol: tensor is on ", t.device());
            std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
            for (auto s : t.strides()) strides.push_back(static_cast<py::ssize_t>(s * t.element_size()));
            std::string fmt = t.dtype() == DType::Float32   ? py::format_descriptor<float>::format()
                              : t.dtype() == DType::Float64 ? py::format_descriptor<double>::format()
                              : t.dtype() == DType::Int64   ? py::format_descriptor<int64_t>::format()
                                                            : py::format_descriptor<bool>::format();
            return py::buffer_info(t.data_ptr(), static_cast<py::ssize_t>(t.element_size()), fmt,
                                   t.dim(), shape, strides);
        });

    m.def("empty", [](const Shape& shape, DType dt, const std::string& dev) {
        return Tensor::empty(shape, dt, parse_device(dev));
    }, py::arg("shape"), py::arg("dtype"), py::arg("device"));
    m.def("from_numpy", &from_numpy, py::arg("array"));
}

}  // namespace lamina::bind
