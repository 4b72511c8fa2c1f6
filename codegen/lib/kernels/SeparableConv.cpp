// Keras SeparableConv2D as one fused kernel: depthwise KHxKW convolution
// (channel multiplier M) feeding a 1x1 pointwise convolution, with the
// depthwise result kept per tile instead of written out for the whole map.
#include "ConvKernels.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

int64_t roundUpTo(int64_t e, int64_t f) { return (e + f - 1) / f * f; }

struct SepGeom {
  int64_t N, C, H, W, CM, M, KH, KW, O, OH, OW;
  Conv2dAttrs a;
  bool padded;
};

struct SepFuncs {
  Func y, acc, depthwise, input; // output, pointwise accumulator, depthwise result, (padded) input
  RDom taps;                     // taps.x = kx, taps.y = ky
  RDom channels;                 // depthwise channel (c*M + m)
};

// CPU schedule, vectorized along the output row (contiguous in the input,
// the depthwise result and the output). A task is a band of ty output rows;
// per tile of one vector x ty rows the depthwise result of all C*M channels
// is computed first (C*M*ty vectors: a few KB, L1/L2 resident; never the
// whole map) and then the pointwise reduction over those channels runs for
// each block of tco output channels with tco x ty vector accumulators in
// registers (per channel: ty vector loads of the depthwise tile and tco
// broadcast weights). The depthwise tile is shared by all output-channel
// blocks, which is why it is computed at the pixel tile and not inside each
// block's reduction.
void scheduleSeparable(SepFuncs &f, const SepGeom &g, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12;
  const int lanes = static_cast<int>(std::min<int64_t>(vec, g.OW));
  // tco x ty accumulators: minimal ShiftInwards over-compute, then more
  // accumulators, then more rows (fewer depthwise tiles per task).
  int bestC = 1, bestY = 1;
  double bestCost = std::numeric_limits<double>::max();
  for (int tc = 1; tc <= std::min<int64_t>(g.O, budget); ++tc)
    for (int ty = 1; ty <= std::min<int64_t>(g.OH, 4) && tc * ty <= budget; ++ty) {
      const double work =
          double(roundUpTo(g.O, tc)) * double(roundUpTo(g.OH, ty)) / double(g.O * g.OH);
      const int accs = tc * ty;
      const double cost =
          work * (1.0 + 1.0 / ty + 1.0 / tc) * std::max(1.0, 12.0 / accs) * (1.0 + 0.05 / ty);
      if (cost < bestCost - 1e-9) {
        bestCost = cost;
        bestC = tc;
        bestY = ty;
      }
    }

  Var ox = f.y.args()[0], oy = f.y.args()[1], co = f.y.args()[2], n = f.y.args()[3];
  Var oxo("oxo"), oxi("oxi"), oyo("oyo"), oyi("oyi"), coo("coo"), coi("coi"), task("task");
  f.y.split(ox, oxo, oxi, lanes, TailStrategy::ShiftInwards)
      .split(oy, oyo, oyi, bestY, TailStrategy::ShiftInwards)
      .split(co, coo, coi, bestC, TailStrategy::ShiftInwards)
      .reorder(oxi, coi, oyi, coo, oxo, oyo, n)
      .vectorize(oxi)
      .unroll(coi)
      .unroll(oyi)
      .fuse(oyo, n, task)
      .parallel(task);

  // Pointwise accumulators: one register block per (pixel tile, coo).
  f.acc.compute_at(f.y, coo).vectorize(ox).unroll(co).unroll(oy);
  f.acc.update().reorder(ox, co, oy, f.channels.x, n).vectorize(ox).unroll(co).unroll(oy);

  // Depthwise tile: all channels of the pixel tile, ty accumulators per
  // channel, taps unrolled.
  Var dx = f.depthwise.args()[0], dy = f.depthwise.args()[1], dc = f.depthwise.args()[2];
  f.depthwise.compute_at(f.y, oxo).reorder(dx, dy, dc).vectorize(dx).unroll(dy);
  f.depthwise.update().reorder(dx, dy, f.taps.x, f.taps.y, dc).vectorize(dx).unroll(dy);
  if (g.KW <= 7)
    f.depthwise.update().unroll(f.taps.x);
  if (g.KW * g.KH <= 25)
    f.depthwise.update().unroll(f.taps.y);
}

