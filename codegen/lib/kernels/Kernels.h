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
#include <map>
#include <string>
#include <vector>

namespace dnnc::kernels {

using Shape = std::vector<int64_t>; // IR order; dim 0 may be kDynamic
constexpr int64_t kDynamic = -1;    // the symbolic batch size

// Activations fused into the dense/conv/binary epilogues and buildActivation,
// with PyTorch's definitions (dnnref::applyActivation is the oracle):
//   Relu6 min(max(x, 0), 6); Elu x > 0 ? x : alpha (exp(x) - 1);
//   Softplus log(1 + exp(x)) (as max(x, 0) + log(1 + exp(-|x|)), stable);
//   Mish x tanh(softplus(x)); Gelu 0.5 x (1 + erf(x / sqrt 2));
//   GeluTanh 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); Sign -1/0/+1.
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
  Gelu,
  GeluTanh,
  Sign,
};
struct ActivationSpec {
  Activation kind = Activation::None;
  float alpha = 0.01f; // LeakyRelu negative slope; Elu alpha (PyTorch default 1)
};

struct Kernel {
  Halide::Pipeline pipeline;
  // Kernel inputs (float32 ImageParams) in the order documented per builder.
  std::vector<Halide::Argument> arguments;
};

/// For running a kernel JIT-compiled (tests, benchmarks): the Parameters
/// behind its arguments, by name, so buffers can be bound to them (a Kernel
/// hands out Halide::Arguments only).
std::map<std::string, Halide::Internal::Parameter> kernelParameters(const Kernel &kernel);

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

// args: x [N,in], weight [out,in] (PyTorch layout), bias [out] if hasBias,
// residual [N,out] if hasResidual. y = act(x W^T + b + residual); out = [N,out].
Kernel buildDense(const Shape &x, const Shape &weight, bool hasBias, ActivationSpec act,
                  const Shape &out, const Halide::Target &t, bool hasResidual = false);

// The dense layer on a weight packed once, at load time, into panels of
// output units (DensePacked.cpp): the lowering runs it for weights (and
// tensors computed from them only).
// The packed shape for a weight [out, in]: [ceil(out/ob), in, ob], ob =
// min(out, 32) output units per panel.
Shape densePackedWeightShape(const Shape &weight);
// args: weight [out, in]. out `packed` (densePackedWeightShape(weight)):
// packed[p, k, l] = weight[p*ob + l, k], 0 where p*ob + l >= out.
Kernel buildDenseWeightPack(const Shape &weight, const Shape &packed, const Halide::Target &t);
// args: x [N,in], packed weight (buildDenseWeightPack of a weight of shape
// `weight`), bias [out] if hasBias, residual [N,out] if hasResidual. Same
// result as buildDense.
Kernel buildDensePacked(const Shape &x, const Shape &weight, const Shape &packed, bool hasBias,
                        ActivationSpec act, const Shape &out, const Halide::Target &t,
                        bool hasResidual = false);

// args: dy [N, units], weight [units, in] (PyTorch layout, static). out [N,
// in]: the dense input gradient dx = dy W, on the GEMM micro-kernel of
// buildDensePacked reading the weight in place (its rows are the panels).
Kernel buildDenseGradInput(const Shape &dy, const Shape &weight, const Shape &out,
                           const Halide::Target &t);

// args: x [N,C,H,W], weight [O,C/groups,KH,KW], bias [O] if hasBias,
// residual [N,O,OH,OW] if hasResidual. Zero padding; y = act(conv + b +
// residual), out [N,O,OH,OW] with OH = (H+pt+pb-dh*(KH-1)-1)/sh + 1.
Kernel buildConv2d(const Shape &x, const Shape &weight, bool hasBias, const Conv2dAttrs &a,
                   ActivationSpec act, const Shape &out, const Halide::Target &t,
                   bool hasResidual = false);

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

// args: a, b (identical shapes). y = act(a + b). (buildBinary without
// broadcasting.)
Kernel buildAdd(const Shape &a, const Shape &b, ActivationSpec act, const Shape &out,
                const Halide::Target &t);

// args: x. y = act(x); Activation::None is a copy.
Kernel buildActivation(const Shape &x, ActivationSpec act, const Shape &out,
                       const Halide::Target &t);

// args: x. Max-subtracted softmax along IR axis `axis` (0 <= axis < rank).
Kernel buildSoftmax(const Shape &x, int axis, const Shape &out, const Halide::Target &t);

// ---------------------------------------------------------------------------
// Elementwise: broadcasting binary ops (Elementwise.cpp).

enum class BinaryKind { Add, Sub, Mul };

// args: a, b. y = act(a op b) with broadcasting: a, b and out have the SAME
// rank (the caller inserts leading 1s); each dim of a and b equals out's or
// is 1, and out's is the broadcast of the two (a kDynamic batch matches a
// kDynamic batch; a static 1 in dim 0 broadcasts over a dynamic batch).
Kernel buildBinary(BinaryKind kind, const Shape &a, const Shape &b, ActivationSpec act,
                   const Shape &out, const Halide::Target &t);

// One step of a fused elementwise chain: an activation of value `lhs`, or
// the binary op of values `lhs` and `rhs` followed by the activation. Values
// are numbered inputs first, then steps in order.
struct ElementwiseStep {
  bool binary = false;
  BinaryKind binaryKind = BinaryKind::Add;
  ActivationSpec act;
  int lhs = 0, rhs = 0;
};

