#include "dnnref/RefKernels.h"

#include "RefSupport.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>
#include <utility>

namespace dnnref {

using namespace detail;

namespace {

// Floor output-size rule shared by conv2d and the pools.
int64_t outputExtent(int64_t input, int padBefore, int padAfter, int kernel,
                     int dilation, int stride, const char *axis) {
  int64_t paddedInput = input + padBefore + padAfter;
  int64_t window = static_cast<int64_t>(dilation) * (kernel - 1) + 1;
  if (paddedInput < window)
    fail(std::string("window of extent ") + std::to_string(window) +
         " does not fit padded input " + axis + " of extent " +
         std::to_string(paddedInput));
  return (paddedInput - window) / stride + 1;
}

// Row-major flat offset of a bounds-checked multi-index.
size_t flatOffset(const Tensor &t, std::initializer_list<int64_t> idx) {
  checkConsistent(t, "Tensor");
  if (idx.size() != t.shape.size())
    fail("index of rank " + std::to_string(idx.size()) + " into tensor " +
         shapeString(t.shape));
  int64_t offset = 0;
  size_t d = 0;
  for (int64_t i : idx) {
    if (i < 0 || i >= t.shape[d])
      fail("index " + std::to_string(i) + " out of range for dimension " +
           std::to_string(d) + " of tensor " + shapeString(t.shape));
    offset = offset * t.shape[d] + i;
    ++d;
  }
  return static_cast<size_t>(offset);
}

enum class PoolKind { Max, Average };

Tensor pool2d(const Tensor &x, const Pool2dParams &p, PoolKind kind) {
  const char *name = kind == PoolKind::Max ? "maxPool2d input" : "avgPool2d input";
  checkRank(x, 4, name);
  checkAtLeast(p.kernelH, 1, "pool kernelH");
  checkAtLeast(p.kernelW, 1, "pool kernelW");
  checkAtLeast(p.strideH, 1, "pool strideH");
  checkAtLeast(p.strideW, 1, "pool strideW");
  checkAtLeast(p.padTop, 0, "pool padTop");
  checkAtLeast(p.padLeft, 0, "pool padLeft");
  checkAtLeast(p.padBottom, 0, "pool padBottom");
  checkAtLeast(p.padRight, 0, "pool padRight");

  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t OH =
      outputExtent(H, p.padTop, p.padBottom, p.kernelH, 1, p.strideH, "height");
  const int64_t OW =
      outputExtent(W, p.padLeft, p.padRight, p.kernelW, 1, p.strideW, "width");

  Tensor y({N, C, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double maximum = -std::numeric_limits<double>::infinity();
          double sum = 0.0;
          int64_t inBounds = 0;
          for (int64_t kh = 0; kh < p.kernelH; ++kh)
            for (int64_t kw = 0; kw < p.kernelW; ++kw) {
              int64_t ih = oh * p.strideH - p.padTop + kh;
              int64_t iw = ow * p.strideW - p.padLeft + kw;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                continue; // padding: never the max, adds 0 to the sum
              double v = x.data[((n * C + c) * H + ih) * W + iw];
              if (v > maximum || std::isnan(v))
                maximum = v; // a NaN in the window must not be dropped
              sum += v;
              ++inBounds;
            }
          if (inBounds == 0 && !(kind == PoolKind::Average && p.countIncludePad))
            fail("pooling window at output (" + std::to_string(oh) + ", " +
                 std::to_string(ow) + ") lies entirely in the padding");
          double result;
          if (kind == PoolKind::Max)
            result = maximum;
          else if (p.countIncludePad)
            // With the floor rule every window lies inside the padded input,
            // so this equals PyTorch's clipped-to-padded-input divisor.
            result = sum / static_cast<double>(p.kernelH * p.kernelW);
          else
            result = sum / static_cast<double>(inBounds);
          y.data[((n * C + c) * OH + oh) * OW + ow] = result;
        }
  return y;
}

} // namespace

Tensor::Tensor(std::vector<int64_t> shape_, double fill)
    : shape(std::move(shape_)) {
  for (int64_t dim : shape)
    if (dim < 0)
      fail("Tensor shape has a negative dimension: " + shapeString(shape));
  data.assign(static_cast<size_t>(product(shape)), fill);
}

int64_t Tensor::numel() const { return product(shape); }

double &Tensor::at(std::initializer_list<int64_t> idx) {
  return data[flatOffset(*this, idx)];
}

double Tensor::at(std::initializer_list<int64_t> idx) const {
  return data[flatOffset(*this, idx)];
}

Tensor dense(const Tensor &x, const Tensor &weight, const Tensor *bias) {
  checkRank(x, 2, "dense input");
  checkRank(weight, 2, "dense weight");
  const int64_t N = x.shape[0], in = x.shape[1], out = weight.shape[0];
  checkShape(weight, {out, in}, "dense weight");
  if (bias)
    checkShape(*bias, {out}, "dense bias");

  Tensor y({N, out});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < out; ++o) {
      double sum = bias ? bias->data[o] : 0.0;
      for (int64_t i = 0; i < in; ++i)
        sum += x.data[n * in + i] * weight.data[o * in + i];
      y.data[n * out + o] = sum;
    }
  return y;
}

Tensor conv2d(const Tensor &x, const Tensor &weight, const Tensor *bias,
              const Conv2dParams &p) {
  checkRank(x, 4, "conv2d input");
  checkRank(weight, 4, "conv2d weight");
  checkAtLeast(p.strideH, 1, "conv2d strideH");
  checkAtLeast(p.strideW, 1, "conv2d strideW");
  checkAtLeast(p.padTop, 0, "conv2d padTop");
  checkAtLeast(p.padLeft, 0, "conv2d padLeft");
  checkAtLeast(p.padBottom, 0, "conv2d padBottom");
  checkAtLeast(p.padRight, 0, "conv2d padRight");
  checkAtLeast(p.dilationH, 1, "conv2d dilationH");
  checkAtLeast(p.dilationW, 1, "conv2d dilationW");
  checkAtLeast(p.groups, 1, "conv2d groups");

  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t O = weight.shape[0], KH = weight.shape[2], KW = weight.shape[3];
  if (C % p.groups != 0 || O % p.groups != 0)
    fail("conv2d groups " + std::to_string(p.groups) +
         " must divide input channels " + std::to_string(C) +
         " and output channels " + std::to_string(O));
  const int64_t inPerGroup = C / p.groups, outPerGroup = O / p.groups;
  checkShape(weight, {O, inPerGroup, KH, KW}, "conv2d weight");
  checkAtLeast(KH, 1, "conv2d kernel height");
  checkAtLeast(KW, 1, "conv2d kernel width");
  if (bias)
    checkShape(*bias, {O}, "conv2d bias");

  const int64_t OH = outputExtent(H, p.padTop, p.padBottom, static_cast<int>(KH),
                                  p.dilationH, p.strideH, "height");
  const int64_t OW = outputExtent(W, p.padLeft, p.padRight, static_cast<int>(KW),
                                  p.dilationW, p.strideW, "width");

  Tensor y({N, O, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      const int64_t group = o / outPerGroup;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double sum = bias ? bias->data[o] : 0.0;
          for (int64_t cg = 0; cg < inPerGroup; ++cg) {
            const int64_t c = group * inPerGroup + cg;
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t ih = oh * p.strideH - p.padTop + kh * p.dilationH;
                int64_t iw = ow * p.strideW - p.padLeft + kw * p.dilationW;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                  continue; // zero padding contributes nothing
                sum += x.data[((n * C + c) * H + ih) * W + iw] *
                       weight.data[((o * inPerGroup + cg) * KH + kh) * KW + kw];
              }
          }
          y.data[((n * O + o) * OH + oh) * OW + ow] = sum;
        }
    }
  return y;
}

