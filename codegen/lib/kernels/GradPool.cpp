// Pooling gradients in gather form: every input element sums the gradient
// of the windows that hold it (max: the windows it won), so outputs are
// written once and no two threads touch the same element.
#include "GradKernels.h"
#include "RowSchedule.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

// The checks of buildMaxPool2d/buildAvgPool2d on the forward's input shape,
// and dy shaped like the forward's result.
Pool2dGeom checkPoolGrad(const Shape &dy, const Shape &x, const Pool2dAttrs &a, const char *op) {
  checkShape(dy, 4, op);
  const Pool2dGeom g = pool2dGeometry(x, a, op);
  checkSameShape({g.N, g.C, g.OH, g.OW}, dy, (std::string(op) + " dy").c_str());
  return g;
}

// The windows holding input column ix, for one candidate j: with
// u = ix + padLeft = sw*q + b (0 <= b < sw), window ox = q - j holds ix at
// kernel column kx = b + j*sw, for j = 0, 1, ... while kx < KW. Written
// through division and modulo of u, which fold to constants once the
// schedule splits ix by the stride and unrolls the phase b (see schedule).
struct Candidate {
  Expr window, tap, valid; // window index, position in the kernel, in range
};
Candidate candidate(const Expr &i, int pad, int stride, int kernel, int64_t windows, int j) {
  Expr u = i + pad;
  Expr window = u / stride - j;
  Expr tap = u % stride + j * stride;
  return {window, tap, tap < kernel && window >= 0 && window < int(windows)};
}

// The output of a gather `sum` (an Expr of ix, iy, c, n) with its schedule,
// shared by the max and avg pooling gradients: columns split by the stride
// with the phase unrolled innermost, so that for each phase the candidate
// windows (and their taps) are dense vectors of the quotient and every load
// is a dense vector; rows are scalar per row. Parallel over (channel, image)
// planes in tasks of ~16K outputs; `perPlane` (winner indices / scaled
// gradients) is computed once per plane. When the stride does not divide
// the width, the last phase vector of every row would be a guarded tail
// (which Halide runs as scalar code: half the work of MNIST pool2, 11
// columns at stride 2), so the gather is made per plane over the width
// rounded up to the stride (the extra column reads the bordered per-plane
// copies and is dropped) and copied out row by row.
//   Measured, 1 thread, AVX-512 host, CPU time, batch 64, 2x2/2 max pool
//   gradient: MNIST pool1 [64,32,26,26] 0.45-0.51 ms (~26 GB/s of x, dy,
//   dx); pool2 [64,64,11,11] 0.19 ms (0.56 with the scalar tail). 3x3/2
//   pad 1 of [8,64,112,112]: 6.0-6.5 ms (9.7 with clamped window loads).
Func gatherOutput(const std::string &name, Expr sum, Var ix, Var iy, Var c, Var n, Func perPlane,
                  const Pool2dGeom &g, const Pool2dAttrs &a, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const bool ragged = g.W % a.strideW != 0;
  Func dx(funcName(name)), gather(funcName(name + "_gather"));
  (ragged ? gather : dx)(ix, iy, c, n) = sum;
  if (ragged)
    dx(ix, iy, c, n) = gather(ix, iy, c, n);

  Var plane("plane"), task("task"), planeInTask("plane_in_task");
  auto phaseSplit = [&](Func f, TailStrategy tail) {
    Var xo("xo"), phase("phase"), xoo("xoo"), xoi("xoi");
    const int64_t quotients = (g.W + a.strideW - 1) / a.strideW;
    const int lanes = static_cast<int>(std::min<int64_t>(vec, quotients));
    f.split(ix, xo, phase, a.strideW, tail)
        .split(xo, xoo, xoi, lanes, TailStrategy::ShiftInwards)
        .reorder(phase, xoi, xoo, iy)
        .vectorize(xoi)
        .unroll(phase);
  };
  if (ragged) {
    Var xo("xo"), xi("xi");
    dx.split(ix, xo, xi, static_cast<int>(std::min<int64_t>(vec, g.W)),
             TailStrategy::ShiftInwards)
        .vectorize(xi);
    phaseSplit(gather, TailStrategy::RoundUp);
  } else {
    phaseSplit(dx, TailStrategy::RoundUp);
  }
  dx.fuse(c, n, plane);
  const int planesPerTask =
      static_cast<int>(std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.H * g.W)));
  dx.split(plane, task, planeInTask, planesPerTask, TailStrategy::GuardWithIf).parallel(task);
  perPlane.compute_at(dx, planeInTask);
  if (ragged)
    gather.compute_at(dx, planeInTask);
  return dx;
}

} // namespace