// args: one per input shape (each of the output's rank, broadcasting as in
// buildBinary). The output is the last step's value, computed in one pass
// without storing intermediates.
Kernel buildElementwiseChain(const std::vector<Shape> &inputs,
                             const std::vector<ElementwiseStep> &steps, const Shape &out,
                             const Halide::Target &t);

// ---------------------------------------------------------------------------
// Softmax family (Softmax.cpp) and GLU (Elementwise.cpp).

// args: x. Max-subtracted log-softmax along IR axis `axis` (0 <= axis <
// rank): y = x - max - log(sum(exp(x - max))).
Kernel buildLogSoftmax(const Shape &x, int axis, const Shape &out, const Halide::Target &t);
// args: x. GLU along IR axis `axis` (even extent; a dynamic batch cannot be
// split): out = a * sigmoid(b), a the first and b the second half of x along
// axis; out has half the extent along axis.
Kernel buildGlu(const Shape &x, int axis, const Shape &out, const Halide::Target &t);

// ---------------------------------------------------------------------------
// Normalization (Normalization.cpp).

// args: x, then gamma and beta if affine (each shaped like the trailing
// normalizedRank IR dims). Layer norm over the trailing normalizedRank dims
// (1 <= normalizedRank < rank; the batch is never normalized), biased
// variance: y = (x - mean) / sqrt(var + epsilon) [* gamma + beta].
Kernel buildLayerNorm(const Shape &x, int normalizedRank, bool affine, float epsilon,
                      const Shape &out, const Halide::Target &t);
// args: weight (static shape), bias [C] if hasBias, gamma, beta,
// running_mean, running_var (each [C], C = weight[channelAxis]).
// Two outputs: the weight scaled per channel by s = gamma / sqrt(var + eps)
// and the bias (bias - mean) * s + beta: a batchnorm folded into the layer
// before it.
Kernel buildFoldBatchNorm(const Shape &weight, int channelAxis, bool hasBias, float epsilon,
                          const Halide::Target &t);

// ---------------------------------------------------------------------------
// Global pooling (Pool.cpp).

enum class PoolKind { Avg, Max };

// args: x [N,C,...] (rank >= 3); out [N,C]: mean or max over all dims after
// the channel.
Kernel buildGlobalPool(PoolKind kind, const Shape &x, const Shape &out, const Halide::Target &t);

// ---------------------------------------------------------------------------
// Shape ops (ShapeOps.cpp, ConcatSplit.cpp, Gather.cpp).

// args: x. out IR dim i = x IR dim perm[i] (perm a permutation of 0..rank-1;
// a kDynamic batch must stay dim 0).
Kernel buildTranspose(const Shape &x, const std::vector<int> &perm, const Shape &out,
                      const Halide::Target &t);
// args: one buffer per entry of `inputs`, in order. Concatenation along IR
// axis `axis` (1 <= axis < rank: never the batch); the inputs agree on every
// other dim, out[axis] is the sum of theirs.
Kernel buildConcat(const std::vector<Shape> &inputs, int axis, const Shape &out,
                   const Halide::Target &t);
// args: x. A multi-output pipeline: output k is the k-th consecutive slice of
// sizes[k] (>= 1) along IR axis `axis` (1 <= axis < rank), of shape outs[k].
// The compiled function takes x followed by every output buffer, in order.
Kernel buildSplit(const Shape &x, int axis, const std::vector<int64_t> &sizes,
                  const std::vector<Shape> &outs, const Halide::Target &t);
// args: x. Constant padding by before[d] / after[d] (>= 0) elements on each
// side of IR dim d; dim 0 (the batch) is never padded.
Kernel buildPad(const Shape &x, const std::vector<int64_t> &before,
                const std::vector<int64_t> &after, float value, const Shape &out,
                const Halide::Target &t);
// args: indices (float32 [N, ...] holding integers), weight [V, E].
// out [N, ..., E] = the rows of weight picked by indices. An index that is
// not an integer in [0, V) makes the kernel fail with a Halide error saying
// "embedding: index out of range".
Kernel buildEmbedding(const Shape &indices, const Shape &weight, const Shape &out,
                      const Halide::Target &t);

enum class UpsampleMode { Nearest, Bilinear };

// args: x [N,C,H,W]; out [N,C,H*scaleH,W*scaleW] with integer scales >= 1.
// PyTorch nn.Upsample(scale_factor, mode, align_corners=False) semantics.
Kernel buildUpsample2d(const Shape &x, int scaleH, int scaleW, UpsampleMode mode,
                       const Shape &out, const Halide::Target &t);

// ---------------------------------------------------------------------------
// Copies and fills (Copy.cpp).

// args: x, a tensor of `shape` with IR-order element strides srcStrides; the
// output has the same shape with strides dstStrides (slices of bigger
// tensors, e.g. one time step of [N, T, H] as [N, H] with row stride T*H).
Kernel buildStridedCopy(const Shape &shape, const std::vector<int64_t> &srcStrides,
                        const std::vector<int64_t> &dstStrides, const Halide::Target &t);
// No args; the dense output of `shape` is `value` everywhere.
Kernel buildFill(const Shape &shape, float value, const Halide::Target &t);

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

// The geometry of a 2-D pool window over x [N,C,H,W]: the output extents,
// after the checks every pool kernel (forward and gradient) makes: valid
// attributes, a window that fits the padded input, no window lying entirely
// in the padding. Throws std::invalid_argument naming `op`.
struct Pool2dGeom {
  int64_t N, C, H, W, OH, OW;
  bool padded;
};
Pool2dGeom pool2dGeometry(const Shape &x, const Pool2dAttrs &a, const char *op);
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
