// Training kernels: activation gradients, softmax / log-softmax gradients and
// dropout with a counter-based hash.
#include "RowSchedule.h"
#include "TrainKernels.h"
#include "TrainSchedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

Expr sigmoidOf(const Expr &v) { return applyActivation(v, {Activation::Sigmoid}); }

// act'(x) * dy, from x or y as ActivationGradReads documents. The smooth
// activations reuse the forward building blocks of Common.cpp (the
// vectorizable tanh, the stable softplus), so their accuracy carries over.
Expr activationDerivativeTimes(const Expr &dy, const Expr &x, const Expr &y, ActivationSpec act) {
  switch (act.kind) {
  case Activation::None:
    return dy;
  case Activation::Relu:
    return select(x > 0.0f, dy, 0.0f);
  case Activation::Sigmoid:
    return dy * (y * (1.0f - y));
  case Activation::Tanh:
    return dy * (1.0f - y * y);
  case Activation::LeakyRelu:
    return select(x > 0.0f, dy, act.alpha * dy);
  case Activation::Relu6:
    return select(x > 0.0f && x < 6.0f, dy, 0.0f);
  case Activation::Elu:
    return select(x > 0.0f, dy, dy * (y + act.alpha));
  case Activation::Softplus:
    return dy * sigmoidOf(x);
  case Activation::Mish: {
    Expr th = applyActivation(applyActivation(x, {Activation::Softplus}), {Activation::Tanh});
    return dy * (th + x * (1.0f - th * th) * sigmoidOf(x));
  }
  case Activation::Gelu: {
    // Phi(x) + x phi(x).
    Expr cdf = 0.5f * (1.0f + erf(x * 0.70710678118654752f));
    Expr density = exp(-0.5f * x * x) * 0.39894228040143268f;
    return dy * (cdf + x * density);
  }
  case Activation::GeluTanh: {
    // With s = sigmoid(2u): 0.5 (1 + tanh u) = s and 1 - tanh^2 u =
    // 4 s (1 - s), so the derivative 0.5 (1 + th) + 0.5 x (1 - th^2) u' is
    // s + 2 x s (1 - s) u', free of the cancellation of 1 + tanh(u) at
    // very negative x.
    const float k = 0.79788456080286536f, c = 0.044715f;
    Expr u = k * (x + c * x * x * x);
    Expr s = sigmoidOf(2.0f * u);
    return dy * (s + 2.0f * x * s * (1.0f - s) * (k * (1.0f + 3.0f * c * x * x)));
  }
  case Activation::Sign:
    return Expr(0.0f);
  }
  throw std::invalid_argument("dnnc kernels: unknown activation");
}

// Fuses Halide vars [first, last) of stage s into one var.
Var fuseRange(Stage s, const std::vector<Var> &v, int first, int last, const char *name) {
  std::vector<VarOrRVar> vars(v.begin(), v.end());
  return fuseVars(s, vars, first, last, name).var;
}

enum class SoftmaxKind { Softmax, LogSoftmax };

