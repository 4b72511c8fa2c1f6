// Dense weight gradient dW = dy^T x: a GEMM whose reduction runs over the
// (dynamic) rows of the batch, in one of two forms chosen by the expected
// number of rows.
#include "GradKernels.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

int64_t roundUpTo(int64_t e, int64_t f) { return (e + f - 1) / f * f; }
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The register tile: nv vectors along the vectorized output dim (extent P)
// times tm values of the other (extent M, broadcast).
struct GemmTile {
  int lanes, tp, tm;
  double cost;
};

// Minimizes the over-compute of the ShiftInwards splits (wasted lanes
// included), then prefers more accumulators (latency hiding, fewer loads
// per FMA); the cost model of buildMatmul.
//   AVX-512 budget 24 accumulators (2x12 or 1x24 tiles), AVX2/SSE 12 (2x6).
GemmTile pickGemmTile(int64_t M, int64_t P, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12;
  const int lanes = static_cast<int>(std::min<int64_t>(vec, P));
  GemmTile best{lanes, lanes, 1, std::numeric_limits<double>::max()};
  for (int nv = 1; nv <= 2 && (nv == 1 || nv * lanes <= P); ++nv)
    for (int tm = 1; tm <= std::min<int64_t>(M, budget / nv); ++tm) {
      const int accs = nv * tm;
      // Work in units of whole vectors: a 10-wide row costs a 16-lane vector.
      const double work =
          double(roundUpTo(P, nv * lanes)) * (double(vec) / lanes) * double(roundUpTo(M, tm)) /
          (double(P) * double(M));
      const double cost = work * (1.0 + double(nv + tm) / accs / 4.0) * std::max(1.0, 12.0 / accs);
      if (cost < best.cost - 1e-9)
        best = {lanes, nv * lanes, tm, cost};
    }
  return best;
}

// The register-tile schedule of one chunk of rows. `consumer` (pure, args
// (i, o[, chunk])) is tiled by tp along the vectorized dim `v` and tm along
// the broadcast dim `b`, with ShiftInwards, and `acc` (the sum over the
// chunk's rows) is computed per tile in registers: the outer-product
// micro-kernel, per row nv vector loads of the vectorized operand and tm
// broadcasts of consecutive values of the other. Tiles run with v-panels
// outermost, so the panel (Kc rows x nv vectors) stays in L1 while the
// b-tiles of the panel read the chunk of the other operand from L2. With
// `panel` (wide rows: every row of the panel in its own 4 KB page) the panel
// is first copied into a dense Kc x tp block, once per panel, and the tasks
// are whole panels; otherwise tiles are grouped into tasks of >= 64K MACs.
void scheduleChunkTiles(Func consumer, Func acc, Func panel, const RDom &rows, const GemmTile &g,
                        bool vectorizeO, int64_t rowsPerChunk) {
  Var v = consumer.args()[vectorizeO ? 1 : 0], b = consumer.args()[vectorizeO ? 0 : 1];
  Var vo("vo"), vi("vi"), bo("bo"), bi("bi"), tile("tile"), task("task"), ti("ti");
  consumer.split(v, vo, vi, g.tp, TailStrategy::ShiftInwards)
      .split(b, bo, bi, g.tm, TailStrategy::ShiftInwards)
      .reorder(vi, bi, bo, vo)
      .vectorize(vi, g.lanes)
      .unroll(vi)
      .unroll(bi);
  LoopLevel perTile(consumer, bo);
  if (panel.defined()) {
    consumer.parallel(vo);
    panel.compute_at(consumer, vo).vectorize(panel.args()[0], g.lanes);
  } else {
    consumer.fuse(bo, vo, tile);
    const int64_t macsPerTile = std::max<int64_t>(1, int64_t(g.tp) * g.tm * rowsPerChunk);
    const int tilesPerTask = static_cast<int>(std::max<int64_t>(1, (1 << 16) / macsPerTile));
    consumer.split(tile, task, ti, tilesPerTask, TailStrategy::GuardWithIf).parallel(task);
    perTile = LoopLevel(consumer, ti);
  }
  Var av = acc.args()[vectorizeO ? 1 : 0], ab = acc.args()[vectorizeO ? 0 : 1];
  acc.compute_at(perTile).vectorize(av, g.lanes).unroll(av).unroll(ab);
  if (vectorizeO)
    acc.reorder_storage(av, ab).reorder(av, ab);
  acc.update().reorder(av, ab, rows.x).vectorize(av, g.lanes).unroll(av).unroll(ab);
}

