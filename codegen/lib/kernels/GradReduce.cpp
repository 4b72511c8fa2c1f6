// Sum over a set of axes (bias gradients, broadcast gradients), and the
// elementwise helpers of the attention backward: scale and causal mask.
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

// The reduction in Halide terms: dims of x in Halide order (0 = innermost),
// each kept or reduced. Dims of static extent 1 change nothing in the loop
// structure and are ignored when classifying.
struct ReduceGeom {
  int rank = 0;
  std::vector<int64_t> extent; // Halide order; kDynamic for a dynamic batch
  std::vector<bool> reduced;   // Halide order
  bool dynamicBatch = false;
  bool unit(int d) const { return extent[d] == 1; }
  // Static element count of Halide dims [first, last) of the given class; a
  // dynamic batch counts as `batchGuess`.
  int64_t volume(int first, int last, bool ofReduced, int64_t batchGuess = 1) const {
    int64_t v = 1;
    for (int d = first; d < last; ++d)
      if (reduced[d] == ofReduced)
        v *= extent[d] == kDynamic ? batchGuess : extent[d];
    return v;
  }
  // First Halide dim that is not a static 1 (rank if none).
  int firstEffective() const {
    int d = 0;
    while (d < rank && unit(d))
      ++d;
    return d;
  }
  // End of the run of dims of the class of `first` (unit dims join any run).
  int runEnd(int first) const {
    int d = first;
    while (d < rank && (unit(d) || reduced[d] == reduced[first]))
      ++d;
    return d;
  }
  bool hasEffectiveReduction() const {
    for (int d = 0; d < rank; ++d)
      if (reduced[d] && !unit(d))
        return true;
    return false;
  }
};

// Assumed batch for the work estimates of a dynamic batch (training runs at
// 32-128).
constexpr int64_t kBatchGuess = 32;

