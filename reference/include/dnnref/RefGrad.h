// Plain C++ reference kernels for training: the backward (gradient) ops of
// the dense, convolution, pooling and shape ops, and two small helpers of
// the attention backward (scale, causalMask).
//
// Same rules as RefKernels.h: one straightforward loop nest per op, computed
// in double, dense row-major tensors (NCHW), PyTorch semantics; a shape or
// parameter violation prints the problem to stderr and calls std::abort().
//
// Every "Grad" function is the adjoint of the named forward function of
// RefKernels.h / RefConv.h: with y = f(x) and an upstream gradient dy shaped
// like y, it returns d(sum(dy * y))/dx (tests/unit/reference/RefGradCheckTest.cpp
// compares each one with central finite differences of the forward).
//
// The input gradient of conv2d needs no function of its own: it is
// convTranspose2d(dy, weight, q) with q the conv's strides, padding,
// dilations and groups and output padding
//   q.outputPadH = (H + padTop + padBottom - dilationH*(KH-1) - 1) % strideH
// (the same for W), which gives back the input extents; RefGradCheckTest.cpp
// checks this against finite differences.
#pragma once

#include "dnnref/RefKernels.h"

#include <cstdint>
#include <vector>

namespace dnnref {

// x summed over the listed axes (each in [0, rank) or negative, python
// style; no axis twice), which are removed from the shape. Listing every
// axis gives a rank-0 tensor (shape {}, one value); an empty list is a copy.
Tensor reduceSum(const Tensor &x, const std::vector<int> &axes);

// Weight gradient of dense: dy [R, out], x [R, in] -> dW [out, in],
//   dW[o][i] = sum_r dy[r][o] * x[r][i].
// (The bias gradient is reduceSum(dy, {0}).)
Tensor denseGradWeight(const Tensor &dy, const Tensor &x);

// Input gradient of dense: dy [R, out], W [out, in] (PyTorch layout) ->
// dx [R, in], dx[r][i] = sum_o dy[r][o] * W[o][i].
Tensor denseGradInput(const Tensor &dy, const Tensor &weight);

// Weight gradient of conv2d: dy [N, O, OH, OW], x [N, C, H, W] with conv2d's
// output extents for p and a KH x KW kernel -> dW [O, C/groups, KH, KW],
//   dW[o][c][ky][kx] = sum_{n, oy, ox} dy[n][o][oy][ox] *
//       x[n][g*C/groups + c][oy*sh + ky*dh - pt][ox*sw + kx*dw - pl]
// with g = o / (O/groups) and x zero outside [0, H) x [0, W).
Tensor conv2dGradWeight(const Tensor &dy, const Tensor &x, const Conv2dParams &p, int64_t KH,
                        int64_t KW);

// Input gradient of maxPool2d: dy [N, C, OH, OW], x [N, C, H, W] (maxPool2d's
// output extents for p) -> dx shaped like x. Each dy element goes to the
// element of x that won its window: the first maximum in row-major window
// order (ky outer, kx inner) among the window's in-bounds elements (padding
// never wins); a NaN wins (the first NaN), as the forward returns it.
// Overlapping windows add up.
Tensor maxPool2dGrad(const Tensor &dy, const Tensor &x, const Pool2dParams &p);

// Input gradient of avgPool2d: dy [N, C, OH, OW] -> dx of inputShape
// [N, C, H, W] (avgPool2d's output extents for p). Each dy element is
// spread evenly over the in-bounds elements of its window, divided by the
// forward's divisor (kernelH*kernelW if countIncludePad, else the window's
// in-bounds count).
Tensor avgPool2dGrad(const Tensor &dy, const Pool2dParams &p,
                     const std::vector<int64_t> &inputShape);

enum class PoolKind { Avg, Max };

// Input gradient of globalAvgPool / globalMaxPool: dy [N, C], x [N, C, ...]
// (rank >= 3) -> dx shaped like x. Avg: dx = dy[n][c] / S everywhere, S the
// number of elements per (n, c). Max: dy[n][c] goes to the first maximum of
// x[n][c] in row-major order (a NaN wins, the first NaN); the rest is 0.
Tensor globalPoolGrad(const Tensor &dy, const Tensor &x, PoolKind kind);

// Input gradient of upsample2d: dy [N, C, H*scaleH, W*scaleW] -> dx of
// inputShape [N, C, H, W]. Nearest: each dx element is the sum of the
// scaleH x scaleW block of dy it was copied to. Bilinear: the transposed
// interpolation, dx[i] = sum over outputs of (weight of tap i) * dy, with
// upsample2d's clamped taps (a tap clamped onto an edge element adds there).
Tensor upsample2dGrad(const Tensor &dy, int scaleH, int scaleW, Upsample mode,
                      const std::vector<int64_t> &inputShape);

// Weight gradient of embedding: dy [N, ..., E], indices [N, ...] (integer
// values stored as doubles, in [0, numEmbeddings)) -> dW [numEmbeddings, E],
//   dW[v] = sum of the rows dy[i] over the flat positions i with
//   indices[i] == v (zero rows for unused v).
// A non-integer or out-of-range index aborts.
Tensor embeddingGrad(const Tensor &dy, const Tensor &indices, int64_t numEmbeddings);

// x * factor, elementwise (any shape).
Tensor scale(const Tensor &x, double factor);

// s [B, Tq, Tk] -> s with every element of key j > query i set to -infinity
// (top-left aligned, attention's causal mask: query i sees keys 0..i).
Tensor causalMask(const Tensor &s);

} // namespace dnnref
