// Pointwise (1x1, stride 1, unpadded, ungrouped) convolution as a GEMM per
// image: y[n] = act(W x[n] + b + residual[n]) with x[n] a [C, P] matrix of
// P = H*W pixels per channel.
#include "ConvKernels.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

int64_t roundUpTo(int64_t e, int64_t f) { return (e + f - 1) / f * f; }

// CPU schedule: the outer-product micro-kernel of buildMatmul with the
// pixels as its columns. A tile is nv vectors of pixels x tm output channels
// of accumulators; per input channel it loads nv vectors of x (a row of the
// [C, P] image, contiguous) and broadcasts tm weights. A task is a block of
// pixels of one image for all output channels: the block's x columns
// (C x pb floats) are read from memory once and then reused from L1/L2 by
// every channel tile.
void schedulePixels(Func y, Func acc, RDom c, int64_t C, int64_t O, int64_t P, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12;
  const int lanes = static_cast<int>(std::min<int64_t>(vec, P));
  // nv x tm minimizing the ShiftInwards over-compute, then preferring more
  // accumulators (as buildMatmul).
  int bestV = 1, bestM = 1;
  double bestCost = std::numeric_limits<double>::max();
  for (int nv = 1; nv <= 3 && (nv == 1 || nv * lanes <= P); ++nv)
    for (int tm = 1; tm <= std::min<int64_t>(O, budget / nv); ++tm) {
      const int accs = nv * tm;
      const double work =
          double(roundUpTo(P, nv * lanes)) * double(roundUpTo(O, tm)) / (double(P) * double(O));
      const double cost = work * (1.0 + double(nv + tm) / accs / 4.0) * std::max(1.0, 12.0 / accs);
      if (cost < bestCost - 1e-9) {
        bestCost = cost;
        bestV = nv;
        bestM = tm;
      }
    }
  const int tp = bestV * lanes;
  // Pixels per task: ~1 MB of x and output columns (half of this host's 2 MB
  // L2), but at least two tasks per image (two threads at batch 1) and ~64K
  // MACs. The x block is read from memory once and the output rows are
  // written in long runs (per channel tile, the block's pixels): at batch 32
  // the maps come from and go to DRAM, and long runs keep the prefetchers
  // streaming. Measured (1 thread, batch 32, ms, 32 KB x blocks -> 1 MB):
  // 16->96 112x112: 26.8 -> 18.4; 24->144 56x56: 11.6 -> 6.5; 144->24
  // 56x56: 21.5 -> 14.2; 32->16 112x112: 7.3 -> 6.8; maps of 28x28 and
  // smaller unchanged (one block per image either way).
  const int64_t tilesInP = (P + tp - 1) / tp;
  int64_t tilesPerBlock = std::max<int64_t>(1, (int64_t(1) << 20) / (4 * (C + O) * tp));
  tilesPerBlock = std::min(tilesPerBlock, (tilesInP + 1) / 2);
  tilesPerBlock = std::max<int64_t>(tilesPerBlock, (1 << 16) / std::max<int64_t>(1, C * O * tp));
  tilesPerBlock = std::min(tilesPerBlock, tilesInP);

  Var p = y.args()[0], o = y.args()[1], n = y.args()[2];
  Var po("po"), pi("pi"), oo("oo"), oi("oi"), pb("pb"), task("task");
  y.split(p, po, pi, tp, TailStrategy::ShiftInwards)
      .split(o, oo, oi, bestM, TailStrategy::ShiftInwards)
      .split(po, pb, po, static_cast<int>(tilesPerBlock), TailStrategy::GuardWithIf)
      .reorder(pi, oi, po, oo, pb, n)
      .vectorize(pi, lanes)
      .unroll(pi)
      .unroll(oi)
      .fuse(pb, n, task)
      .parallel(task);
  acc.compute_at(y, po).vectorize(p, lanes).unroll(p).unroll(o);
  acc.update().reorder(p, o, c.x, n).vectorize(p, lanes).unroll(p).unroll(o);
}

// CPU schedule of the packed-weight variant: the dense layer's micro-kernel
// with the pixels as its rows. A tile is one panel of ob output channels (ob
// / vec vectors, loaded from the packed weight) by tm pixels (broadcast from
// the tm consecutive x elements of one input channel); tm is picked so that
// the ShiftInwards pixel split computes as few extra pixels as possible (7x7
// and 14x14 maps: tm = 7, none). The tile's outputs are stored along the
// channels (strided by P: a scatter), once per C-long reduction. Tiles are
// ordered pixel tile inner, panel outer, so a panel (C x ob floats) is read
// from L2 by every pixel tile and the image's x (C x P) stays in L2; tasks
// are consecutive tiles of ~128K MACs.
void scheduleChannels(Func y, Func acc, RDom c, int64_t C, int64_t O, int64_t P, int64_t ob,
                      const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12;
  const int lanes = static_cast<int>(ob % vec == 0 ? vec : ob);
  const int vecsPerPanel = static_cast<int>((ob + vec - 1) / vec);
  int tm = 1;
  double bestCost = std::numeric_limits<double>::max();
  for (int m = 1; m <= std::min<int64_t>(P, 16); ++m) {
    const int accs = vecsPerPanel * m;
    if (accs > budget)
      continue;
    const double work = double(roundUpTo(P, m)) / double(P);
    const double loads = double(2 * vecsPerPanel + m) / accs;
    const double cost = work * (1.0 + 0.5 * loads) * std::max(1.0, 8.0 / accs);
    if (cost < bestCost - 1e-9) {
      bestCost = cost;
      tm = m;
    }
  }
  Var p = y.args()[0], o = y.args()[1], n = y.args()[2];
  Var po("po"), pi("pi"), oo("oo"), oi("oi"), tile("tile"), tile2("tile2"), task("task"), ti("ti");
  y.split(o, oo, oi, static_cast<int>(ob),
          O % ob ? TailStrategy::GuardWithIf : TailStrategy::ShiftInwards)
      .split(p, po, pi, tm, TailStrategy::ShiftInwards)
      .reorder(oi, pi, po, oo, n)
      .vectorize(oi, lanes)
      .unroll(oi)
      .unroll(pi)
      .fuse(po, oo, tile)
      .fuse(tile, n, tile2);
  const int64_t macsPerTile = std::max<int64_t>(1, C * ob * tm);
  const int tilesPerTask = static_cast<int>(std::max<int64_t>(1, (1 << 17) / macsPerTile));
  y.split(tile2, task, ti, tilesPerTask, TailStrategy::GuardWithIf).parallel(task);

  Var l = acc.args()[0], pn = acc.args()[1], ap = acc.args()[2], an = acc.args()[3];
  acc.compute_at(y, ti)
      .align_bounds(l, static_cast<int>(ob))
      .bound_extent(l, static_cast<int>(ob))
      .bound_extent(pn, 1);
  acc.vectorize(l, lanes).unroll(l).unroll(ap);
  acc.update().reorder(l, ap, pn, c.x, an).vectorize(l, lanes).unroll(l).unroll(ap);
}

} // namespace

