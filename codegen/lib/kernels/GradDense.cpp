// Dense weight gradient dW = dy^T x: a GEMM whose reduction runs over the
// (dynamic) rows of the batch.
#include "GradKernels.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

int64_t roundUpTo(int64_t e, int64_t f) { return (e + f - 1) / f * f; }

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

} // namespace

Kernel buildDenseGradWeight(const Shape &dy, const Shape &x, const Shape &out, const Target &t) {
  requireCpuTarget(t, "densegradweight");
  checkShape(dy, 2, "densegradweight dy");
  checkShape(x, 2, "densegradweight x");
  checkSameShape({dy[0], x[1]}, x, "densegradweight x");
  checkShape(out, 2, "densegradweight result");
  checkSameShape({dy[1], x[1]}, out, "densegradweight result");
  if (out[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: densegradweight result must be static");
  const int64_t units = dy[1], in = x[1];

  ImageParam dyp(Float(32), 2, "dy"), xp(Float(32), 2, "x");
  constrainDense(dyp, dy);
  constrainDense(xp, x);
  Expr R = dy[0] == kDynamic ? dyp.dim(1).extent() : Expr(int(dy[0]));

  // Orientation: vectorize along in (x rows; dy broadcast) or along out (dy
  // rows; x broadcast), whichever wastes fewer lanes (in = 10, out = 1024:
  // along out). Along out, a tile's results are stored transposed (one
  // scalar store per lane instead of one vector store), which costs about
  // lanes/R of the tile's FMAs (R guessed at 64 when dynamic; measured 256 x
  // 784 at R = 64: 151 GFLOP/s along in, 103 along out).
  const int64_t rowsGuess = dy[0] == kDynamic ? 64 : dy[0];
  const GemmTile alongIn = pickGemmTile(units, in, t), alongOut = pickGemmTile(in, units, t);
  const bool vectorizeO =
      alongOut.cost * (1.0 + double(alongOut.lanes) / double(rowsGuess)) < alongIn.cost - 1e-9;
  const GemmTile g = vectorizeO ? alongOut : alongIn;
  const int64_t P = vectorizeO ? units : in, M = vectorizeO ? in : units;

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
  return makeKernel(y, {dyp, xp});
}

} // namespace dnnc::kernels
