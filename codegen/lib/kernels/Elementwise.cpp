// Elementwise kernels: broadcasting binary ops (with a fused activation
// epilogue), the standalone activations and GLU.
#include "Kernels.h"

#include <algorithm>
#include "RowSchedule.h"

#include <stdexcept>
#include <string>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

const char *binaryName(BinaryKind kind) {
  switch (kind) {
  case BinaryKind::Add:
    return "add";
  case BinaryKind::Sub:
    return "sub";
  case BinaryKind::Mul:
    return "mul";
  }
  throw std::invalid_argument("dnnc kernels: unknown binary op");
}

Expr binaryOp(BinaryKind kind, const Expr &a, const Expr &b) {
  switch (kind) {
  case BinaryKind::Add:
    return a + b;
  case BinaryKind::Sub:
    return a - b;
  case BinaryKind::Mul:
    return a * b;
  }
  throw std::invalid_argument("dnnc kernels: unknown binary op");
}

// How an input covers one output dim.
enum class Cover { Full, Broadcast, Unit /* the output extent is 1 */ };

Cover cover(int64_t in, int64_t out) {
  if (out == 1)
    return Cover::Unit;
  return in == 1 ? Cover::Broadcast : Cover::Full;
}

// The number of innermost Halide dims that form one dense row for both
// inputs: along them each input is either read densely (Full) or is one value
// (Broadcast), never a mix, so that fusing them keeps every load a dense
// vector or a broadcast scalar. Unit dims fit either way. The dynamic batch
// never joins (a row needs a static extent).
int denseInnerDims(const std::vector<Shape> &inputs, const Shape &out) {
  const int rank = static_cast<int>(out.size());
  std::vector<Cover> row(inputs.size(), Cover::Unit); // each input's kind so far
  int d = 0;
  for (; d < rank; ++d) {
    const int ir = rank - 1 - d;
    if (out[ir] == kDynamic)
      break;
    bool mixed = false;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Cover c = cover(inputs[i][ir], out[ir]);
      mixed |= row[i] != Cover::Unit && c != Cover::Unit && c != row[i];
    }
    if (mixed)
      break;
    for (size_t i = 0; i < inputs.size(); ++i)
      if (Cover c = cover(inputs[i][ir], out[ir]); c != Cover::Unit)
        row[i] = c;
  }
  return d;
}

int denseInnerDims(const Shape &a, const Shape &b, const Shape &out) {
  return denseInnerDims(std::vector<Shape>{a, b}, out);
}

void checkBroadcast(const Shape &a, const Shape &b, const Shape &out, const char *op) {
  checkShape(a, -1, (std::string(op) + " lhs").c_str());
  checkShape(b, -1, (std::string(op) + " rhs").c_str());
  checkShape(out, -1, (std::string(op) + " result").c_str());
  if (a.size() != out.size() || b.size() != out.size())
    throw std::invalid_argument(std::string("dnnc kernels: ") + op +
                                " operands and result must have the same rank");
  for (size_t d = 0; d < out.size(); ++d) {
    const int64_t broadcast = a[d] == 1 ? b[d] : a[d];
    if ((a[d] != 1 && a[d] != out[d]) || (b[d] != 1 && b[d] != out[d]) || broadcast != out[d])
      throw std::invalid_argument(std::string("dnnc kernels: ") + op + " dim " +
                                  std::to_string(d) + ": operands of extent " +
                                  std::to_string(a[d]) + " and " + std::to_string(b[d]) +
                                  " do not broadcast to " + std::to_string(out[d]));
  }
}

} // namespace

Kernel buildBinary(BinaryKind kind, const Shape &a, const Shape &b, ActivationSpec act,
                   const Shape &out, const Target &t) {
  const char *op = binaryName(kind);
  requireCpuTarget(t, op);
  checkBroadcast(a, b, out, op);
  const int rank = static_cast<int>(out.size());

  ImageParam lhs(Float(32), rank, "lhs"), rhs(Float(32), rank, "rhs");
  std::vector<Var> v = makeVars(rank, "i");
  // A broadcast dim is read at index 0.
  auto indices = [&](const Shape &s) {
    std::vector<Expr> idx(v.begin(), v.end());
    for (int d = 0; d < rank; ++d)
      if (s[rank - 1 - d] == 1 && out[rank - 1 - d] != 1)
        idx[d] = 0;
    return idx;
  };
  Func y(funcName(op));
  y(v) = applyActivation(binaryOp(kind, lhs(indices(a)), rhs(indices(b))), act);

  constrainDense(lhs, a);
  constrainDense(rhs, b);
  constrainDense(y.output_buffer(), out);

  // Same shapes: one flat loop. Broadcasting: rows along the innermost dims
  // where both inputs are dense or constant (e.g. a [1, C, 1, 1] bias over
  // [N, C, H, W]: rows of H*W with the bias a broadcast scalar), so that no
  // load becomes a gather.
  //   Measured, 1 thread, AVX-512 host: [8,64,56,56] + [1,64,1,1] 0.46 ms,
  //   the same as a plain copy of [8,64,56,56] (0.45 ms, ~28 GB/s).
  if (a == b)
    scheduleFlat(y, out, t);
  else
    scheduleRows(y, out, denseInnerDims(a, b, out), t);
  return makeKernel(y, {lhs, rhs});
}

