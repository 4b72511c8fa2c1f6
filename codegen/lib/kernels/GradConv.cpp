// Conv2d weight gradient: a GEMM over pixels,
//   dW[o][c][ky][kx] = sum_{n, oy, ox} dy[n][o][oy][ox] * x[n][cin][iy][ix],
// M = O output channels, P = C/groups * KH * KW taps, the reduction over
// the N * OH * OW output pixels.
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
  int64_t batchGuess() const { return dynamicBatch ? 32 : N; }
  int64_t macsPerImage() const { return OH * OW * O * Cg * KH * KW; }
};

int64_t roundUpTo(int64_t e, int64_t f) { return (e + f - 1) / f * f; }

// A register tile of the output: tkx x tky x tc taps (a box of
// [KW, KH, Cg], so that the accumulators computed per tile are exactly its
// own) times `to` output channels (or `to` vectors of them).
struct TapTile {
  int tkx = 1, tky = 1, tc = 1, to = 1;
  int64_t count(const GradConvGeom &g, int64_t oBlock) const {
    return ((g.KW + tkx - 1) / tkx) * ((g.KH + tky - 1) / tky) * ((g.Cg + tc - 1) / tc) *
           ((g.O + oBlock - 1) / oBlock);
  }
};

// Picks the tap box (and `to`) minimizing the over-compute of the
// ShiftInwards splits times the load cost per FMA, with at most `budget`
// accumulators; loadsPerStep(taps, to) is the number of loads per step of
// the reduction of a tile with `taps` taps and `to` channel units.
template <typename Loads>
TapTile pickTapTile(const GradConvGeom &g, int budget, int maxTo, int64_t oUnit, Loads loads) {
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
          const double cost = waste * (1.0 + loads(taps, to) / double(accs) / 2.0) *
                              std::max(1.0, 12.0 / accs);
          if (cost < bestCost - 1e-9) {
            bestCost = cost;
            best = {tkx, tky, tc, to};
          }
        }
  return best;
}

// Splits the consumer's tap dims into the tile box (unrolled) and the output
// channels by oBlock, and runs the tiles (and chunks of images, if any) in
// parallel tasks of ~1M MACs. Returns the loop level of one tile.
LoopLevel tileConsumer(Func y, const TapTile &tile, int oBlock,
                       int64_t macsPerTile, bool vectorizeO, int lanes) {
  std::vector<Var> v = y.args(); // kx, ky, c, o [, chunk]
  Var kxo("kxo"), kxi("kxi"), kyo("kyo"), kyi("kyi"), co("co"), ci("ci"), oo("oo"), oi("oi");
  Var t("t"), task("task"), inTask("in_task");
  y.split(v[0], kxo, kxi, tile.tkx, TailStrategy::ShiftInwards)
      .split(v[1], kyo, kyi, tile.tky, TailStrategy::ShiftInwards)
      .split(v[2], co, ci, tile.tc, TailStrategy::ShiftInwards)
      .split(v[3], oo, oi, oBlock, TailStrategy::ShiftInwards)
      .reorder(oi, kxi, kyi, ci, kxo, kyo, co, oo)
      .unroll(kxi)
      .unroll(kyi)
      .unroll(ci);
  if (vectorizeO)
    y.vectorize(oi, lanes).unroll(oi);
  else
    y.unroll(oi);
  y.fuse(kxo, kyo, t).fuse(t, co, t).fuse(t, oo, t);
  if (v.size() > 4)
    y.fuse(t, v[4], t);
  const int perTask = static_cast<int>(std::max<int64_t>(1, (1 << 20) / std::max<int64_t>(1, macsPerTile)));
  y.split(t, task, inTask, perTask, TailStrategy::GuardWithIf).parallel(task);
  return LoopLevel(y, inTask);
}

