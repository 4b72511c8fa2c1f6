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

Expr applyActivation(const Expr &v, ActivationSpec act) {
  switch (act.kind) {
  case Activation::None:
    return v;
  case Activation::Relu:
    return max(v, 0.0f);
  case Activation::Sigmoid:
    return 1.0f / (1.0f + exp(-v));
  case Activation::Tanh:
    return tanh(v);
  case Activation::LeakyRelu:
    return select(v > 0.0f, v, act.alpha * v);
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