// One dW = dy^T x problem: the operands, the rows R (dynamic or not), the
// register tile and the orientation (vectorized along in or along out).
struct GradWeightGemm {
  ImageParam dyp, xp;
  Expr R;
  GemmTile g;
  bool vectorizeO;
  int64_t units, in, P, M, rowsGuess;
  Shape out;

  // Short reductions (batches of rows, R ~ 64): operands read in place,
  // wide ones through copies; tiles with ShiftInwards.
  Func inPlace(const Target &t) const;
  // Tall reductions (sequences: R = batch x steps): both operands packed
  // per chunk, tasks that run every chunk of a group of tiles.
  Func packed(const Target &t) const;
};

Func GradWeightGemm::inPlace(const Target &t) const {
  // The rows are reduced in chunks of Kc: a chunk of the broadcast operand
  // (Kc x M floats) stays in L2 (<= 1 MB) while every tile of the chunk reads
  // it, and each row of the vectorized operand is read from memory once per
  // chunk instead of once per tile.
  const int64_t Kc =
      std::clamp<int64_t>((int64_t(1) << 18) / std::max(units, in) / 16 * 16, 64, 1024);
  // Wide rows (>= 2 KB) are read through copies: the vectorized operand per
  // panel (dense Kc x tp blocks, when >= 3 tiles share a panel) and the
  // broadcast one per chunk transposed to [column][row] (when >= 4 panels
  // reuse it), so that a tile's tm broadcasts come from tm sequential streams
  // instead of one 4 KB page per row.
  const bool pack = P >= 512 && M >= 3 * g.tm;
  const bool transpose = M >= 512 && P >= 4 * g.tp;
  //   Measured, 1 thread, AVX-512 host, R = 3200, out = in = 1024: 24
  //   GFLOP/s without chunks, copies; 104 with (R = 64: 94 and 130).

  // Algorithm. acc(i, o, k) sums the rows [k*Kc, min(k*Kc + Kc, R)) (the
  // clamp only keeps bounds inference within x and dy). The output is the
  // first chunk's sum (a pure definition, tiled in registers with no extra
  // pass: the whole computation when R <= Kc), plus one update per further
  // chunk adding that chunk's tiled partial sums.
  Var i("i"), o("o"), k("k");
  std::vector<Func> panels, transposed;
  auto chunkSum = [&](Func acc, const std::vector<Var> &args, Expr chunk) {
    RDom rows(0, int(Kc), "rows");
    Expr row = chunk * int(Kc) + rows.x;
    rows.where(row < R);
    Expr rc = min(row, R - 1);
    ImageParam vp = vectorizeO ? dyp : xp, bp = vectorizeO ? xp : dyp;
    Func pv = pack ? vp.in(acc) : Func(), tb = transpose ? bp.in(acc) : Func();
    panels.push_back(pv);
    transposed.push_back(tb);
    Var vv = vectorizeO ? o : i, bv = vectorizeO ? i : o;
    acc(args) = 0.0f;
    acc(args) += (pack ? pv(vv, rc) : vp(vv, rc)) * (transpose ? tb(bv, rc) : bp(bv, rc));
    return rows;
  };
  Func acc0(funcName("densegradweight_acc0")), acc(funcName("densegradweight_acc"));
  RDom rows0 = chunkSum(acc0, {i, o}, 0);
  RDom rows = chunkSum(acc, {i, o, k}, k);
  Func part(funcName("densegradweight_chunk"));
  part(i, o, k) = acc(i, o, k);
  Func y(funcName("densegradweight"));
  y(i, o) = acc0(i, o);
  RDom rk(1, (R + int(Kc) - 1) / int(Kc) - 1, "rk");
  y(i, o) += part(i, o, rk);
  constrainDense(y.output_buffer(), out);

  // Schedule. The further chunks: a chunk's partial sums (out x in floats,
  // natural layout) once per chunk, then added to the output, one
  // vectorized pass parallel over rows (~1/Kc of the chunk's work).
  scheduleChunkTiles(y, acc0, panels[0], rows0, g, vectorizeO, std::min(rowsGuess, Kc));
  part.compute_at(y, rk);
  scheduleChunkTiles(part, acc, panels[1], rows, g, vectorizeO, Kc);
  const int vec = t.natural_vector_size<float>();
  if (transpose) {
    // [r][m] -> [m][r]: gathers along r, columns in parallel.
    for (size_t c = 0; c < transposed.size(); ++c) {
      Func d = transposed[c];
      std::vector<Var> dv = d.args(); // m, r
      if (c == 0)
        d.compute_root();
      else
        d.compute_at(y, rk);
      d.reorder_storage(dv[1], dv[0])
          .reorder(dv[1], dv[0])
          .vectorize(dv[1], vec, TailStrategy::GuardWithIf)
          .parallel(dv[0], 64, TailStrategy::GuardWithIf);
    }
  }
  Var io("io"), ii("ii"), oo("oo"), oi("oi");
  const int rowsPerTask = static_cast<int>(std::max<int64_t>(1, 16384 / in));
  y.update()
      .reorder(i, o, rk)
      .split(i, io, ii, static_cast<int>(std::min<int64_t>(vec, in)), TailStrategy::GuardWithIf)
      .vectorize(ii)
      .split(o, oo, oi, rowsPerTask, TailStrategy::GuardWithIf)
      .parallel(oo);
  return y;
}

