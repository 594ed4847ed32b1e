// Indexing kernels: cat, gathers along consecutive dimensions by integer index lists (index_select,
// advanced indexing, embedding), their scatter/put inverses, and torch.gather / scatter_add.
#pragma once
#include <vector>

#include "../core/tensor.h"

namespace lamina {

// Tensors that agree on every dimension but `dim` -> their concatenation along `dim`. The result
// dtype is the promotion of all inputs. (Backward is slicing, done by the caller on views.)
Tensor cat_forward(const std::vector<Tensor>& tensors, int64_t dim);
// The same over pointers (the binding's form: no copy of each Tensor out of its Python object).
Tensor cat_forward(const std::vector<const Tensor*>& tensors, int64_t dim);

// Gather along the K = indices.size() consecutive dimensions [dim, dim + K) of src, each index a
// 1-D int64 tensor of the same length L (entry j picks src[..., i0[j], ..., iK-1[j], ...]).
// Shapes: src [A..., S0..SK-1, B...] -> [A..., L, B...]. Out-of-range -> IndexError.
Tensor index_forward(const Tensor& src, int64_t dim, const std::vector<Tensor>& indices);
// Its gradient: zeros of in_shape with dout's rows added at the indexed positions (index-add).
Tensor index_backward(const Tensor& dout, const Shape& in_shape, int64_t dim, const std::vector<Tensor>& indices);
// The inverse write: dst[..., i0[j], ..., ...] = (or +=) src[..., j, ...], in place. src
// broadcasts to [A..., L, B...]. With repeated indices and accumulate=false the last one wins.
void index_put_(Tensor& dst, int64_t dim, const std::vector<Tensor>& indices, const Tensor& src, bool accumulate);

// torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] (dim = 1). index has x's rank and
// index.size(d) <= x.size(d) for d != dim. Shapes: x [...], index [...] -> index's shape.
Tensor gather_forward(const Tensor& x, int64_t dim, const Tensor& index);
// Gradient of gather: zeros of x_shape, then scatter_add_ of dout.
Tensor gather_backward(const Tensor& dout, const Shape& x_shape, int64_t dim, const Tensor& index);
// self[i][index[i][j][k]][k] += src[i][j][k] (dim = 1), in place.
void scatter_add_(Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);

}  // namespace lamina