Kernel buildSoftmaxFamilyGrad(SoftmaxKind kind, const Shape &shape, int axis, const Target &t) {
  const bool logarithm = kind == SoftmaxKind::LogSoftmax;
  const std::string op = logarithm ? "logsoftmax_grad" : "softmax_grad";
  requireCpuTarget(t, op.c_str());
  checkShape(shape, -1, (op + " input").c_str());
  const int rank = static_cast<int>(shape.size());
  if (axis < 0 || axis >= rank)
    throw std::invalid_argument("dnnc kernels: " + op + " axis out of range");
  const int hd = rank - 1 - axis; // Halide dim of the softmax axis

  ImageParam dy(Float(32), rank, "dy"), y(Float(32), rank, "y");
  std::vector<Var> v = makeVars(rank, "i");
  std::vector<Var> rv; // v without the reduced dim
  for (int d = 0; d < rank; ++d)
    if (d != hd)
      rv.push_back(v[d]);
  Expr extent = shape[axis] == kDynamic ? y.dim(hd).extent() : Expr(int(shape[axis]));
  RDom r(0, extent, "r");
  std::vector<Expr> ar(v.begin(), v.end());
  ar[hd] = r.x;
  std::vector<Expr> rve(rv.begin(), rv.end());

  // Algorithm: one reduction along the axis, then an elementwise pass.
  Func s(funcName(op + "_sum")), dx(funcName(op));
  s(rv) = 0.0f;
  s(rv) += logarithm ? dy(ar) : dy(ar) * y(ar);
  if (logarithm)
    dx(v) = dy(v) - exp(y(v)) * s(rve);
  else
    dx(v) = y(v) * (dy(v) - s(rve));

  constrainDense(dy, shape);
  constrainDense(y, shape);
  constrainDense(dx.output_buffer(), shape);

  // Schedule, as the forward softmax (Softmax.cpp).
  const int vec = t.natural_vector_size<float>();
  Var task("task");
  if (hd == 0) {
    // Contiguous rows, parallel in ~16K-element chunks; per row the sum is
    // rfactor'ed into vector lanes, then one vectorized pass writes dx.
    const int64_t A = shape[axis] == kDynamic ? vec : shape[axis];
    const int lanes = static_cast<int>(std::min<int64_t>(vec, A));
    Var xo("xo"), xi("xi"), rowi("rowi");
    dx.split(v[0], xo, xi, lanes, TailStrategy::GuardWithIf).vectorize(xi);
    LoopLevel at = LoopLevel::root();
    if (rank > 1) {
      Var row = fuseRange(dx, v, 1, rank, "row");
      const int rowsPerTask = static_cast<int>(std::max<int64_t>(1, 16384 / A));
      dx.split(row, task, rowi, rowsPerTask, TailStrategy::GuardWithIf).parallel(task);
      at = LoopLevel(dx, rowi);
    }
    scheduleRowReduction(s, {r.x}, A, at, t);
  } else {
    // Strided axis: vectorize across the contiguous inner dims so the sum
    // accumulates whole vectors; parallel over the outer slices.
    const int64_t inner = halideExtent(shape, 0, hd);
    const int lanes = static_cast<int>(std::min<int64_t>(vec, inner));
    Var in = fuseRange(dx, v, 0, hd, "inner");
    Var io("io"), ii("ii"), outeri("outeri");
    dx.split(in, io, ii, lanes, TailStrategy::GuardWithIf).vectorize(ii);
    LoopLevel at = LoopLevel::root();
    if (hd + 1 < rank) {
      Var outer = fuseRange(dx, v, hd + 1, rank, "outer");
      const int64_t slice = inner * (shape[axis] == kDynamic ? 1 : shape[axis]);
      const int perTask = static_cast<int>(std::max<int64_t>(1, 16384 / slice));
      dx.split(outer, task, outeri, perTask, TailStrategy::GuardWithIf).parallel(task);
      at = LoopLevel(dx, outeri);
    }
    Var si = fuseRange(s, rv, 0, hd, "inner");
    s.compute_at(at).split(si, io, ii, lanes, TailStrategy::GuardWithIf).vectorize(ii);
    Var su = fuseRange(s.update(), rv, 0, hd, "inner");
    s.update()
        .split(su, io, ii, lanes, TailStrategy::GuardWithIf)
        .reorder(ii, io, r.x)
        .vectorize(ii);
  }
  return makeKernel(dx, {dy, y});
}

// lowbias32, the mixer of dnnref::dropoutBits, in 32-bit unsigned Halide
// arithmetic (wraps mod 2^32 like uint32_t).
Expr mix(Expr h) {
  h = h ^ (h >> 16);
  h = h * Expr(uint32_t(0x7feb352du));
  h = h ^ (h >> 15);
  h = h * Expr(uint32_t(0x846ca68bu));
  return h ^ (h >> 16);
}

} // namespace

ActivationGradReads activationGradReads(Activation act) {
  switch (act) {
  case Activation::None:
  case Activation::Sign:
    return {false, false};
  case Activation::Sigmoid:
  case Activation::Tanh:
    return {false, true};
  case Activation::Elu:
    return {true, true};
  default:
    return {true, false};
  }
}