// Schedules `consumer` (pure, args = the kept dims in Halide order, plus an
// outermost chunk var when the batch is split into chunks) and the reduction
// `acc` (same args) computed per tile of it. Two loop structures:
//  - innermost effective dim kept (row): the leading kept dims are fused into
//    a contiguous row, tiled by U <= 4 vectors held in registers; per step of
//    the reduction the tile loads U dense vectors of x (independent adds);
//  - innermost effective dim reduced (a contiguous run of S elements): the
//    run is split into vectors and rfactor'ed into per-lane partial sums
//    (dense loads) for tc <= 4 outputs of the next kept dim at once, with
//    one horizontal add per output at the end; runs shorter than a vector
//    instead vectorize across the next kept dim (strided loads).
// Tiles run in parallel in tasks of ~64K elements of x.
void scheduleReduce(Func consumer, Func acc, const RDom &r, const std::vector<int> &rdimOf,
                    const ReduceGeom &g, int64_t workPerOutput, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const std::vector<Var> args = consumer.args();
  const int nargs = static_cast<int>(args.size());
  // Halide dim of each consumer arg (kept dims in order; a chunk var last).
  std::vector<int> dimOf;
  for (int d = 0; d < g.rank; ++d)
    if (!g.reduced[d])
      dimOf.push_back(d);
  auto argExtent = [&](int i) {
    return i < static_cast<int>(dimOf.size()) ? g.extent[dimOf[i]] : kDynamic;
  };
  std::vector<VarOrRVar> rvars;
  for (int k = 0; k < r.dimensions(); ++k)
    rvars.push_back(r[k]);
  const int first = g.firstEffective();
  const int runEnd = g.runEnd(first);
  const bool rowCase = first < g.rank && !g.reduced[first];

  auto parallelTasks = [&](Func f, Var outer, int64_t outputsPerIteration) -> Var {
    Var task("task"), inTask("in_task");
    const int64_t work = std::max<int64_t>(1, outputsPerIteration * workPerOutput);
    const int perTask = static_cast<int>(std::max<int64_t>(1, 65536 / work));
    f.split(outer, task, inTask, perTask, TailStrategy::GuardWithIf).parallel(task);
    return inTask;
  };

  if (rowCase) {
    // Consumer args [0, m) are the kept dims of the innermost run.
    int m = 0;
    while (m < nargs && m < static_cast<int>(dimOf.size()) && dimOf[m] < runEnd)
      ++m;
    int64_t L = 1;
    for (int i = 0; i < m; ++i)
      L *= argExtent(i);
    const int lanes = static_cast<int>(std::min<int64_t>(vec, L));
    const int U = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(4, L / lanes)));
    const int T = lanes * U;
    std::vector<VarOrRVar> cv = varsOf(args);
    Var row = fuseVars(consumer, cv, 0, m, "row").var;
    Var ro("ro"), ri("ri"), rio("rio"), rii("rii");
    consumer.split(row, ro, ri, T, TailStrategy::ShiftInwards)
        .split(ri, rio, rii, lanes)
        .vectorize(rii)
        .unroll(rio);
    std::vector<VarOrRVar> outerVars{ro};
    outerVars.insert(outerVars.end(), cv.begin() + m, cv.end());
    Var outer = fuseVars(consumer, outerVars, 0, outerVars.size(), "outer").var;
    Var tile = parallelTasks(consumer, outer, T);

    std::vector<VarOrRVar> av = varsOf(acc.args());
    acc.compute_at(consumer, tile);
    Var arow = fuseVars(acc, av, 0, m, "arow").var;
    Var ao("ao"), ai("ai");
    acc.split(arow, ao, ai, lanes).vectorize(ai).unroll(ao);
    Stage upd = acc.update();
    VarOrRVar urow = fuseVars(upd, av, 0, m, "urow");
    upd.split(urow, ao, ai, lanes).vectorize(ai).unroll(ao);
    std::vector<VarOrRVar> order{ai, ao};
    order.insert(order.end(), rvars.begin(), rvars.end());
    upd.reorder(order);
    return;
  }

  // Innermost effective run reduced: RDom dims [0, k) cover it.
  int k = 0;
  while (k < r.dimensions() && rdimOf[k] < runEnd)
    ++k;
  // A dynamic batch in the run is assumed long (training batches are).
  const int64_t S = g.volume(0, runEnd, true, kBatchGuess);
  const bool keptNext = nargs > 0;
  if (S >= vec || !keptNext) {
    const int lanes = static_cast<int>(std::min<int64_t>(vec, S));
    // The next kept dim (consumer arg 0) is unrolled tc-fold.
    const int tc = keptNext && argExtent(0) != kDynamic ? pickTile(argExtent(0), 4) : 1;
    Var u("u");
    RVar rfo("rfo"), rfi("rfi");
    VarOrRVar rf = fuseVars(acc.update(), rvars, 0, k, "rf");
    acc.update().split(rf, rfo, rfi, lanes, TailStrategy::GuardWithIf);
    Func part = acc.update().rfactor(rfi, u);
    LoopLevel at = LoopLevel::root();
    if (keptNext) {
      std::vector<VarOrRVar> cv = varsOf(args);
      Var co("co"), ci("ci");
      consumer.split(args[0], co, ci, tc, TailStrategy::ShiftInwards).unroll(ci);
      std::vector<VarOrRVar> outerVars{co};
      outerVars.insert(outerVars.end(), cv.begin() + 1, cv.end());
      Var outer = fuseVars(consumer, outerVars, 0, outerVars.size(), "outer").var;
      at = LoopLevel(consumer, parallelTasks(consumer, outer, tc));
    }
    // part(kept..., [chunk], u): lanes innermost in storage and loops.
    std::vector<Var> pa = part.args();
    std::vector<Var> storage{u};
    for (const Var &v : pa)
      if (v.name() != u.name())
        storage.push_back(v);
    part.compute_at(at).vectorize(u);
    if (storage.size() > 1)
      part.reorder_storage(storage);
    std::vector<VarOrRVar> porder{u};
    if (keptNext) {
      part.unroll(pa[0]);
      part.update().unroll(pa[0]);
      porder.push_back(pa[0]);
    }
    porder.push_back(rfo);
    for (int i = k; i < r.dimensions(); ++i)
      porder.push_back(rvars[i]);
    part.update().reorder(porder).vectorize(u);
    acc.compute_at(at);
    if (keptNext) {
      acc.unroll(acc.args()[0]);
      acc.update().reorder(rfi, acc.args()[0]).unroll(acc.args()[0]);
    }
    acc.update().atomic().vectorize(rfi);
    return;
  }

  // A run shorter than a vector: lanes across the next kept dim.
  // (A dynamic batch may be shorter than a vector: guarded tail.)
  const int64_t C = argExtent(0);
  const int lanes = static_cast<int>(C == kDynamic ? vec : std::min<int64_t>(vec, C));
  std::vector<VarOrRVar> cv = varsOf(args);
  Var co("co"), ci("ci");
  consumer
      .split(args[0], co, ci, lanes,
             C == kDynamic ? TailStrategy::GuardWithIf : TailStrategy::ShiftInwards)
      .vectorize(ci);
  std::vector<VarOrRVar> outerVars{co};
  outerVars.insert(outerVars.end(), cv.begin() + 1, cv.end());
  Var outer = fuseVars(consumer, outerVars, 0, outerVars.size(), "outer").var;
  Var tile = parallelTasks(consumer, outer, lanes);
  acc.compute_at(consumer, tile).vectorize(acc.args()[0], lanes, TailStrategy::GuardWithIf);
  std::vector<VarOrRVar> order{acc.args()[0]};
  order.insert(order.end(), rvars.begin(), rvars.end());
  acc.update().reorder(order).vectorize(acc.args()[0], lanes, TailStrategy::GuardWithIf);
  for (int i = 0; i < k; ++i)
    if (g.extent[rdimOf[i]] != kDynamic) // only constant extents unroll
      acc.update().unroll(rvars[i]);
}

} // namespace