Kernel buildMaxPool2dGrad(const Shape &dy, const Shape &x, const Pool2dAttrs &a, const Shape &out,
                          const Target &t) {
  requireCpuTarget(t, "maxpool2dgrad");
  const Pool2dGeom g = checkPoolGrad(dy, x, a, "maxpool2dgrad");
  checkSameShape(x, out, "maxpool2dgrad result");

  ImageParam dyp(Float(32), 4, "dy"), xp(Float(32), 4, "x");
  Var ox("ox"), oy("oy"), c("c"), n("n"), ix("ix"), iy("iy");
  RDom r(0, a.kernelW, 0, a.kernelH, "r");

  // Algorithm. winner(ox, oy) = ky*KW + kx of the window's first maximum:
  // padding reads -inf, which never beats (strictly) the first in-bounds
  // element the search starts from, so padding never wins even when every
  // in-bounds value is -inf.
  Func input(funcName("maxpoolgrad_input"));
  const float ninf = -std::numeric_limits<float>::infinity();
  if (g.padded)
    input(ix, iy, c, n) =
        BoundaryConditions::constant_exterior(xp, ninf, {{0, int(g.W)}, {0, int(g.H)}})(ix, iy,
                                                                                        c, n);
  else
    input(ix, iy, c, n) = xp(ix, iy, c, n);
  Expr x0 = ox * a.strideW - a.padLeft, y0 = oy * a.strideH - a.padTop;
  Expr firstIn = max(-y0, 0) * a.kernelW + max(-x0, 0);
  Func best(funcName("maxpoolgrad_best"));
  best(ox, oy, c, n) = Tuple(ninf, firstIn);
  Expr v = input(x0 + r.x, y0 + r.y, c, n);
  Expr better = v > best(ox, oy, c, n)[0];
  best(ox, oy, c, n) = Tuple(select(better, v, best(ox, oy, c, n)[0]),
                             select(better, r.y * a.kernelW + r.x, best(ox, oy, c, n)[1]));
  Func winner(funcName("maxpoolgrad_winner"));
  winner(ox, oy, c, n) = best(ox, oy, c, n)[1];

  Func winnerPlane(funcName("maxpoolgrad_winner_plane"));
  winnerPlane(ox, oy, c, n) =
      BoundaryConditions::constant_exterior(winner, -1, {{0, int(g.OW)}, {0, int(g.OH)}})(ox, oy,
                                                                                          c, n);
  Func dyPlane(funcName("maxpoolgrad_dy"));
  dyPlane(ox, oy, c, n) = BoundaryConditions::constant_exterior(
      dyp, 0.0f, {{0, int(g.OW)}, {0, int(g.OH)}})(ox, oy, c, n);
  Expr sum = 0.0f;
  for (int jy = 0; jy * a.strideH < a.kernelH; ++jy)
    for (int jx = 0; jx * a.strideW < a.kernelW; ++jx) {
      const Candidate cy = candidate(iy, a.padTop, a.strideH, a.kernelH, g.OH, jy);
      const Candidate cx = candidate(ix, a.padLeft, a.strideW, a.kernelW, g.OW, jx);
      // Column windows are not clamped (a clamp would turn the dense
      // vector loads into gathers): winnerPlane and dyPlane are copies
      // with a border of one window, which `valid` discards.
      Expr wx = cx.window, wy = clamp(cy.window, 0, int(g.OH) - 1);
      Expr won = cy.valid && cx.valid && winnerPlane(wx, wy, c, n) == cy.tap * a.kernelW + cx.tap;
      sum += select(won, dyPlane(wx, wy, c, n), 0.0f);
    }
  Func dx = gatherOutput("maxpool2dgrad", sum, ix, iy, c, n, winnerPlane, g, a, t);

  constrainDense(dyp, dy);
  constrainDense(xp, x);
  constrainDense(dx.output_buffer(), out);

  // Schedule: the winners of a plane once per plane (the forward's search,
  // vectorized along output columns, window unrolled), then the gather.
  const int vec = t.natural_vector_size<float>();
  const int lanes = static_cast<int>(std::min<int64_t>(vec, g.OW));
  // The search of a vector of windows runs in registers: `best` is
  // computed per vector of winner (an exact vector: the last one of a row
  // overlaps the previous one), its window unrolled.
  Var oxo("oxo"), oxi("oxi");
  winner.split(ox, oxo, oxi, lanes, TailStrategy::ShiftInwards).vectorize(oxi);
  best.compute_at(winner, oxo).vectorize(ox);
  best.update().reorder(ox, r.x, r.y).vectorize(ox).unroll(r.x);
  if (a.kernelW * a.kernelH <= 16)
    best.update().unroll(r.y);
  // A padded input plane is materialized once per plane (next to the
  // winners), so that the search loads dense (or stride-s) vectors instead
  // of clamped gathers.
  const LoopLevel perPlane(dx, Var("plane_in_task"));
  if (g.padded)
    input.compute_at(perPlane).vectorize(ix, vec, TailStrategy::GuardWithIf);
  winner.compute_at(perPlane);
  winnerPlane.vectorize(ox, lanes, TailStrategy::GuardWithIf);
  dyPlane.compute_at(perPlane).vectorize(ox, lanes, TailStrategy::GuardWithIf);
  return makeKernel(dx, {dyp, xp});
}

