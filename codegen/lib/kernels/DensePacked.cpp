// Dense layer on a weight packed at load time into panels of output units:
// an outer-product GEMM micro-kernel (the layout of buildMatmul's, without
// a transposed copy per call).
#include "Kernels.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Output units per panel, from the shapes only (the packed layout is fixed
// when the model is lowered, before a target is chosen): two AVX-512 or four
// AVX2 vectors; a layer narrower than that is one panel.
int64_t panelWidth(int64_t units) { return std::min<int64_t>(units, 32); }

void checkPackedShapes(const Shape &weight, const Shape &packed) {
  checkShape(weight, 2, "dense weight");
  if (weight[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: dense weight must be static");
  checkSameShape(densePackedWeightShape(weight), packed, "packed dense weight");
}

// Register tiles. A tile is tm rows of x by gp panels (gp * ob units) of
// the output, whose accumulators (tm * gp * ob / vec vectors) stay in
// registers for the whole reduction; per step k it loads gp * ob / vec
// weight vectors (one contiguous run per panel) and broadcasts tm values of
// x (a memory operand of the FMA on AVX-512).
struct DenseTiles {
  int gp = 1, tm = 1;       // the row-tiled loop nest
  int gpGemv = 1;           // a dynamic batch's few-row nests:
  int tmFew = 1;            // row-tiled by tmFew, then one row at a time
  bool rowsAndGemv = false; // row-tiled and few-row nests, own accumulators
};

DenseTiles pickDenseTiles(int64_t units, int64_t batch, int64_t ob, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12; // accumulator registers
  const int vecsPerPanel = static_cast<int>(ceilDiv(ob, vec));
  const int64_t panels = ceilDiv(units, ob);

  // gp x tm: at least ~8 accumulators to hide the FMA latency, no more than
  // the budget; then the least over-compute of the ShiftInwards row split,
  // then fewer loads per FMA, a weight vector counting twice a broadcast of
  // x: the panels stream from L2 (784->256: 800 KB), the x rows of a tile
  // stay in L1. gp divides the number of panels, so that every tile
  // computes whole panels; minGp <= gp <= maxGp. Returns whether some gp in
  // that range divides the panels.
  auto pick = [&](int64_t rows, int minGp, int maxGp, int &gpBest, int &tmBest) {
    double bestCost = std::numeric_limits<double>::max();
    gpBest = tmBest = 1;
    for (int gp = static_cast<int>(std::min<int64_t>(panels, minGp));
         gp <= std::min<int64_t>(panels, maxGp); ++gp)
      for (int tm = 1; panels % gp == 0 && tm <= std::min<int64_t>(rows, 16); ++tm) {
        const int accs = gp * vecsPerPanel * tm;
        if (accs > budget)
          continue;
        const double rowWork = double(ceilDiv(rows, tm) * tm) / double(rows);
        const double loads = double(2 * gp * vecsPerPanel + tm) / accs;
        const double cost = rowWork * (1.0 + 0.5 * loads) * std::max(1.0, 8.0 / accs);
        if (cost < bestCost - 1e-9) {
          bestCost = cost;
          gpBest = gp;
          tmBest = tm;
        }
      }
    return bestCost < std::numeric_limits<double>::max();
  };
  // Measured (1 thread, AVX-512 host, cpu ms), 784->256 batch 32: gp 1 x
  // tm 8: 0.077, gp 2 x tm 4: 0.081, gp 3 x tm 4: 0.080, gp 1 x tm 12:
  // 0.083, gp 1 x tm 16: 0.10, gp 4 x tm 2: 0.11. Rows are picked for 32
  // (the usual benchmark batch) when the batch is dynamic: tm = 5, 6 or 12
  // leave a partial tile there.
  DenseTiles tiles;
  if (batch != kDynamic) {
    pick(batch, 1, 8, tiles.gp, tiles.tm);
    return tiles;
  }
  pick(32, 1, 8, tiles.gp, tiles.tm);
  // The one-row loop nest wants at least 4 weight vectors per step where
  // the layer has them: with gp 1 x tm 1 it has two FMA chains and is
  // latency-bound (784->256 batch 1: 0.0085 cpu ms, 0.0060 with gp 2).
  const int gemvGp = std::max(1, 4 / vecsPerPanel);
  // Fewer rows than tm (7 rows of 784->256: 0.036 cpu ms one at a time,
  // 0.021 by 4) run tiles of that panel group by up to 4 rows.
  int tmGemv = 1;
  if (!pick(1, gemvGp, gemvGp, tiles.gpGemv, tmGemv))
    pick(1, 1, gemvGp, tiles.gpGemv, tmGemv);
  pick(4, tiles.gpGemv, tiles.gpGemv, tiles.gpGemv, tiles.tmFew);
  tiles.tmFew = std::min(tiles.tmFew, tiles.tm - 1);
  tiles.rowsAndGemv = tiles.tm > 1;
  return tiles;
}

// CPU schedule of one loop nest (a specialization of y). Tiles are ordered
// panel group outer, row block inner, so a panel group (in * gp * ob
// floats) stays in L2 while every row block reads it. Tasks: consecutive
// tiles of ~128K MACs, so small layers run on one thread (a wake-up costs
// more than their work).
void scheduleDenseNest(Stage nest, Var o, Var n, int64_t in, int64_t ob, int gp, int rows,
                       bool hasTail, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  // A panel is whole vectors, or (a layer narrower than 32 units) one vector
  // of ob lanes, which LLVM splits as it must.
  const int lanes = static_cast<int>(ob % vec == 0 ? vec : ob);
  Var po("po"), pi("pi"), pg("pg"), pgi("pgi"), no("no"), ni("ni"), tile("tile"), task("task"),
      ti("ti");
  nest.split(o, po, pi, static_cast<int>(ob),
             hasTail ? TailStrategy::GuardWithIf : TailStrategy::ShiftInwards)
      .split(po, pg, pgi, gp, TailStrategy::GuardWithIf)
      .split(n, no, ni, rows, TailStrategy::ShiftInwards)
      .reorder(pi, ni, pgi, no, pg)
      .vectorize(pi, lanes)
      .unroll(pi)
      .unroll(ni)
      .unroll(pgi)
      .fuse(no, pg, tile);
  const int64_t macsPerTile = std::max<int64_t>(1, in * gp * ob * rows);
  const int tilesPerTask = static_cast<int>(std::max<int64_t>(1, (1 << 17) / macsPerTile));
  nest.split(tile, task, ti, tilesPerTask, TailStrategy::GuardWithIf).parallel(task);
}

// The accumulator of gp panels, computed per tile of y (the loop `ti` of
// the nests that read it). Whole panels, also for the last one of a layer
// whose units are not a multiple of ob (its padding units have zero
// weights): constant extents (Halide cannot prove them through the guarded
// splits), so that the accumulators are registers.
void scheduleDenseAccumulator(Func y, Func acc, RDom k, int64_t in, int64_t ob, int gp,
                              const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int lanes = static_cast<int>(ob % vec == 0 ? vec : ob);
  Var l = acc.args()[0], p = acc.args()[1], an = acc.args()[2];
  acc.compute_at(y, Var("ti"))
      .align_bounds(l, static_cast<int>(ob))
      .bound_extent(l, static_cast<int>(ob))
      .bound_extent(p, gp);
  acc.vectorize(l, lanes).unroll(l).unroll(p).unroll(an);
  acc.update()
      .reorder(l, an, p, k.x)
      .vectorize(l, lanes)
      .unroll(l)
      .unroll(p)
      .unroll(an);
  // Four steps of k per loop iteration where they divide it: the loop's own
  // instructions compete with the FMAs for issue slots (784->256 batch 32:
  // 0.077 cpu ms, 0.073 unrolled by 4, 0.0725 by 8).
  const int kUnroll = in % 4 == 0 ? 4 : in % 2 == 0 ? 2 : 1;
  if (kUnroll > 1) {
    RVar ko("ko"), ki("ki");
    acc.update().split(k.x, ko, ki, kUnroll).unroll(ki);
  }
}

} // namespace

Shape densePackedWeightShape(const Shape &weight) {
  if (weight.size() != 2 || weight[0] < 1 || weight[1] < 1)
    throw std::invalid_argument("dnnc kernels: dense weight must be a static [out, in]");
  const int64_t ob = panelWidth(weight[0]);
  return {ceilDiv(weight[0], ob), weight[1], ob};
}

Kernel buildDenseWeightPack(const Shape &weight, const Shape &packed, const Target &t) {
  requireCpuTarget(t, "dense weight pack");
  checkPackedShapes(weight, packed);
  const int64_t units = weight[0], ob = packed[2];
  ImageParam w(Float(32), 2, "weight");
  Var l("l"), k("k"), p("p");
  Func pack(funcName("dense_pack"));
  Expr unit = p * int(ob) + l;
  pack(l, k, p) = select(unit < int(units), w(k, min(unit, int(units) - 1)), 0.0f);
  constrainDense(w, weight);
  constrainDense(pack.output_buffer(), packed);
  // Runs once, at load time: simple, parallel over panels.
  pack.parallel(p);
  return makeKernel(pack, {w});
}

namespace {

// y = act(x W^T + b + residual) on panels of ob output units:
// weightAt(l, k, p) is the weight of unit p * ob + l for input k (zero or
// never stored for the padding units of the last panel).
struct PanelDense {
  ImageParam xin{Float(32), 2, "x"}, b{Float(32), 1, "bias"}, res{Float(32), 2, "residual"};
  std::function<Expr(Expr, Expr, Expr)> weightAt;
  int64_t in = 0, units = 0, batch = 0, ob = 0;
  bool hasBias = false, hasResidual = false;
  ActivationSpec act;
};

Func densePanels(const PanelDense &d, const Target &t) {
  const int64_t in = d.in, units = d.units, ob = d.ob;
  Var o("o"), n("n"), l("l"), p("p");
  RDom k(0, static_cast<int>(in), "k");

  // Algorithm: acc(l, p, n) is output unit p * ob + l of row n.
  auto accumulator = [&](const char *name) {
    Func acc(funcName(name));
    acc(l, p, n) = 0.0f;
    acc(l, p, n) += d.weightAt(l, k, p) * d.xin(k, n);
    return acc;
  };
  auto epilogue = [&](Func acc) {
    Expr v = acc(o % int(ob), o / int(ob), n);
    if (d.hasBias)
      v += d.b(o);
    if (d.hasResidual)
      v += d.res(o, n);
    return applyActivation(v, d.act);
  };
  const DenseTiles tiles = pickDenseTiles(units, d.batch, ob, t);
  const bool hasTail = units % ob != 0;
  Func y(funcName("dense"));
  if (tiles.rowsAndGemv) {
    // The row-tiled nest and the few-row and one-row nests want different
    // panel groups, hence accumulators of different extents: two copies of
    // the accumulator (the few-row and one-row nests share theirs), each
    // read by its specializations; the select on the same condition drops
    // the other copy from each.
    Func accRows = accumulator("dense_acc"), accGemv = accumulator("dense_gemv_acc");
    Expr rows = d.xin.dim(1).extent() >= tiles.tm;
    y(o, n) = select(rows, epilogue(accRows), epilogue(accGemv));
    scheduleDenseNest(y.specialize(rows), o, n, in, ob, tiles.gp, tiles.tm, hasTail, t);
    if (tiles.tmFew > 1) {
      Expr few = !rows && d.xin.dim(1).extent() >= tiles.tmFew;
      scheduleDenseNest(y.specialize(few), o, n, in, ob, tiles.gpGemv, tiles.tmFew, hasTail, t);
    }
    scheduleDenseNest(y.specialize(!rows), o, n, in, ob, tiles.gpGemv, 1, hasTail, t);
    y.specialize_fail("dnnc dense: unreachable batch case");
    scheduleDenseAccumulator(y, accRows, k, in, ob, tiles.gp, t);
    scheduleDenseAccumulator(y, accGemv, k, in, ob, tiles.gpGemv, t);
  } else {
    Func acc = accumulator("dense_acc");
    y(o, n) = epilogue(acc);
    scheduleDenseNest(y, o, n, in, ob, tiles.gp, tiles.tm, hasTail, t);
    scheduleDenseAccumulator(y, acc, k, in, ob, tiles.gp, t);
  }
  return y;
}

} // namespace

Kernel buildDensePacked(const Shape &x, const Shape &weight, const Shape &packed, bool hasBias,
                        ActivationSpec act, const Shape &out, const Target &t, bool hasResidual) {
  requireCpuTarget(t, "dense");
  checkShape(x, 2, "dense input");
  checkPackedShapes(weight, packed);
  checkSameShape({x[1]}, {weight[1]}, "dense weight in-features");
  checkSameShape({x[0], weight[0]}, out, "dense result");

  PanelDense d;
  ImageParam wp(Float(32), 3, "packed_weight");
  // The padding units of the last panel have zero weights.
  d.weightAt = [wp](Expr l, Expr k, Expr p) { return wp(l, k, p); };
  d.in = x[1];
  d.units = weight[0];
  d.batch = x[0];
  d.ob = packed[2];
  d.hasBias = hasBias;
  d.hasResidual = hasResidual;
  d.act = act;
  Func y = densePanels(d, t);

  constrainDense(d.xin, x);
  constrainDense(wp, packed);
  if (hasBias)
    constrainDense(d.b, {d.units});
  if (hasResidual)
    constrainDense(d.res, out);
  constrainDense(y.output_buffer(), out);
  std::vector<ImageParam> inputs{d.xin, wp};
  if (hasBias)
    inputs.push_back(d.b);
  if (hasResidual)
    inputs.push_back(d.res);
  return makeKernel(y, inputs);
}

Kernel buildDenseGradInput(const Shape &dy, const Shape &weight, const Shape &out,
                           const Target &t) {
  requireCpuTarget(t, "dense input gradient");
  checkShape(dy, 2, "dense input gradient dy");
  checkShape(weight, 2, "dense input gradient weight");
  if (weight[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: dense weight must be static");
  checkSameShape({dy[1]}, {weight[0]}, "dense input gradient weight rows");
  checkSameShape({dy[0], weight[1]}, out, "dense input gradient result");

  // dx = dy W: a dense layer of weight[1] units whose transposed weight is
  // W itself. Its rows [in] are the panels' layout already: panel p is
  // columns [p * ob, p * ob + ob) of every row, read in place instead of a
  // transposed copy per step. Panels past the last column (in not a
  // multiple of ob) are clamped into it: their lanes are never stored.
  PanelDense d;
  ImageParam w(Float(32), 2, "weight");
  d.in = dy[1];
  d.units = weight[1];
  d.batch = dy[0];
  d.ob = densePackedWeightShape({d.units, d.in})[2];
  const int64_t ob = d.ob, units = d.units;
  d.weightAt = [w, ob, units](Expr l, Expr k, Expr p) {
    Expr col = p * int(ob) + l;
    return w(units % ob == 0 ? col : min(col, int(units) - 1), k);
  };
  Func y = densePanels(d, t);

  constrainDense(d.xin, dy);
  constrainDense(w, weight);
  constrainDense(y.output_buffer(), out);
  return makeKernel(y, {d.xin, w});
}

} // namespace dnnc::kernels