// Channel schedule (groups == 1, O >= half a vector): vectorized along the
// output channels. Per output pixel of the reduction a tile loads `to`
// vectors of dy (from dyT, dy transposed once to [n][oy][ox][o] so that the
// channels are contiguous) and broadcasts its taps' x values (a memory
// operand of the FMA on AVX-512): the outer-product micro-kernel, ~2 + T
// loads per 2T FMAs. x comes zero-padded (one copy) so the loop has no
// boundary selects.
void scheduleChannel(Func y, Func acc, Func dyT, const RDom &r, const GradConvGeom &g,
                     int64_t reductionPerTile, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12;
  const int lanes = static_cast<int>(std::min<int64_t>(vec, g.O));
  const TapTile tile = pickTapTile(g, budget, 2, lanes,
                                   [](int taps, int to) { return double(taps + to); });
  const int oBlock = tile.to * lanes;
  const int64_t macsPerTile = int64_t(oBlock) * tile.tkx * tile.tky * tile.tc * reductionPerTile;
  LoopLevel at = tileConsumer(y, tile, oBlock, macsPerTile, true, lanes);

  std::vector<Var> a = acc.args(); // kx, ky, c, o [, chunk]
  acc.compute_at(at)
      .reorder_storage(a[3], a[0], a[1], a[2])
      .reorder(a[3], a[0], a[1], a[2])
      .vectorize(a[3], lanes)
      .unroll(a[3])
      .unroll(a[0])
      .unroll(a[1])
      .unroll(a[2]);
  acc.update()
      .reorder(a[3], a[0], a[1], a[2], r.x, r.y, r.z)
      .vectorize(a[3], lanes)
      .unroll(a[3])
      .unroll(a[0])
      .unroll(a[1])
      .unroll(a[2]);

  // The transpose: vectorized along the channels (strided loads), parallel
  // over images; dy is read once, next to the P-fold reuse of the GEMM.
  std::vector<Var> d = dyT.args(); // o, ox, oy, n
  dyT.compute_root().vectorize(d[0], lanes, TailStrategy::GuardWithIf).parallel(d[3]);
}

