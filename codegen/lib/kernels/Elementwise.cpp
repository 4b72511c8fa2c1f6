// Elementwise kernels: Add (with a fused activation epilogue) and the
// standalone activations.
#include "Kernels.h"

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

Kernel buildAdd(const Shape &a, const Shape &b, ActivationSpec act, const Shape &out,
                const Target &t) {
  requireCpuTarget(t, "add");
  checkShape(a, -1, "add lhs");
  checkSameShape(a, b, "add rhs");
  checkSameShape(a, out, "add result");
  const int rank = static_cast<int>(a.size());

  ImageParam lhs(Float(32), rank, "lhs"), rhs(Float(32), rank, "rhs");
  std::vector<Var> v = makeVars(rank, "i");
  Func y(funcName("add"));
  y(v) = applyActivation(lhs(v) + rhs(v), act);

  constrainDense(lhs, a);
  constrainDense(rhs, b);
  constrainDense(y.output_buffer(), out);
  scheduleFlat(y, out, t);
  return makeKernel(y, {lhs, rhs});
}

Kernel buildActivation(const Shape &x, ActivationSpec act, const Shape &out, const Target &t) {
  requireCpuTarget(t, "activation");
  checkShape(x, -1, "activation input");
  checkSameShape(x, out, "activation result");
  const int rank = static_cast<int>(x.size());

  ImageParam in(Float(32), rank, "x");
  std::vector<Var> v = makeVars(rank, "i");
  Func y(funcName("activation"));
  y(v) = applyActivation(in(v), act);

  constrainDense(in, x);
  constrainDense(y.output_buffer(), out);
  scheduleFlat(y, out, t);
  return makeKernel(y, {in});
}

} // namespace dnnc::kernels
