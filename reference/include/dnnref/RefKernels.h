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

// ------------------------------------------------------------ Activations
// Elementwise, PyTorch definitions (torch.nn.ReLU6, ELU, Softplus with beta 1
// and no threshold, Mish, GELU). A NaN input gives a NaN output.
enum class Activation {
  None,
  Relu,
  Sigmoid,
  Tanh,
  LeakyRelu,
  Relu6,
  Elu,
  Softplus,
  Mish,
  Gelu,     // exact: 0.5 x (1 + erf(x / sqrt 2))
  GeluTanh, // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  Sign,
};

// alpha is the negative-side slope of LeakyRelu and the alpha of Elu;
// ignored by the others.
Tensor applyActivation(const Tensor &x, Activation act, double alpha);
Tensor relu(const Tensor &x);
Tensor sigmoid(const Tensor &x);
Tensor tanh(const Tensor &x);
Tensor leakyRelu(const Tensor &x, double alpha);
Tensor relu6(const Tensor &x);             // min(max(x, 0), 6)
Tensor elu(const Tensor &x, double alpha); // x > 0 ? x : alpha (exp(x) - 1)
Tensor softplus(const Tensor &x);          // log(1 + exp(x)), computed stably
Tensor mish(const Tensor &x);              // x tanh(softplus(x))
Tensor gelu(const Tensor &x, bool tanhApproximation);
Tensor sign(const Tensor &x);              // -1, 0 or +1; sign(0) = 0

// ---------------------------------------------------------- Softmax family
// axis may be negative (python style). The maximum along the axis is
// subtracted before exponentiating, so large inputs do not overflow.
Tensor softmax(const Tensor &x, int axis);
// x - max - log(sum(exp(x - max))) along axis.
Tensor logSoftmax(const Tensor &x, int axis);
// torch.nn.GLU: the axis (even extent) is split into halves a (first) and b
// (second); the result a * sigmoid(b) has half the extent along axis.
Tensor glu(const Tensor &x, int axis);

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
// Global pools over every dim after the channel: [N, C, ...] (rank >= 3)
// -> [N, C]. A NaN in a window makes the max NaN.
Tensor globalAvgPool(const Tensor &x);
Tensor globalMaxPool(const Tensor &x);
// [N, C, H, W] -> [N, C]
Tensor globalAvgPool2d(const Tensor &x);

// Inference batch norm: y = gamma * (x - mean) / sqrt(var + epsilon) + beta.
// Channel axis 1, x of any rank >= 2; gamma/beta/mean/var: [C].
Tensor batchNorm(const Tensor &x, const Tensor &gamma, const Tensor &beta,
                 const Tensor &mean, const Tensor &var, double epsilon);

// torch.nn.LayerNorm: normalizes over the last normalizedRank dims (1 <=
// normalizedRank <= rank) with the biased variance:
//   y = (x - mean) / sqrt(var + epsilon) * gamma + beta,
// gamma and beta shaped like those trailing dims, or nullptr for none.
Tensor layerNorm(const Tensor &x, int normalizedRank, const Tensor *gamma, const Tensor *beta,
                 double epsilon);

// --------------------------------------------------------- Binary, NumPy broadcasting
// Shapes are aligned on the right; a missing or 1-sized dim broadcasts,
// other dims must be equal. The result has the broadcast shape.
Tensor add(const Tensor &a, const Tensor &b);
Tensor sub(const Tensor &a, const Tensor &b);
Tensor mul(const Tensor &a, const Tensor &b);

// [N, ...] -> [N, prod(rest)]; a rank-1 [N] becomes [N, 1].
Tensor flatten(const Tensor &x);

// -------------------------------------------------------------- Shape ops
// Axes below are in [0, rank) or negative (python style).

// out.shape[i] = x.shape[perm[i]]; perm is a permutation of 0..rank-1.
Tensor transpose(const Tensor &x, const std::vector<int> &perm);
// Inputs (at least one) of equal rank whose dims agree except along axis.
Tensor concat(const std::vector<const Tensor *> &inputs, int axis);
// Consecutive slices along axis; sizes (each >= 0) sum to the axis extent.
std::vector<Tensor> split(const Tensor &x, int axis, const std::vector<int64_t> &sizes);
// Constant padding; before/after hold one entry (>= 0) per dim.
Tensor pad(const Tensor &x, const std::vector<int64_t> &before,
           const std::vector<int64_t> &after, double value);
// indices [N, ...] hold integer values (as doubles) in [0, V); weight [V, E];
// result [N, ..., E] with row indices[...] of weight. A non-integer or
// out-of-range index aborts.
Tensor embedding(const Tensor &indices, const Tensor &weight);

// nn.Upsample(scale_factor=(scaleH, scaleW), mode=..., align_corners=False)
// on x [N, C, H, W] -> [N, C, H*scaleH, W*scaleW], integer scales >= 1.
// Nearest: src = floor(dst / scale). Bilinear, per axis:
//   src = max((dst + 0.5) / scale - 0.5, 0), i0 = floor(src),
//   i1 = min(i0 + 1, in - 1), weight of i1 = src - i0.
enum class Upsample { Nearest, Bilinear };
Tensor upsample2d(const Tensor &x, int scaleH, int scaleW, Upsample mode);

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
