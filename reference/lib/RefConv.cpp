#include "dnnref/RefConv.h"

#include "RefSupport.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>

namespace dnnref {

namespace {

using namespace detail;

void checkMinRank(const Tensor &t, size_t rank, const char *name) {
  checkConsistent(t, name);
  if (t.shape.size() < rank)
    fail(std::string(name) + " must have rank >= " + std::to_string(rank) + ", got " +
         shapeString(t.shape));
}

// Floor output-size rule of convolutions and pools.
int64_t outputExtent(int64_t input, int padBefore, int padAfter, int64_t kernel, int dilation,
                     int stride, const char *what) {
  const int64_t paddedInput = input + padBefore + padAfter;
  const int64_t window = dilation * (kernel - 1) + 1;
  if (paddedInput < window)
    fail(std::string("window of extent ") + std::to_string(window) + " does not fit the padded " +
         what + " input of extent " + std::to_string(paddedInput));
  return (paddedInput - window) / stride + 1;
}

enum class PoolKind { Max, Average };

Tensor pool1d(const Tensor &x, const Pool1dParams &p, PoolKind kind) {
  const char *name = kind == PoolKind::Max ? "maxPool1d input" : "avgPool1d input";
  checkRank(x, 3, name);
  checkAtLeast(p.kernel, 1, "pool1d kernel");
  checkAtLeast(p.stride, 1, "pool1d stride");
  checkAtLeast(p.padBefore, 0, "pool1d padBefore");
  checkAtLeast(p.padAfter, 0, "pool1d padAfter");

  const int64_t N = x.shape[0], C = x.shape[1], L = x.shape[2];
  const int64_t OL = outputExtent(L, p.padBefore, p.padAfter, p.kernel, 1, p.stride, "pool1d");

  Tensor y({N, C, OL});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ol = 0; ol < OL; ++ol) {
        double maximum = -std::numeric_limits<double>::infinity();
        double sum = 0.0;
        int64_t inBounds = 0;
        for (int64_t k = 0; k < p.kernel; ++k) {
          const int64_t il = ol * p.stride - p.padBefore + k;
          if (il < 0 || il >= L)
            continue; // padding: never the max, adds 0 to the sum
          const double v = x.data[(n * C + c) * L + il];
          if (v > maximum || std::isnan(v))
            maximum = v; // a NaN in the window must not be dropped
          sum += v;
          ++inBounds;
        }
        if (inBounds == 0 && !(kind == PoolKind::Average && p.countIncludePad))
          fail("pooling window at output " + std::to_string(ol) + " lies entirely in the padding");
        double result;
        if (kind == PoolKind::Max)
          result = maximum;
        else if (p.countIncludePad)
          result = sum / static_cast<double>(p.kernel);
        else
          result = sum / static_cast<double>(inBounds);
        y.data[(n * C + c) * OL + ol] = result;
      }
  return y;
}

} // namespace

Tensor conv1d(const Tensor &x, const Tensor &weight, const Tensor *bias, const Conv1dParams &p) {
  checkRank(x, 3, "conv1d input");
  checkRank(weight, 3, "conv1d weight");
  checkAtLeast(p.stride, 1, "conv1d stride");
  checkAtLeast(p.padBefore, 0, "conv1d padBefore");
  checkAtLeast(p.padAfter, 0, "conv1d padAfter");
  checkAtLeast(p.dilation, 1, "conv1d dilation");
  checkAtLeast(p.groups, 1, "conv1d groups");

  const int64_t N = x.shape[0], C = x.shape[1], L = x.shape[2];
  const int64_t O = weight.shape[0], K = weight.shape[2];
  if (C % p.groups != 0 || O % p.groups != 0)
    fail("conv1d groups " + std::to_string(p.groups) + " must divide input channels " +
         std::to_string(C) + " and output channels " + std::to_string(O));
  const int64_t inPerGroup = C / p.groups, outPerGroup = O / p.groups;
  checkShape(weight, {O, inPerGroup, K}, "conv1d weight");
  checkAtLeast(K, 1, "conv1d kernel size");
  if (bias)
    checkShape(*bias, {O}, "conv1d bias");
  const int64_t OL = outputExtent(L, p.padBefore, p.padAfter, K, p.dilation, p.stride, "conv1d");

  Tensor y({N, O, OL});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      const int64_t group = o / outPerGroup;
      for (int64_t ol = 0; ol < OL; ++ol) {
        double sum = bias ? bias->data[o] : 0.0;
        for (int64_t cg = 0; cg < inPerGroup; ++cg) {
          const int64_t c = group * inPerGroup + cg;
          for (int64_t k = 0; k < K; ++k) {
            const int64_t il = ol * p.stride - p.padBefore + k * p.dilation;
            if (il < 0 || il >= L)
              continue; // zero padding contributes nothing
            sum += x.data[(n * C + c) * L + il] * weight.data[(o * inPerGroup + cg) * K + k];
          }
        }
        y.data[(n * O + o) * OL + ol] = sum;
      }
    }
  return y;
}