// Channel schedule, for rows narrower than a vector (14x14, 7x7 maps on
// AVX-512) with at least a vector of output channels: the pointwise
// product vectorizes along output channels instead (as buildConv2d's
// channel schedule). A task is a band of ty output rows; its depthwise
// result (all OW x ty pixels x C*M channels, vectorized along the row) is
// computed first, then for each tile of tx x ty pixels and block of nv
// vectors of output channels the reduction runs with nv*tx*ty accumulators
// (per channel: nv weight vectors from a transposed pointwise copy and tx*ty
// broadcast depthwise values).
void scheduleSeparableChannel(SepFuncs &f, Func pwT, const SepGeom &g, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12;
  int bestV = 1, bestX = 1, bestY = 1;
  double bestCost = std::numeric_limits<double>::max();
  for (int nv = 1; nv <= 2 && nv * vec <= g.O; ++nv)
    for (int tx = 1; tx <= std::min<int64_t>(g.OW, budget / nv); ++tx)
      for (int ty = 1; ty <= std::min<int64_t>(g.OH, std::min(4, budget / nv / tx)); ++ty) {
        const int accs = nv * tx * ty;
        const double work = double(roundUpTo(g.O, nv * vec)) * roundUpTo(g.OW, tx) *
                            roundUpTo(g.OH, ty) / double(g.O * g.OW * g.OH);
        // Wide tiles: the broadcasts of a step share cache lines.
        const double shape = 1.0 + 0.1 * (ty - 1) / ty;
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
  Var oxo("oxo"), oxi("oxi"), oyo("oyo"), oyi("oyi"), coo("coo"), coi("coi"), task("task");
  f.y.split(co, coo, coi, tc, TailStrategy::ShiftInwards)
      .split(ox, oxo, oxi, bestX, TailStrategy::ShiftInwards)
      .split(oy, oyo, oyi, bestY, TailStrategy::ShiftInwards)
      .reorder(coi, oxi, oyi, coo, oxo, oyo, n)
      .vectorize(coi, vec)
      .unroll(coi)
      .unroll(oxi)
      .unroll(oyi)
      .fuse(oyo, n, task)
      .parallel(task);

  f.acc.compute_at(f.y, coo)
      .reorder_storage(co, ox, oy)
      .reorder(co, ox, oy)
      .vectorize(co, vec)
      .unroll(co)
      .unroll(ox)
      .unroll(oy);
  f.acc.update()
      .reorder(co, ox, oy, f.channels.x, n)
      .vectorize(co, vec)
      .unroll(co)
      .unroll(ox)
      .unroll(oy);

  const int lanes = static_cast<int>(std::min<int64_t>(vec, g.OW));
  Var dx = f.depthwise.args()[0], dy = f.depthwise.args()[1], dc = f.depthwise.args()[2];
  Var dxo("dxo"), dxi("dxi");
  f.depthwise.compute_at(f.y, task)
      .split(dx, dxo, dxi, lanes, TailStrategy::ShiftInwards)
      .vectorize(dxi);
  f.depthwise.update()
      .split(dx, dxo, dxi, lanes, TailStrategy::GuardWithIf)
      .reorder(dxi, dy, f.taps.x, f.taps.y, dxo, dc)
      .vectorize(dxi)
      .unroll(dy);
  if (g.KW <= 7)
    f.depthwise.update().unroll(f.taps.x);
  if (g.KW * g.KH <= 25)
    f.depthwise.update().unroll(f.taps.y);

  pwT.compute_root().vectorize(pwT.args()[0], vec); // O >= vec here
}

} // namespace