Kernel buildActivationGrad(ActivationSpec act, const Shape &shape, const Target &t) {
  requireCpuTarget(t, "activation_grad");
  checkShape(shape, -1, "activation_grad input");
  const int rank = static_cast<int>(shape.size());
  ImageParam dy(Float(32), rank, "dy"), x(Float(32), rank, "x"), y(Float(32), rank, "y");
  std::vector<Var> v = makeVars(rank, "i");

  Func dx(funcName("activation_grad"));
  dx(v) = activationDerivativeTimes(dy(v), x(v), y(v), act);

  for (ImageParam p : {dy, x, y})
    constrainDense(p, shape);
  constrainDense(dx.output_buffer(), shape);
  // Mostly memory bound (2-3 loads, 1 store per element): one flat
  // vectorized loop in parallel chunks.
  //   Measured, 2 threads, AVX-512 host shared with other jobs, batch 64:
  //   relu' of [64,32,26,26] (the MNIST CNN's conv1) 0.58 ms (~38 GB/s of
  //   loads and stores); gelu' of the same 2.0 ms (erf and exp make it
  //   compute bound); [64,256] (the MLP's hidden layer) 2 us.
  scheduleFlatExact(dx, shape, t);
  return makeKernel(dx, {dy, x, y});
}

Kernel buildSoftmaxGrad(const Shape &shape, int axis, const Target &t) {
  return buildSoftmaxFamilyGrad(SoftmaxKind::Softmax, shape, axis, t);
}

Kernel buildLogSoftmaxGrad(const Shape &shape, int axis, const Target &t) {
  return buildSoftmaxFamilyGrad(SoftmaxKind::LogSoftmax, shape, axis, t);
}

Kernel buildDropoutTrain(const Shape &shape, float rate, uint32_t stream, const Target &t) {
  requireCpuTarget(t, "dropout");
  checkShape(shape, -1, "dropout input");
  if (!(rate >= 0.0f && rate <= 1.0f))
    throw std::invalid_argument("dnnc kernels: dropout rate must be in [0, 1]");
  const int rank = static_cast<int>(shape.size());
  ImageParam x(Float(32), rank, "x"), hyper(Float(32), 1, "hyper");
  std::vector<Var> v = makeVars(rank, "i");

  // Algorithm: dnnref::dropoutBits. The key depends only on the call's seed
  // and step: a zero-dimensional Func computed once per call.
  // The threshold is computed in double exactly as dnnref does.
  const uint32_t threshold =
      static_cast<uint32_t>(std::floor((1.0 - double(rate)) * 16777216.0 + 0.5));
  const float scale = rate < 1.0f ? float(1.0 / (1.0 - double(rate))) : 0.0f;
  Func key(funcName("dropout_key"));
  Expr seed = cast<uint32_t>(hyper(2)), step = cast<uint32_t>(hyper(3));
  key() = mix(mix(mix(Expr(uint32_t(stream)) + Expr(uint32_t(0x9e3779b9u))) ^ seed) ^ step);
  Expr index = cast<uint32_t>(flatIndex(v, shape));
  Expr bits = mix(mix(index ^ key()) + key());
  Expr mask = select((bits >> 8) < Expr(threshold), scale, 0.0f);
  Func out(funcName("dropout"));
  out(v) = Tuple(x(v) * mask, mask);

  constrainDense(x, shape);
  constrainDense(hyper, {8});
  constrainDenseOutputs(out, shape);

  // Schedule: the hash is ~12 integer ops per element, vectorized (32-bit
  // multiplies are single instructions); otherwise a memory-bound flat loop.
  //   Measured, 2 threads, AVX-512 host (shared), batch 64: [64,256] 5 us;
  //   [64,32,26,26] 0.84 ms.
  key.compute_root();
  scheduleFlatExact(out, shape, t);
  return Kernel{Pipeline(out), {x, hyper}};
}

} // namespace dnnc::kernels