Tensor maxPool2d(const Tensor &x, const Pool2dParams &p) {
  return pool2d(x, p, PoolKind::Max);
}

Tensor avgPool2d(const Tensor &x, const Pool2dParams &p) {
  return pool2d(x, p, PoolKind::Average);
}

namespace {

Tensor globalPool(const Tensor &x, PoolKind kind, const char *name) {
  checkConsistent(x, name);
  if (x.shape.size() < 3)
    fail(std::string(name) + " must have rank >= 3, got " + shapeString(x.shape));
  const int64_t N = x.shape[0], C = x.shape[1];
  const int64_t spatial = product(std::vector<int64_t>(x.shape.begin() + 2, x.shape.end()));
  if (spatial == 0)
    fail(std::string(name) + " of an empty spatial extent " + shapeString(x.shape));

  // Everything after the channel axis is one flat run per (n, c).
  Tensor y({N, C});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      double sum = 0.0, maximum = -std::numeric_limits<double>::infinity();
      for (int64_t s = 0; s < spatial; ++s) {
        const double v = x.data[(n * C + c) * spatial + s];
        sum += v;
        if (v > maximum || std::isnan(v))
          maximum = v; // a NaN must not be dropped
      }
      y.data[n * C + c] =
          kind == PoolKind::Max ? maximum : sum / static_cast<double>(spatial);
    }
  return y;
}

} // namespace

Tensor globalAvgPool(const Tensor &x) {
  return globalPool(x, PoolKind::Average, "globalAvgPool input");
}

Tensor globalMaxPool(const Tensor &x) {
  return globalPool(x, PoolKind::Max, "globalMaxPool input");
}

Tensor globalAvgPool2d(const Tensor &x) {
  checkRank(x, 4, "globalAvgPool2d input");
  return globalPool(x, PoolKind::Average, "globalAvgPool2d input");
}