Tensor convTranspose2d(const Tensor &x, const Tensor &weight, const Tensor *bias,
                       const ConvTranspose2dParams &p) {
  checkRank(x, 4, "convTranspose2d input");
  checkRank(weight, 4, "convTranspose2d weight");
  checkAtLeast(p.strideH, 1, "convTranspose2d strideH");
  checkAtLeast(p.strideW, 1, "convTranspose2d strideW");
  checkAtLeast(p.padTop, 0, "convTranspose2d padTop");
  checkAtLeast(p.padLeft, 0, "convTranspose2d padLeft");
  checkAtLeast(p.padBottom, 0, "convTranspose2d padBottom");
  checkAtLeast(p.padRight, 0, "convTranspose2d padRight");
  checkAtLeast(p.outputPadH, 0, "convTranspose2d outputPadH");
  checkAtLeast(p.outputPadW, 0, "convTranspose2d outputPadW");
  checkAtLeast(p.dilationH, 1, "convTranspose2d dilationH");
  checkAtLeast(p.dilationW, 1, "convTranspose2d dilationW");
  checkAtLeast(p.groups, 1, "convTranspose2d groups");
  if (p.outputPadH >= std::max(p.strideH, p.dilationH) ||
      p.outputPadW >= std::max(p.strideW, p.dilationW))
    fail("convTranspose2d output padding (" + std::to_string(p.outputPadH) + ", " +
         std::to_string(p.outputPadW) + ") must be smaller than the stride or the dilation");

  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t outPerGroup = weight.shape[1], KH = weight.shape[2], KW = weight.shape[3];
  const int64_t O = outPerGroup * p.groups;
  if (C % p.groups != 0)
    fail("convTranspose2d groups " + std::to_string(p.groups) + " must divide input channels " +
         std::to_string(C));
  const int64_t inPerGroup = C / p.groups;
  checkShape(weight, {C, outPerGroup, KH, KW}, "convTranspose2d weight");
  checkAtLeast(KH, 1, "convTranspose2d kernel height");
  checkAtLeast(KW, 1, "convTranspose2d kernel width");
  checkAtLeast(H, 1, "convTranspose2d input height");
  checkAtLeast(W, 1, "convTranspose2d input width");
  if (bias)
    checkShape(*bias, {O}, "convTranspose2d bias");
  const int64_t OH =
      (H - 1) * p.strideH - p.padTop - p.padBottom + p.dilationH * (KH - 1) + p.outputPadH + 1;
  const int64_t OW =
      (W - 1) * p.strideW - p.padLeft - p.padRight + p.dilationW * (KW - 1) + p.outputPadW + 1;
  if (OH < 1 || OW < 1)
    fail("convTranspose2d output extent " + std::to_string(OH) + "x" + std::to_string(OW) +
         " is empty: the padding crops more than the full output");

  Tensor y({N, O, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < OH * OW; ++i)
        y.data[(n * O + o) * OH * OW + i] = bias ? bias->data[o] : 0.0;

  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t group = c / inPerGroup;
      for (int64_t ih = 0; ih < H; ++ih)
        for (int64_t iw = 0; iw < W; ++iw) {
          const double v = x.data[((n * C + c) * H + ih) * W + iw];
          for (int64_t og = 0; og < outPerGroup; ++og) {
            const int64_t o = group * outPerGroup + og;
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t oh = ih * p.strideH - p.padTop + kh * p.dilationH;
                const int64_t ow = iw * p.strideW - p.padLeft + kw * p.dilationW;
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW)
                  continue; // cropped by the padding
                y.data[((n * O + o) * OH + oh) * OW + ow] +=
                    v * weight.data[((c * outPerGroup + og) * KH + kh) * KW + kw];
              }
          }
        }
    }
  return y;
}

