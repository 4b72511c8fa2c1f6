// Gradients of the gathering kernels: 2-D upsampling (the transposed
// interpolation, in gather form) and embedding (rows of dy added into the
// table rows they were read from).
#include "GradKernels.h"
#include "RowSchedule.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

// One axis of the bilinear adjoint (integer scale s, PyTorch
// align_corners=False): the gradient of input i gathers the outputs
// dst = s*(i-1) + j, j in [0, 3s) (outputs further away never tap i). For
// dst = s*q + k the forward's taps are q + d_k and q + d_k + 1 with weights
// 1 - w_k and w_k (c_k = (2k + 1 - s) / 2s, d_k = c_k < 0 ? -1 : 0,
// w_k = c_k - d_k; see buildUpsample2d), clamped to [0, in - 1]. A tap at
// offset `off` from i lands on i when off == 0, and through the clamp when
// off < 0 and i == 0, or off > 0 and i == in - 1. So every coefficient is a
// constant or a select on i being an edge. `load(offset)` returns the
// gradient at dst = s*i + offset (zero outside the outputs).
template <typename Load>
Expr bilinearAdjoint(const Expr &i, int s, int64_t in, Load load) {
  Expr sum = 0.0f;
  for (int j = 0; j < 3 * s; ++j) {
    const int k = j % s, qOffset = j / s - 1;
    const double ck = double(2 * k + 1 - s) / (2.0 * s);
    const int dk = 2 * k + 1 < s ? -1 : 0;
    const double w = ck - dk;
    Expr coefficient = 0.0f;
    bool any = false;
    for (int tap = 0; tap < 2; ++tap) {
      const double weight = tap == 0 ? 1.0 - w : w;
      const int off = qOffset + dk + tap;
      if (weight == 0.0)
        continue;
      Expr wt = Expr(float(weight));
      if (off == 0)
        coefficient += wt;
      else if (off < 0)
        coefficient += select(i == 0, wt, 0.0f);
      else
        coefficient += select(i == int(in) - 1, wt, 0.0f);
      any = true;
    }
    if (any)
      sum += coefficient * load(s * qOffset + k);
  }
  return sum;
}

} // namespace

Kernel buildUpsample2dGrad(const Shape &dy, int scaleH, int scaleW, UpsampleMode mode,
                           const Shape &out, const Target &t) {
  requireCpuTarget(t, "upsample2dgrad");
  checkShape(out, 4, "upsample2dgrad result");
  if (scaleH < 1 || scaleW < 1)
    throw std::invalid_argument("dnnc kernels: upsample2dgrad scales must be >= 1");
  checkSameShape({out[0], out[1], out[2] * scaleH, out[3] * scaleW}, dy, "upsample2dgrad dy");
  const int64_t H = out[2], W = out[3];

  ImageParam dyp(Float(32), 4, "dy");
  Var ix("ix"), iy("iy"), c("c"), n("n"), oy("oy");
  Func dx(funcName(mode == UpsampleMode::Nearest ? "upsample_nearest_grad"
                                                 : "upsample_bilinear_grad"));
  Func rowsW(funcName("upsample_grad_w"));
  if (mode == UpsampleMode::Nearest) {
    // The sum of the scaleH x scaleW block each input was copied to.
    Expr sum = 0.0f;
    for (int a = 0; a < scaleH; ++a)
      for (int b = 0; b < scaleW; ++b)
        sum += dyp(ix * scaleW + b, iy * scaleH + a, c, n);
    dx(ix, iy, c, n) = sum;
  } else {
    // Separable: the W adjoint on every output row, then the H adjoint.
    Func g = BoundaryConditions::constant_exterior(
        dyp, 0.0f, {{0, int(W * scaleW)}, {0, int(H * scaleH)}});
    rowsW(ix, oy, c, n) = bilinearAdjoint(
        ix, scaleW, W, [&](int offset) { return g(ix * scaleW + offset, oy, c, n); });
    Func rowsPadded = BoundaryConditions::constant_exterior(
        rowsW, 0.0f, {{0, int(W)}, {0, int(H * scaleH)}});
    dx(ix, iy, c, n) = bilinearAdjoint(iy, scaleH, H, [&](int offset) {
      return rowsPadded(ix, iy * scaleH + offset, c, n);
    });
  }
  constrainDense(dyp, dy);
  constrainDense(dx.output_buffer(), out);

  // Schedule: rows of W inputs vectorized (the dy loads are stride-scaleW
  // vectors, which Halide makes from dense loads and shuffles), planes in
  // parallel chunks of ~16K outputs. Bilinear: the W-adjoint rows of a plane
  // (H*scaleH x W) once per plane, vectorized the same way, then the H
  // adjoint reads 3*scaleH of them per row as dense vectors; the boundary
  // selects at the plane edges are split off by Halide's loop partitioning.
  if (mode == UpsampleMode::Nearest) {
    scheduleRows(dx, out, 1, t);
  } else {
    const int vec = t.natural_vector_size<float>();
    const int lanes = static_cast<int>(std::min<int64_t>(vec, W));
    Var xo("xo"), xi("xi"), plane("plane"), task("task"), inTask("plane_in_task");
    dx.split(ix, xo, xi, lanes, TailStrategy::ShiftInwards).vectorize(xi).fuse(c, n, plane);
    const int planesPerTask = static_cast<int>(std::max<int64_t>(1, 16384 / (H * W)));
    dx.split(plane, task, inTask, planesPerTask, TailStrategy::GuardWithIf).parallel(task);
    rowsW.compute_at(dx, inTask).vectorize(ix, lanes, TailStrategy::GuardWithIf);
  }
  return makeKernel(dx, {dyp});
}

