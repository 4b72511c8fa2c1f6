// Conv2d weight gradient: a GEMM over pixels,
//   dW[o][c][ky][kx] = sum_{n, oy, ox} dy[n][o][oy][ox] * x[n][cin][iy][ix],
// M = O output channels, P = C/groups * KH * KW taps, the reduction over
// the N * OH * OW output pixels, taken as N * OH output rows of OW pixels.
#include "ConvKernels.h"
#include "GradKernels.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

struct GradConvGeom {
  int64_t N, C, H, W, O, KH, KW, OH, OW, Cg, Og;
  Conv2dAttrs a;
  bool padded, dynamicBatch;
  int64_t taps() const { return Cg * KH * KW; }
  int64_t rowsGuess() const { return (dynamicBatch ? 32 : N) * OH; } // output rows
  int64_t macsPerRow() const { return OW * O * taps(); }
};

int64_t roundUpTo(int64_t e, int64_t f) { return (e + f - 1) / f * f; }

// A register tile of the output: tkx x tky x tc taps (a box of
// [KW, KH, Cg], so that the accumulators computed per tile are exactly its
// own) times `to` output channels (or `to` vectors of them).
struct TapTile {
  int tkx = 1, tky = 1, tc = 1, to = 1;
  int taps() const { return tkx * tky * tc; }
};

// Picks the tap box (and `to`) minimizing the over-compute of the
// ShiftInwards splits times the load cost per FMA, with at most `budget`
// accumulators (to + taps loads per to * taps FMAs in both schedules).
TapTile pickTapTile(const GradConvGeom &g, int budget, int maxTo, int64_t oUnit) {
  TapTile best;
  double bestCost = std::numeric_limits<double>::max();
  for (int to = 1; to <= maxTo && to * oUnit <= std::max<int64_t>(g.O, oUnit); ++to)
    for (int tc = 1; tc <= std::min<int64_t>(g.Cg, budget / to); ++tc)
      for (int tky = 1; tky <= std::min<int64_t>(g.KH, budget / to / tc); ++tky)
        for (int tkx = 1; tkx <= std::min<int64_t>(g.KW, budget / to / tc / tky); ++tkx) {
          const int taps = tkx * tky * tc, accs = taps * to;
          const double waste = double(roundUpTo(g.KW, tkx)) * roundUpTo(g.KH, tky) *
                               roundUpTo(g.Cg, tc) * roundUpTo(g.O, to * oUnit) /
                               (double(g.KW) * g.KH * g.Cg * g.O);
          const double cost =
              waste * (1.0 + double(taps + to) / accs / 2.0) * std::max(1.0, 12.0 / accs);
          if (cost < bestCost - 1e-9) {
            bestCost = cost;
            best = {tkx, tky, tc, to};
          }
        }
  return best;
}

// The plan: which micro-kernel, its tile, and how the output rows are cut
// into chunks.
struct Plan {
  bool channel;        // vectorized along output channels (else along ox)
  int lanes;           // vector lanes of the micro-kernel
  TapTile tile;        // taps x `to` (channel: vectors of) output channels
  int oBlock;          // output channels per tile
  int64_t tiles;       // tiles of the output
  bool parallelChunks; // chunks in parallel with partial sums (few tiles)
  int64_t rowsPerChunk;
  int64_t vectorsPerRow; // dot: vectors per output row (the last one may overlap)
};