Kernel buildAdd(const Shape &a, const Shape &b, ActivationSpec act, const Shape &out,
                const Target &t) {
  requireCpuTarget(t, "add");
  checkShape(a, -1, "add lhs");
  checkSameShape(a, b, "add rhs");
  checkSameShape(a, out, "add result");
  return buildBinary(BinaryKind::Add, a, b, act, out, t);
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

Kernel buildGlu(const Shape &x, int axis, const Shape &out, const Target &t) {
  requireCpuTarget(t, "glu");
  checkShape(x, -1, "glu input");
  const int rank = static_cast<int>(x.size());
  if (axis < 0 || axis >= rank)
    throw std::invalid_argument("dnnc kernels: glu axis out of range");
  if (x[axis] == kDynamic || x[axis] % 2 != 0)
    throw std::invalid_argument("dnnc kernels: glu needs a static, even extent along its axis");
  Shape expected = x;
  expected[axis] /= 2;
  checkSameShape(expected, out, "glu result");
  const int hd = rank - 1 - axis; // Halide dim of the split axis
  const int half = static_cast<int>(out[axis]);

  ImageParam in(Float(32), rank, "x");
  std::vector<Var> v = makeVars(rank, "i");
  std::vector<Expr> gate(v.begin(), v.end());
  gate[hd] = v[hd] + half;
  Func y(funcName("glu"));
  y(v) = in(v) * applyActivation(in(gate), {Activation::Sigmoid});

  constrainDense(in, x);
  constrainDense(y.output_buffer(), out);
  // The Halide dims up to and including the axis are one dense run in both
  // halves of the input (at offsets 0 and half * inner), so they form the row.
  scheduleRows(y, out, hd + 1, t);
  return makeKernel(y, {in});
}

} // namespace dnnc::kernels

namespace dnnc::kernels {

// The chain is one expression per output element: inputs are read with a
// broadcast dim at index 0, every step is inlined, so intermediates never
// reach memory (an intermediate smaller than the output is recomputed per
// element it covers, a few flops). Scheduled like buildBinary: dense rows
// where every input is read densely or as one value.
Kernel buildElementwiseChain(const std::vector<Shape> &inputs,
                             const std::vector<ElementwiseStep> &steps, const Shape &out,
                             const Target &t) {
  requireCpuTarget(t, "elementwise chain");
  checkShape(out, -1, "elementwise chain result");
  if (steps.empty())
    throw std::invalid_argument("dnnc kernels: an elementwise chain needs a step");
  const int rank = static_cast<int>(out.size());
  for (const Shape &in : inputs) {
    checkShape(in, -1, "elementwise chain input");
    if (in.size() != out.size())
      throw std::invalid_argument("dnnc kernels: elementwise chain inputs need the result's rank");
    for (size_t d = 0; d < out.size(); ++d)
      if (in[d] != 1 && in[d] != out[d])
        throw std::invalid_argument("dnnc kernels: elementwise chain input dim " +
                                    std::to_string(d) + " of extent " + std::to_string(in[d]) +
                                    " does not broadcast to " + std::to_string(out[d]));
  }
  std::vector<ImageParam> params;
  std::vector<Var> v = makeVars(rank, "i");
  std::vector<Expr> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    params.emplace_back(Float(32), rank, "x" + std::to_string(i));
    std::vector<Expr> idx(v.begin(), v.end());
    for (int d = 0; d < rank; ++d)
      if (inputs[i][rank - 1 - d] == 1 && out[rank - 1 - d] != 1)
        idx[d] = 0;
    values.push_back(params.back()(idx));
    constrainDense(params.back(), inputs[i]);
  }
  auto operand = [&](int index) -> Expr {
    if (index < 0 || index >= static_cast<int>(values.size()))
      throw std::invalid_argument("dnnc kernels: elementwise chain step reads a later value");
    return values[index];
  };
  for (const ElementwiseStep &step : steps)
    values.push_back(step.binary ? applyActivation(binaryOp(step.binaryKind, operand(step.lhs),
                                                            operand(step.rhs)),
                                                   step.act)
                                 : applyActivation(operand(step.lhs), step.act));
  Func y(funcName("elementwise_chain"));
  y(v) = values.back();
  constrainDense(y.output_buffer(), out);
  bool allSame = std::all_of(inputs.begin(), inputs.end(), [&](const Shape &s) { return s == out; });
  if (allSame)
    scheduleFlat(y, out, t);
  else
    scheduleRows(y, out, denseInnerDims(inputs, out), t);
  return makeKernel(y, params);
}

} // namespace dnnc::kernels