Kernel buildPointwiseConv(const Shape &x, const Shape &weight, bool hasBias, ActivationSpec act,
                          const Shape &out, const Target &t, bool hasResidual) {
  requireCpuTarget(t, "pointwise conv");
  checkShape(x, 3, "pointwise conv input");
  checkShape(weight, 2, "pointwise conv weight");
  if (weight[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: pointwise conv weight must be static");
  const int64_t C = x[1], P = x[2], O = weight[0];
  checkSameShape({C}, {weight[1]}, "pointwise conv weight in-channels");
  checkSameShape({x[0], O, P}, out, "pointwise conv result");

  ImageParam in(Float(32), 3, "x"), w(Float(32), 2, "weight"), b(Float(32), 1, "bias"),
      res(Float(32), 3, "residual");
  Var p("p"), o("o"), n("n");
  RDom c(0, static_cast<int>(C), "c");

  // Algorithm.
  Func acc(funcName("pointwise_acc"));
  acc(p, o, n) = 0.0f;
  acc(p, o, n) += w(c, o) * in(p, c, n);
  Expr v = acc(p, o, n);
  if (hasBias)
    v += b(o);
  if (hasResidual)
    v += res(p, o, n);
  Func y(funcName("pointwise"));
  y(p, o, n) = applyActivation(v, act);

  constrainDense(in, x);
  constrainDense(w, weight);
  if (hasBias)
    constrainDense(b, {O});
  if (hasResidual)
    constrainDense(res, out);
  constrainDense(y.output_buffer(), out);

  schedulePixels(y, acc, c, C, O, P, t);

  std::vector<ImageParam> inputs{in, w};
  if (hasBias)
    inputs.push_back(b);
  if (hasResidual)
    inputs.push_back(res);
  return makeKernel(y, inputs);
}

bool pointwisePrefersPacked(int64_t pixels) {
  // 16: the AVX-512 vector, fixed here because the weight layout is chosen
  // when the model is lowered, before a target.
  return pixels >= 1 && roundUpTo(pixels, 16) * 100 > 115 * pixels;
}

Kernel buildPointwiseConvPacked(const Shape &x, const Shape &weight, const Shape &packed,
                                bool hasBias, ActivationSpec act, const Shape &out,
                                const Target &t, bool hasResidual) {
  requireCpuTarget(t, "pointwise conv");
  checkShape(x, 3, "pointwise conv input");
  checkShape(weight, 2, "pointwise conv weight");
  checkSameShape(densePackedWeightShape(weight), packed, "packed pointwise conv weight");
  const int64_t C = x[1], P = x[2], O = weight[0], ob = packed[2];
  checkSameShape({C}, {weight[1]}, "pointwise conv weight in-channels");
  checkSameShape({x[0], O, P}, out, "pointwise conv result");

  ImageParam in(Float(32), 3, "x"), wp(Float(32), 3, "packed_weight"), b(Float(32), 1, "bias"),
      res(Float(32), 3, "residual");
  Var p("p"), o("o"), n("n"), l("l"), pn("pn");
  RDom c(0, static_cast<int>(C), "c");

  // Algorithm: acc(l, pn, p, n) is output channel pn * ob + l at pixel p
  // (the padding channels of the last panel have zero weights).
  Func acc(funcName("pointwise_acc"));
  acc(l, pn, p, n) = 0.0f;
  acc(l, pn, p, n) += wp(l, c, pn) * in(p, c, n);
  Expr v = acc(o % int(ob), o / int(ob), p, n);
  if (hasBias)
    v += b(o);
  if (hasResidual)
    v += res(p, o, n);
  Func y(funcName("pointwise"));
  y(p, o, n) = applyActivation(v, act);

  constrainDense(in, x);
  constrainDense(wp, packed);
  if (hasBias)
    constrainDense(b, {O});
  if (hasResidual)
    constrainDense(res, out);
  constrainDense(y.output_buffer(), out);

  scheduleChannels(y, acc, c, C, O, P, ob, t);

  std::vector<ImageParam> inputs{in, wp};
  if (hasBias)
    inputs.push_back(b);
  if (hasResidual)
    inputs.push_back(res);
  return makeKernel(y, inputs);
}

} // namespace dnnc::kernels