// Dot schedule (grouped or few output channels): vectorized along the
// reduction over output columns ox, rfactor'ed into per-lane partial sums
// held in registers for a tile of `to` channels x T taps; per vector step
// it loads `to` dy vectors and T (unaligned) x vectors for to*T FMAs, and
// adds the lanes up once per tile. Needs no transpose of dy.
void scheduleDot(Func y, Func acc, const RDom &r, const GradConvGeom &g,
                 int64_t reductionPerTile, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 16 : 9;
  const int lanes = static_cast<int>(std::min<int64_t>(vec, g.OW));
  const int maxTo = g.a.groups == 1 ? 4 : 1;
  const TapTile tile = pickTapTile(g, budget, maxTo, 1,
                                   [](int taps, int to) { return double(taps + to); });
  const int64_t macsPerTile = int64_t(tile.to) * tile.tkx * tile.tky * tile.tc * reductionPerTile;
  LoopLevel at = tileConsumer(y, tile, tile.to, macsPerTile, false, 1);

  RVar rxo("rxo"), rxi("rxi");
  Var u("u");
  acc.update().split(r.x, rxo, rxi, lanes, TailStrategy::GuardWithIf);
  Func part = acc.update().rfactor(rxi, u);
  std::vector<Var> p = part.args(); // kx, ky, c, o [, chunk], u
  std::vector<Var> storage{u};
  storage.insert(storage.end(), p.begin(), p.end() - 1);
  part.compute_at(at).reorder_storage(storage).vectorize(u).unroll(p[0]).unroll(p[1]).unroll(
      p[2]).unroll(p[3]);
  part.update()
      .reorder(u, p[0], p[1], p[2], p[3], rxo, r.y, r.z)
      .vectorize(u)
      .unroll(p[0])
      .unroll(p[1])
      .unroll(p[2])
      .unroll(p[3]);
  std::vector<Var> a = acc.args();
  acc.compute_at(at).unroll(a[0]).unroll(a[1]).unroll(a[2]).unroll(a[3]);
  acc.update()
      .reorder(rxi, a[0], a[1], a[2], a[3])
      .atomic()
      .vectorize(rxi)
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

  // Schedule choice (see the schedule comments): vectorizing along output
  // channels needs groups == 1 (a vector of channels then reads one input
  // channel) and at least half a vector of them.
  const int vec = t.natural_vector_size<float>();
  const bool channel = a.groups == 1 && g.O >= std::max(1, vec / 2);
  // With few output tiles the images are split into chunks of B whose
  // partial gradients are made in parallel (an outermost chunk var) and then
  // added up; chunks of >= ~1M MACs keep that sum negligible. Many tiles
  // (>= 16) give enough parallel tasks on their own, and then every tile
  // reduces over the whole batch (no partial sums in memory).
  const int64_t tilesEstimate =
      (channel ? (g.O + vec - 1) / vec : g.O) * ((g.KH * g.KW * g.Cg + 11) / 12);
  const int64_t imagesPerChunk =
      std::max<int64_t>(1, ((1 << 20) + g.macsPerImage() - 1) / g.macsPerImage());
  const bool chunked = tilesEstimate < 16 && g.batchGuess() > imagesPerChunk;

  // Algorithm.
  Var kx("kx"), ky("ky"), c("c"), o("o"), k("chunk");
  Var ox("ox"), oy("oy"), n("n");
  Func xsrc(funcName("conv2dgradweight_x"));
  if (g.padded)
    xsrc = zeroPaddedInput(xp, g.H, g.W, t);
  else
    xsrc(ox, oy, c, n) = xp(ox, oy, c, n);
  RDom r(0, int(g.OW), 0, int(g.OH), 0, chunked ? Expr(int(imagesPerChunk)) : N, "r");
  Expr img = chunked ? k * int(imagesPerChunk) + r.z : Expr(r.z);
  if (chunked)
    r.where(img < N);
  Expr imgc = chunked ? min(img, N - 1) : img;
  Expr cin = a.groups == 1 ? Expr(c) : (o / int(g.Og)) * int(g.Cg) + c;
  Expr xv = xsrc(r.x * a.strideW + kx * a.dilationW - a.padLeft,
                 r.y * a.strideH + ky * a.dilationH - a.padTop, cin, imgc);
  Func dyT(funcName("conv2dgradweight_dyT"));
  Expr dyv;
  if (channel) {
    dyT(o, ox, oy, n) = dyp(ox, oy, o, n);
    dyv = dyT(o, r.x, r.y, imgc);
  } else {
    dyv = dyp(r.x, r.y, o, imgc);
  }
  std::vector<Var> args{kx, ky, c, o};
  if (chunked)
    args.push_back(k);
  Func acc(funcName("conv2dgradweight_acc"));
  acc(args) = 0.0f;
  acc(args) += dyv * xv;
  Func y(funcName("conv2dgradweight"));
  Func part(funcName("conv2dgradweight_part"));
  Func tiled = chunked ? part : y;
  tiled(args) = acc(args);
  if (chunked) {
    RDom rk(0, (N + int(imagesPerChunk) - 1) / int(imagesPerChunk), "rk");
    Func sum(funcName("conv2dgradweight_sum"));
    sum(kx, ky, c, o) = 0.0f;
    sum(kx, ky, c, o) += part(kx, ky, c, o, rk);
    y(kx, ky, c, o) = sum(kx, ky, c, o);
    // The combine: chunks x O*P floats, vectorized over the flat weight.
    Var f("f");
    sum.compute_root();
    sum.update().fuse(kx, ky, f).fuse(f, c, f).fuse(f, o, f).vectorize(f, vec,
                                                                         TailStrategy::GuardWithIf);
    part.compute_root();
    scheduleFlat(y, weightShape, t);
  }
  constrainDense(y.output_buffer(), weightShape);

  const int64_t reductionPerTile =
      g.OH * g.OW * (chunked ? imagesPerChunk : g.batchGuess());
  if (channel)
    scheduleChannel(tiled, acc, dyT, r, g, reductionPerTile, t);
  else
    scheduleDot(tiled, acc, r, g, reductionPerTile, t);
  return makeKernel(y, {dyp, xp});
}

} // namespace dnnc::kernels
