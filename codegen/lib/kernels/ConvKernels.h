// dnnc Halide kernels of the convolution family beyond conv2d (transposed and
// fused separable convolution) and of batched matmul.
//
// The conventions of Kernels.h hold: IR shapes (row-major / NCHW), Halide
// dims reversed, constant extents and strides, only IR dim 0 (the batch) may
// be kDynamic, inputs in the documented argument order followed by the
// output, std::invalid_argument for shape errors and std::runtime_error for
// GPU targets.
//
// 1-D convolutions and pools need no kernels of their own (the compiler runs
// them as the 2-D ops on [N, C, 1, L] views), nor does dense on rank > 2
// inputs (it runs on [N*T, F] rows).
#pragma once

#include "Kernels.h"

namespace dnnc::kernels {

struct ConvTranspose2dAttrs {
  int strideH = 1, strideW = 1;
  int padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  int outputPadH = 0, outputPadW = 0;
  int dilationH = 1, dilationW = 1;
  int groups = 1;
};

// args: x [N,C,H,W], weight [C,O/groups,KH,KW] (PyTorch ConvTranspose2d
// layout), bias [O] if hasBias. y = act(convTranspose(x) + b); out
// [N,O,OH,OW] with OH = (H-1)*sh - pt - pb + dh*(KH-1) + oph + 1 (same for
// W). Output padding must be smaller than the stride or the dilation of its
// axis (as in PyTorch); groups must divide C and O.
Kernel buildConvTranspose2d(const Shape &x, const Shape &weight, bool hasBias,
                            const ConvTranspose2dAttrs &a, ActivationSpec act, const Shape &out,
                            const Halide::Target &t);

// Keras SeparableConv2D as one fused kernel: a depthwise convolution
// (channel multiplier M, strides/padding/dilation of `a`, a.groups ignored,
// no bias) whose result feeds a 1x1 pointwise convolution with the bias.
// args: x [N,C,H,W], depthwise [C*M,1,KH,KW], pointwise [O,C*M,1,1], bias [O]
// if hasBias. out [N,O,OH,OW] with buildConv2d's output extents.
Kernel buildSeparableConv2d(const Shape &x, const Shape &depthwise, const Shape &pointwise,
                            bool hasBias, const Conv2dAttrs &a, ActivationSpec act,
                            const Shape &out, const Halide::Target &t);

// Whether buildConv2d runs this dense conv2d (groups == 1; same arguments
// as conv2dPackedWeightShape) as the GEMM kernel, i.e. whether the lowering
// should pack its weights and call buildConv2dPacked. False for short
// reductions on narrow unpadded maps (LeNet-5's 5x5 layers), where the
// direct convolution measured faster.
bool conv2dUsesGemm(const Shape &x, const Shape &weight, const Conv2dAttrs &a, const Shape &out);

// Dense conv2d (groups == 1) with weights packed ahead of time, as the
// lowering runs it (ConvGemm.cpp): the weight is repacked once, at load time,
// by buildConv2dWeightPack into the layout the kernel's register tiles read.
//
// The packed shape for a conv2d of these shapes (x [N,C,H,W], weight
// [O,C,KH,KW], out [N,O,OH,OW]; buildConv2d's attributes, groups == 1):
// [ceil(O/cb), C, KH, KW, cb], cb output channels per block (chosen from the
// shapes only, so it does not depend on the target).
Shape conv2dPackedWeightShape(const Shape &x, const Shape &weight, const Conv2dAttrs &a,
                              const Shape &out);
// args: weight [O,C,KH,KW]. out `packed` (from conv2dPackedWeightShape):
// packed[b, ci, ky, kx, j] = weight[b*cb + j, ci, ky, kx], 0 where
// b*cb + j >= O.
Kernel buildConv2dWeightPack(const Shape &weight, const Shape &packed, const Halide::Target &t);
// args: x [N,C,H,W], packed weight (buildConv2dWeightPack of a weight of
// shape `weight`), bias [O] if hasBias, residual [N,O,OH,OW] if
// hasResidual. Same result as buildConv2d; a.groups must be 1.
Kernel buildConv2dPacked(const Shape &x, const Shape &weight, const Shape &packed, bool hasBias,
                         const Conv2dAttrs &a, ActivationSpec act, const Shape &out,
                         const Halide::Target &t, bool hasResidual = false);

// Depthwise convolution: groups == C, weight [C*M,1,KH,KW] (channel
// multiplier M >= 1; output channel co filters input channel co / M).
// args: x [N,C,H,W], weight, bias [C*M] if hasBias, residual [N,C*M,OH,OW]
// if hasResidual; y = act(conv + b + residual), out as buildConv2d's (which
// dispatches here for such convolutions).
Kernel buildDepthwiseConv2d(const Shape &x, const Shape &weight, bool hasBias,
                            const Conv2dAttrs &a, ActivationSpec act, const Shape &out,
                            const Halide::Target &t, bool hasResidual = false);

// Pointwise convolution (1x1 kernel, stride 1, no padding, groups 1) on
// flattened images: a GEMM per image. args: x [N,C,P] (P = H*W pixels),
// weight [O,C] (the [O,C,1,1] conv weight), bias [O] if hasBias, residual
// [N,O,P] if hasResidual; out [N,O,P] = act(W x[n] + b + residual).
Kernel buildPointwiseConv(const Shape &x, const Shape &weight, bool hasBias, ActivationSpec act,
                          const Shape &out, const Halide::Target &t, bool hasResidual = false);
// The same on a weight packed at load time into panels of output channels
// (packed = densePackedWeightShape(weight), filled by buildDenseWeightPack):
// vectorized along the output channels, for small maps (P <= 196 measures
// faster: no pixel tail). args: x, packed weight, [bias], [residual].
// Whether a pointwise conv on P pixels per image runs faster packed: when
// whole pixel vectors would compute over 15% extra pixels (7x7 maps: 64 for
// 49). Measured (1 thread, cpu ms, packed vs pixels): 960->320 7x7 0.203 vs
// 0.264, 576->160 7x7 0.063 vs 0.079; 14x14 even or worse (96->576: 0.173
// vs 0.154).
bool pointwisePrefersPacked(int64_t pixels);
Kernel buildPointwiseConvPacked(const Shape &x, const Shape &weight, const Shape &packed,
                                bool hasBias, ActivationSpec act, const Shape &out,
                                const Halide::Target &t, bool hasResidual = false);

// Batched matrix product of rank-3 tensors (the caller flattens leading
// dims into B, which may be kDynamic).
// args: a [B,M,K], b [B,K,P] (or [B,P,K] with transposeB). out [B,M,P].
Kernel buildMatmul(const Shape &a, const Shape &b, bool transposeB, const Shape &out,
                   const Halide::Target &t);

// ---------------------------------------------------------------------------
// Internal helpers shared by the kernel sources (not part of the API).
namespace detail {

// The NCHW input `in` (spatial extents H x W) extended with zeros, computed
// once per call (compute_root, vectorized, parallel over planes) over
// whatever region its consumers read. Written as a zero fill plus a copy of
// the interior rather than with BoundaryConditions: Halide partitions the
// boundary selects of the latter unreliably (an input band whose first row
// is padding turned every row into a gather with selects).
Halide::Func zeroPaddedInput(Halide::ImageParam in, int64_t H, int64_t W, const Halide::Target &t);

// buildConv2d for groups == 1: the kernel of buildConv2dPacked with the
// weight packed inside the call.
Kernel buildConv2dGemm(const Shape &x, const Shape &weight, bool hasBias, const Conv2dAttrs &a,
                       ActivationSpec act, const Shape &out, const Halide::Target &t,
                       bool hasResidual);
// Which schedule and tiles buildConv2dPacked picks for these shapes, in
// words (for tests that must cover each path, and for tuning).
std::string describeConv2dSchedule(const Shape &x, const Shape &weight, const Conv2dAttrs &a,
                                   const Shape &out, const Halide::Target &t);

} // namespace detail

} // namespace dnnc::kernels
