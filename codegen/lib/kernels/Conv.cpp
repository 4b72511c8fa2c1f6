// 2-D convolution (NCHW, weights [O, C/groups, KH, KW]). Dense convolutions
// (groups == 1) run as the GEMM kernels of ConvGemm.cpp where they pay;
// depthwise ones as Depthwise.cpp's kernel; the rest as a direct
// convolution with register-blocked accumulators.
#include "ConvKernels.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

struct ConvGeom {
  int64_t N, C, H, W, O, KH, KW, OH, OW, Cg, Og;
  Conv2dAttrs a;
  bool padded;
};

struct ConvFuncs {
  Func y, conv, input; // output, accumulator, (padded) input
  ImageParam w;
  RDom r; // r.x = kx, r.y = ky, r.z = input channel in group
};

int64_t roundUpTo(int64_t e, int64_t f) { return (e + f - 1) / f * f; }

// Spatial schedule: vectorize along the output row (ox, contiguous in x and
// y). Each tile keeps tco output channels x ty output rows of one vector in
// registers; per (ci, ky, kx) it loads ty input vectors (shared across the
// tco channels) and broadcasts tco weights. Used for grouped/depthwise
// convolutions (where neighbouring output channels read different input
// channels) and for the dense ones with short reductions on narrow
// unpadded maps (gemmconv::prefersDirect). Parallel over
// (row block, channel block, image); a zero-padded input band is made per
// task so the inner loop has no boundary selects.
//   Measured, 1 thread, AVX-512 host (FMA peak ~115 GFLOP/s/core):
//   16->16 3x3 64x64: 86-92 GFLOP/s; 64->64 1x1 32x32: 106 GFLOP/s
//   (measured when it also ran dense convolutions).
void scheduleSpatial(ConvFuncs &f, const ConvGeom &g, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12; // accumulator registers
  const int lanes = static_cast<int>(std::min<int64_t>(vec, g.OW));
  // Pick tco x ty minimizing the ShiftInwards over-compute, then preferring
  // more accumulators (latency hiding, fewer input reloads).
  int bestC = 1, bestY = 1;
  double bestCost = std::numeric_limits<double>::max();
  for (int tc = 1; tc <= std::min<int64_t>(g.O, budget); ++tc)
    for (int ty = 1; ty <= std::min<int64_t>(g.OH, 4) && tc * ty <= budget; ++ty) {
      const double work =
          double(roundUpTo(g.O, tc)) * double(roundUpTo(g.OH, ty)) / double(g.O * g.OH);
      const int accs = tc * ty;
      const double cost = work * (1.0 + 1.0 / ty + 1.0 / tc) * std::max(1.0, 8.0 / accs);
      if (cost < bestCost - 1e-9) {
        bestCost = cost;
        bestC = tc;
        bestY = ty;
      }
    }

  Var ox = f.y.args()[0], oy = f.y.args()[1], co = f.y.args()[2], n = f.y.args()[3];
  Var oxo("oxo"), oxi("oxi"), oyo("oyo"), oyi("oyi"), coo("coo"), coi("coi");
  Var task("task");
  f.y.split(ox, oxo, oxi, lanes, TailStrategy::ShiftInwards)
      .split(co, coo, coi, bestC, TailStrategy::ShiftInwards)
      .split(oy, oyo, oyi, bestY, TailStrategy::ShiftInwards)
      .reorder(oxi, coi, oyi, oxo, oyo, coo, n)
      .vectorize(oxi)
      .unroll(coi)
      .unroll(oyi)
      .fuse(oyo, coo, task)
      .fuse(task, n, task)
      .parallel(task);
  f.conv.compute_at(f.y, oxo).vectorize(ox).unroll(co).unroll(oy);
  f.conv.update().reorder(ox, co, oy, f.r.x, f.r.y, f.r.z, n).vectorize(ox).unroll(co).unroll(oy);
  if (g.KW <= 7)
    f.conv.update().unroll(f.r.x);
  if (g.padded) {
    // Zero-padded copy of the input band this task reads: the inner loop
    // then has no boundary selects.
    Var i = f.input.args()[0];
    f.input.compute_at(f.y, task).vectorize(i, vec);
  }
}

