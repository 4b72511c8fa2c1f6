// Concatenation and split along a non-batch axis.
#include "Kernels.h"
#include "RowSchedule.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

// Checks the axis and that `a` and `b` agree on every dim but the axis.
void checkAlongAxis(const Shape &a, const Shape &b, int axis, const char *what) {
  Shape expected = a;
  expected[axis] = b[axis];
  checkSameShape(expected, b, what);
}

} // namespace

// Each input is copied by its own update definition into its slice of the
// output (no per-element select over the inputs): the update's RDom covers
// the Halide dims up to and including the axis, which for the input and for
// its slice of the output are one dense run of inner * extent_k floats, so
// the RVars are fused into one vectorized run. The dims outside the axis are
// pure vars, fused and run in parallel in chunks of ~16K elements.
//   Measured, 1 thread, AVX-512 host: [8,64,56,56] ++ [8,32,56,56] on C
//   0.67-0.70 ms (~28 GB/s, copy speed); [8,4096,33] ++ [8,4096,31] on the
//   last axis 0.86 ms (~19 GB/s: runs of 33/31 end in a masked vector).
Kernel buildConcat(const std::vector<Shape> &inputs, int axis, const Shape &out,
                   const Target &t) {
  requireCpuTarget(t, "concat");
  if (inputs.empty())
    throw std::invalid_argument("dnnc kernels: concat of no inputs");
  checkShape(out, -1, "concat result");
  const int rank = static_cast<int>(out.size());
  if (axis < 1 || axis >= rank)
    throw std::invalid_argument("dnnc kernels: concat axis must be in [1, rank)");
  int64_t total = 0;
  for (const Shape &s : inputs) {
    checkShape(s, rank, "concat input");
    checkAlongAxis(out, s, axis, "concat input");
    total += s[axis];
  }
  checkSameShape({total}, {out[axis]}, "concat result along the axis");
  const int hd = rank - 1 - axis; // Halide dim of the axis

  std::vector<ImageParam> params;
  std::vector<Var> v = makeVars(rank, "i");
  Func y(funcName("concat"));
  y(v) = undef<float>(); // every element is written by exactly one update
  const int vec = t.natural_vector_size<float>();
  int64_t offset = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    ImageParam in(Float(32), rank, "x" + std::to_string(k));
    params.push_back(in);
    std::vector<Range> region;
    for (int d = 0; d <= hd; ++d)
      region.emplace_back(0, int(inputs[k][rank - 1 - d]));
    RDom r(region, "r" + std::to_string(k));
    std::vector<Expr> src(v.begin(), v.end()), dst(v.begin(), v.end());
    for (int d = 0; d <= hd; ++d) {
      src[d] = r[d];
      dst[d] = r[d];
    }
    dst[hd] = r[hd] + int(offset);
    y(dst) = in(src);
    constrainDense(in, inputs[k]);

    // Schedule of this copy.
    Stage copy = y.update(static_cast<int>(k));
    std::vector<VarOrRVar> rvars;
    for (int d = 0; d <= hd; ++d)
      rvars.push_back(r[d]);
    const int64_t run = halideExtent(inputs[k], 0, hd + 1);
    RVar flat = fuseVars(copy, rvars, 0, rvars.size(), "run").rvar;
    RVar ro("ro"), ri("ri");
    // Distinct elements of r are distinct outputs; Halide cannot prove that
    // through the offset and the fusion, hence allow_race_conditions.
    copy.allow_race_conditions()
        .split(flat, ro, ri, static_cast<int>(std::min<int64_t>(vec, run)),
               TailStrategy::GuardWithIf)
        .vectorize(ri);
    if (hd + 1 < rank) {
      std::vector<VarOrRVar> outerVars(v.begin() + hd + 1, v.end());
      Var outer = fuseVars(copy, outerVars, 0, outerVars.size(), "outer").var;
      if (out[0] == kDynamic || staticNumel(inputs[k]) > 2 * 16384) {
        Var task("task"), inTask("in_task");
        const int perTask = static_cast<int>(std::max<int64_t>(1, 16384 / run));
        copy.split(outer, task, inTask, perTask, TailStrategy::GuardWithIf).parallel(task);
      }
    }
    offset += inputs[k][axis];
  }
  constrainDense(y.output_buffer(), out);
  return makeKernel(y, params);
}

// Output k reads x shifted by the start of its slice; the Halide dims up to
// and including the axis are one dense run in x and in the output, so each
// output is scheduled as rows of that run (scheduleRows).
//   Measured, 1 thread, AVX-512 host: [8,96,56,56] into 64 + 32 channels
//   0.69 ms (~28 GB/s, copy speed).
Kernel buildSplit(const Shape &x, int axis, const std::vector<int64_t> &sizes,
                  const std::vector<Shape> &outs, const Target &t) {
  requireCpuTarget(t, "split");
  checkShape(x, -1, "split input");
  const int rank = static_cast<int>(x.size());
  if (axis < 1 || axis >= rank)
    throw std::invalid_argument("dnnc kernels: split axis must be in [1, rank)");
  if (sizes.empty() || sizes.size() != outs.size())
    throw std::invalid_argument("dnnc kernels: split needs one output shape per size");
  int64_t total = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    Shape expected = x;
    expected[axis] = sizes[k];
    checkShape(expected, rank, "split output");
    checkSameShape(expected, outs[k], "split output");
    total += sizes[k];
  }
  checkSameShape({x[axis]}, {total}, "split sizes (sum)");
  const int hd = rank - 1 - axis;

  ImageParam in(Float(32), rank, "x");
  std::vector<Var> v = makeVars(rank, "i");
  std::vector<Func> parts;
  int64_t offset = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    std::vector<Expr> at(v.begin(), v.end());
    at[hd] = v[hd] + int(offset);
    Func part(funcName("split_" + std::to_string(k)));
    part(v) = in(at);
    constrainDense(part.output_buffer(), outs[k]);
    scheduleRows(part, outs[k], hd + 1, t);
    parts.push_back(part);
    offset += sizes[k];
  }
  constrainDense(in, x);
  return Kernel{Pipeline(parts), {in}};
}

} // namespace dnnc::kernels