Kernel buildAvgPool2dGrad(const Shape &dy, const Pool2dAttrs &a, const Shape &out,
                          const Target &t) {
  requireCpuTarget(t, "avgpool2dgrad");
  const Pool2dGeom g = checkPoolGrad(dy, out, a, "avgpool2dgrad");

  ImageParam dyp(Float(32), 4, "dy");
  Var ox("ox"), oy("oy"), c("c"), n("n"), ix("ix"), iy("iy");

  // Algorithm: each output's gradient divided by its window's divisor
  // (the forward's), then gathered by every input element of the window.
  Func share(funcName("avgpoolgrad_share"));
  Expr count;
  if (a.countIncludePad) {
    count = Expr(float(a.kernelH * a.kernelW));
  } else {
    Expr x0 = ox * a.strideW - a.padLeft, y0 = oy * a.strideH - a.padTop;
    Expr cw = min(x0 + a.kernelW, int(g.W)) - max(x0, 0);
    Expr ch = min(y0 + a.kernelH, int(g.H)) - max(y0, 0);
    count = cast<float>(cw * ch);
  }
  // Defined one window beyond the edges (zero gradient there; a divisor
  // there may be 0, but `valid` discards those windows), so the gather
  // below needs no clamp on columns (which would make its loads gathers).
  share(ox, oy, c, n) = BoundaryConditions::constant_exterior(
                            dyp, 0.0f, {{0, int(g.OW)}, {0, int(g.OH)}})(ox, oy, c, n) /
                        count;

  Expr sum = 0.0f;
  for (int jy = 0; jy * a.strideH < a.kernelH; ++jy)
    for (int jx = 0; jx * a.strideW < a.kernelW; ++jx) {
      const Candidate cy = candidate(iy, a.padTop, a.strideH, a.kernelH, g.OH, jy);
      const Candidate cx = candidate(ix, a.padLeft, a.strideW, a.kernelW, g.OW, jx);
      Expr wx = cx.window, wy = clamp(cy.window, 0, int(g.OH) - 1);
      sum += select(cy.valid && cx.valid, share(wx, wy, c, n), 0.0f);
    }
  Func dx = gatherOutput("avgpool2dgrad", sum, ix, iy, c, n, share, g, a, t);

  constrainDense(dyp, dy);
  constrainDense(dx.output_buffer(), out);

  const int vec = t.natural_vector_size<float>();
  share.vectorize(ox, static_cast<int>(std::min<int64_t>(vec, g.OW)), TailStrategy::GuardWithIf);
  return makeKernel(dx, {dyp});
}

