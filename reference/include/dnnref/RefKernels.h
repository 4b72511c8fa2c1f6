// Plain C++ reference kernels for every dnnc op.
//
// These are the "slow and obviously right" oracle that the compiled Halide
// kernels are checked against: each kernel is one straightforward loop nest
// computing in double. Tensors are dense, row-major, NCHW for images.
//
// A shape or parameter violation is a programming error of the caller, not a
// user error: the kernel prints the problem to stderr and calls std::abort().
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace dnnref {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> data; // row-major, data.size() == numel()

  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape, double fill = 0.0);

  int64_t numel() const;
  // Bounds-checked element access; idx has one entry per dimension.
  double &at(std::initializer_list<int64_t> idx);
  double at(std::initializer_list<int64_t> idx) const;
};

enum class Activation { None, Relu, Sigmoid, Tanh, LeakyRelu };

// alpha is the negative-side slope of LeakyRelu; ignored by the others.
Tensor applyActivation(const Tensor &x, Activation act, double alpha);
Tensor relu(const Tensor &x);
Tensor sigmoid(const Tensor &x);
Tensor tanh(const Tensor &x);
Tensor leakyRelu(const Tensor &x, double alpha);

// axis may be negative (python style). The maximum along the axis is
// subtracted before exponentiating, so large inputs do not overflow.
Tensor softmax(const Tensor &x, int axis);

// y = x W^T + b. x: [N, in], weight: [out, in] (PyTorch Linear layout),
// bias: [out] or nullptr.
Tensor dense(const Tensor &x, const Tensor &weight, const Tensor *bias);

struct Conv2dParams {
  int strideH = 1, strideW = 1;
  int padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  int dilationH = 1, dilationW = 1;
  int groups = 1;
};

// x: [N, C, H, W], weight: [O, C/groups, KH, KW] (PyTorch Conv2d layout),
// bias: [O] or nullptr. Zero padding. Output extent per spatial axis:
//   (H + padTop + padBottom - dilationH*(KH-1) - 1) / strideH + 1   (floor)
Tensor conv2d(const Tensor &x, const Tensor &weight, const Tensor *bias,
              const Conv2dParams &p);

struct Pool2dParams {
  int kernelH, kernelW;
  int strideH, strideW;
  int padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  bool countIncludePad = false; // avgPool2d only
};

// Same floor output-size rule as conv2d with dilation 1. Padding never wins
// (it acts as -inf). Aborts if a window holds no in-bounds element.
Tensor maxPool2d(const Tensor &x, const Pool2dParams &p);
// Divisor is kernelH*kernelW if countIncludePad, else the number of in-bounds
// elements of the window (aborts if that is zero).
Tensor avgPool2d(const Tensor &x, const Pool2dParams &p);
// [N, C, H, W] -> [N, C]
Tensor globalAvgPool2d(const Tensor &x);

// Inference batch norm: y = gamma * (x - mean) / sqrt(var + epsilon) + beta.
// Channel axis 1, x of any rank >= 2; gamma/beta/mean/var: [C].
Tensor batchNorm(const Tensor &x, const Tensor &gamma, const Tensor &beta,
                 const Tensor &mean, const Tensor &var, double epsilon);

// Elementwise a + b; shapes must be identical (no broadcasting).
Tensor add(const Tensor &a, const Tensor &b);

// [N, ...] -> [N, prod(rest)]; a rank-1 [N] becomes [N, 1].
Tensor flatten(const Tensor &x);

// The comparison used by every numerical test of the project.
struct Comparison {
  double maxAbsError;
  double maxAbsRef;
  double relError; // maxAbsError / max(maxAbsRef, 1e-30)
  int64_t worstIndex; // flat index of maxAbsError; -1 for empty tensors
};

// Shapes are compared by numel only (aborts on mismatch). Exactly equal
// elements (equal infinities included) have zero error; an element with a NaN
// on either side has infinite error, so a NaN can never pass a tolerance check.
Comparison compare(const std::vector<float> &actual, const Tensor &reference);
// One line, for test failure messages.
std::string describe(const Comparison &c);

} // namespace dnnref