Kernel buildReduceSum(const Shape &x, const std::vector<int> &axes, const Shape &out,
                      const Target &t) {
  requireCpuTarget(t, "reducesum");
  checkShape(x, -1, "reducesum input");
  ReduceGeom g;
  g.rank = static_cast<int>(x.size());
  g.reduced.assign(g.rank, false);
  for (int axis : axes) {
    if (axis < 0 || axis >= g.rank || g.reduced[g.rank - 1 - axis])
      throw std::invalid_argument("dnnc kernels: reducesum axis " + std::to_string(axis) +
                                  " out of range or repeated");
    g.reduced[g.rank - 1 - axis] = true;
  }
  Shape expected;
  for (int i = 0; i < g.rank; ++i)
    if (!g.reduced[g.rank - 1 - i])
      expected.push_back(x[i]);
  if (!out.empty())
    checkShape(out, -1, "reducesum result");
  checkSameShape(expected, out, "reducesum result");
  for (int d = 0; d < g.rank; ++d)
    g.extent.push_back(x[g.rank - 1 - d]);
  g.dynamicBatch = x[0] == kDynamic;
  const int batchDim = g.rank - 1;

  ImageParam in(Float(32), g.rank, "x");
  constrainDense(in, x);
  Expr N = g.dynamicBatch ? in.dim(batchDim).extent() : Expr(int(x[0]));

  std::vector<Var> kept;
  std::vector<Region::value_type> ranges;
  std::vector<int> rdimOf; // Halide dim of each RDom dim
  for (int d = 0; d < g.rank; ++d) {
    if (!g.reduced[d]) {
      kept.emplace_back("k" + std::to_string(d));
      continue;
    }
    rdimOf.push_back(d);
    ranges.emplace_back(0, d == batchDim ? N : Expr(int(g.extent[d])));
  }

  Func y(funcName("reducesum"));
  const int64_t reduction = g.volume(0, g.rank, true, kBatchGuess);
  if (!g.hasEffectiveReduction()) {
    // Only static-1 dims are reduced: a copy.
    std::vector<Expr> at;
    size_t next = 0;
    for (int d = 0; d < g.rank; ++d)
      at.push_back(g.reduced[d] ? Expr(0) : Expr(kept[next++]));
    y(kept) = in(at);
    constrainDense(y.output_buffer(), out);
    scheduleFlat(y, x, t);
    return makeKernel(y, {in});
  }

  // With few outputs and a reduced batch, the outputs alone give too few
  // parallel tasks: the batch is then split into chunks of `rowsPerChunk`
  // images whose partial sums are made in parallel (an outermost chunk var),
  // then added up. The last chunk may be short (a select on the clamped row).
  const int64_t outputs = g.volume(0, g.rank, false, kBatchGuess);
  const int64_t perBatchRow = g.volume(0, batchDim, true) * outputs;
  const bool chunked = g.reduced[batchDim] && (g.dynamicBatch || x[0] > 1) && outputs < 1024 &&
                       reduction * outputs >= 4 * 65536;
  const int64_t rowsPerChunk = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, perBatchRow));

  RDom r(ranges, "r");
  Var chunk("chunk");
  std::vector<Expr> at;
  {
    size_t nk = 0, nr = 0;
    for (int d = 0; d < g.rank; ++d) {
      if (!g.reduced[d]) {
        at.push_back(kept[nk++]);
        continue;
      }
      at.push_back(r[static_cast<int>(nr++)]);
    }
  }
  Func acc(funcName("reducesum_acc"));
  if (!chunked) {
    acc(kept) = 0.0f;
    acc(kept) += in(at);
    y(kept) = acc(kept);
    constrainDense(y.output_buffer(), out);
    scheduleReduce(y, acc, r, rdimOf, g, reduction, t);
    return makeKernel(y, {in});
  }

  // Chunked: the batch RVar runs over the rows of one chunk.
  std::vector<Region::value_type> chunkRanges = ranges;
  chunkRanges.back() = Range(0, int(rowsPerChunk));
  RDom rp(chunkRanges, "rp");
  std::vector<Expr> pat;
  std::vector<Var> pargs = kept;
  pargs.push_back(chunk);
  Expr row = chunk * int(rowsPerChunk) + rp[rp.dimensions() - 1];
  {
    size_t nk = 0, nr = 0;
    for (int d = 0; d < g.rank; ++d) {
      if (!g.reduced[d])
        pat.push_back(kept[nk++]);
      else if (d == batchDim)
        pat.push_back(min(row, N - 1));
      else
        pat.push_back(rp[static_cast<int>(nr++)]);
    }
  }
  Func part(funcName("reducesum_part")), partSum(funcName("reducesum_chunks"));
  acc(pargs) = 0.0f;
  acc(pargs) += select(row < N, in(pat), 0.0f);
  part(pargs) = acc(pargs);
  RDom rk(0, (N + int(rowsPerChunk) - 1) / int(rowsPerChunk), "rk");
  std::vector<Expr> kat(kept.begin(), kept.end());
  kat.push_back(rk);
  partSum(kept) = 0.0f;
  partSum(kept) += part(kat);
  y(kept) = partSum(kept);
  constrainDense(y.output_buffer(), out);

  ReduceGeom pg = g;
  pg.reduced.back() = true;
  pg.extent.back() = rowsPerChunk;
  scheduleReduce(part, acc, rp, rdimOf, pg, pg.volume(0, g.rank, true), t);
  part.compute_root();
  // The combine reads chunks x outputs floats (< 1024 outputs): vectorized
  // along the innermost kept dim, one thread.
  if (!kept.empty()) {
    int innermostKept = 0;
    while (g.reduced[innermostKept])
      ++innermostKept;
    const int lanes = static_cast<int>(
        std::min<int64_t>(t.natural_vector_size<float>(), g.extent[innermostKept]));
    partSum.compute_root().vectorize(kept[0], lanes, TailStrategy::GuardWithIf);
    partSum.update().vectorize(kept[0], lanes, TailStrategy::GuardWithIf);
    scheduleFlat(y, out, t);
  }
  return makeKernel(y, {in});
}

