// Tensor: shape, strides (in elements), offset, dtype and device over reference-counted shared
// storage. Views (reshape/transpose/slice/...) share storage; contiguous() copies only when needed.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "device.h"
#include "dtype.h"

namespace lamina {

using Shape = std::vector<int64_t>;

// A block of memory on one device. `data` carries its own deleter: our aligned allocator, a CUDA
// free, or (for zero-copy numpy exchange) a reference held on a Python object.
// `version` counts in-place writes (PyTorch's version counter): every view of the storage shares
// it, and autograd compares it with the value seen when a tensor was saved for backward.
struct Storage {
    std::shared_ptr<void> data;
    size_t nbytes = 0;
    Device device;
    std::atomic<uint64_t> version{0};
};

std::shared_ptr<Storage> allocate_storage(size_t nbytes, Device device);

Shape contiguous_strides(const Shape& shape);
int64_t shape_numel(const Shape& shape);
// Wraps a possibly negative dimension into [0, ndim); IndexError naming `op` otherwise.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

class Tensor {
public:
    Tensor() = default;
    Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset, DType dtype);

    // Uninitialised memory, 64-byte aligned on the CPU.
    static Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = {});

    bool defined() const { return storage_ != nullptr; }
    const Shape& shape() const { return shape_; }
    const Shape& strides() const { return strides_; }
    int64_t offset() const { return offset_; }
    DType dtype() const { return dtype_; }
    Device device() const { return storage_ ? storage_->device : Device{}; }
    const std::shared_ptr<Storage>& storage() const { return storage_; }
    // In-place writers call bump_version() once per write (see Storage::version).
    uint64_t version() const { return storage_ ? storage_->version.load(std::memory_order_relaxed) : 0; }
    void bump_version() const {
        if (storage_) storage_->version.fetch_add(1, std::memory_order_relaxed);
    }
    int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
    int64_t numel() const { return numel_; }
    int64_t size(int64_t d) const { return shape_[wrap_dim(d, dim(), "size")]; }
    int64_t stride(int64_t d) const { return strides_[wrap_dim(d, dim(), "stride")]; }
    size_t element_size() const { return itemsize(dtype_); }
    bool is_contiguous() const;

    void* data_ptr() const {
        return static_cast<char*>(storage_->data.get()) + offset_ * static_cast<int64_t>(itemsize(dtype_));
    }
    template <class T>
    T* data() const {
        return static_cast<T*>(data_ptr());
    }

    // ---- views (share storage) ----
    Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;
    Tensor view(const Shape& shape) const;        // ValueError if strides do not allow a view
    Tensor reshape(const Shape& shape) const;     // view when possible, copy otherwise
    Tensor transpose(int64_t d0, int64_t d1) const;
    Tensor permute(const std::vector<int64_t>& dims) const;
    Tensor slice(int64_t dim, int64_t start, int64_t stop, int64_t step) const;  // Python semantics
    Tensor select(int64_t dim, int64_t index) const;
    Tensor expand(const Shape& shape) const;       // -1 keeps a size; new dims are prepended
    Tensor squeeze(int64_t dim) const;
    Tensor squeeze_all() const;
    Tensor unsqueeze(int64_t dim) const;
    Tensor flatten(int64_t start_dim, int64_t end_dim) const;

    // ---- copies ----
    Tensor contiguous() const;
    Tensor clone() const;
    Tensor to(DType dtype) const;     // same object if already that dtype
    Tensor to(Device device) const;   // same object if already there

private:
    std::shared_ptr<Storage> storage_;
    Shape shape_;
    Shape strides_;
    int64_t offset_ = 0;
    int64_t numel_ = 0;
    DType dtype_ = DType::Float32;
};

// Resolves one -1 in `shape` against numel and checks the product; names `op` in errors.
Shape infer_shape(const Shape& shape, int64_t numel, const char* op);
// NumPy broadcasting of two shapes; ValueError naming `op` and both shapes when they do not fit.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace lamina