Plan makePlan(const GradConvGeom &g, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const bool wide = vec >= 16;
  Plan p;
  // Estimated cycles per output row and channel. Channel kernel: P/vec
  // vector FMAs per pixel at 2 per cycle, plus the transpose of dy (~2
  // cycles per element). Dot kernel: P FMAs per vector of pixels (rows
  // rounded up to whole vectors), but load-bound: measured ~2.5x its FMA
  // time, twice that at stride 2 (deinterleaving loads). The channel kernel
  // needs groups == 1 (a vector of channels then reads one input channel)
  // and at least half a vector of channels.
  //   MNIST CNN: conv1 (P = 9, OW = 26) dot; conv2 (P = 288, OW = 11) and
  //   conv3 (P = 576, OW = 3) channel. Measured, 1 thread, AVX-512 host,
  //   CPU time, batch 64: conv1 0.50 ms (50 GFLOP/s), conv2 2.07 ms (138),
  //   conv3 0.36 ms (117); batch 32 ResNet 3x3 at 56x56x64, 28x28x128,
  //   14x14x256: 116-129 GFLOP/s; 1x1 stride 2 64->128: 62 (dot: 30);
  //   7x7 stride 2 stem: 106 (dot: 60). Before the row chunks (every tile
  //   reducing over the whole batch, streaming dy and x from memory per
  //   tile) the ResNet shapes ran at 25-57.
  const double channelCost =
      double(roundUpTo(g.O, vec)) / g.O * g.taps() / (2.0 * vec) * g.OW + 2.0 * g.OW;
  const double dotCost =
      double(roundUpTo(g.OW, vec)) / vec * g.taps() / 2.0 * 2.5 * std::min(g.a.strideW, 2);
  p.channel = g.a.groups == 1 && g.O >= std::max(1, vec / 2) && channelCost < dotCost;
  if (p.channel) {
    p.lanes = static_cast<int>(std::min<int64_t>(vec, g.O));
    p.tile = pickTapTile(g, wide ? 24 : 12, 2, p.lanes);
    p.oBlock = p.tile.to * p.lanes;
  } else {
    p.lanes = static_cast<int>(std::min<int64_t>(vec, g.OW));
    p.tile = pickTapTile(g, wide ? 16 : 9, g.a.groups == 1 ? 4 : 1, 1);
    p.oBlock = p.tile.to;
  }
  // Dot rows that are not a whole number of vectors end with a vector that
  // overlaps the previous one, its already counted lanes masked out: Halide
  // runs a guarded tail as scalar code (10 of the 26 columns of MNIST conv1).
  p.vectorsPerRow = p.channel ? 0 : (g.OW + p.lanes - 1) / p.lanes;
  p.tiles = ((g.KW + p.tile.tkx - 1) / p.tile.tkx) * ((g.KH + p.tile.tky - 1) / p.tile.tky) *
            ((g.Cg + p.tile.tc - 1) / p.tile.tc) * ((g.O + p.oBlock - 1) / p.oBlock);
  // Few tiles (< 8) give too few parallel tasks: the output rows are then
  // cut into chunks of >= ~1M MACs whose partial gradients are made in
  // parallel and added up. Otherwise the chunks run one after the other,
  // each sized so that its dy and x rows (~512 KB) stay in L2 while every
  // tile reads them, and the tiles of a chunk run in parallel.
  p.parallelChunks = p.tiles < 8;
  if (p.parallelChunks) {
    p.rowsPerChunk = std::max<int64_t>(1, ((1 << 20) + g.macsPerRow() - 1) / g.macsPerRow());
  } else {
    const int64_t floatsPerRow = g.OW * g.O + g.a.strideH * g.W * g.C;
    p.rowsPerChunk = std::max<int64_t>(1, (1 << 17) / floatsPerRow);
  }
  return p;
}

// Splits the consumer's tap dims into the tile box (unrolled) and the output
// channels by oBlock, and runs the tiles (and chunks, if a chunk var is the
// consumer's fifth arg) in parallel tasks of ~1M MACs. Returns the loop
// level of one tile.
LoopLevel tileConsumer(Func y, const Plan &p, int64_t macsPerTile) {
  std::vector<Var> v = y.args(); // kx, ky, c, o [, chunk]
  Var kxo("kxo"), kxi("kxi"), kyo("kyo"), kyi("kyi"), co("co"), ci("ci"), oo("oo"), oi("oi");
  Var t("t"), task("task"), inTask("in_task");
  y.split(v[0], kxo, kxi, p.tile.tkx, TailStrategy::ShiftInwards)
      .split(v[1], kyo, kyi, p.tile.tky, TailStrategy::ShiftInwards)
      .split(v[2], co, ci, p.tile.tc, TailStrategy::ShiftInwards)
      .split(v[3], oo, oi, p.oBlock, TailStrategy::ShiftInwards)
      .reorder(oi, kxi, kyi, ci, kxo, kyo, co, oo)
      .unroll(kxi)
      .unroll(kyi)
      .unroll(ci);
  if (p.channel)
    y.vectorize(oi, p.lanes).unroll(oi);
  else
    y.unroll(oi);
  y.fuse(kxo, kyo, t).fuse(t, co, t).fuse(t, oo, t);
  if (v.size() > 4)
    y.fuse(t, v[4], t);
  const int perTask =
      static_cast<int>(std::max<int64_t>(1, (1 << 20) / std::max<int64_t>(1, macsPerTile)));
  y.split(t, task, inTask, perTask, TailStrategy::GuardWithIf).parallel(task);
  return LoopLevel(y, inTask);
}

