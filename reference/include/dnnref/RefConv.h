// Plain C++ reference kernels for the convolution family beyond conv2d
// (1-D convolution, transposed and separable 2-D convolution), 1-D pooling,
// batched matmul and dense on rank >= 2 inputs.
//
// Same rules as RefKernels.h: one straightforward loop nest per op, computed
// in double, dense row-major tensors (NCL / NCHW), PyTorch semantics; a shape
// or parameter violation prints the problem to stderr and calls std::abort().
#pragma once

#include "dnnref/RefKernels.h"

namespace dnnref {

struct Conv1dParams {
  int stride = 1;
  int padBefore = 0, padAfter = 0;
  int dilation = 1;
  int groups = 1;
};

// x: [N, C, L], weight: [O, C/groups, K] (PyTorch Conv1d layout), bias: [O]
// or nullptr. Zero padding. Output [N, O, Lout] with
//   Lout = (L + padBefore + padAfter - dilation*(K-1) - 1) / stride + 1 (floor).
Tensor conv1d(const Tensor &x, const Tensor &weight, const Tensor *bias, const Conv1dParams &p);

struct ConvTranspose2dParams {
  int strideH = 1, strideW = 1;
  int padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  int outputPadH = 0, outputPadW = 0;
  int dilationH = 1, dilationW = 1;
  int groups = 1;
};

// x: [N, C, H, W], weight: [C, O/groups, KH, KW] (PyTorch ConvTranspose2d
// layout: input channels first), bias: [O] or nullptr. Output [N, O, OH, OW]:
//   OH = (H-1)*strideH - padTop - padBottom + dilationH*(KH-1) + outputPadH + 1
// (the same for W). Defined by scattering: input pixel (ih, iw) of channel c
// adds x * weight[c][og][kh][kw] to output (ih*strideH - padTop + kh*dilationH,
// iw*strideW - padLeft + kw*dilationW) of channel group(c)*O/groups + og;
// what lands outside [0, OH) x [0, OW) is dropped. As in PyTorch the output
// padding must be smaller than the stride or the dilation of its axis, and
// groups must divide C and O.
Tensor convTranspose2d(const Tensor &x, const Tensor &weight, const Tensor *bias,
                       const ConvTranspose2dParams &p);

// Keras SeparableConv2D: a depthwise conv2d (groups = C, channel multiplier
// M, no bias) with the strides, padding and dilation of `p` (p.groups is
// ignored), then a 1x1 pointwise conv2d with the bias.
// x: [N, C, H, W], depthwise: [C*M, 1, KH, KW], pointwise: [O, C*M, 1, 1],
// bias: [O] or nullptr. Output [N, O, OH, OW] with conv2d's output extents.
Tensor separableConv2d(const Tensor &x, const Tensor &depthwise, const Tensor &pointwise,
                       const Tensor *bias, const Conv2dParams &p);

struct Pool1dParams {
  int kernel = 1;
  int stride = 1;
  int padBefore = 0, padAfter = 0;
  bool countIncludePad = false; // avgPool1d only
};

// x: [N, C, L] -> [N, C, Lout], Lout = (L + padBefore + padAfter - kernel) /
// stride + 1 (floor). The rules of the 2-D pools: padding never wins a max
// (aborts if a window holds no in-bounds element); the average divides by
// `kernel` if countIncludePad, else by the window's in-bounds count (aborts
// if that is zero).
Tensor maxPool1d(const Tensor &x, const Pool1dParams &p);
Tensor avgPool1d(const Tensor &x, const Pool1dParams &p);

// Batched matrix product. a: [..., M, K], b: [..., K, P] (or [..., P, K] with
// transposeB), both of the same rank >= 2 with equal leading dimensions (no
// broadcasting). Output [..., M, P].
Tensor matmul(const Tensor &a, const Tensor &b, bool transposeB);

// dense on every row of a rank >= 2 input: x: [N, ..., F], weight: [units, F]
// (PyTorch Linear layout), bias: [units] or nullptr; out [N, ..., units].
// On rank 2 it equals dnnref::dense.
Tensor denseNd(const Tensor &x, const Tensor &weight, const Tensor *bias);

} // namespace dnnref
