// Reference gradients of the pooling and upsampling ops, written as the
// scatter of each output's gradient onto the inputs it was computed from
// (the forward loop nest run backwards).
#include "dnnref/RefGrad.h"

#include "RefSupport.h"

#include <algorithm>
#include <cmath>

namespace dnnref {

using namespace detail;

namespace {

struct PoolGeometry {
  int64_t N, C, H, W, OH, OW;
};

// The checks and floor output-size rule of dnnref::maxPool2d/avgPool2d.
PoolGeometry poolGeometry(const std::vector<int64_t> &inputShape, const Pool2dParams &p,
                          const char *op) {
  if (inputShape.size() != 4)
    fail(std::string(op) + " input shape must have rank 4, got " + shapeString(inputShape));
  for (int64_t d : inputShape)
    checkAtLeast(d, 0, "pool input dimension");
  checkAtLeast(p.kernelH, 1, "pool kernelH");
  checkAtLeast(p.kernelW, 1, "pool kernelW");
  checkAtLeast(p.strideH, 1, "pool strideH");
  checkAtLeast(p.strideW, 1, "pool strideW");
  checkAtLeast(p.padTop, 0, "pool padTop");
  checkAtLeast(p.padLeft, 0, "pool padLeft");
  checkAtLeast(p.padBottom, 0, "pool padBottom");
  checkAtLeast(p.padRight, 0, "pool padRight");
  PoolGeometry g{inputShape[0], inputShape[1], inputShape[2], inputShape[3], 0, 0};
  const int64_t spanH = g.H + p.padTop + p.padBottom - p.kernelH;
  const int64_t spanW = g.W + p.padLeft + p.padRight - p.kernelW;
  if (spanH < 0 || spanW < 0)
    fail(std::string(op) + " window does not fit the padded input " + shapeString(inputShape));
  g.OH = spanH / p.strideH + 1;
  g.OW = spanW / p.strideW + 1;
  return g;
}

} // namespace

Tensor maxPool2dGrad(const Tensor &dy, const Tensor &x, const Pool2dParams &p) {
  checkRank(x, 4, "maxPool2dGrad x");
  const PoolGeometry g = poolGeometry(x.shape, p, "maxPool2dGrad");
  checkShape(dy, {g.N, g.C, g.OH, g.OW}, "maxPool2dGrad dy");
  Tensor dx(x.shape);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c) {
      const int64_t plane = (n * g.C + c) * g.H * g.W;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          int64_t winner = -1; // flat offset in the plane
          for (int64_t kh = 0; kh < p.kernelH; ++kh)
            for (int64_t kw = 0; kw < p.kernelW; ++kw) {
              const int64_t ih = oh * p.strideH - p.padTop + kh;
              const int64_t iw = ow * p.strideW - p.padLeft + kw;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W)
                continue; // padding never wins
              const double v = x.data[plane + ih * g.W + iw];
              const bool best = winner < 0 || (!std::isnan(x.data[plane + winner]) &&
                                               (v > x.data[plane + winner] || std::isnan(v)));
              if (best) // strictly greater: the first maximum keeps a tie
                winner = ih * g.W + iw;
            }
          if (winner < 0)
            fail("maxPool2dGrad window at output (" + std::to_string(oh) + ", " +
                 std::to_string(ow) + ") lies entirely in the padding");
          dx.data[plane + winner] += dy.data[((n * g.C + c) * g.OH + oh) * g.OW + ow];
        }
    }
  return dx;
}

Tensor avgPool2dGrad(const Tensor &dy, const Pool2dParams &p,
                     const std::vector<int64_t> &inputShape) {
  const PoolGeometry g = poolGeometry(inputShape, p, "avgPool2dGrad");
  checkShape(dy, {g.N, g.C, g.OH, g.OW}, "avgPool2dGrad dy");
  Tensor dx(inputShape);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c) {
      const int64_t plane = (n * g.C + c) * g.H * g.W;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          // The window's in-bounds rows [h0, h1) and columns [w0, w1).
          const int64_t h0 = std::max<int64_t>(oh * p.strideH - p.padTop, 0);
          const int64_t h1 = std::min<int64_t>(oh * p.strideH - p.padTop + p.kernelH, g.H);
          const int64_t w0 = std::max<int64_t>(ow * p.strideW - p.padLeft, 0);
          const int64_t w1 = std::min<int64_t>(ow * p.strideW - p.padLeft + p.kernelW, g.W);
          const int64_t inBounds = std::max<int64_t>(h1 - h0, 0) * std::max<int64_t>(w1 - w0, 0);
          if (inBounds == 0 && !p.countIncludePad)
            fail("avgPool2dGrad window at output (" + std::to_string(oh) + ", " +
                 std::to_string(ow) + ") lies entirely in the padding");
          const double divisor =
              p.countIncludePad ? double(p.kernelH) * p.kernelW : double(inBounds);
          const double share = dy.data[((n * g.C + c) * g.OH + oh) * g.OW + ow] / divisor;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw)
              dx.data[plane + ih * g.W + iw] += share;
        }
    }
  return dx;
}

