// dnnc Halide kernels: one Halide pipeline per dnn-dialect op.
//
// Each builder writes the op's algorithm once and then applies a schedule for
// the given target (CPU now; a GPU target throws std::runtime_error until a
// GPU schedule exists). The caller AOT-compiles the returned pipeline with
//   kernel.pipeline.compile_to_object(file, kernel.arguments, fnName, target)
// (target with Target::NoRuntime); the compiled function takes the inputs in
// the order of `arguments` followed by the output buffer.
//
// Layout: every tensor is a dense float32 buffer in IR (row-major / NCHW)
// order. Halide dimensions are the reverse of the IR dimensions (IR [N,C,H,W]
// -> Halide dim 0 = W with stride 1, dim 3 = N). All mins are 0. Every static
// extent and every stride is baked into the generated code; only the batch
// (IR dim 0, the last Halide dim) may be kDynamic, and its extent then comes
// from the buffers at run time (input and output batch must agree).
//
// Shape errors (wrong rank, inconsistent shapes, a kDynamic that is not the
// batch) throw std::invalid_argument.
#pragma once

#include <Halide.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dnnc::kernels {

using Shape = std::vector<int64_t>; // IR order; dim 0 may be kDynamic
constexpr int64_t kDynamic = -1;    // the symbolic batch size

enum class Activation { None, Relu, Sigmoid, Tanh, LeakyRelu };
struct ActivationSpec {
  Activation kind = Activation::None;
  float alpha = 0.01f; // LeakyRelu negative slope
};

struct Kernel {
  Halide::Pipeline pipeline;
  // Kernel inputs (float32 ImageParams) in the order documented per builder.
  std::vector<Halide::Argument> arguments;
};

struct Conv2dAttrs {
  int strideH = 1, strideW = 1;
  int padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  int dilationH = 1, dilationW = 1;
  int groups = 1;
};

struct Pool2dAttrs {
  int kernelH, kernelW, strideH, strideW;
  int padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  bool countIncludePad = false; // avg pool: divide by kernelH*kernelW
};

// args: x [N,in], weight [out,in] (PyTorch layout), bias [out] if hasBias.
// y = act(x W^T + b); out = [N,out].
Kernel buildDense(const Shape &x, const Shape &weight, bool hasBias, ActivationSpec act,
                  const Shape &out, const Halide::Target &t);

// args: x [N,C,H,W], weight [O,C/groups,KH,KW], bias [O] if hasBias.
// Zero padding; out [N,O,OH,OW] with OH = (H+pt+pb-dh*(KH-1)-1)/sh + 1.
Kernel buildConv2d(const Shape &x, const Shape &weight, bool hasBias, const Conv2dAttrs &a,
                   ActivationSpec act, const Shape &out, const Halide::Target &t);

// args: x [N,C,H,W]. Padding never wins (windows must hold an in-bounds
// element).
Kernel buildMaxPool2d(const Shape &x, const Pool2dAttrs &a, const Shape &out,
                      const Halide::Target &t);
// args: x [N,C,H,W]. Divisor: kernelH*kernelW if countIncludePad, else the
// number of in-bounds elements of the window.
Kernel buildAvgPool2d(const Shape &x, const Pool2dAttrs &a, const Shape &out,
                      const Halide::Target &t);
// args: x [N,C,H,W]; out [N,C].
Kernel buildGlobalAvgPool2d(const Shape &x, const Shape &out, const Halide::Target &t);

// args: x, gamma, beta, running_mean, running_var (each [C]). Channel axis 1,
// x of rank >= 2. y = (x - mean) * gamma / sqrt(var + epsilon) + beta.
Kernel buildBatchNorm(const Shape &x, float epsilon, const Shape &out, const Halide::Target &t);

// args: a, b (identical shapes). y = act(a + b).
Kernel buildAdd(const Shape &a, const Shape &b, ActivationSpec act, const Shape &out,
                const Halide::Target &t);

// args: x. y = act(x); Activation::None is a copy.
Kernel buildActivation(const Shape &x, ActivationSpec act, const Shape &out,
                       const Halide::Target &t);

// args: x. Max-subtracted softmax along IR axis `axis` (0 <= axis < rank).
Kernel buildSoftmax(const Shape &x, int axis, const Shape &out, const Halide::Target &t);

// ---------------------------------------------------------------------------
// Internal helpers shared by the kernel sources (not part of the API).
namespace detail {

// Throws std::runtime_error for GPU targets (no GPU schedules yet).
void requireCpuTarget(const Halide::Target &t, const char *op);
// Throws std::invalid_argument unless `s` has rank `rank` (rank < 0: any rank
// >= 1), only dim 0 may be kDynamic and all other extents are >= 1.
void checkShape(const Shape &s, int rank, const char *what);
// Throws std::invalid_argument unless the shapes are equal.
void checkSameShape(const Shape &expected, const Shape &actual, const char *what);
// Declares `p` dense with the given IR shape: constant extents and strides,
// mins 0; a kDynamic batch keeps a free extent.
void constrainDense(Halide::OutputImageParam p, const Shape &s);
// Halide pure vars for a rank-`rank` Func, named prefix0, prefix1, ...
std::vector<Halide::Var> makeVars(int rank, const char *prefix);
Halide::Expr applyActivation(const Halide::Expr &v, ActivationSpec act);
// Product of the static extents of `s` (a kDynamic batch counts as 1).
int64_t staticNumel(const Shape &s);
// Schedules a pure Func over a dense tensor of shape `s` as one flat,
// vectorized, parallel loop (all dims fused; index math folds away because
// the strides are constants).
void scheduleFlat(Halide::Func f, const Shape &s, const Halide::Target &t);
// Tile factor f in [ceil(maxFactor/2), maxFactor] minimizing ceil(extent/f)*f
// (the work of a ShiftInwards split; ties: the larger f); extent itself when
// extent <= maxFactor.
int pickTile(int64_t extent, int maxFactor);
// A Func name that is a valid C identifier and not yet used in this process
// ("conv", then "conv_1", ...). Halide itself would make a reused name unique
// by appending "$n", which then shows up in the compiled function's metadata.
std::string funcName(const std::string &base);
Kernel makeKernel(Halide::Func out, std::vector<Halide::ImageParam> inputs);

} // namespace detail
} // namespace dnnc::kernels