Kernel buildEmbeddingGrad(const Shape &dy, const Shape &indices, const Shape &out,
                          const Target &t) {
  requireCpuTarget(t, "embeddinggrad");
  checkShape(indices, -1, "embeddinggrad indices");
  checkShape(out, 2, "embeddinggrad result");
  if (out[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: embeddinggrad result must be static");
  Shape expected = indices;
  expected.push_back(out[1]);
  checkSameShape(expected, dy, "embeddinggrad dy");
  const int m = static_cast<int>(indices.size());
  const int64_t V = out[0], E = out[1];

  ImageParam dyp(Float(32), m + 1, "dy"), idx(Float(32), m, "indices");
  constrainDense(dyp, dy);
  constrainDense(idx, indices);
  std::vector<Range> positions;
  for (int d = 0; d < m; ++d) {
    const int64_t e = indices[m - 1 - d];
    positions.emplace_back(0, e == kDynamic ? Expr(idx.dim(d).extent()) : Expr(int(e)));
  }
  RDom r(positions, "r");
  std::vector<Expr> at, dyAt;
  Var e("e"), v("v");
  dyAt.push_back(e);
  for (int d = 0; d < m; ++d) {
    at.push_back(r[d]);
    dyAt.push_back(r[d]);
  }

  // Algorithm: zero, then every dy row added into the row of its index, in
  // row-major order of the positions. A bad index fails the call through
  // halide_error; the clamp after the check only lets bounds inference see
  // that the table is written in bounds.
  Expr f = idx(at);
  Expr index = require(f >= 0.0f && f < float(V) && f == floor(f), cast<int>(f),
                       "embeddingGrad: index out of range (not an integer in [0, " +
                           std::to_string(V) + ")):",
                       f);
  Func dW(funcName("embeddinggrad"));
  dW(e, v) = 0.0f;
  dW(e, clamp(index, 0, int(V) - 1)) += dyp(dyAt);
  constrainDense(dW.output_buffer(), out);

  // Schedule: the scatter runs serially over the positions (so repeated
  // indices never race) and is vectorized along the embedding row (dense in
  // dy and in the table); rows wider than 4 vectors are split into column
  // blocks run in parallel, each scanning every index (disjoint columns:
  // race-free). Per position the index is read once and the row's vectors
  // are added in order. The zero fill is one flat vectorized pass.
  const int vec = t.natural_vector_size<float>();
  const int lanes = static_cast<int>(std::min<int64_t>(vec, E));
  scheduleFlat(dW, out, t);
  Var eo("eo"), ei("ei"), eb("eb");
  Stage scatter = dW.update();
  std::vector<VarOrRVar> order{ei};
  for (int d = 0; d < m; ++d)
    order.push_back(r[d]);
  if (E >= 8 * vec) {
    const int block = 4 * vec;
    scatter.split(e, eb, eo, block, TailStrategy::GuardWithIf)
        .split(eo, eo, ei, lanes, TailStrategy::GuardWithIf)
        .vectorize(ei);
    order.insert(order.begin() + 1, eo);
    order.push_back(eb);
    scatter.reorder(order).parallel(eb);
  } else {
    scatter.split(e, eo, ei, lanes, TailStrategy::GuardWithIf).vectorize(ei);
    order.insert(order.begin() + 1, eo);
    scatter.reorder(order);
  }
  return makeKernel(dW, {dyp, idx});
}

} // namespace dnnc::kernels
