// Shared helpers of the dnnc Halide kernels: shape checks, dense buffer
// constraints, activations and the flat elementwise schedule.
#include "Kernels.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

namespace dnnc::kernels::detail {

using namespace Halide;

namespace {
std::string shapeString(const Shape &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i)
      r += ", ";
    r += s[i] == kDynamic ? std::string("?") : std::to_string(s[i]);
  }
  return r + "]";
}
} // namespace

void requireCpuTarget(const Target &t, const char *op) {
  if (t.has_gpu_feature())
    throw std::runtime_error(std::string("dnnc kernels: no GPU schedule for ") + op +
                             " yet (target " + t.to_string() + ")");
}

void checkShape(const Shape &s, int rank, const char *what) {
  if ((rank >= 0 && static_cast<int>(s.size()) != rank) || s.empty())
    throw std::invalid_argument(std::string("dnnc kernels: ") + what + " has shape " +
                                shapeString(s) + ", expected rank " +
                                (rank >= 0 ? std::to_string(rank) : ">= 1"));
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] >= 1 || (i == 0 && s[i] == kDynamic))
      continue;
    throw std::invalid_argument(std::string("dnnc kernels: ") + what + " has invalid shape " +
                                shapeString(s) +
                                " (only dim 0 may be dynamic; extents must be >= 1)");
  }
}

void checkSameShape(const Shape &expected, const Shape &actual, const char *what) {
  if (expected != actual)
    throw std::invalid_argument(std::string("dnnc kernels: ") + what + " has shape " +
                                shapeString(actual) + ", expected " + shapeString(expected));
}

void constrainDense(OutputImageParam p, const Shape &s) {
  const int rank = static_cast<int>(s.size());
  int64_t stride = 1;
  for (int d = 0; d < rank; ++d) {
    const int64_t extent = s[rank - 1 - d];
    p.dim(d).set_stride(static_cast<int>(stride));
    if (extent == kDynamic) {
      p.dim(d).set_min(0);
    } else {
      p.dim(d).set_bounds(0, static_cast<int>(extent));
      stride *= extent;
    }
  }
}

std::vector<Var> makeVars(int rank, const char *prefix) {
  std::vector<Var> vars;
  for (int i = 0; i < rank; ++i)
    vars.emplace_back(std::string(prefix) + std::to_string(i));
  return vars;
}

namespace {
// log(1 + exp(v)) = max(v, 0) + log(1 + e), e = exp(-|v|): exp never sees a
// positive argument, so a large v neither overflows nor loses v. For e < 1/8
// (|v| > 2.08) log(1 + e) is the series e - e^2/2 + ... - e^8/8 (truncation
// < 4e-9 relative), since 1 + e would round away e's low bits: in the
// negative tail softplus(v) ~ e itself, and plain log(1 + e) was measured
// 1.3e-3 off (relative) at v = -10; with the series the worst element of a
// sweep over [-10, 10] is 6e-7 off (next to the switch).
Expr softplus(const Expr &v) {
  Expr e = exp(-abs(v));
  Expr series =
      e * (1.0f -
           e * (1.0f / 2 -
                e * (1.0f / 3 -
                     e * (1.0f / 4 - e * (1.0f / 5 - e * (1.0f / 6 - e * (1.0f / 7 - e / 8)))))));
  return max(v, 0.0f) + select(e < 0.125f, series, log(1.0f + e));
}

// exp(v) - 1 for v <= 0 (the negative side of ELU): near 0 the subtraction
// cancels (measured 4.6e-2 relative error at v = -5e-7), so for v > -1/8 the
// series v (1 + v/2 (1 + v/3 (... (1 + v/7)))) (truncation < 1e-9 relative;
// worst element of a sweep over [-10, 0]: 6e-7, next to the switch).
Expr expm1NonPositive(const Expr &v) {
  Expr series =
      v * (1.0f +
           v / 2 *
               (1.0f + v / 3 * (1.0f + v / 4 * (1.0f + v / 5 * (1.0f + v / 6 * (1.0f + v / 7))))));
  return select(v > -0.125f, series, exp(v) - 1.0f);
}

// tanh through Halide's vectorized exp. Halide 14's tanh() is a scalar libm
// call per lane: measured 25 ms for 1.6M floats on the AVX-512 host against
// 0.7 ms for sigmoid; this form takes 0.9 ms. For |v| >= 1/4, tanh|v| = (1 - e) / (1 + e) with
// e = exp(-2|v|) (no overflow; 1 - e >= 0.39 does not cancel); below, where
// 1 - e would cancel, the Taylor series to v^9 (truncation error < 2e-9
// relative at 1/4). The sign is put back last, so tanh(-0) = 0 and NaN stays
// NaN.
Expr tanhVectorizable(const Expr &v) {
  Expr a = abs(v);
  Expr a2 = a * a;
  Expr series =
      a + a * a2 * (-1.0f / 3 + a2 * (2.0f / 15 + a2 * (-17.0f / 315 + a2 * (62.0f / 2835))));
  Expr e = exp(-2.0f * a);
  Expr t = select(a < 0.25f, series, (1.0f - e) / (1.0f + e));
  return select(v < 0.0f, -t, t);
}
} // namespace