Kernel buildScale(const Shape &x, float factor, const Shape &out, const Target &t) {
  requireCpuTarget(t, "scale");
  checkShape(x, -1, "scale input");
  checkSameShape(x, out, "scale result");
  const int rank = static_cast<int>(x.size());
  ImageParam in(Float(32), rank, "x");
  std::vector<Var> v = makeVars(rank, "d");
  Func y(funcName("scale"));
  y(v) = in(v) * factor;
  constrainDense(in, x);
  constrainDense(y.output_buffer(), out);
  scheduleFlat(y, out, t); // memory bound: one flat vectorized pass
  return makeKernel(y, {in});
}

Kernel buildCausalMask(const Shape &s, const Shape &out, const Target &t) {
  requireCpuTarget(t, "causalmask");
  checkShape(s, 3, "causalmask input");
  checkSameShape(s, out, "causalmask result");
  ImageParam in(Float(32), 3, "s");
  Var j("j"), i("i"), b("b");
  Func y(funcName("causalmask"));
  y(j, i, b) = select(j > i, -std::numeric_limits<float>::infinity(), in(j, i, b));
  constrainDense(in, s);
  constrainDense(y.output_buffer(), out);
  // Rows of Tk keys vectorized (the compare is one vector op per row
  // vector), rows in parallel chunks.
  scheduleRows(y, out, 1, t);
  return makeKernel(y, {in});
}

} // namespace dnnc::kernels
