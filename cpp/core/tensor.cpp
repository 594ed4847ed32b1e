// Tensor construction, allocation and views. Copies (contiguous/clone/to) delegate to ops/copy.
#include "tensor.h"

#include <cstdlib>
#include <numeric>

#include "../cuda/cuda_api.h"
#include "allocator.h"
#include "../ops/copy.h"

namespace lamina {

std::shared_ptr<Storage> allocate_storage(size_t nbytes, Device device) {
    auto st = std::make_shared<Storage>();
    st->nbytes = nbytes;
    st->device = device;
    if (device.is_cuda()) {
        void* p = cuda::malloc(nbytes, device.index);
        st->data = std::shared_ptr<void>(p, [](void* q) { cuda::free(q); });
        return st;
    }
    // 64-byte alignment (a cache line, an AVX-512 register), through the caching allocator.
    try {
        st->data = cpu_allocate(nbytes);
    } catch (const std::bad_alloc&) {
        throw MemoryError(detail::cat("out of memory allocating ", nbytes, " bytes (",
                                      static_cast<double>(nbytes) / (1 << 30), " GiB)"));
    }
    return st;
}

Shape contiguous_strides(const Shape& shape) {
    Shape st(shape.size());
    int64_t s = 1;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
        st[d] = s;
        s *= std::max<int64_t>(shape[d], 1);
    }
    return st;
}

int64_t shape_numel(const Shape& shape) {
    // Checked: an overflowing product would wrap to a small or negative count (and a small
    // allocation that kernels then overrun).
    int64_t n = 1;
    for (auto s : shape) {
        if (__builtin_mul_overflow(n, s, &n))
            throw MemoryError(detail::cat("shape ", shape, " has more than 2^63 elements"));
    }
    return n;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
    const int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
    LAMINA_CHECK_INDEX(dim >= lo && dim <= hi, op, ": dimension out of range (expected to be in range of [",
                       lo, ", ", hi, "], but got ", dim, ")");
    return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset, DType dtype)
    : storage_(std::move(storage)), shape_(std::move(shape)), strides_(std::move(strides)),
      offset_(offset), dtype_(dtype) {
    numel_ = shape_numel(shape_);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
    for (auto s : shape)
        LAMINA_CHECK(s >= 0, "empty: negative dimension in shape ", shape);
    // The byte count is checked too: wrapped size arithmetic once made empty(2**62) "succeed" with
    // a 0-byte buffer and empty(2**63 - 1) hang in the allocator (tests/reliability/test_limits.py).
    const int64_t n = shape_numel(shape);
    int64_t nbytes = 0;
    if (__builtin_mul_overflow(n, static_cast<int64_t>(itemsize(dtype)), &nbytes))
        throw MemoryError(detail::cat("empty: a tensor of shape ", shape, " (", n, " elements of ",
                                      itemsize(dtype), " bytes) needs more than 2^63 bytes"));
    std::shared_ptr<Storage> st;
    try {
        st = allocate_storage(static_cast<size_t>(nbytes), device);
    } catch (const MemoryError& e) {
        throw MemoryError(detail::cat("a tensor of shape ", shape, " (", n, " elements of ",
                                      itemsize(dtype), " bytes): ", e.what()));
    }
    return Tensor(std::move(st), shape, contiguous_strides(shape), 0, dtype);
}

bool Tensor::is_contiguous() const {
    if (numel_ == 0) return true;  // no element is ever addressed; numpy hands out zero strides here
    int64_t expect = 1;
    for (int64_t d = dim() - 1; d >= 0; --d) {
        if (shape_[d] == 1) continue;
        if (strides_[d] != expect) return false;
        expect *= shape_[d];
    }
    return true;
}

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
    LAMINA_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape, " and strides ", strides,
                 " differ in length");
    return Tensor(storage_, shape, strides, offset, dtype_);
}