// Global pooling gradient [N,C] -> [N,C,...].
//
// Avg: a broadcast of dy / S along each (n, c) row. Max: per row the maximum
// m, then the first index holding m, then dx = dy on that index: the two
// searches are flat reductions over the row, split into vectors and
// rfactor'ed into per-lane partials (dense loads), computed once per row;
// the write is a vectorized row. Rows in parallel tasks of ~16K elements.
Kernel buildGlobalPoolGrad(PoolKind kind, const Shape &dy, const Shape &x, const Shape &out,
                           const Target &t) {
  const std::string op = kind == PoolKind::Max ? "globalmaxpoolgrad" : "globalavgpoolgrad";
  requireCpuTarget(t, op.c_str());
  checkShape(x, -1, (op + " x").c_str());
  if (x.size() < 3)
    throw std::invalid_argument("dnnc kernels: " + op + " x needs rank >= 3");
  checkSameShape({x[0], x[1]}, dy, (op + " dy").c_str());
  checkSameShape(x, out, (op + " result").c_str());
  const int rank = static_cast<int>(x.size());
  const int spatialDims = rank - 2;
  int64_t S = 1;
  std::vector<Range> spatial;
  for (int d = 0; d < spatialDims; ++d) {
    const int64_t e = x[rank - 1 - d];
    spatial.emplace_back(0, int(e));
    S *= e;
  }

  ImageParam dyp(Float(32), 2, "dy"), xp(Float(32), rank, "x");
  std::vector<Var> v = makeVars(rank, "d");
  Var c = v[rank - 2], n = v[rank - 1];
  Func dx(funcName(op));
  std::vector<ImageParam> inputs{dyp};
  Func mx(funcName(op + "_max")), first(funcName(op + "_first"));
  RDom r(spatial, "r");
  if (kind == PoolKind::Avg) {
    dx(v) = dyp(c, n) * (1.0f / float(S));
  } else {
    inputs.push_back(xp);
    // Flat row-major offset within the (n, c) row.
    auto flat = [&](const std::vector<Expr> &coords) {
      Expr f = 0;
      int64_t stride = 1;
      for (int d = 0; d < spatialDims; ++d) {
        f += coords[d] * int(stride);
        stride *= x[rank - 1 - d];
      }
      return f;
    };
    std::vector<Expr> at, rflat, vflat;
    for (int d = 0; d < spatialDims; ++d) {
      at.push_back(r[d]);
      rflat.push_back(r[d]);
      vflat.push_back(v[d]);
    }
    at.push_back(c);
    at.push_back(n);
    mx(c, n) = -std::numeric_limits<float>::infinity();
    mx(c, n) = max(mx(c, n), xp(at));
    first(c, n) = int(S);
    first(c, n) = min(first(c, n), select(xp(at) == mx(c, n), flat(rflat), int(S)));
    dx(v) = select(flat(vflat) == first(c, n), dyp(c, n), 0.0f);
  }
  constrainDense(dyp, dy);
  constrainDense(xp, x);
  constrainDense(dx.output_buffer(), out);

  const LoopLevel row = scheduleRows(dx, out, spatialDims, t);
  if (kind == PoolKind::Max) {
    const int vec = t.natural_vector_size<float>();
    const int lanes = static_cast<int>(std::min<int64_t>(vec, S));
    std::vector<VarOrRVar> rvars;
    for (int d = 0; d < spatialDims; ++d)
      rvars.push_back(r[d]);
    for (Func f : {mx, first}) {
      RVar ro("ro"), ri("ri");
      Var u("u");
      RVar rf = fuseVars(f.update(), rvars, 0, rvars.size(), "rf").rvar;
      f.update().split(rf, ro, ri, lanes, TailStrategy::GuardWithIf);
      Func part = f.update().rfactor(ri, u);
      part.compute_at(row).vectorize(u);
      part.update().vectorize(u);
      f.compute_at(row);
      f.update().atomic().vectorize(ri);
    }
  }
  return makeKernel(dx, inputs);
}

} // namespace dnnc::kernels
