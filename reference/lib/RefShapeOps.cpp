// Reference data-movement ops: transpose, concat, split, pad, embedding and
// 2-D upsampling.
#include "dnnref/RefKernels.h"

#include "RefSupport.h"

#include <algorithm>
#include <cmath>

namespace dnnref {

using namespace detail;

namespace {

// Row-major flat offset of `index` in a tensor with `strides`.
int64_t offsetOf(const std::vector<int64_t> &index, const std::vector<int64_t> &strides) {
  int64_t offset = 0;
  for (size_t d = 0; d < index.size(); ++d)
    offset += index[d] * strides[d];
  return offset;
}

// Bilinear source taps along one axis (PyTorch, align_corners=False):
// out[dst] = (1 - weight) * in[i0] + weight * in[i1].
struct Taps {
  int64_t i0, i1;
  double weight;
};

Taps bilinearTaps(int64_t dst, int scale, int64_t inExtent) {
  double src = (static_cast<double>(dst) + 0.5) / scale - 0.5;
  if (src < 0.0)
    src = 0.0;
  Taps t;
  t.i0 = static_cast<int64_t>(std::floor(src));
  t.i1 = std::min(t.i0 + 1, inExtent - 1);
  t.weight = src - static_cast<double>(t.i0);
  return t;
}

} // namespace

Tensor transpose(const Tensor &x, const std::vector<int> &perm) {
  checkConsistent(x, "transpose input");
  const size_t rank = x.shape.size();
  if (perm.size() != rank)
    fail("transpose perm has " + std::to_string(perm.size()) + " entries for shape " +
         shapeString(x.shape));
  std::vector<bool> seen(rank, false);
  for (int p : perm) {
    if (p < 0 || p >= static_cast<int>(rank) || seen[p])
      fail("transpose perm is not a permutation of 0.." + std::to_string(rank - 1));
    seen[p] = true;
  }
  std::vector<int64_t> shape(rank);
  for (size_t i = 0; i < rank; ++i)
    shape[i] = x.shape[perm[i]];
  const std::vector<int64_t> inStrides = stridesOf(x.shape);
  // Output dim i walks input dim perm[i].
  std::vector<int64_t> strides(rank);
  for (size_t i = 0; i < rank; ++i)
    strides[i] = inStrides[perm[i]];
  Tensor y(shape);
  size_t flat = 0;
  forEachIndex(shape, [&](const std::vector<int64_t> &index) {
    y.data[flat++] = x.data[offsetOf(index, strides)];
  });
  return y;
}

Tensor concat(const std::vector<const Tensor *> &inputs, int axis) {
  if (inputs.empty())
    fail("concat of no inputs");
  for (const Tensor *t : inputs) {
    if (!t)
      fail("concat input is null");
    checkConsistent(*t, "concat input");
  }
  const std::vector<int64_t> &first = inputs[0]->shape;
  const int a = normalizeAxis(axis, first.size(), "concat");
  std::vector<int64_t> shape = first;
  shape[a] = 0;
  for (const Tensor *t : inputs) {
    std::vector<int64_t> expected = first;
    expected[a] = t->shape.size() == first.size() ? t->shape[a] : 0;
    checkShape(*t, expected, "concat input");
    shape[a] += t->shape[a];
  }
  Tensor y(shape);
  // Outer index o (dims before axis): each input contributes one contiguous
  // run of extent_k * inner values, in input order.
  const int64_t outer = product(std::vector<int64_t>(first.begin(), first.begin() + a));
  size_t flat = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (const Tensor *t : inputs) {
      const int64_t run = t->numel() / std::max<int64_t>(outer, 1);
      for (int64_t i = 0; i < run; ++i)
        y.data[flat++] = t->data[o * run + i];
    }
  return y;
}

std::vector<Tensor> split(const Tensor &x, int axis, const std::vector<int64_t> &sizes) {
  checkConsistent(x, "split input");
  const int a = normalizeAxis(axis, x.shape.size(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    checkAtLeast(s, 0, "split size");
    total += s;
  }
  if (total != x.shape[a])
    fail("split sizes sum to " + std::to_string(total) + ", axis " + std::to_string(axis) +
         " of " + shapeString(x.shape) + " has extent " + std::to_string(x.shape[a]));
  const std::vector<int64_t> strides = stridesOf(x.shape);
  std::vector<Tensor> outs;
  int64_t start = 0;
  for (int64_t s : sizes) {
    std::vector<int64_t> shape = x.shape;
    shape[a] = s;
    Tensor y(shape);
    size_t flat = 0;
    forEachIndex(shape, [&](const std::vector<int64_t> &index) {
      y.data[flat++] = x.data[offsetOf(index, strides) + start * strides[a]];
    });
    outs.push_back(std::move(y));
    start += s;
  }
  return outs;
}

Tensor pad(const Tensor &x, const std::vector<int64_t> &before, const std::vector<int64_t> &after,
           double value) {
  checkConsistent(x, "pad input");
  const size_t rank = x.shape.size();
  if (before.size() != rank || after.size() != rank)
    fail("pad needs one before/after entry per dim of " + shapeString(x.shape));
  std::vector<int64_t> shape(rank);
  for (size_t d = 0; d < rank; ++d) {
    checkAtLeast(before[d], 0, "pad before");
    checkAtLeast(after[d], 0, "pad after");
    shape[d] = x.shape[d] + before[d] + after[d];
  }
  const std::vector<int64_t> strides = stridesOf(x.shape), outStrides = stridesOf(shape);
  Tensor y(shape, value);
  // Scatter every input element to its shifted place.
  forEachIndex(x.shape, [&](const std::vector<int64_t> &index) {
    std::vector<int64_t> shifted = index;
    for (size_t d = 0; d < rank; ++d)
      shifted[d] += before[d];
    y.data[offsetOf(shifted, outStrides)] = x.data[offsetOf(index, strides)];
  });
  return y;
}

Tensor embedding(const Tensor &indices, const Tensor &weight) {
  checkConsistent(indices, "embedding indices");
  checkRank(weight, 2, "embedding weight");
  if (indices.shape.empty())
    fail("embedding indices need a batch axis; got a scalar");
  const int64_t V = weight.shape[0], E = weight.shape[1];
  std::vector<int64_t> shape = indices.shape;
  shape.push_back(E);
  Tensor y(shape);
  for (size_t i = 0; i < indices.data.size(); ++i) {
    const double index = indices.data[i];
    if (!(index >= 0.0 && index < static_cast<double>(V) && index == std::floor(index)))
      fail("embedding index " + std::to_string(index) + " at flat position " +
           std::to_string(i) + " is not an integer in [0, " + std::to_string(V) + ")");
    const int64_t row = static_cast<int64_t>(index);
    for (int64_t e = 0; e < E; ++e)
      y.data[i * E + e] = weight.data[row * E + e];
  }
  return y;
}

Tensor upsample2d(const Tensor &x, int scaleH, int scaleW, Upsample mode) {
  checkRank(x, 4, "upsample2d input");
  checkAtLeast(scaleH, 1, "upsample2d scaleH");
  checkAtLeast(scaleW, 1, "upsample2d scaleW");
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t OH = H * scaleH, OW = W * scaleW;
  Tensor y({N, C, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const double *in = x.data.data() + (n * C + c) * H * W;
      double *out = y.data.data() + (n * C + c) * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          if (mode == Upsample::Nearest) {
            out[oh * OW + ow] = in[(oh / scaleH) * W + ow / scaleW];
            continue;
          }
          const Taps th = bilinearTaps(oh, scaleH, H), tw = bilinearTaps(ow, scaleW, W);
          const double top = (1.0 - tw.weight) * in[th.i0 * W + tw.i0] +
                             tw.weight * in[th.i0 * W + tw.i1];
          const double bottom = (1.0 - tw.weight) * in[th.i1 * W + tw.i0] +
                                tw.weight * in[th.i1 * W + tw.i1];
          out[oh * OW + ow] = (1.0 - th.weight) * top + th.weight * bottom;
        }
    }
  return y;
}

} // namespace dnnref