Expr applyActivation(const Expr &v, ActivationSpec act) {
  switch (act.kind) {
  case Activation::None:
    return v;
  case Activation::Relu:
    return max(v, 0.0f);
  case Activation::Sigmoid:
    return 1.0f / (1.0f + exp(-v));
  case Activation::Tanh:
    return tanhVectorizable(v);
  case Activation::LeakyRelu:
    return select(v > 0.0f, v, act.alpha * v);
  case Activation::Relu6:
    return min(max(v, 0.0f), 6.0f);
  case Activation::Elu:
    // exp(v) of a large positive v is inf, but that branch is not selected.
    return select(v > 0.0f, v, act.alpha * expm1NonPositive(v));
  case Activation::Softplus:
    return softplus(v);
  case Activation::Mish:
    return v * tanhVectorizable(softplus(v));
  case Activation::Gelu:
    return 0.5f * v * (1.0f + erf(v * 0.70710678118654752f));
  case Activation::GeluTanh: {
    // 0.5 (1 + tanh(u)) = sigmoid(2u): the same function without the
    // cancellation of 1 + tanh(u) for very negative v.
    const float sqrt2OverPi = 0.79788456080286536f;
    Expr u = sqrt2OverPi * (v + 0.044715f * v * v * v);
    return v / (1.0f + exp(-2.0f * u));
  }
  case Activation::Sign:
    // Returning v itself for zero keeps sign(0) = 0 and sign(NaN) = NaN.
    return select(v > 0.0f, 1.0f, select(v < 0.0f, -1.0f, v));
  }
  throw std::invalid_argument("dnnc kernels: unknown activation");
}

int64_t staticNumel(const Shape &s) {
  int64_t n = 1;
  for (int64_t e : s)
    if (e != kDynamic)
      n *= e;
  return n;
}

int pickTile(int64_t extent, int maxFactor) {
  if (extent <= maxFactor)
    return static_cast<int>(std::max<int64_t>(extent, 1));
  int best = maxFactor;
  int64_t bestWork = (extent + maxFactor - 1) / maxFactor * maxFactor;
  for (int f = maxFactor - 1; f >= (maxFactor + 1) / 2; --f) {
    int64_t work = (extent + f - 1) / f * f;
    if (work < bestWork) {
      best = f;
      bestWork = work;
    }
  }
  return best;
}

void scheduleFlat(Func f, const Shape &s, const Target &t) {
  // Elementwise ops are memory bound: one flat loop over the whole dense
  // tensor (dims fused innermost-first; with constant strides the index
  // simplifies back to the flat offset, so loads/stores are dense vectors),
  // vectorized, in parallel chunks of ~16K elements (64 KiB) so that small
  // tensors stay on one thread.
  const int vec = t.natural_vector_size<float>();
  std::vector<Var> args = f.args();
  Var flat = args[0];
  for (size_t i = 1; i < args.size(); ++i) {
    Var fused(flat.name() + "_" + args[i].name());
    f.fuse(flat, args[i], fused);
    flat = fused;
  }
  const int64_t staticPart = staticNumel(s);
  const bool dynamic = s[0] == kDynamic;
  Var vo("vo"), vi("vi");
  if (staticPart >= vec) {
    // Overlapping last vector instead of a scalar tail (f is pure).
    f.split(flat, vo, vi, vec, TailStrategy::ShiftInwards).vectorize(vi);
  } else if (!dynamic) {
    // Whole tensor is smaller than a vector: one exact, narrower vector.
    f.split(flat, vo, vi, static_cast<int>(staticPart)).vectorize(vi);
  } else {
    // Tiny rows times an unknown batch: masked vectors.
    f.split(flat, vo, vi, vec, TailStrategy::GuardWithIf).vectorize(vi);
  }
  const int vecsPerTask = std::max(1, 16384 / vec);
  if (dynamic || staticPart > 2 * 16384) {
    Var task("task"), vv("vv");
    f.split(vo, task, vv, vecsPerTask, TailStrategy::GuardWithIf).parallel(task);
  }
}

std::string funcName(const std::string &base) {
  static std::mutex mutex;
  static std::map<std::string, int> uses;
  std::lock_guard<std::mutex> lock(mutex);
  const int n = uses[base]++;
  return n == 0 ? base : base + "_" + std::to_string(n);
}

Kernel makeKernel(Func out, std::vector<ImageParam> inputs) {
  Kernel k{Pipeline(out), {}};
  for (const ImageParam &p : inputs)
    k.arguments.push_back(p);
  return k;
}

} // namespace dnnc::kernels::detail

std::map<std::string, Halide::Internal::Parameter>
dnnc::kernels::kernelParameters(const Kernel &kernel) {
  struct Finder : Halide::Internal::IRGraphVisitor {
    std::map<std::string, Halide::Internal::Parameter> found;
    using IRGraphVisitor::visit;
    void visit(const Halide::Internal::Call *c) override {
      if (c->param.defined())
        found[c->param.name()] = c->param;
      IRGraphVisitor::visit(c);
    }
    void visit(const Halide::Internal::Variable *v) override {
      if (v->param.defined())
        found[v->param.name()] = v->param;
    }
  } finder;
  for (Halide::Func f : kernel.pipeline.outputs()) {
    f.function().accept(&finder);
    for (auto &kv : Halide::Internal::find_transitive_calls(f.function()))
      kv.second.accept(&finder);
  }
  return finder.found;
}
