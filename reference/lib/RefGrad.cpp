// Reference gradients of the dense and convolution ops, the reduction used
// for bias gradients, the embedding weight gradient, and scale / causalMask.
#include "dnnref/RefGrad.h"

#include "RefSupport.h"

#include <cmath>
#include <limits>

namespace dnnref {

using namespace detail;

Tensor reduceSum(const Tensor &x, const std::vector<int> &axes) {
  checkConsistent(x, "reduceSum input");
  const size_t rank = x.shape.size();
  std::vector<bool> reduced(rank, false);
  for (int axis : axes) {
    const int a = normalizeAxis(axis, rank, "reduceSum");
    if (reduced[a])
      fail("reduceSum lists axis " + std::to_string(a) + " twice");
    reduced[a] = true;
  }
  std::vector<int64_t> shape;
  for (size_t d = 0; d < rank; ++d)
    if (!reduced[d])
      shape.push_back(x.shape[d]);
  Tensor y(shape);
  const std::vector<int64_t> outStrides = stridesOf(shape);
  size_t flat = 0;
  forEachIndex(x.shape, [&](const std::vector<int64_t> &index) {
    int64_t offset = 0;
    size_t k = 0;
    for (size_t d = 0; d < rank; ++d)
      if (!reduced[d])
        offset += index[d] * outStrides[k++];
    y.data[offset] += x.data[flat++];
  });
  return y;
}

Tensor denseGradWeight(const Tensor &dy, const Tensor &x) {
  checkRank(dy, 2, "denseGradWeight dy");
  checkRank(x, 2, "denseGradWeight x");
  const int64_t R = dy.shape[0], out = dy.shape[1], in = x.shape[1];
  checkShape(x, {R, in}, "denseGradWeight x");
  Tensor dW({out, in});
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) {
      double sum = 0.0;
      for (int64_t r = 0; r < R; ++r)
        sum += dy.data[r * out + o] * x.data[r * in + i];
      dW.data[o * in + i] = sum;
    }
  return dW;
}

Tensor denseGradInput(const Tensor &dy, const Tensor &weight) {
  checkRank(dy, 2, "denseGradInput dy");
  checkRank(weight, 2, "denseGradInput weight");
  const int64_t R = dy.shape[0], out = dy.shape[1], in = weight.shape[1];
  checkShape(weight, {out, in}, "denseGradInput weight");
  Tensor dx({R, in});
  for (int64_t r = 0; r < R; ++r)
    for (int64_t i = 0; i < in; ++i) {
      double sum = 0.0;
      for (int64_t o = 0; o < out; ++o)
        sum += dy.data[r * out + o] * weight.data[o * in + i];
      dx.data[r * in + i] = sum;
    }
  return dx;
}

Tensor conv2dGradWeight(const Tensor &dy, const Tensor &x, const Conv2dParams &p, int64_t KH,
                        int64_t KW) {
  checkRank(dy, 4, "conv2dGradWeight dy");
  checkRank(x, 4, "conv2dGradWeight x");
  checkAtLeast(KH, 1, "conv2dGradWeight KH");
  checkAtLeast(KW, 1, "conv2dGradWeight KW");
  checkAtLeast(p.strideH, 1, "conv2dGradWeight strideH");
  checkAtLeast(p.strideW, 1, "conv2dGradWeight strideW");
  checkAtLeast(p.padTop, 0, "conv2dGradWeight padTop");
  checkAtLeast(p.padLeft, 0, "conv2dGradWeight padLeft");
  checkAtLeast(p.padBottom, 0, "conv2dGradWeight padBottom");
  checkAtLeast(p.padRight, 0, "conv2dGradWeight padRight");
  checkAtLeast(p.dilationH, 1, "conv2dGradWeight dilationH");
  checkAtLeast(p.dilationW, 1, "conv2dGradWeight dilationW");
  checkAtLeast(p.groups, 1, "conv2dGradWeight groups");
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t O = dy.shape[1];
  if (C % p.groups != 0 || O % p.groups != 0)
    fail("conv2dGradWeight groups " + std::to_string(p.groups) + " must divide C " +
         std::to_string(C) + " and O " + std::to_string(O));
  const int64_t spanH = H + p.padTop + p.padBottom - p.dilationH * (KH - 1) - 1;
  const int64_t spanW = W + p.padLeft + p.padRight - p.dilationW * (KW - 1) - 1;
  if (spanH < 0 || spanW < 0)
    fail("conv2dGradWeight kernel larger than the padded input " + shapeString(x.shape));
  const int64_t OH = spanH / p.strideH + 1, OW = spanW / p.strideW + 1;
  checkShape(dy, {N, O, OH, OW}, "conv2dGradWeight dy");

  const int64_t Cg = C / p.groups, Og = O / p.groups;
  Tensor dW({O, Cg, KH, KW});
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t ky = 0; ky < KH; ++ky)
        for (int64_t kx = 0; kx < KW; ++kx) {
          const int64_t cin = (o / Og) * Cg + c;
          double sum = 0.0;
          for (int64_t n = 0; n < N; ++n)
            for (int64_t oy = 0; oy < OH; ++oy)
              for (int64_t ox = 0; ox < OW; ++ox) {
                const int64_t iy = oy * p.strideH + ky * p.dilationH - p.padTop;
                const int64_t ix = ox * p.strideW + kx * p.dilationW - p.padLeft;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                  continue; // zero padding
                sum += dy.data[((n * O + o) * OH + oy) * OW + ox] *
                       x.data[((n * C + cin) * H + iy) * W + ix];
              }
          dW.data[((o * Cg + c) * KH + ky) * KW + kx] = sum;
        }
  return dW;
}

Tensor embeddingGrad(const Tensor &dy, const Tensor &indices, int64_t numEmbeddings) {
  checkConsistent(indices, "embeddingGrad indices");
  checkConsistent(dy, "embeddingGrad dy");
  checkAtLeast(numEmbeddings, 1, "embeddingGrad numEmbeddings");
  if (indices.shape.empty() || dy.shape.size() != indices.shape.size() + 1)
    fail("embeddingGrad dy " + shapeString(dy.shape) + " must be indices " +
         shapeString(indices.shape) + " plus a trailing embedding axis");
  const int64_t E = dy.shape.back();
  std::vector<int64_t> expected = indices.shape;
  expected.push_back(E);
  checkShape(dy, expected, "embeddingGrad dy");
  Tensor dW({numEmbeddings, E});
  for (size_t i = 0; i < indices.data.size(); ++i) {
    const double index = indices.data[i];
    if (!(index >= 0.0 && index < static_cast<double>(numEmbeddings) &&
          index == std::floor(index)))
      fail("embeddingGrad index " + std::to_string(index) + " at flat position " +
           std::to_string(i) + " is not an integer in [0, " + std::to_string(numEmbeddings) +
           ")");
    const int64_t row = static_cast<int64_t>(index);
    for (int64_t e = 0; e < E; ++e)
      dW.data[row * E + e] += dy.data[i * E + e];
  }
  return dW;
}

Tensor scale(const Tensor &x, double factor) {
  checkConsistent(x, "scale input");
  Tensor y(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i)
    y.data[i] = x.data[i] * factor;
  return y;
}

Tensor causalMask(const Tensor &s) {
  checkRank(s, 3, "causalMask input");
  const int64_t B = s.shape[0], Tq = s.shape[1], Tk = s.shape[2];
  Tensor y = s;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Tq; ++i)
      for (int64_t j = i + 1; j < Tk; ++j)
        y.data[(b * Tq + i) * Tk + j] = -std::numeric_limits<double>::infinity();
  return y;
}

} // namespace dnnref
