// Strided, broadcasting, dtype-converting copy on the CPU, and the routing to CUDA copies.
#include "copy.h"

#include <cstring>

#include "../core/iter.h"
#include "../cuda/cuda_api.h"

namespace lamina {

namespace {

template <class D, class S>
inline D convert(S v) {
    if constexpr (std::is_same_v<D, bool>) return v != S(0);
    else return static_cast<D>(v);
}

void copy_cpu(Tensor& dst, const Tensor& src) {
    const Tensor s = src.expand(dst.shape());
    for_each_run<2>(dst.shape(), {&dst, &s}, [&](const std::array<char*, 2>& p, const int64_t* st, int64_t n) {
        dispatch_all(dst.dtype(), "copy", [&](auto dt) {
            using D = decltype(dt);
            dispatch_all(s.dtype(), "copy", [&](auto stag) {
                using S = decltype(stag);
                D* o = reinterpret_cast<D*>(p[0]);
                const S* i = reinterpret_cast<const S*>(p[1]);
                if (st[0] == 1 && st[1] == 1) {
                    if constexpr (std::is_same_v<D, S>) std::memcpy(o, i, n * sizeof(D));
                    else for (int64_t k = 0; k < n; ++k) o[k] = convert<D>(i[k]);
                } else if (st[0] == 1 && st[1] == 0) {
                    const D v = convert<D>(i[0]);
                    for (int64_t k = 0; k < n; ++k) o[k] = v;
                } else {
                    for (int64_t k = 0; k < n; ++k) o[k * st[0]] = convert<D>(i[k * st[1]]);
                }
            });
        });
    });
}

StridedIndexer<2> make_indexer2(const Tensor& a, const Tensor& b) {
    StridedIndexer<2> ix;
    LAMINA_CHECK_RUNTIME(a.dim() <= kMaxDims, "copy: at most ", kMaxDims, " dimensions on CUDA");
    ix.ndim = static_cast<int>(a.dim());
    for (int d = 0; d < ix.ndim; ++d) {
        ix.sizes[d] = a.shape()[d];
        ix.strides[0][d] = a.strides()[d];
        ix.strides[1][d] = b.strides()[d];
    }
    return ix;
}

}  // namespace

void copy_(Tensor& dst, const Tensor& src) {
    dst.bump_version();
    if (dst.numel() == 0) return;
    const Device dd = dst.device(), sd = src.device();
    if (dd.is_cpu() && sd.is_cpu()) {
        copy_cpu(dst, src);
        return;
    }
    if (dd.is_cuda() && sd.is_cuda()) {
        const Tensor s = src.expand(dst.shape());
        cuda::copy_strided(dst.data_ptr(), dst.dtype(), s.data_ptr(), s.dtype(), make_indexer2(dst, s),
                           dst.numel());
        return;
    }
    if (dd.is_cuda()) {
        // Host -> device: stage a contiguous host copy in dst's dtype and shape, then one memcpy.
        Tensor host = src.to(dst.dtype()).expand(dst.shape()).contiguous();
        if (dst.is_contiguous()) {
            cuda::memcpy_h2d(dst.data_ptr(), host.data_ptr(), host.numel() * host.element_size());
        } else {
            Tensor staged = Tensor::empty(dst.shape(), dst.dtype(), dd);
            cuda::memcpy_h2d(staged.data_ptr(), host.data_ptr(), host.numel() * host.element_size());
            copy_(dst, staged);
        }
        return;
    }
    // Device -> host: make src contiguous on the device, one memcpy, then a host copy.
    Tensor dev = src.contiguous();
    Tensor host = Tensor::empty(dev.shape(), dev.dtype(), Device{});
    cuda::memcpy_d2h(host.data_ptr(), dev.data_ptr(), dev.numel() * dev.element_size());
    copy_cpu(dst, host);
}

}  // namespace lamina