Tensor globalPoolGrad(const Tensor &dy, const Tensor &x, PoolKind kind) {
  checkConsistent(x, "globalPoolGrad x");
  if (x.shape.size() < 3)
    fail("globalPoolGrad x must have rank >= 3, got " + shapeString(x.shape));
  const int64_t N = x.shape[0], C = x.shape[1];
  checkShape(dy, {N, C}, "globalPoolGrad dy");
  const int64_t S = product(std::vector<int64_t>(x.shape.begin() + 2, x.shape.end()));
  if (S == 0)
    fail("globalPoolGrad of an empty spatial extent " + shapeString(x.shape));
  Tensor dx(x.shape);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t base = (n * C + c) * S;
      const double g = dy.data[n * C + c];
      if (kind == PoolKind::Avg) {
        for (int64_t s = 0; s < S; ++s)
          dx.data[base + s] = g / static_cast<double>(S);
        continue;
      }
      int64_t winner = 0;
      for (int64_t s = 1; s < S; ++s) {
        const double v = x.data[base + s], best = x.data[base + winner];
        if (!std::isnan(best) && (v > best || std::isnan(v)))
          winner = s; // strictly greater: the first maximum keeps a tie
      }
      dx.data[base + winner] = g;
    }
  return dx;
}

namespace {

// upsample2d's bilinear taps along one axis (PyTorch, align_corners=False):
// out[dst] = (1 - weight) * in[i0] + weight * in[i1].
struct Taps {
  int64_t i0, i1;
  double weight;
};

Taps bilinearTaps(int64_t dst, int scale, int64_t inExtent) {
  const double src = std::max((static_cast<double>(dst) + 0.5) / scale - 0.5, 0.0);
  Taps t;
  t.i0 = static_cast<int64_t>(std::floor(src));
  t.i1 = std::min(t.i0 + 1, inExtent - 1);
  t.weight = src - static_cast<double>(t.i0);
  return t;
}

} // namespace

Tensor upsample2dGrad(const Tensor &dy, int scaleH, int scaleW, Upsample mode,
                      const std::vector<int64_t> &inputShape) {
  if (inputShape.size() != 4)
    fail("upsample2dGrad input shape must have rank 4, got " + shapeString(inputShape));
  checkAtLeast(scaleH, 1, "upsample2dGrad scaleH");
  checkAtLeast(scaleW, 1, "upsample2dGrad scaleW");
  const int64_t N = inputShape[0], C = inputShape[1], H = inputShape[2], W = inputShape[3];
  const int64_t OH = H * scaleH, OW = W * scaleW;
  checkShape(dy, {N, C, OH, OW}, "upsample2dGrad dy");
  Tensor dx(inputShape);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const double *g = dy.data.data() + (n * C + c) * OH * OW;
      double *out = dx.data.data() + (n * C + c) * H * W;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          if (mode == Upsample::Nearest) {
            out[(oh / scaleH) * W + ow / scaleW] += g[oh * OW + ow];
            continue;
          }
          // The forward's four products, each sending its share back.
          const Taps th = bilinearTaps(oh, scaleH, H), tw = bilinearTaps(ow, scaleW, W);
          const double v = g[oh * OW + ow];
          out[th.i0 * W + tw.i0] += (1.0 - th.weight) * (1.0 - tw.weight) * v;
          out[th.i0 * W + tw.i1] += (1.0 - th.weight) * tw.weight * v;
          out[th.i1 * W + tw.i0] += th.weight * (1.0 - tw.weight) * v;
          out[th.i1 * W + tw.i1] += th.weight * tw.weight * v;
        }
    }
  return dx;
}

} // namespace dnnref