Shape infer_shape(const Shape& shape, int64_t numel, const char* op) {
    Shape out = shape;
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == -1) {
            LAMINA_CHECK(infer < 0, op, ": only one dimension can be inferred (-1) in shape ", shape);
            infer = static_cast<int64_t>(i);
        } else {
            LAMINA_CHECK(out[i] >= 0, op, ": invalid shape dimension ", out[i], " in ", shape);
            known *= out[i];
        }
    }
    if (infer >= 0) {
        LAMINA_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape,
                     " is invalid for input of size ", numel);
        out[infer] = numel / known;
    } else {
        LAMINA_CHECK(known == numel, op, ": shape ", shape, " is invalid for input of size ", numel);
    }
    return out;
}

// Strides for viewing (shape, strides) as new_shape without copying, if possible: each group of
// old dimensions that maps onto a group of new ones must be contiguous within itself.
static bool view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape, Shape& out) {
    out.assign(new_shape.size(), 0);
    if (shape_numel(shape) == 0) {
        out = contiguous_strides(new_shape);
        return true;
    }
    int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
    int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
    int64_t tensor_numel = 1, view_numel = 1;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
        tensor_numel *= shape[d];
        if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
            while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
                out[view_d] = view_numel * chunk_base_stride;
                view_numel *= new_shape[view_d];
                --view_d;
            }
            if (view_numel != tensor_numel) return false;
            if (d > 0) {
                chunk_base_stride = strides[d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    for (; view_d >= 0; --view_d) out[view_d] = 1;  // leading size-1 dims
    return view_d == -1;
}

Tensor Tensor::view(const Shape& shape) const {
    Shape s = infer_shape(shape, numel_, "view");
    Shape st;
    LAMINA_CHECK(view_strides(shape_, strides_, s, st), "view: size ", s,
                 " is not compatible with input of size ", shape_, " and strides ", strides_,
                 " (at least one dimension spans across two contiguous subspaces); use .reshape(...) instead");
    return Tensor(storage_, s, st, offset_, dtype_);
}

Tensor Tensor::reshape(const Shape& shape) const {
    Shape s = infer_shape(shape, numel_, "reshape");
    Shape st;
    if (view_strides(shape_, strides_, s, st)) return Tensor(storage_, s, st, offset_, dtype_);
    return contiguous().view(s);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
    d0 = wrap_dim(d0, dim(), "transpose");
    d1 = wrap_dim(d1, dim(), "transpose");
    Shape sh = shape_, st = strides_;
    if (dim() > 0) {
        std::swap(sh[d0], sh[d1]);
        std::swap(st[d0], st[d1]);
    }
    return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
    LAMINA_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: number of dims ", dims.size(),
                 " does not match the tensor's rank ", dim(), " (shape ", shape_, ")");
    std::vector<bool> seen(dims.size(), false);
    Shape sh(dims.size()), st(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) {
        int64_t d = wrap_dim(dims[i], dim(), "permute");
        LAMINA_CHECK(!seen[d], "permute: repeated dim ", d, " in ", dims);
        seen[d] = true;
        sh[i] = shape_[d];
        st[i] = strides_[d];
    }
    return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t stop, int64_t step) const {
    LAMINA_CHECK_INDEX(dim() > 0, "slice: cannot slice a 0-d tensor");
    d = wrap_dim(d, dim(), "slice");
    LAMINA_CHECK(step > 0, "slice: step must be positive, got ", step);
    const int64_t n = shape_[d];
    if (start < 0) start += n;
    if (stop < 0) stop += n;
    start = std::min(std::max<int64_t>(start, 0), n);
    stop = std::min(std::max<int64_t>(stop, start), n);
    Shape sh = shape_, st = strides_;
    sh[d] = (stop - start + step - 1) / step;
    st[d] = strides_[d] * step;
    return Tensor(storage_, sh, st, offset_ + start * strides_[d], dtype_);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
    LAMINA_CHECK_INDEX(dim() > 0, "select: invalid index of a 0-dim tensor");
    d = wrap_dim(d, dim(), "select");
    const int64_t n = shape_[d];
    LAMINA_CHECK_INDEX(index >= -n && index < n, "index ", index, " is out of bounds for dimension ", d,
                       " with size ", n, " (tensor of shape ", shape_, ")");
    if (index < 0) index += n;
    Shape sh = shape_, st = strides_;
    sh.erase(sh.begin() + d);
    st.erase(st.begin() + d);
    return Tensor(storage_, sh, st, offset_ + index * strides_[d], dtype_);
}