// Channel micro-kernel: vectorized along the output channels. Per output
// pixel a tile loads `to` vectors of dy (from dyT, dy transposed to
// [row][ox][o] so that channels are contiguous) and broadcasts its taps' x
// values (a memory operand of the FMA on AVX-512): ~to + T loads per to*T
// FMAs. x comes zero-padded (one copy) so the loop has no boundary selects.
void scheduleChannel(Func acc, LoopLevel at, const RDom &r, const Plan &p) {
  std::vector<Var> a = acc.args(); // kx, ky, c, o [, chunk]
  acc.compute_at(at)
      .reorder_storage(a[3], a[0], a[1], a[2])
      .reorder(a[3], a[0], a[1], a[2])
      .vectorize(a[3], p.lanes)
      .unroll(a[3])
      .unroll(a[0])
      .unroll(a[1])
      .unroll(a[2]);
  acc.update()
      .reorder(a[3], a[0], a[1], a[2], r.x, r.y)
      .vectorize(a[3], p.lanes)
      .unroll(a[3])
      .unroll(a[0])
      .unroll(a[1])
      .unroll(a[2]);
}

// Dot micro-kernel (grouped convolutions, few channels, few taps):
// vectorized along the output columns ox of the reduction, rfactor'ed into
// per-lane partial sums held in registers for `to` channels x T taps; per
// vector of pixels it loads `to` dy vectors and T (unaligned) x vectors for
// to*T FMAs, and adds the lanes up once per tile. Needs no transpose.
void scheduleDot(Func acc, LoopLevel at, const RDom &r) {
  Var u("u");
  Func part = acc.update().rfactor(r.x, u);
  std::vector<Var> pv = part.args(); // kx, ky, c, o [, chunk], u
  std::vector<Var> storage{u};
  storage.insert(storage.end(), pv.begin(), pv.end() - 1);
  part.compute_at(at)
      .reorder_storage(storage)
      .vectorize(u)
      .unroll(pv[0])
      .unroll(pv[1])
      .unroll(pv[2])
      .unroll(pv[3]);
  part.update()
      .reorder(u, pv[0], pv[1], pv[2], pv[3], r.y, r.z)
      .vectorize(u)
      .unroll(pv[0])
      .unroll(pv[1])
      .unroll(pv[2])
      .unroll(pv[3]);
  std::vector<Var> a = acc.args();
  acc.compute_at(at).unroll(a[0]).unroll(a[1]).unroll(a[2]).unroll(a[3]);
  acc.update()
      .reorder(r.x, a[0], a[1], a[2], a[3])
      .atomic()
      .vectorize(r.x)
      .unroll(a[0])
      .unroll(a[1])
      .unroll(a[2])
      .unroll(a[3]);
}

} // namespace