Kernel buildSeparableConv2d(const Shape &x, const Shape &depthwise, const Shape &pointwise,
                            bool hasBias, const Conv2dAttrs &a, ActivationSpec act,
                            const Shape &out, const Target &t) {
  requireCpuTarget(t, "separableconv2d");
  checkShape(x, 4, "separableconv2d input");
  checkShape(depthwise, 4, "separableconv2d depthwise weight");
  checkShape(pointwise, 4, "separableconv2d pointwise weight");
  if (depthwise[0] == kDynamic || pointwise[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: separableconv2d weights must be static");
  if (a.strideH < 1 || a.strideW < 1 || a.dilationH < 1 || a.dilationW < 1 || a.padTop < 0 ||
      a.padLeft < 0 || a.padBottom < 0 || a.padRight < 0)
    throw std::invalid_argument("dnnc kernels: invalid separableconv2d attributes");
  SepGeom g;
  g.a = a;
  g.N = x[0];
  g.C = x[1];
  g.H = x[2];
  g.W = x[3];
  g.CM = depthwise[0];
  g.KH = depthwise[2];
  g.KW = depthwise[3];
  g.O = pointwise[0];
  if (g.CM % g.C != 0)
    throw std::invalid_argument(
        "dnnc kernels: separableconv2d depthwise channels are not a multiple of the input's");
  g.M = g.CM / g.C;
  checkSameShape({g.CM, 1, g.KH, g.KW}, depthwise, "separableconv2d depthwise weight");
  checkSameShape({g.O, g.CM, 1, 1}, pointwise, "separableconv2d pointwise weight");
  const int64_t spanH = g.H + a.padTop + a.padBottom - a.dilationH * (g.KH - 1) - 1;
  const int64_t spanW = g.W + a.padLeft + a.padRight - a.dilationW * (g.KW - 1) - 1;
  if (spanH < 0 || spanW < 0)
    throw std::invalid_argument(
        "dnnc kernels: separableconv2d kernel larger than the padded input");
  g.OH = spanH / a.strideH + 1;
  g.OW = spanW / a.strideW + 1;
  checkSameShape({g.N, g.O, g.OH, g.OW}, out, "separableconv2d result");
  g.padded = a.padTop || a.padLeft || a.padBottom || a.padRight;

  ImageParam in(Float(32), 4, "x"), dw(Float(32), 4, "depthwise"), pw(Float(32), 4, "pointwise"),
      b(Float(32), 1, "bias");
  Var ox("ox"), oy("oy"), co("co"), cm("cm"), n("n"), i("i"), j("j"), c("c");

  // Algorithm.
  SepFuncs f{Func(funcName("sepconv")),
             Func(funcName("sepconv_acc")),
             Func(funcName("sepconv_depthwise")),
             Func(funcName("sepconv_input")),
             RDom(0, int(g.KW), 0, int(g.KH), "taps"),
             RDom(0, int(g.CM), "channels")};
  if (g.padded)
    f.input(i, j, c, n) = zeroPaddedInput(in, g.H, g.W, t)(i, j, c, n);
  else
    f.input(i, j, c, n) = in(i, j, c, n);
  const RDom &k = f.taps;
  f.depthwise(ox, oy, cm, n) = 0.0f;
  f.depthwise(ox, oy, cm, n) +=
      dw(k.x, k.y, 0, cm) * f.input(ox * a.strideW + k.x * a.dilationW - a.padLeft,
                                    oy * a.strideH + k.y * a.dilationH - a.padTop, cm / int(g.M),
                                    n);
  const RDom &r = f.channels;
  f.acc(ox, oy, co, n) = hasBias ? b(co) : 0.0f;
  // pwT(co, cm): the pointwise weights with output channels innermost, for
  // the channel schedule's vector loads (inlined by the spatial schedule).
  Func pwT(funcName("sepconv_pointwise"));
  pwT(co, cm) = pw(0, 0, cm, co);
  f.acc(ox, oy, co, n) += pwT(co, r.x) * f.depthwise(ox, oy, r.x, n);
  f.y(ox, oy, co, n) = applyActivation(f.acc(ox, oy, co, n), act);

  constrainDense(in, x);
  constrainDense(dw, depthwise);
  constrainDense(pw, pointwise);
  if (hasBias)
    constrainDense(b, {g.O});
  constrainDense(f.y.output_buffer(), out);

  // Schedule choice and the fused kernel's measured speed against the two
  // separate buildConv2d kernels (depthwise with groups = C, then 1x1 with
  // the bias and activation). Batch 1, 1 thread, AVX-512 host (dense
  // 784->256 batch 32 runs at 139 GFLOP/s here), 3x3 pad 1, M = 1, relu,
  // fused ms / separate ms (GFLOP/s of the fused kernel):
  //   C=32  56x56    O=16: 0.074 / 0.075 (68)
  //   C=64  56x56    O=64: 0.31  / 0.34  (96)
  //   C=144 56x56    O=24: 0.47  / 0.55  (63)
  //   C=96  56x56 s2 O=24: 0.14  / 0.31  (36)  the separate depthwise
  //   C=144 56x56 s2 O=32: 0.29  / 0.53  (32)  stride-2 conv is slow here
  //   C=144 28x28    O=32: 0.12  / 0.24  (80)
  //   C=96  28x28    O=64: 0.11  / 0.20  (98)
  //   C=144 14x14    O=96: 0.070 / 0.068 (84)  channel schedule
  //   C=384 14x14    O=64: 0.14  / 0.14  (78)  channel schedule
  //   C=144 10x10    O=48: 0.033 / 0.024 (49)  channel schedule
  //   C=576 7x7     O=160: 0.15  / 0.13  (63)  channel schedule
  //   C=96  7x7      O=32: 0.012 / 0.008 (32)  channel schedule
  // (run-to-run noise on this shared host is about 10%). The fused kernel
  // wins on the large early maps, where the separate depthwise result makes
  // a round trip through memory, and loses up to ~30% on maps narrower than
  // 14 (rows of 7-10 lanes in its depthwise stage, a few row bands per
  // image), where the depthwise result is small anyway. The spatial
  // schedule wins from 28x28 up even though 28 and 56 are ragged for
  // 16-lane vectors (the channel schedule runs those at 0.67-0.85x of its
  // speed).
  const int vec = t.natural_vector_size<float>();
  if (g.O >= vec && g.OW < vec)
    scheduleSeparableChannel(f, pwT, g, t);
  else
    scheduleSeparable(f, g, t);

  std::vector<ImageParam> inputs{in, dw, pw};
  if (hasBias)
    inputs.push_back(b);
  return makeKernel(f.y, inputs);
}

} // namespace dnnc::kernels