Func GradWeightGemm::packed(const Target &t) const {
  ImageParam vOp = vectorizeO ? dyp : xp, bOp = vectorizeO ? xp : dyp;

  // The rows are reduced in chunks of Kc. Per chunk both operands are first
  // copied into the micro-kernel's order, as BLAS packs them: the vectorized
  // one into panels [P/tp][Kc][tp], the broadcast one into [M/tm][Kc][tm],
  // so that a tile reads two sequential streams (read in place, every row
  // of a 4 KB-wide operand sat in its own page and the tm broadcasts came
  // from tm rows). A panel (Kc x tp) stays in L1 while the tiles of its
  // column read the chunk of the other operand from L2 (both chunks <= ~1.5
  // MB). Measured, 1 thread, AVX-512 host, dynamic R = 3200 (the LSTM
  // classifier's W_ih and W_hh gradients at batch 64): 128 -> 1024 13.2 ms
  // (63 GFLOP/s) with operands in place and dy transposed by gathers, 6.4
  // ms packed; 256 -> 1024 27.5 -> 12.1 ms. The micro-kernel itself runs at
  // ~190 GFLOP/s; the rest is the copies (dy streams from memory once) and
  // the update's pass over the output per chunk.
  const int64_t Kc =
      std::clamp<int64_t>((int64_t(3) << 17) / (P + M) / 16 * 16, 64, 128);
  Expr chunks = (R + int(Kc) - 1) / int(Kc);
  const int tp = g.tp, tm = g.tm;

  // Algorithm. acc(l, ml, pb, mb, c): the sum over chunk c's rows of the
  // tile (panel pb, block mb), lane l of the vectorized dim and ml of the
  // broadcast one. Padding lanes of the last panel or block (P or M not a
  // multiple of the tile) repeat the last column; their sums are not
  // stored. The output is the first chunk's sum (a pure definition: the
  // whole computation when R <= Kc), plus one update per further chunk.
  Var l("l"), ml("ml"), r("r"), blk("blk"), c("c"), pb("pb"), mb("mb"), i("i"), o("o");
  // The vectorized operand is read in place where its rows are short (< 2
  // KB, few pages per chunk: R = 3200, 128 -> 1024 7.2 ms in place, 7.4
  // packed) or fewer than 3 tiles reuse a panel (256 -> 10, R = 64: 2.2 us
  // in place, 4.5 packed), its tiles then whole (no padding lanes, whose
  // clamped reads would be gathers).
  // The broadcast one is always packed: a small copy (M x Kc), and a tile's
  // tm broadcasts from one stream (784 -> 256 at R = 64: 0.169 ms packed,
  // 0.19 in place).
  const bool packV = P % tp != 0 || (P >= 512 && M >= 3 * tm);
  auto operand = [&](ImageParam op, int64_t extent, int width, bool pack, const char *name) {
    Func f(funcName(name));
    Expr col = blk * width + l;
    if (extent % width)
      col = min(col, int(extent) - 1);
    f(l, r, blk, c) = op(col, min(c * int(Kc) + r, R - 1));
    if (!pack)
      f.compute_inline();
    return f;
  };
  struct Chunk {
    Func vpack, bpack, acc;
    RDom rows;
  };
  auto chunkSum = [&](const char *suffix) {
    Chunk k;
    k.vpack = operand(vOp, P, tp, packV, "densegradweight_vpack");
    k.bpack = operand(bOp, M, tm, true, "densegradweight_bpack");
    k.acc = Func(funcName(std::string("densegradweight_acc") + suffix));
    k.rows = RDom(0, int(Kc), "rows");
    k.rows.where(c * int(Kc) + k.rows.x < R);
    k.acc(l, ml, pb, mb, c) = 0.0f;
    k.acc(l, ml, pb, mb, c) += k.vpack(l, k.rows.x, pb, c) * k.bpack(ml, k.rows.x, mb, c);
    return k;
  };
  Chunk first = chunkSum("0"), further = chunkSum("");
  Var vv = vectorizeO ? o : i, bv = vectorizeO ? i : o;
  auto tileOf = [&](Func acc, Expr chunk) {
    return acc(vv % tp, bv % tm, vv / tp, bv / tm, chunk);
  };
  Func y(funcName("densegradweight"));
  y(i, o) = tileOf(first.acc, 0);
  RDom rk(1, chunks - 1, "rk");
  y(i, o) += tileOf(further.acc, rk);
  constrainDense(y.output_buffer(), out);

  // Schedule. Both stages run the same tiles, in a few groups of whole
  // panels or blocks, the tasks: a task runs every chunk of its group
  // (rk inside the task in the update) and packs its own part of each
  // chunk, so the chunks need no barrier between them (with tasks inside
  // each chunk, 2 threads took 1.8x the CPU time of one: 3 parallel loops
  // per chunk). Groups split the wider operand's dim, so that the copy
  // every task repeats is of the narrower one (or none: read in place).
  const int64_t vBlocks = ceilDiv(P, tp), bBlocks = ceilDiv(M, tm);
  const bool groupB = M >= P;
  const int64_t groupBlocks = groupB ? bBlocks : vBlocks;
  const int64_t groups = std::clamp<int64_t>(P * M * rowsGuess / (int64_t(1) << 18), 1,
                                             std::min<int64_t>(4, groupBlocks));
  const int perGroup = static_cast<int>(ceilDiv(groupBlocks, groups));
  const int vec = t.natural_vector_size<float>();
  Var vo("vo"), vi("vi"), bo("bo"), bi("bi"), grp("grp"), gi("gi");
  auto tiles = [&](Stage s, bool update) {
    s.split(vv, vo, vi, tp, TailStrategy::GuardWithIf)
        .split(bv, bo, bi, tm, TailStrategy::GuardWithIf)
        .split(groupB ? bo : vo, grp, gi, perGroup, TailStrategy::GuardWithIf);
    std::vector<VarOrRVar> order{vi, bi};
    order.push_back(groupB ? gi : bo);
    order.push_back(groupB ? vo : gi);
    if (update)
      order.push_back(rk);
    order.push_back(grp);
    s.reorder(order).vectorize(vi, g.lanes).unroll(vi).unroll(bi).parallel(grp);
  };
  tiles(y, false);
  tiles(y.update(), true);
  Var tileLoop = groupB ? gi : bo;
  auto scheduleChunk = [&](Chunk &k, LoopLevel packAt) {
    // (y, tileLoop) names the tile loop of the one stage that reads k.acc:
    // an explicit stage index fails Halide 14's schedule validation.
    k.acc.compute_at(y, tileLoop)
        .bound_extent(l, tp)
        .bound_extent(ml, tm)
        .bound_extent(pb, 1)
        .bound_extent(mb, 1)
        .vectorize(l, g.lanes)
        .unroll(l)
        .unroll(ml);
    k.acc.update()
        .reorder(l, ml, k.rows.x)
        .vectorize(l, g.lanes)
        .unroll(l)
        .unroll(ml);
    // The copies: vectorized along the columns, row by row (sequential
    // reads: a block's column of 4 KB-strided rows defeats the prefetcher).
    auto scheduleCopy = [&](Func f, int lanes) {
      f.compute_at(packAt).reorder(l, blk, r).vectorize(l, lanes);
    };
    if (packV)
      scheduleCopy(k.vpack, g.lanes);
    scheduleCopy(k.bpack, std::min(tm, vec));
  };
  // Every chunk's copies per task, the first one's too: copied once before
  // the tasks they measured faster on 1 thread (784 -> 256 at R = 64: 0.16
  // ms against 0.19) but hardly gained from a second thread (0.14 against
  // 0.12).
  scheduleChunk(first, LoopLevel(y, grp));
  scheduleChunk(further, LoopLevel(y, rk));
  return y;
}

} // namespace