// Channel schedule: vectorize along output channels. For rows that are not a
// whole number of vectors (small maps: 13x13, 7x7, 3x3, ...) or strided
// convolutions the spatial schedule wastes lanes or needs strided loads, so
// here the accumulators hold nv vectors of output channels x a tx x ty block
// of output pixels; input pixels are scalar broadcasts (folded into the FMA on
// AVX-512) and the weights are read as vectors from a transposed copy
// wT(co, kx, ky, ci) made once per call (O*C*KH*KW floats, small next to the
// N*OH*OW-fold reuse). Requires groups == 1 and O >= vector width. Runs
// the dense convolutions the GEMM kernels leave here (short reductions on
// narrow unpadded maps, see gemmconv::prefersDirect) when they have a
// vector of output channels: LeNet-5's 6->16 5x5 14x14, batch 32, 1 thread:
// 0.105 ms against 0.157 with the spatial schedule and 0.144 as a GEMM.
void scheduleChannel(ConvFuncs &f, const ConvGeom &g, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12;
  int bestV = 1, bestX = 1, bestY = 1;
  double bestCost = std::numeric_limits<double>::max();
  for (int nv = 1; nv <= 2 && nv * vec <= g.O; ++nv)
    for (int tx = 1; tx <= std::min<int64_t>(g.OW, budget / nv); ++tx)
      for (int ty = 1; ty <= std::min<int64_t>(g.OH, budget / nv / tx); ++ty) {
        const int accs = nv * tx * ty;
        const double work = double(roundUpTo(g.O, nv * vec)) * roundUpTo(g.OW, tx) *
                            roundUpTo(g.OH, ty) / double(g.O * g.OW * g.OH);
        // Per step: accs FMAs (broadcasts folded), nv weight loads; fewer
        // than ~10 accumulators cannot hide the FMA latency. Measured shape
        // preference: tall tiles (one column, many rows) for KxK kernels,
        // where each input row is reused across kx; wide tiles (one row) for
        // 1x1 kernels, where tall tiles touch a cache line per accumulator.
        const double shape =
            g.KH * g.KW > 1 ? 1.0 + 0.1 * (tx - 1) / tx : 1.0 + 0.5 * (ty - 1) / ty;
        const double cost = work * shape * (1.0 + double(nv) / accs) * std::max(1.0, 10.0 / accs);
        if (cost < bestCost - 1e-9) {
          bestCost = cost;
          bestV = nv;
          bestX = tx;
          bestY = ty;
        }
      }
  const int tc = bestV * vec;

  Var ox = f.y.args()[0], oy = f.y.args()[1], co = f.y.args()[2], n = f.y.args()[3];
  Var oxo("oxo"), oxi("oxi"), oyo("oyo"), oyi("oyi"), coo("coo"), coi("coi");
  Var task("task");
  f.y.split(co, coo, coi, tc, TailStrategy::ShiftInwards)
      .split(ox, oxo, oxi, bestX, TailStrategy::ShiftInwards)
      .split(oy, oyo, oyi, bestY, TailStrategy::ShiftInwards)
      .reorder(coi, oxi, oyi, oxo, oyo, coo, n)
      .vectorize(coi, vec)
      .unroll(coi)
      .unroll(oxi)
      .unroll(oyi)
      .fuse(oyo, coo, task)
      .fuse(task, n, task)
      .parallel(task);
  f.conv.compute_at(f.y, oxo)
      .reorder_storage(co, ox, oy)
      .reorder(co, ox, oy)
      .vectorize(co, vec)
      .unroll(co)
      .unroll(ox)
      .unroll(oy);
  f.conv.update()
      .reorder(co, ox, oy, f.r.x, f.r.y, f.r.z, n)
      .vectorize(co, vec)
      .unroll(co)
      .unroll(ox)
      .unroll(oy);
  if (g.KW <= 5)
    f.conv.update().unroll(f.r.x);

  Func wT = f.w.in();
  std::vector<Var> wv = wT.args(); // (kx, ky, ci, co)
  wT.compute_root()
      .reorder_storage(wv[3], wv[0], wv[1], wv[2])
      .reorder(wv[3], wv[0], wv[1], wv[2])
      .vectorize(wv[3], vec); // O >= vec here
  if (g.C >= 32)
    wT.parallel(wv[2], 16);
  if (g.padded) {
    Var i = f.input.args()[0];
    f.input.compute_at(f.y, task).vectorize(i, vec);
  }
}

} // namespace