Tensor batchNorm(const Tensor &x, const Tensor &gamma, const Tensor &beta,
                 const Tensor &mean, const Tensor &var, double epsilon) {
  checkConsistent(x, "batchNorm input");
  if (x.shape.size() < 2)
    fail("batchNorm input must have rank >= 2, got " + shapeString(x.shape));
  const int64_t N = x.shape[0], C = x.shape[1];
  checkShape(gamma, {C}, "batchNorm gamma");
  checkShape(beta, {C}, "batchNorm beta");
  checkShape(mean, {C}, "batchNorm mean");
  checkShape(var, {C}, "batchNorm var");
  for (int64_t c = 0; c < C; ++c)
    if (!(var.data[c] + epsilon > 0.0))
      fail("batchNorm var + epsilon must be positive, channel " +
           std::to_string(c) + " has " + std::to_string(var.data[c] + epsilon));

  // Everything after the channel axis is one flat run per (n, c).
  int64_t spatial = 1;
  for (size_t d = 2; d < x.shape.size(); ++d)
    spatial *= x.shape[d];

  Tensor y(x.shape);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const double stddev = std::sqrt(var.data[c] + epsilon);
      for (int64_t s = 0; s < spatial; ++s) {
        const int64_t i = (n * C + c) * spatial + s;
        y.data[i] = gamma.data[c] * (x.data[i] - mean.data[c]) / stddev +
                    beta.data[c];
      }
    }
  return y;
}

Tensor layerNorm(const Tensor &x, int normalizedRank, const Tensor *gamma, const Tensor *beta,
                 double epsilon) {
  checkConsistent(x, "layerNorm input");
  const int rank = static_cast<int>(x.shape.size());
  if (normalizedRank < 1 || normalizedRank > rank)
    fail("layerNorm normalizedRank " + std::to_string(normalizedRank) +
         " out of range for shape " + shapeString(x.shape));
  const std::vector<int64_t> normalizedShape(x.shape.end() - normalizedRank, x.shape.end());
  if (gamma)
    checkShape(*gamma, normalizedShape, "layerNorm gamma");
  if (beta)
    checkShape(*beta, normalizedShape, "layerNorm beta");
  if (!(epsilon >= 0.0))
    fail("layerNorm epsilon must be >= 0, got " + std::to_string(epsilon));

  // Each row (the flattened trailing dims) is normalized on its own, two
  // passes: mean, then the mean squared deviation (biased variance).
  const int64_t row = product(normalizedShape);
  const int64_t rows = row == 0 ? 0 : x.numel() / row;
  Tensor y(x.shape);
  for (int64_t r = 0; r < rows; ++r) {
    const double *in = x.data.data() + r * row;
    double sum = 0.0;
    for (int64_t i = 0; i < row; ++i)
      sum += in[i];
    const double mean = sum / static_cast<double>(row);
    double squares = 0.0;
    for (int64_t i = 0; i < row; ++i)
      squares += (in[i] - mean) * (in[i] - mean);
    const double stddev = std::sqrt(squares / static_cast<double>(row) + epsilon);
    for (int64_t i = 0; i < row; ++i)
      y.data[r * row + i] = (in[i] - mean) / stddev * (gamma ? gamma->data[i] : 1.0) +
                            (beta ? beta->data[i] : 0.0);
  }
  return y;
}

Tensor flatten(const Tensor &x) {
  checkConsistent(x, "flatten input");
  if (x.shape.empty())
    fail("flatten needs a batch axis; got a scalar");
  const int64_t N = x.shape[0];
  Tensor y({N, product(std::vector<int64_t>(x.shape.begin() + 1, x.shape.end()))});
  y.data = x.data; // row-major layout is unchanged by flattening
  return y;
}

Comparison compare(const std::vector<float> &actual, const Tensor &reference) {
  checkConsistent(reference, "compare reference");
  if (static_cast<int64_t>(actual.size()) != reference.numel())
    fail("compare: actual has " + std::to_string(actual.size()) +
         " values, reference " + shapeString(reference.shape) + " has " +
         std::to_string(reference.numel()));

  Comparison result{0.0, 0.0, 0.0, -1};
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], r = reference.data[i];
    double error = a == r ? 0.0 : std::fabs(a - r);
    if (std::isnan(error))
      error = std::numeric_limits<double>::infinity();
    if (result.worstIndex < 0 || error > result.maxAbsError) {
      result.maxAbsError = error;
      result.worstIndex = static_cast<int64_t>(i);
    }
    result.maxAbsRef = std::max(result.maxAbsRef, std::fabs(r));
  }
  result.relError = result.maxAbsError / std::max(result.maxAbsRef, 1e-30);
  return result;
}

std::string describe(const Comparison &c) {
  std::ostringstream out;
  out << std::setprecision(6) << "maxAbsError=" << c.maxAbsError
      << " at flat index " << c.worstIndex << ", maxAbsRef=" << c.maxAbsRef
      << ", relError=" << c.relError;
  return out.str();
}

} // namespace dnnref
