// dnnc Halide kernels of the training backward pass: the gradients of the
// dense, convolution, pooling and shape ops, the reduction that makes bias
// gradients, and two helpers of the attention backward.
//
// The conventions of Kernels.h hold: IR shapes (row-major / NCHW), Halide
// dims reversed, constant extents and strides, only IR dim 0 (the batch)
// may be kDynamic, inputs in the documented argument order followed by the
// output, std::invalid_argument for shape errors and std::runtime_error for
// GPU targets. The dnnref oracle of each builder is the function of the same
// name in reference/include/dnnref/RefGrad.h.
//
// Not here because an existing kernel computes it: the input gradient of
// dense (buildMatmul / buildDense with the transposed weight) and of conv2d
// (buildConvTranspose2d of dy with the conv's weight, strides, padding,
// dilations and groups, and output padding
// (H + pt + pb - dh*(KH-1) - 1) % sh, the same for W).
#pragma once

#include "Kernels.h"

namespace dnnc::kernels {

// args: x. out = x summed over the IR axes `axes` (each in [0, rank), no
// axis twice), which are removed: out is x's shape without them. Reducing the
// batch axis 0 of a dynamic-batch x gives a static out; reducing every axis
// gives a rank-0 out (one value). Example: the bias gradient of dense is
// axes {0} of dy [N, out], that of conv2d axes {0, 2, 3} of dy [N, O, OH, OW].
Kernel buildReduceSum(const Shape &x, const std::vector<int> &axes, const Shape &out,
                      const Halide::Target &t);

// args: dy [R, out], x [R, in] (R, the rows, may be kDynamic). out [out, in]
// (static): the dense weight gradient dW[o][i] = sum_r dy[r][o] * x[r][i].
// `rowsPerItem`: rows per batch item when R is dynamic (a sequence's steps),
// which picks the form of the GEMM (the result does not depend on it).
Kernel buildDenseGradWeight(const Shape &dy, const Shape &x, const Shape &out,
                            const Halide::Target &t, int64_t rowsPerItem = 1);

// args: dy [N, O, OH, OW], x [N, C, H, W] (buildConv2d's output extents for
// `a` and weightShape). out = weightShape [O, C/groups, KH, KW] (static): the
// conv2d weight gradient
//   dW[o][c][ky][kx] = sum_{n, oy, ox} dy[n][o][oy][ox] *
//       x[n][g*C/groups + c][oy*sh + ky*dh - pt][ox*sw + kx*dw - pl],
// g = o / (O/groups), x zero outside the image.
Kernel buildConv2dGradWeight(const Shape &dy, const Shape &x, const Conv2dAttrs &a,
                             const Shape &weightShape, const Halide::Target &t);

// args: dy [N, C, OH, OW], x [N, C, H, W] (buildMaxPool2d's output extents).
// out [N, C, H, W]: each dy element added to the element of x that won its
// window, the first maximum in row-major window order (ky outer, kx inner)
// among the in-bounds elements (padding never wins). Gather form: every
// output element sums the dy of the windows it won (no scatter).
Kernel buildMaxPool2dGrad(const Shape &dy, const Shape &x, const Pool2dAttrs &a,
                          const Shape &out, const Halide::Target &t);

// args: dy [N, C, OH, OW]. out [N, C, H, W] (buildAvgPool2d's input, with dy
// its output extents): every input element sums dy / divisor over the
// windows holding it, the divisor being the forward's (kernelH*kernelW if
// countIncludePad, else the window's in-bounds count).
Kernel buildAvgPool2dGrad(const Shape &dy, const Pool2dAttrs &a, const Shape &out,
                          const Halide::Target &t);

// args: dy [N, C], then (Max only: the average needs no input values)
// x [N, C, ...] (rank >= 3; for Avg `x` only gives the shape). out shaped
// like x. Avg: dy[n][c] / S everywhere (S = elements per (n, c)); Max:
// dy[n][c] on the first maximum of x[n][c] (row-major), 0 elsewhere.
Kernel buildGlobalPoolGrad(PoolKind kind, const Shape &dy, const Shape &x, const Shape &out,
                           const Halide::Target &t);

// args: dy [N, C, H*scaleH, W*scaleW]. out [N, C, H, W]: the adjoint of
// buildUpsample2d (integer scales >= 1). Nearest: the sum of each input's
// scaleH x scaleW block; bilinear: the transposed interpolation weights
// (PyTorch align_corners=False taps, clamped taps adding onto the edges).
Kernel buildUpsample2dGrad(const Shape &dy, int scaleH, int scaleW, UpsampleMode mode,
                           const Shape &out, const Halide::Target &t);

// args: dy [N, ..., E], indices [N, ...] (float32 holding integers). out
// [V, E] (static; V = numEmbeddings): dW[v] = sum of the dy rows whose index
// is v, 0 for unused rows. An index that is not an integer in [0, V) makes
// the kernel fail with a Halide error saying "embeddingGrad: index out of
// range".
Kernel buildEmbeddingGrad(const Shape &dy, const Shape &indices, const Shape &out,
                          const Halide::Target &t);

// args: x. out = x * factor (same shape).
Kernel buildScale(const Shape &x, float factor, const Shape &out, const Halide::Target &t);

// args: s [B, Tq, Tk]. out = s with every element of key j > query i set to
// -infinity (top-left aligned, as buildAttention's causal mask).
Kernel buildCausalMask(const Shape &s, const Shape &out, const Halide::Target &t);

} // namespace dnnc::kernels