Tensor separableConv2d(const Tensor &x, const Tensor &depthwise, const Tensor &pointwise,
                       const Tensor *bias, const Conv2dParams &p) {
  checkRank(x, 4, "separableConv2d input");
  checkRank(depthwise, 4, "separableConv2d depthwise weight");
  checkRank(pointwise, 4, "separableConv2d pointwise weight");
  const int64_t C = x.shape[1], CM = depthwise.shape[0];
  if (C < 1 || CM % C != 0 || depthwise.shape[1] != 1)
    fail("separableConv2d depthwise weight " + shapeString(depthwise.shape) +
         " must be [C*M, 1, KH, KW] for C = " + std::to_string(C));
  checkShape(pointwise, {pointwise.shape[0], CM, 1, 1}, "separableConv2d pointwise weight");

  Conv2dParams depthwiseParams = p;
  depthwiseParams.groups = static_cast<int>(C);
  Conv2dParams pointwiseParams; // 1x1, stride 1, no padding
  return conv2d(conv2d(x, depthwise, nullptr, depthwiseParams), pointwise, bias, pointwiseParams);
}

Tensor maxPool1d(const Tensor &x, const Pool1dParams &p) { return pool1d(x, p, PoolKind::Max); }

Tensor avgPool1d(const Tensor &x, const Pool1dParams &p) { return pool1d(x, p, PoolKind::Average); }

Tensor matmul(const Tensor &a, const Tensor &b, bool transposeB) {
  checkMinRank(a, 2, "matmul lhs");
  checkRank(b, a.shape.size(), "matmul rhs");
  const size_t rank = a.shape.size();
  const int64_t M = a.shape[rank - 2], K = a.shape[rank - 1];
  const int64_t P = transposeB ? b.shape[rank - 2] : b.shape[rank - 1];
  std::vector<int64_t> expectedB(a.shape.begin(), a.shape.end() - 2);
  expectedB.push_back(transposeB ? P : K);
  expectedB.push_back(transposeB ? K : P);
  checkShape(b, expectedB, "matmul rhs");

  std::vector<int64_t> outShape(a.shape.begin(), a.shape.end() - 2);
  const int64_t batch = product(outShape);
  outShape.push_back(M);
  outShape.push_back(P);

  Tensor y(outShape);
  for (int64_t s = 0; s < batch; ++s)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t q = 0; q < P; ++q) {
        double sum = 0.0;
        for (int64_t k = 0; k < K; ++k) {
          const double bv = transposeB ? b.data[(s * P + q) * K + k] : b.data[(s * K + k) * P + q];
          sum += a.data[(s * M + m) * K + k] * bv;
        }
        y.data[(s * M + m) * P + q] = sum;
      }
  return y;
}

Tensor denseNd(const Tensor &x, const Tensor &weight, const Tensor *bias) {
  checkMinRank(x, 2, "denseNd input");
  checkRank(weight, 2, "denseNd weight");
  const int64_t in = x.shape.back(), units = weight.shape[0];
  checkShape(weight, {units, in}, "denseNd weight");
  if (bias)
    checkShape(*bias, {units}, "denseNd bias");

  std::vector<int64_t> outShape = x.shape;
  outShape.back() = units;
  const int64_t rows = product(std::vector<int64_t>(x.shape.begin(), x.shape.end() - 1));
  Tensor y(outShape);
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t u = 0; u < units; ++u) {
      double sum = bias ? bias->data[u] : 0.0;
      for (int64_t i = 0; i < in; ++i)
        sum += x.data[row * in + i] * weight.data[u * in + i];
      y.data[row * units + u] = sum;
    }
  return y;
}

} // namespace dnnref
