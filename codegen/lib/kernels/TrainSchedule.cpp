// Internal helpers of the training kernels: the exact flat schedule, batch
// extents, flat indices and the per-row vectorized sum.
#include "TrainSchedule.h"
#include "RowSchedule.h"

#include <algorithm>

namespace dnnc::kernels::detail {

using namespace Halide;

void scheduleFlatExact(Func f, const Shape &s, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  std::vector<VarOrRVar> args = varsOf(f.args());
  Var flat = fuseVars(f, args, 0, args.size(), "flat").var;
  const int64_t staticPart = staticNumel(s);
  const bool dynamic = s[0] == kDynamic;
  Var vo("vo"), vi("vi");
  if (staticPart < vec && !dynamic) {
    // The whole tensor is smaller than a vector: one exact, narrower vector.
    f.split(flat, vo, vi, static_cast<int>(staticPart)).vectorize(vi);
  } else {
    // Full vectors, then a guarded tail (never an overlapping last vector:
    // that would read elements this loop already overwrote in place).
    f.split(flat, vo, vi, vec, TailStrategy::GuardWithIf).vectorize(vi);
  }
  const int vecsPerTask = std::max(1, 16384 / vec);
  if (dynamic || staticPart > 2 * 16384) {
    Var task("task"), vv("vv");
    f.split(vo, task, vv, vecsPerTask, TailStrategy::GuardWithIf).parallel(task);
  }
}

void constrainDenseOutputs(Func f, const Shape &s) {
  std::vector<OutputImageParam> outs = f.output_buffers();
  constrainDense(outs[0], s);
  const int rank = static_cast<int>(s.size());
  for (size_t i = 1; i < outs.size(); ++i) {
    int64_t stride = 1;
    for (int d = 0; d < rank; ++d) {
      outs[i].dim(d).set_stride(static_cast<int>(stride));
      stride *= s[rank - 1 - d] == kDynamic ? 1 : s[rank - 1 - d];
    }
  }
}

Expr batchExtent(const OutputImageParam &p, const Shape &s) {
  const int rank = static_cast<int>(s.size());
  return s[0] == kDynamic ? p.dim(rank - 1).extent() : Expr(static_cast<int>(s[0]));
}

Expr flatIndex(const std::vector<Var> &v, const Shape &s) {
  const int rank = static_cast<int>(s.size());
  Expr index = v[0];
  int64_t stride = 1;
  for (int d = 1; d < rank; ++d) {
    stride *= s[rank - d];
    index = index + v[d] * static_cast<int>(stride);
  }
  return index;
}

void scheduleRowReduction(Func red, const std::vector<RVar> &rvars, int64_t extent, LoopLevel at,
                          const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int lanes = static_cast<int>(std::min<int64_t>(vec, extent));
  std::vector<VarOrRVar> rv(rvars.begin(), rvars.end());
  RVar ro("ro"), ri("ri");
  Var u("u");
  RVar rf = fuseVars(red.update(), rv, 0, rv.size(), "rf").rvar;
  red.update().split(rf, ro, ri, lanes, TailStrategy::GuardWithIf);
  Func part = red.update().rfactor(ri, u);
  red.compute_at(at);
  red.update().atomic().vectorize(ri);
  part.compute_at(at).vectorize(u);
  part.update().vectorize(u);
}

Expr nanIf(const Expr &bad, const Expr &v) {
  return reinterpret<float>(select(bad, Expr(uint32_t(0x7fc00000u)), reinterpret<uint32_t>(v)));
}

} // namespace dnnc::kernels::detail