Kernel buildDenseGradWeight(const Shape &dy, const Shape &x, const Shape &out, const Target &t,
                            int64_t rowsPerItem) {
  requireCpuTarget(t, "densegradweight");
  checkShape(dy, 2, "densegradweight dy");
  checkShape(x, 2, "densegradweight x");
  checkSameShape({dy[0], x[1]}, x, "densegradweight x");
  checkShape(out, 2, "densegradweight result");
  checkSameShape({dy[1], x[1]}, out, "densegradweight result");
  if (out[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: densegradweight result must be static");
  if (rowsPerItem < 1)
    throw std::invalid_argument("dnnc kernels: densegradweight rows per item must be >= 1");
  GradWeightGemm p;
  p.units = dy[1];
  p.in = x[1];
  p.out = out;
  p.dyp = ImageParam(Float(32), 2, "dy");
  p.xp = ImageParam(Float(32), 2, "x");
  constrainDense(p.dyp, dy);
  constrainDense(p.xp, x);
  p.R = dy[0] == kDynamic ? p.dyp.dim(1).extent() : Expr(int(dy[0]));

  // Orientation: vectorize along in (x rows; dy broadcast) or along out (dy
  // rows; x broadcast), whichever wastes fewer lanes (in = 10, out = 1024:
  // along out). Along out, a tile's results are stored transposed (one
  // scalar store per lane instead of one vector store), which costs about
  // lanes/R of the tile's FMAs (R guessed at 64 batch items when dynamic;
  // measured 256 x 784 at R = 64: 151 GFLOP/s along in, 103 along out).
  p.rowsGuess = dy[0] == kDynamic ? 64 * rowsPerItem : dy[0];
  const GemmTile alongIn = pickGemmTile(p.units, p.in, t),
                 alongOut = pickGemmTile(p.in, p.units, t);
  p.vectorizeO = alongOut.cost * (1.0 + double(alongOut.lanes) / double(p.rowsGuess)) <
                 alongIn.cost - 1e-9;
  p.g = p.vectorizeO ? alongOut : alongIn;
  p.P = p.vectorizeO ? p.units : p.in;
  p.M = p.vectorizeO ? p.in : p.units;

  // Thousands of rows (the weight gradients of a sequence's input
  // projection) pay for packing them; a batch of rows does not (784 -> 256
  // at R = 64, 2 threads: 0.099 ms in place, 0.114 packed).
  Func y = p.rowsGuess >= 1024 ? p.packed(t) : p.inPlace(t);
  return makeKernel(y, {p.dyp, p.xp});
}

} // namespace dnnc::kernels