Tensor Tensor::expand(const Shape& shape) const {
    LAMINA_CHECK(shape.size() >= shape_.size(), "expand: the number of sizes provided (", shape.size(),
                 ") must be at least the tensor's rank (", dim(), "); tensor shape ", shape_,
                 ", requested ", shape);
    const size_t lead = shape.size() - shape_.size();
    Shape sh(shape.size()), st(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i < lead) {
            LAMINA_CHECK(shape[i] >= 0, "expand: new leading dimension must be non-negative, got ",
                         shape);
            sh[i] = shape[i];
            st[i] = 0;
            continue;
        }
        const int64_t cur = shape_[i - lead];
        const int64_t want = shape[i] == -1 ? cur : shape[i];
        // Found by tests/fuzz: expand(-2) of a size-1 dimension made a tensor of shape [-2].
        LAMINA_CHECK(want >= 0, "expand: size ", shape[i], " at dimension ", i,
                     " is negative (only -1, keep the size, is allowed); target sizes ", shape);
        if (cur == want) {
            sh[i] = cur;
            st[i] = strides_[i - lead];
        } else {
            LAMINA_CHECK(cur == 1, "expand: the expanded size of the tensor (", want,
                         ") must match the existing size (", cur, ") at non-singleton dimension ", i,
                         ". Target sizes: ", shape, ". Tensor sizes: ", shape_);
            sh[i] = want;
            st[i] = 0;
        }
    }
    return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::squeeze(int64_t d) const {
    if (dim() == 0) return *this;
    d = wrap_dim(d, dim(), "squeeze");
    if (shape_[d] != 1) return *this;
    Shape sh = shape_, st = strides_;
    sh.erase(sh.begin() + d);
    st.erase(st.begin() + d);
    return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::squeeze_all() const {
    Shape sh, st;
    for (int64_t d = 0; d < dim(); ++d)
        if (shape_[d] != 1) {
            sh.push_back(shape_[d]);
            st.push_back(strides_[d]);
        }
    return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::unsqueeze(int64_t d) const {
    d = wrap_dim(d, dim() + 1, "unsqueeze");
    Shape sh = shape_, st = strides_;
    const int64_t s = d < dim() ? strides_[d] * shape_[d] : 1;
    sh.insert(sh.begin() + d, 1);
    st.insert(st.begin() + d, s);
    return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
    if (dim() == 0) return reshape({1});
    start = wrap_dim(start, dim(), "flatten");
    end = wrap_dim(end, dim(), "flatten");
    LAMINA_CHECK(start <= end, "flatten: start_dim (", start, ") cannot come after end_dim (", end, ")");
    Shape sh(shape_.begin(), shape_.begin() + start);
    int64_t m = 1;
    for (int64_t d = start; d <= end; ++d) m *= shape_[d];
    sh.push_back(m);
    sh.insert(sh.end(), shape_.begin() + end + 1, shape_.end());
    return reshape(sh);
}

Tensor Tensor::contiguous() const {
    if (is_contiguous()) return *this;
    return clone();
}

Tensor Tensor::clone() const {
    Tensor out = Tensor::empty(shape_, dtype_, device());
    copy_(out, *this);
    return out;
}

Tensor Tensor::to(DType dt) const {
    if (dt == dtype_) return *this;
    Tensor out = Tensor::empty(shape_, dt, device());
    copy_(out, *this);
    return out;
}

Tensor Tensor::to(Device dev) const {
    if (dev == device()) return *this;
    Tensor out = Tensor::empty(shape_, dtype_, dev);
    copy_(out, *this);
    return out;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    const size_t n = std::max(a.size(), b.size());
    Shape out(n);
    for (size_t i = 0; i < n; ++i) {
        const int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
        const int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
        LAMINA_CHECK(x == y || x == 1 || y == 1, op, ": shapes ", a, " and ", b,
                     " cannot be broadcast together (dimension ", i, ": ", x, " vs ", y, ")");
        out[i] = x == 1 ? y : x;
    }
    return out;
}

}  // namespace lamina