Kernel buildConv2d(const Shape &x, const Shape &weight, bool hasBias, const Conv2dAttrs &a,
                   ActivationSpec act, const Shape &out, const Target &t, bool hasResidual) {
  // Depthwise convolutions (one input channel per group) have their own
  // kernel (Depthwise.cpp).
  if (a.groups > 1 && x.size() == 4 && weight.size() == 4 && x[1] == a.groups && weight[1] == 1)
    return buildDepthwiseConv2d(x, weight, hasBias, a, act, out, t, hasResidual);
  requireCpuTarget(t, "conv2d");
  checkShape(x, 4, "conv2d input");
  checkShape(weight, 4, "conv2d weight");
  if (weight[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: conv2d weight must be static");
  if (a.strideH < 1 || a.strideW < 1 || a.dilationH < 1 || a.dilationW < 1 || a.groups < 1 ||
      a.padTop < 0 || a.padLeft < 0 || a.padBottom < 0 || a.padRight < 0)
    throw std::invalid_argument("dnnc kernels: invalid conv2d attributes");
  // Dense convolutions: the GEMM kernels of ConvGemm.cpp (see there).
  if (a.groups == 1 && conv2dUsesGemm(x, weight, a, out))
    return buildConv2dGemm(x, weight, hasBias, a, act, out, t, hasResidual);
  ConvGeom g;
  g.a = a;
  g.N = x[0];
  g.C = x[1];
  g.H = x[2];
  g.W = x[3];
  g.O = weight[0];
  g.KH = weight[2];
  g.KW = weight[3];
  if (g.C % a.groups != 0 || g.O % a.groups != 0)
    throw std::invalid_argument("dnnc kernels: conv2d channels not divisible by groups");
  g.Cg = g.C / a.groups;
  g.Og = g.O / a.groups;
  checkSameShape({g.Cg}, {weight[1]}, "conv2d weight channels per group");
  const int64_t spanH = g.H + a.padTop + a.padBottom - a.dilationH * (g.KH - 1) - 1;
  const int64_t spanW = g.W + a.padLeft + a.padRight - a.dilationW * (g.KW - 1) - 1;
  if (spanH < 0 || spanW < 0)
    throw std::invalid_argument("dnnc kernels: conv2d kernel larger than padded input");
  g.OH = spanH / a.strideH + 1;
  g.OW = spanW / a.strideW + 1;
  checkSameShape({g.N, g.O, g.OH, g.OW}, out, "conv2d result");
  g.padded = a.padTop || a.padLeft || a.padBottom || a.padRight;

  ImageParam in(Float(32), 4, "x"), w(Float(32), 4, "weight"), b(Float(32), 1, "bias"),
      res(Float(32), 4, "residual");
  Var ox("ox"), oy("oy"), co("co"), n("n"), i("i"), j("j"), c("c");

  // Algorithm.
  ConvFuncs f{Func(funcName("conv")), Func(funcName("conv_acc")), Func(funcName("conv_input")), w,
              RDom(0, int(g.KW), 0, int(g.KH), 0, int(g.Cg), "r")};
  if (g.padded) {
    Func bounded = BoundaryConditions::constant_exterior(in, 0.0f, {{0, int(g.W)}, {0, int(g.H)}});
    f.input(i, j, c, n) = bounded(i, j, c, n);
  } else {
    f.input(i, j, c, n) = in(i, j, c, n);
  }
  const RDom &r = f.r;
  Expr cin = a.groups == 1 ? Expr(r.z) : (co / int(g.Og)) * int(g.Cg) + r.z;
  f.conv(ox, oy, co, n) = hasBias ? b(co) : 0.0f;
  f.conv(ox, oy, co, n) +=
      w(r.x, r.y, r.z, co) * f.input(ox * a.strideW + r.x * a.dilationW - a.padLeft,
                                     oy * a.strideH + r.y * a.dilationH - a.padTop, cin, n);
  // The residual add of a fused residual block happens in the epilogue, on
  // the accumulators still in registers.
  Expr sum = f.conv(ox, oy, co, n);
  if (hasResidual)
    sum += res(ox, oy, co, n);
  f.y(ox, oy, co, n) = applyActivation(sum, act);

  constrainDense(in, x);
  constrainDense(w, weight);
  if (hasBias)
    constrainDense(b, {g.O});
  if (hasResidual)
    constrainDense(res, out);
  constrainDense(f.y.output_buffer(), out);

  // Grouped and depthwise convolutions, and the dense ones the GEMM path
  // left here (conv2dUsesGemm): along output channels when there is a
  // vector of them.
  if (a.groups == 1 && g.O >= t.natural_vector_size<float>())
    scheduleChannel(f, g, t);
  else
    scheduleSpatial(f, g, t);

  std::vector<ImageParam> inputs{in, w};
  if (hasBias)
    inputs.push_back(b);
  if (hasResidual)
    inputs.push_back(res);
  return makeKernel(f.y, inputs);
}

} // namespace dnnc::kernels