Kernel buildConv2dGradWeight(const Shape &dy, const Shape &x, const Conv2dAttrs &a,
                             const Shape &weightShape, const Target &t) {
  requireCpuTarget(t, "conv2dgradweight");
  checkShape(dy, 4, "conv2dgradweight dy");
  checkShape(x, 4, "conv2dgradweight x");
  checkShape(weightShape, 4, "conv2dgradweight result");
  if (weightShape[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: conv2dgradweight result must be static");
  if (a.strideH < 1 || a.strideW < 1 || a.dilationH < 1 || a.dilationW < 1 || a.groups < 1 ||
      a.padTop < 0 || a.padLeft < 0 || a.padBottom < 0 || a.padRight < 0)
    throw std::invalid_argument("dnnc kernels: invalid conv2dgradweight attributes");
  GradConvGeom g;
  g.a = a;
  g.N = x[0];
  g.C = x[1];
  g.H = x[2];
  g.W = x[3];
  g.O = weightShape[0];
  g.KH = weightShape[2];
  g.KW = weightShape[3];
  if (g.C % a.groups != 0 || g.O % a.groups != 0)
    throw std::invalid_argument("dnnc kernels: conv2dgradweight channels not divisible by groups");
  g.Cg = g.C / a.groups;
  g.Og = g.O / a.groups;
  checkSameShape({g.Cg}, {weightShape[1]}, "conv2dgradweight channels per group");
  const int64_t spanH = g.H + a.padTop + a.padBottom - a.dilationH * (g.KH - 1) - 1;
  const int64_t spanW = g.W + a.padLeft + a.padRight - a.dilationW * (g.KW - 1) - 1;
  if (spanH < 0 || spanW < 0)
    throw std::invalid_argument("dnnc kernels: conv2dgradweight kernel larger than padded input");
  g.OH = spanH / a.strideH + 1;
  g.OW = spanW / a.strideW + 1;
  checkSameShape({g.N, g.O, g.OH, g.OW}, dy, "conv2dgradweight dy");
  g.padded = a.padTop || a.padLeft || a.padBottom || a.padRight;
  g.dynamicBatch = g.N == kDynamic;

  ImageParam dyp(Float(32), 4, "dy"), xp(Float(32), 4, "x");
  constrainDense(dyp, dy);
  constrainDense(xp, x);
  Expr N = g.dynamicBatch ? xp.dim(3).extent() : Expr(int(g.N));
  const Plan p = makePlan(g, t);
  const int Rc = static_cast<int>(p.rowsPerChunk);
  Expr rowsTotal = N * int(g.OH);

  // Algorithm. acc(kx, ky, c, o[, k]) sums the output rows [k*Rc, k*Rc + Rc)
  // of the flattened (n, oy) (the last chunk clipped by the predicate; the
  // clamp only keeps bounds inference inside the buffers).
  Var kx("kx"), ky("ky"), c("c"), o("o"), k("chunk");
  Var ox("ox"), oy("oy"), n("n"), row("row");
  Func xsrc(funcName("conv2dgradweight_x"));
  if (g.padded)
    xsrc = zeroPaddedInput(xp, g.H, g.W, t);
  else
    xsrc(ox, oy, c, n) = xp(ox, oy, c, n);
  std::vector<Func> transposes;
  // The reduction domain: channel kernel (ox, row); dot kernel (lane,
  // vector, row) with ox = min(vector*lanes, OW - lanes) + lane, the lanes
  // before vector*lanes (an overlapping last vector) masked out.
  auto chunkSum = [&](Func acc, const std::vector<Var> &args, Expr chunk) {
    RDom r = p.channel ? RDom(0, int(g.OW), 0, Rc, "r")
                       : RDom(0, p.lanes, 0, int(p.vectorsPerRow), 0, Rc, "r");
    RVar rrow = p.channel ? r.y : r.z;
    Expr flat = chunk * Rc + rrow;
    r.where(flat < rowsTotal);
    Expr fc = min(flat, rowsTotal - 1);
    Expr img = fc / int(g.OH), orow = fc % int(g.OH);
    Expr col = p.channel ? Expr(r.x) : min(r.y * p.lanes, int(g.OW) - p.lanes) + r.x;
    Expr cin = a.groups == 1 ? Expr(c) : (o / int(g.Og)) * int(g.Cg) + c;
    Expr xv = xsrc(col * a.strideW + kx * a.dilationW - a.padLeft,
                   orow * a.strideH + ky * a.dilationH - a.padTop, cin, img);
    Expr dyv;
    if (p.channel) {
      // dy rows with the channels innermost: dyT(o, ox, row).
      Func dyT(funcName("conv2dgradweight_dyT"));
      dyT(o, ox, row) = dyp(ox, row % int(g.OH), o, row / int(g.OH));
      transposes.push_back(dyT);
      dyv = dyT(o, col, fc);
    } else {
      dyv = dyp(col, orow, o, img);
      if (g.OW % p.lanes != 0)
        dyv = select(col >= r.y * p.lanes, dyv, 0.0f);
    }
    acc(args) = 0.0f;
    acc(args) += dyv * xv;
    return r;
  };
  Func y(funcName("conv2dgradweight"));
  const int64_t macsPerTile = int64_t(p.oBlock) * p.tile.taps() * g.OW * Rc;
  auto microKernel = [&](Func acc, LoopLevel at, const RDom &r) {
    if (p.channel)
      scheduleChannel(acc, at, r, p);
    else
      scheduleDot(acc, at, r);
  };
  const int vec = t.natural_vector_size<float>();
  // The transposes: per chunk, rows in parallel tasks of ~16K elements,
  // vectorized along the channels (gathers).
  auto scheduleTranspose = [&](Func dyT, LoopLevel at) {
    std::vector<Var> d = dyT.args(); // o, ox, row
    const int rowsPerTask = static_cast<int>(std::max<int64_t>(1, 16384 / (g.OW * g.O)));
    dyT.compute_at(at)
        .vectorize(d[0], p.lanes, TailStrategy::GuardWithIf)
        .parallel(d[2], rowsPerTask, TailStrategy::GuardWithIf);
  };
  Var f("f");
  if (p.parallelChunks) {
    Func acc(funcName("conv2dgradweight_acc")), part(funcName("conv2dgradweight_part"));
    RDom r = chunkSum(acc, {kx, ky, c, o, k}, k);
    part(kx, ky, c, o, k) = acc(kx, ky, c, o, k);
    RDom rk(0, (rowsTotal + Rc - 1) / Rc, "rk");
    Func sum(funcName("conv2dgradweight_sum"));
    sum(kx, ky, c, o) = 0.0f;
    sum(kx, ky, c, o) += part(kx, ky, c, o, rk);
    y(kx, ky, c, o) = sum(kx, ky, c, o);
    // Schedule: every chunk's tiles in parallel, then the partial
    // gradients (chunks x O*P floats, few tiles: small) added up,
    // vectorized over the flat weight.
    part.compute_root();
    microKernel(acc, tileConsumer(part, p, macsPerTile), r);
    if (p.channel)
      scheduleTranspose(transposes[0], LoopLevel::root());
    sum.compute_root();
    sum.update()
        .fuse(kx, ky, f)
        .fuse(f, c, f)
        .fuse(f, o, f)
        .reorder(f, rk)
        .vectorize(f, vec, TailStrategy::GuardWithIf);
    scheduleFlat(y, weightShape, t);
  } else {
    Func acc0(funcName("conv2dgradweight_acc0")), acc(funcName("conv2dgradweight_acc"));
    RDom r0 = chunkSum(acc0, {kx, ky, c, o}, 0);
    RDom r = chunkSum(acc, {kx, ky, c, o, k}, k);
    Func part(funcName("conv2dgradweight_chunk"));
    part(kx, ky, c, o, k) = acc(kx, ky, c, o, k);
    y(kx, ky, c, o) = acc0(kx, ky, c, o);
    RDom rk(1, (rowsTotal + Rc - 1) / Rc - 1, "rk");
    y(kx, ky, c, o) += part(kx, ky, c, o, rk);
    // Schedule: the first chunk tiled straight into the output; each
    // further chunk tiled into `part` (in parallel), then added to the
    // output (O*P floats, vectorized over the flat weight).
    microKernel(acc0, tileConsumer(y, p, macsPerTile), r0);
    part.compute_at(y, rk);
    microKernel(acc, tileConsumer(part, p, macsPerTile), r);
    if (p.channel) {
      scheduleTranspose(transposes[0], LoopLevel::root());
      scheduleTranspose(transposes[1], LoopLevel(y, rk));
    }
    y.update()
        .fuse(kx, ky, f)
        .fuse(f, c, f)
        .fuse(f, o, f)
        .reorder(f, rk)
        .vectorize(f, vec, TailStrategy::GuardWithIf);
  }
  constrainDense(y.output_buffer(), weightShape);
  return makeKernel(y, {dyp, xp});
}

} // namespace dnnc::kernels
